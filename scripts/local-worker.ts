// Running a Worker under `wrangler dev` from the Node scripts (`npm run dev`, `npm run bench`):
// offline, on loopback, with its bindings from one merged env file written by scripts/dev-vars.ts
// (plus, as `--var`, the rare values no env file can carry: planDevVars) and nothing else (never
// the developer's .dev.vars by accident: an --env-file makes wrangler skip it), in its own process
// group so that stopping it also stops its workerd.
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { join } from "node:path";
import { envSchema } from "../src/config.ts";
import { formatVarArg } from "./dev-vars.ts";
import { PROJECT_ROOT } from "./local-stack/index.ts";

/** No metrics, no network lookups, no banner: wrangler dev works offline. */
export const OFFLINE_WRANGLER_ENV = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
};

/**
 * The Worker's bindings are exactly what the --env-file says: wrangler must not mix the process
 * environment into them (CLOUDFLARE_INCLUDE_PROCESS_ENV would bind every variable of the shell,
 * and its values would override the file's), must read the file at all
 * (CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV=false would skip it), and must not swap it for an
 * encrypted .env.vault (DOTENV_KEY). undefined removes the variable.
 */
export const WRANGLER_ENV_FILE_ONLY: Record<string, string | undefined> = {
  CLOUDFLARE_INCLUDE_PROCESS_ENV: "false",
  CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "true",
  DOTENV_KEY: undefined,
};

/**
 * The Worker's bindings for the local stack: `base`, then every process environment variable the
 * config schema knows (so `ARGON2_TIME=3 npm run ...` works), then the stack's URLs and token.
 */
export function localWorkerVars(base: Record<string, string>, stackVars: Record<string, string>): Record<string, string> {
  const vars = { ...base };
  for (const key of Object.keys(envSchema.shape)) {
    const fromProcess = process.env[key];
    if (fromProcess !== undefined) vars[key] = fromProcess;
  }
  vars.APP_ENV ??= "development";
  // The Worker always speaks Neon HTTP to the local endpoint; the connection string only names it.
  vars.DATABASE_URL ??= "postgresql://local:local@127.0.0.1/auth";
  return { ...vars, ...stackVars };
}

const WRANGLER_CLI = join(PROJECT_ROOT, "node_modules", "wrangler", "wrangler-dist", "cli.js");
const WRANGLER_BIN = join(PROJECT_ROOT, "node_modules", ".bin", "wrangler");

export interface WranglerDevOptions {
  port: number;
  /** The merged env file with every binding (but those in `vars`). */
  envFile: string;
  /**
   * Bindings passed as `--var KEY:VALUE` (the cliVars of planDevVars: values no env file can
   * carry); they override the env file's. Visible to `ps` while wrangler runs, so only those.
   */
  vars?: Record<string, string>;
  /** Entry point other than wrangler.toml's main (the rules and flags of wrangler.toml still apply). */
  script?: string;
  name?: string;
  persistTo?: string;
  inspectorPort?: number;
  logLevel?: "debug" | "info" | "log" | "warn" | "error" | "none";
  stdio?: StdioOptions;
}

export interface WranglerDev {
  readonly child: ChildProcess;
  readonly url: string;
  /** Resolves true once GET url+path answers 2xx, false on timeout or if wrangler exits first. */
  waitForReady(path?: string, timeoutMs?: number): Promise<boolean>;
  /** Stops wrangler and its workerd (the whole process group); resolves when wrangler has exited. */
  stop(timeoutMs?: number): Promise<void>;
}

export function startWranglerDev(options: WranglerDevOptions): WranglerDev {
  const args = [
    "dev",
    ...(options.script ? [options.script] : []),
    ...(options.name ? ["--name", options.name] : []),
    "--ip",
    "127.0.0.1",
    "--port",
    String(options.port),
    ...(options.inspectorPort ? ["--inspector-port", String(options.inspectorPort)] : []),
    ...(options.persistTo ? ["--persist-to", options.persistTo] : []),
    "--env-file",
    options.envFile,
    // --var=KEY:VALUE in one argument, each followed by a flag, so yargs reads exactly that value.
    ...Object.entries(options.vars ?? {}).map(([key, value]) => formatVarArg(key, value)),
    "--show-interactive-dev-session=false",
    "--log-level",
    options.logLevel ?? "log",
  ];
  // wrangler's own CLI module rather than its bin shim: the shim runs it in a second Node process
  // and does not pass signals on, so stopping the shim would orphan wrangler and its workerd.
  const [command, argv] = existsSync(WRANGLER_CLI) ? [process.execPath, ["--no-warnings", WRANGLER_CLI, ...args]] : [WRANGLER_BIN, args];
  const child = spawn(command, argv, {
    cwd: PROJECT_ROOT,
    stdio: options.stdio ?? "inherit",
    env: Object.fromEntries(
      Object.entries({ ...process.env, ...OFFLINE_WRANGLER_ENV, ...WRANGLER_ENV_FILE_ONLY }).filter(([, v]) => v !== undefined),
    ),
    detached: true,
  });
  const url = `http://127.0.0.1:${options.port}`;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once("exit", () => resolve());
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    if (!child.pid) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  return {
    child,
    url,
    waitForReady: (path = "/health", timeoutMs = 60_000) => waitForReady(url + path, child, timeoutMs),
    stop: async (timeoutMs = 5_000) => {
      // wrangler first, so that it stops and reaps its workerd itself; then whatever is left of
      // the group (a workerd outliving wrangler would be a stray process).
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), timeoutMs).unref());
      if ((await Promise.race([exited, timer])) === "timeout") signalGroup("SIGKILL");
      await exited;
      signalGroup("SIGKILL");
    },
  };
}

export async function waitForReady(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return false;
}

/** `count` distinct ports free on 127.0.0.1 right now (the OS picks them; all held until all are known). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
