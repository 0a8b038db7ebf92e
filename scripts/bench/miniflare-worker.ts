// The bench's default runtime: the Worker served through Miniflare's API directly (workerd's own
// socket), without `wrangler dev`'s local proxy in front of it, so that the bench's floor is the
// runtime's. The same bundle as wrangler makes: `wrangler deploy --dry-run --outdir` (offline)
// builds the entry with wrangler's esbuild, wrangler.toml's CompiledWasm/Text rules and
// nodejs_compat, and its output modules are handed to Miniflare with wrangler.toml's
// compatibility date and flags and the bench's bindings. On 127.0.0.1 only, offline (no cf.json
// fetch), its workerd logs in a file; stop() disposes of it (workerd included).
import { execFile } from "node:child_process";
import { appendFileSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import { PROJECT_ROOT } from "../local-stack/index.ts";
import { OFFLINE_WRANGLER_ENV } from "../local-worker.ts";

const run = promisify(execFile);
const WRANGLER_CLI = join(PROJECT_ROOT, "node_modules", "wrangler", "wrangler-dist", "cli.js");

/** wrangler.toml's compatibility date and flags (the only settings the bundle does not carry). */
export function wranglerCompatibility(): { compatibilityDate: string; compatibilityFlags: string[] } {
  const toml = readFileSync(join(PROJECT_ROOT, "wrangler.toml"), "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1];
  if (!date) throw new Error("wrangler.toml has no compatibility_date");
  return { compatibilityDate: date, compatibilityFlags: flags ? [...flags.matchAll(/"([^"]+)"/g)].map((m) => m[1]) : [] };
}

/** Bundles `script` (default: wrangler.toml's main) as `wrangler deploy` would, into `outdir`. */
export async function bundleWorker(outdir: string, script?: string): Promise<void> {
  const args = ["--no-warnings", WRANGLER_CLI, "deploy", ...(script ? [script] : []), "--dry-run", "--outdir", outdir];
  try {
    // Bounded: a bundle takes seconds; a hung wrangler would otherwise hold the whole bench.
    await run(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...OFFLINE_WRANGLER_ENV, WRANGLER_LOG: "warn" }, maxBuffer: 16 * 1024 * 1024, timeout: 90_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`bundling ${script ?? "the Worker"} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

type ModuleType = "esm" | "wasm" | "text";
const MODULE_TYPES: [RegExp, ModuleType][] = [
  [/\.m?js$/, "esm"],
  [/\.wasm$/, "wasm"],
  [/\.txt$/, "text"],
];

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

export interface MiniflareWorker {
  readonly url: string;
  stop(): Promise<void>;
}

/** Serves the bundle in `outdir` (its entry and the modules it imports) on 127.0.0.1:`port`. */
export async function startMiniflareWorker(options: { name: string; outdir: string; port: number; bindings: Record<string, string>; log: string }): Promise<MiniflareWorker> {
  const files = readdirSync(options.outdir).filter((f) => f !== "README.md" && !f.endsWith(".map"));
  const modules: Record<string, { type: ModuleType; contents: string | Uint8Array<ArrayBuffer> }> = {};
  for (const file of files) {
    const type = MODULE_TYPES.find(([re]) => re.test(file))?.[1];
    if (!type) throw new Error(`${relative(PROJECT_ROOT, join(options.outdir, file))}: no module rule for this file`);
    const bytes = readFileSync(join(options.outdir, file));
    modules[file] = { type, contents: type === "wasm" ? new Uint8Array(bytes) : bytes.toString("utf8") };
  }
  // wrangler names the entry after the script; the other modules are wasm and text.
  const entries = Object.keys(modules).filter((name) => modules[name].type === "esm");
  if (entries.length !== 1) throw new Error(`${options.outdir}: expected one JavaScript entry module, found ${entries.length}`);
  // Miniflare answers SIGINT/SIGTERM itself by killing workerd and exiting at once, which would cut
  // short the bench's own cleanup (the stack, a wrangler dev Worker, the run's folder): the bench
  // disposes of Miniflare in that cleanup instead, so its signal listeners are taken off again
  // (its exit hook, which kills workerd when the process exits anyway, stays).
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const mf = new Miniflare({
    workers: [
      {
        config: {
          name: options.name,
          ...wranglerCompatibility(),
          manifest: { mainModule: entries[0], modulesRoot: options.outdir, modules },
          env: Object.fromEntries(Object.entries(options.bindings).map(([key, value]) => [key, { type: "text" as const, value }])),
        },
      },
    ],
    host: "127.0.0.1",
    port: options.port,
    cf: false, // never fetch cf.json: offline
    logRequests: false,
    handleStructuredLogs: ({ timestamp, level, message }) => appendFileSync(options.log, `${new Date(timestamp).toISOString()} ${level} ${message}\n`),
  });
  let ready: URL;
  try {
    ready = await mf.ready;
  } finally {
    for (const signal of SIGNALS) {
      for (const listener of process.listeners(signal)) if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  let stopped: Promise<void> | undefined;
  return {
    url: ready.origin,
    stop: () => (stopped ??= mf.dispose()),
  };
}
