// hash-wasm ships its WebAssembly as base64 inside its JS and compiles it at run time, which
// workerd forbids ("Wasm code generation disallowed by embedder"). This writes the two modules
// Argon2id needs (argon2, blake2b) as .wasm files that the Worker imports as compiled modules,
// plus their SHA-256 digests, so src/crypto/wasm-modules.ts can hand hash-wasm the precompiled
// module when it asks to compile exactly those bytes. Runs from postinstall and the preflight;
// the output is derived from the installed hash-wasm and is not committed.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "node_modules/hash-wasm/dist/index.esm.js");
const outDir = join(root, "src/crypto/wasm");
const manifestPath = join(outDir, "manifest.json");
const wanted = ["argon2", "blake2b"];

const js = readFileSync(source, "utf8");
const version = JSON.parse(readFileSync(join(root, "node_modules/hash-wasm/package.json"), "utf8")).version;

if (existsSync(manifestPath)) {
  const current = JSON.parse(readFileSync(manifestPath, "utf8"));
  if (current.hashWasmVersion === version && wanted.every((n) => existsSync(join(outDir, `${n}.wasm`)))) process.exit(0);
}

const manifest = { hashWasmVersion: version, modules: {} };
mkdirSync(outDir, { recursive: true });
for (const name of wanted) {
  const m = js.match(new RegExp(`var name\\$(\\w+) = "${name}";\\s*var data\\$\\1 = "([A-Za-z0-9+/=]+)";`));
  if (!m) throw new Error(`extract-wasm: cannot find the ${name} module in ${source} (hash-wasm ${version})`);
  const bytes = Buffer.from(m[2], "base64");
  writeFileSync(join(outDir, `${name}.wasm`), bytes);
  manifest.modules[name] = { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
}
writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
console.log(`extract-wasm: wrote ${wanted.join(", ")} from hash-wasm ${version} to src/crypto/wasm/`);
