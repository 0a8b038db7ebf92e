// workerd forbids compiling WebAssembly at run time, and hash-wasm compiles the modules embedded
// in its JS on first use. The two modules Argon2id needs reach the Worker here as compiled
// modules instead (imported .wasm files, written by scripts/extract-wasm.mjs from the installed
// hash-wasm), and WebAssembly.compile is wrapped so that a request to compile exactly those bytes
// (same SHA-256) gets the precompiled module. Any other bytes go to the original compile, which
// fails in workerd as before: nothing else is let through.
import argon2Module from "./wasm/argon2.wasm";
import blake2bModule from "./wasm/blake2b.wasm";
import manifest from "./wasm/manifest.json";

const precompiled = new Map<string, WebAssembly.Module>([
  [manifest.modules.argon2.sha256, argon2Module],
  [manifest.modules.blake2b.sha256, blake2bModule],
]);

let installed = false;

function toBytes(source: BufferSource): Uint8Array {
  if (source instanceof Uint8Array) return source;
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  return new Uint8Array(source);
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Installs the compile hook once per isolate; call before the first hash-wasm use. */
export function installPrecompiledWasm(): void {
  if (installed) return;
  installed = true;
  // workers-types omit WebAssembly.compile (workerd refuses it); it exists at run time.
  const wasm = WebAssembly as unknown as { compile(source: BufferSource): Promise<WebAssembly.Module> };
  const originalCompile = wasm.compile.bind(WebAssembly);
  const sizes = new Set([manifest.modules.argon2.size, manifest.modules.blake2b.size]);
  wasm.compile = async (source: BufferSource): Promise<WebAssembly.Module> => {
    const bytes = toBytes(source);
    if (sizes.has(bytes.byteLength)) {
      const module = precompiled.get(await sha256Hex(bytes));
      if (module) return module;
    }
    return originalCompile(source);
  };
}
