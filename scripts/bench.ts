// `npm run bench [-- options]`: the service's performance, counted and timed, in one run
// (DESIGN.md section 7). See USAGE below and the README's "Performance" section.
//
//  1. A fresh local stack in its own process (in-memory PGlite and Redis on free ports, or the
//     servers in DATABASE_URL / REDIS_URL), the Worker with a signing key made for this run,
//     production Argon2id parameters and login limits raised out of the way (.wrangler/bench/<run>/,
//     removed after the run), and a second Worker that only verifies a password
//     (scripts/bench/argon2-worker.ts) as the yardstick for login. Both bundled as wrangler bundles
//     them and served by Miniflare's API directly (scripts/bench/miniflare-worker.ts: workerd's own
//     socket, so the floor is the runtime's), or under `wrangler dev` with --runtime wrangler
//     (its local proxy in front). With --url: a Worker that is already running (e.g. `npm run dev`),
//     its counters read from the local stack's endpoints.
//  2. Seeds its own users through the SQL endpoint, then measures each operation with bounded
//     concurrency after a warm-up: requests/s, p50/p95/p99, SQL and Redis round trips per request
//     (endpoint counter deltas over the measured window), statuses.
//  3. An interleaved pass at concurrency 1 (login, wrong password, unknown email, bare verify in
//     turn) for the ratios, so drift and noise hit all four alike.
//  4. Prints the tables and the ratios, writes JSON, stops everything it started (also on Ctrl-C).
// Each row also carries the critical path the Worker reports in Server-Timing (sequential waits on
// the origin, and with added latency their time in round-trip times). --compare-runtimes instead
// measures /health, refresh and /auth/me under both runtimes, side by side.
import { execFileSync, fork } from "node:child_process";
import { createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runLanes, sampleOf, serverTimingPerRequest, statusCounts, summarize, timedFetch, type Sample } from "./bench/load.ts";
import { formatRatios, formatRuntimeComparison, formatTable, type OpResult, type Ratio, type RuntimeComparison } from "./bench/report.ts";
import type { StackReady } from "./bench/stack-process.ts";
import { writeDevVars } from "./dev-vars.ts";
import { PROJECT_ROOT } from "./local-stack/index.ts";
import { startMiniflareWorker, bundleWorker } from "./bench/miniflare-worker.ts";
import { BenchAuthenticator } from "./bench/soft-authenticator.ts";
import { freePorts, localWorkerVars, startWranglerDev } from "./local-worker.ts";
import { argon2ParamsFromEnv, hashPasswordPhc, insertApprovedUser, localEndpointAnswers, sqlEndpointQuery } from "./seed-users.ts";

const USAGE = `usage: npm run bench [-- options]

Starts a fresh local stack and the Worker (or targets --url), seeds its own users, and measures
/health, the JWKS, login (right password, wrong password, unknown email), refresh, /auth/me,
GET /internal/users, the machine-to-machine routes and logout: req/s, p50/p95/p99, SQL and Redis
round trips per request, and the critical path (sequential waits on the origin, from the Worker's
Server-Timing). The seeded rows (mfa_verify with a recovery code, email_code_verify,
redirect_exchange, passkey_verify) use up one artefact per request, made before the row: at most 50 measured
and 5 warm-up requests each.

  --runtime R          miniflare (default): the Worker bundled as wrangler bundles it and served
                       by Miniflare's API directly, so the floor is workerd's; wrangler: under
                       wrangler dev, its local proxy in front (the mode of npm run dev)
  --compare-runtimes   measure /health, refresh and /auth/me under both runtimes, at --concurrency
                       and at concurrency 1, and print both floors side by side (nothing else)

  --concurrency N      requests in flight per operation (default 8)
  --requests N         measured requests per operation (default 200; the seeded rows at most 50)
  --warmup N           unmeasured requests before each operation (default 10; the seeded rows at most 5)
  --samples N          rounds of the interleaved ratio pass at concurrency 1 (default 40)
  --sql-latency MS     edge simulation: delay added to every SQL round trip at the endpoint
  --redis-latency MS   edge simulation: delay added to every Redis round trip at the endpoint
  --url URL            benchmark a running Worker on loopback (e.g. http://127.0.0.1:8787 of
                       npm run dev) instead of starting one; its users are seeded through the
                       local stack's SQL endpoint
  --sql-control URL    that SQL endpoint, for seeding and counters (default http://127.0.0.1:8790
                       when it answers)
  --redis-control URL  the Redis endpoint, for counters (default http://127.0.0.1:8791 when it answers)
  --json PATH          where to write the results (default bench-results/bench-<time>.json)
  --help               this text

Environment: ARGON2_* (default: the Worker's production defaults), DATABASE_URL / REDIS_URL (real
servers behind the stack's endpoints, as for npm run dev). With --url, the Worker's own login
limits apply: start it with RATE_LIMIT_LOGIN_PER_IP=1000000/1m RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL=1000000/15m.`;

/** This run's env files, logs and wrangler state (git-ignored; removed after a successful run). */
const RUN_ID = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
const RUN_DIR = join(PROJECT_ROOT, ".wrangler", "bench", RUN_ID);
const PASSWORD = "bench-Tractor-61-orbit";
const WRONG_PASSWORD = "not-the-Tractor-61-orbit";
/** Login limits of the bench's own Worker: high enough that no measured request is limited. */
const BENCH_LIMITS = { RATE_LIMIT_LOGIN_PER_IP: "1000000/1m", RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL: "1000000/15m" };
/** The bench's own Worker only: magic links and email codes for the seeded pools, never limited. */
const BENCH_EMAIL_LIMITS = { RATE_LIMIT_EMAIL_LINK_PER_EMAIL: "1000000/15m", RATE_LIMIT_EMAIL_LINK_PER_IP: "1000000/15m" };
/**
 * Rows whose every request uses up a single-use artefact (an MFA challenge and a recovery code, an
 * email code, a redirect code) measure at most this many requests (and at most SEEDED_WARMUP_CAP
 * warm-up ones): each needs one seeded before the row, an MFA one a password sign-in (an Argon2id hash).
 */
const SEEDED_REQUESTS_CAP = 50;
const SEEDED_WARMUP_CAP = 5;
/** The redirect URI registered on the bench's application (never fetched: the code is read from the 303). */
const BENCH_REDIRECT_URI = "https://bench.example.com/callback";

// ---- arguments -----------------------------------------------------------------------------------

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

let parsed: ReturnType<typeof parseOptions>;
function parseOptions() {
  return parseArgs({
    options: {
      url: { type: "string" },
      "sql-control": { type: "string" },
      "redis-control": { type: "string" },
      "sql-latency": { type: "string" },
      "redis-latency": { type: "string" },
      concurrency: { type: "string", default: "8" },
      requests: { type: "string", default: "200" },
      warmup: { type: "string", default: "10" },
      samples: { type: "string", default: "40" },
      json: { type: "string" },
      runtime: { type: "string", default: "miniflare" },
      "compare-runtimes": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  }).values;
}
try {
  parsed = parseOptions();
} catch (err) {
  fail(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
}
if (parsed.help) {
  console.log(USAGE);
  process.exit(0);
}

function intOption(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}
function msOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 10_000) fail(`--${name} must be a number of milliseconds from 0 to 10000, got "${value}"`);
  return n;
}

/** Only loopback targets: the bench never sends load anywhere else. */
function loopbackUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(`--${name} is not a URL: "${value}"`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!(url.protocol === "http:" || url.protocol === "https:") || !(host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host))) {
    fail(`--${name} must be an http URL on loopback (127.0.0.1, localhost, [::1]); got "${value}"`);
  }
  return url.origin;
}

type Runtime = "miniflare" | "wrangler";
const RUNTIMES: Runtime[] = ["miniflare", "wrangler"];
if (!RUNTIMES.includes(parsed.runtime as Runtime)) fail(`--runtime must be miniflare or wrangler, got "${parsed.runtime}"`);
if (parsed.url !== undefined && (parsed["compare-runtimes"] || process.argv.some((a) => a === "--runtime" || a.startsWith("--runtime=")))) {
  fail("--runtime and --compare-runtimes choose how the bench starts its own Worker; --url targets a running one");
}

const options = {
  runtime: parsed.runtime as Runtime,
  compareRuntimes: parsed["compare-runtimes"] === true,
  url: parsed.url === undefined ? undefined : loopbackUrl("url", parsed.url),
  sqlControl: parsed["sql-control"] === undefined ? undefined : loopbackUrl("sql-control", parsed["sql-control"]),
  redisControl: parsed["redis-control"] === undefined ? undefined : loopbackUrl("redis-control", parsed["redis-control"]),
  sqlLatencyMs: msOption("sql-latency", parsed["sql-latency"]),
  redisLatencyMs: msOption("redis-latency", parsed["redis-latency"]),
  concurrency: intOption("concurrency", parsed.concurrency, 1, 256),
  requests: intOption("requests", parsed.requests, 1, 1_000_000),
  warmup: intOption("warmup", parsed.warmup, 0, 100_000),
  samples: intOption("samples", parsed.samples, 1, 100_000),
  json: parsed.json,
};
let argon2Params: ReturnType<typeof argon2ParamsFromEnv>;
try {
  argon2Params = argon2ParamsFromEnv();
} catch (err) {
  fail(`bad ARGON2_* variable: ${err instanceof Error ? err.message : String(err)}`);
}

// ---- process lifetime ----------------------------------------------------------------------------

const progress = (message: string) => console.error(`[bench] ${message}`);
/** Undo steps, run in reverse order on every exit (normal, error, Ctrl-C). */
const cleanups: { what: string; run: () => Promise<void> }[] = [];
let exiting = false;
async function exit(code: number): Promise<never> {
  if (!exiting) {
    exiting = true;
    for (const step of cleanups.reverse()) {
      try {
        await step.run();
      } catch (err) {
        console.error(`[bench] cleanup (${step.what}) failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  if (code === 0 || code === 130) rmSync(RUN_DIR, { recursive: true, force: true });
  else if (existsSync(RUN_DIR)) console.error(`[bench] env files and Worker logs kept in ${relative(process.cwd(), RUN_DIR)}`);
  process.exit(code);
}
process.on("SIGINT", () => {
  progress("interrupted; stopping what the bench started");
  void exit(130);
});
process.on("SIGTERM", () => void exit(143));

// ---- the stack and the Workers (own mode) --------------------------------------------------------

async function startStackProcess(): Promise<StackReady> {
  const child = fork(join(PROJECT_ROOT, "scripts", "bench", "stack-process.ts"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  cleanups.push({
    what: "local stack",
    run: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5_000).unref());
        if ((await Promise.race([exited, timer])) === "timeout") child.kill("SIGKILL");
      }
      await exited;
    },
  });
  return new Promise<StackReady>((resolve, reject) => {
    child.once("message", (m: StackReady | { type: "error"; message: string }) =>
      m.type === "ready" ? resolve(m) : reject(new Error(`the local stack did not start: ${m.message}`)),
    );
    child.once("exit", (code) => reject(new Error(`the local stack exited (code ${code}) before it was ready`)));
    setTimeout(() => reject(new Error("the local stack did not start within 90 s")), 90_000).unref();
  });
}

/** Free ports, never one already handed out in this run (two Workers start side by side). */
const handedOut = new Set<number>();
async function takePorts(count: number): Promise<number[]> {
  for (;;) {
    const ports = await freePorts(count);
    if (ports.every((p) => !handedOut.has(p))) {
      for (const p of ports) handedOut.add(p);
      return ports;
    }
  }
}

/** The last lines of a Worker's log, for an error that must explain itself where the folder is not kept (CI). */
function logTail(path: string, lines = 40): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n") || "(empty)";
  } catch {
    return "(no log written)";
  }
}

/**
 * Starts one Worker in this run's folder, stopped by exit(): bundled by wrangler and served by
 * Miniflare (its bindings exactly `vars`), or under wrangler dev (its bindings exactly the env file
 * written from `vars`).
 */
async function launchWorker(
  runtime: Runtime,
  which: { name: string; script?: string; vars: Record<string, string>; header: string; log: string; what: string },
): Promise<string> {
  mkdirSync(RUN_DIR, { recursive: true });
  if (runtime === "miniflare") {
    const [port] = await takePorts(1);
    const outdir = join(RUN_DIR, `bundle-${which.name}`);
    await bundleWorker(outdir, which.script);
    const worker = await startMiniflareWorker({ name: which.name, outdir, port, bindings: which.vars, log: join(RUN_DIR, which.log) });
    cleanups.push({ what: which.what, run: () => worker.stop() });
    const ready = await timedFetch(`${worker.url}/health`);
    if (ready.status !== 200) {
      throw new Error(
        `the ${which.what} answered /health with ${ready.status || ready.error}; the end of ${relative(process.cwd(), join(RUN_DIR, which.log))}:\n${logTail(join(RUN_DIR, which.log))}`,
      );
    }
    return worker.url;
  }
  const envFile = join(RUN_DIR, `${which.name}.env`);
  writeDevVars(envFile, which.vars, which.header);
  const [port, inspectorPort] = await takePorts(2);
  const log = openSync(join(RUN_DIR, which.log), "w");
  const worker = startWranglerDev({
    name: which.name,
    script: which.script,
    port,
    inspectorPort,
    envFile,
    persistTo: join(RUN_DIR, "state"),
    logLevel: "warn",
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  cleanups.push({ what: which.what, run: () => worker.stop() });
  if (!(await worker.waitForReady("/health", 90_000))) {
    const code = worker.child.exitCode ?? worker.child.signalCode;
    throw new Error(
      `the ${which.what} did not answer /health within 90 s${code === null ? "" : ` (wrangler exited: ${code})`}; ` +
        `the end of ${relative(process.cwd(), join(RUN_DIR, which.log))}:\n${logTail(join(RUN_DIR, which.log))}`,
    );
  }
  return worker.url;
}

/** The yardstick: the service's verifyPassword alone, in the same runtime with wrangler.toml's rules. */
function launchArgon2Worker(runtime: Runtime): Promise<string> {
  return launchWorker(runtime, {
    name: "edge-auth-bench-argon2",
    script: join("scripts", "bench", "argon2-worker.ts"),
    vars: {},
    header: "# The Argon2id yardstick Worker reads no bindings (the parameters come with each stored hash).\n",
    log: `argon2-worker-${runtime}.log`,
    what: `Argon2id Worker (${runtime})`,
  });
}

/** This run's signing key: one for every Worker of the run, so tokens work under both runtimes. */
const signingKeyPem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString().trim();

/** The service under test, bound to the bench's stack. */
function launchApiWorker(stack: StackReady, runtime: Runtime): Promise<string> {
  return launchWorker(runtime, {
    name: "edge-auth-bench",
    vars: localWorkerVars(
      {
        APP_ENV: "development",
        JWT_SIGNING_KEY_PEM: signingKeyPem,
        JWT_KID: `bench-${RUN_ID}`,
        ...BENCH_LIMITS,
        ...BENCH_EMAIL_LIMITS,
        // No SES settings outside production: mail goes to the Redis development outbox, where the
        // bench reads the email codes and magic links of its seeded pools.
      },
      stack.workerVars,
    ),
    header: "# Written by npm run bench for one run: a signing key made for it, login limits raised, the bench's own stack. Do not edit.\n",
    log: `worker-${runtime}.log`,
    what: `Worker (${runtime})`,
  });
}

// ---- endpoint control ----------------------------------------------------------------------------

async function control(base: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}/__stack/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? undefined : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  if (!res.ok) throw new Error(`${base}/__stack/${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

// ---- main ----------------------------------------------------------------------------------------

interface OpSpec {
  name: string;
  label: string;
  expectedStatus: number;
  request: (lane: number, i: number) => Promise<Sample>;
  /** Single-use artefacts: called with the number of requests (warm-up and measured) before the row, unmeasured. */
  seed?: (count: number) => Promise<void>;
  /** Caps on this row's measured and warm-up requests (the seeded rows). */
  maxRequests?: number;
  maxWarmup?: number;
}

/** RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30 s steps) of a base32 secret, for the seeded MFA users. */
function totp(secret: string, step = Math.floor(Date.now() / 30_000)): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bits = [...secret.replace(/=+$/, "").toUpperCase()].map((c) => alphabet.indexOf(c).toString(2).padStart(5, "0")).join("");
  const key = Buffer.from(Array.from({ length: Math.floor(bits.length / 8) }, (_, i) => parseInt(bits.slice(i * 8, i * 8 + 8), 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const o = mac[19] & 15;
  const n = ((mac[o] & 127) << 24) | (mac[o + 1] << 16) | (mac[o + 2] << 8) | mac[o + 3];
  return String(n % 1_000_000).padStart(6, "0");
}

/** `count` calls of `fn`, at most `concurrency` at a time, results in order. */
async function inParallel<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

async function main(): Promise<number> {
  const runId = RUN_ID;
  const startedAt = new Date();
  let apiUrl: string;
  let argon2Url: string | null = null;
  /** The API Worker under each runtime that serves it in this run. */
  const runtimeUrls: Partial<Record<Runtime, string>> = {};
  let sqlControl: string | null;
  let redisControl: string | null;
  let backends: string;
  /** The Redis endpoint's token (own stack only): the seeded email rows read the development outbox with it. */
  let outboxToken: string | null = null;

  if (options.url) {
    apiUrl = options.url;
    const health = await timedFetch(`${apiUrl}/health`);
    if (health.status !== 200) throw new Error(`${apiUrl}/health answered ${health.status || health.error}; is the Worker running?`);
    const orDefault = async (given: string | undefined, fallback: string) => given ?? ((await localEndpointAnswers(fallback)) ? fallback : null);
    sqlControl = await orDefault(options.sqlControl, "http://127.0.0.1:8790");
    redisControl = await orDefault(options.redisControl, "http://127.0.0.1:8791");
    if (!sqlControl) {
      throw new Error(
        "--url mode seeds its users through the local stack's SQL endpoint: run the Worker with `npm run dev` " +
          "(SQL endpoint on 127.0.0.1:8790) or name the endpoint with --sql-control URL",
      );
    }
    const describeEndpoint = async (base: string | null) => (base ? `${base} (${(await control(base, "stats")).backend})` : "n/a");
    backends = `SQL ${await describeEndpoint(sqlControl)}, Redis ${await describeEndpoint(redisControl)}`;
    progress(`target ${apiUrl}; ${backends}; starting the Argon2id yardstick Worker`);
    argon2Url = await launchArgon2Worker(options.runtime);
  } else if (options.compareRuntimes) {
    progress(`starting a fresh local stack and the Worker under both runtimes (env files and logs in ${relative(process.cwd(), RUN_DIR)})`);
    const stack = await startStackProcess();
    sqlControl = stack.sqlUrl;
    redisControl = stack.redisUrl;
    backends = stack.describe;
    // One after the other: two wrangler processes bundling the same Worker in one project at once
    // contend for .wrangler/tmp, and the runtimes' start-up is not what is measured.
    const miniflareUrl = await launchApiWorker(stack, "miniflare");
    progress(`Worker under Miniflare ${miniflareUrl}; starting it under wrangler dev`);
    const wranglerUrl = await launchApiWorker(stack, "wrangler");
    Object.assign(runtimeUrls, { miniflare: miniflareUrl, wrangler: wranglerUrl });
    apiUrl = miniflareUrl;
    progress(`Worker under Miniflare ${miniflareUrl}, under wrangler dev ${wranglerUrl}; ${backends}`);
  } else {
    progress(`starting a fresh local stack and two Workers (${options.runtime}; env files and logs in ${relative(process.cwd(), RUN_DIR)})`);
    const stack = await startStackProcess();
    sqlControl = stack.sqlUrl;
    redisControl = stack.redisUrl;
    backends = stack.describe;
    outboxToken = stack.workerVars.UPSTASH_REDIS_REST_TOKEN;
    [apiUrl, argon2Url] = await Promise.all([launchApiWorker(stack, options.runtime), launchArgon2Worker(options.runtime)]);
    runtimeUrls[options.runtime] = apiUrl;
    progress(`Worker ${apiUrl}, Argon2id Worker ${argon2Url}; ${backends}`);
  }

  // Seed: three approved users, hashed as the Worker hashes (ARGON2_*, production defaults).
  const seedStarted = performance.now();
  const query = sqlEndpointQuery(sqlControl);
  const emails = {
    user: `bench-${runId}-user@example.com`,
    wrong: `bench-${runId}-wrong@example.com`,
    staff: `bench-${runId}-staff@example.com`,
  };
  const roles = { user: "NONE", wrong: "NONE", staff: "PLATFORM_ADMIN" } as const;
  for (const key of Object.keys(emails) as (keyof typeof emails)[]) {
    const id = await insertApprovedUser(query, {
      email: emails[key],
      passwordHash: await hashPasswordPhc(PASSWORD, argon2Params),
      fullName: `Bench ${key}`,
      globalRole: roles[key],
      createdBy: { actorLabel: "cli:bench", via: "bench" },
    });
    if (!id) throw new Error(`seeding: ${emails[key]} already exists`);
  }

  // Edge simulation, set at the endpoints (and put back afterwards when they are not ours).
  const latencies = { sql: options.sqlLatencyMs, redis: options.redisLatencyMs };
  for (const [which, base] of [
    ["sql", sqlControl],
    ["redis", redisControl],
  ] as const) {
    const ms = latencies[which];
    if (ms === undefined) continue;
    if (!base) throw new Error(`--${which}-latency needs the ${which === "sql" ? "SQL" : "Redis"} endpoint's control URL (--${which}-control)`);
    const before = Number((await control(base, "stats")).latencyMs ?? 0);
    await control(base, "latency", { ms });
    if (options.url) cleanups.push({ what: `${which} latency`, run: () => control(base, "latency", { ms: before }) });
  }
  const effectiveLatency = {
    sqlMs: sqlControl ? Number((await control(sqlControl, "stats")).latencyMs ?? 0) : null,
    redisMs: redisControl ? Number((await control(redisControl, "stats")).latencyMs ?? 0) : null,
  };
  /** With --sql-latency / --redis-latency: the larger added latency, the unit of "path ms ÷ latency". */
  const latencyDivisor = (() => {
    if (options.sqlLatencyMs === undefined && options.redisLatencyMs === undefined) return null;
    const larger = Math.max(effectiveLatency.sqlMs ?? 0, effectiveLatency.redisMs ?? 0);
    return larger > 0 ? larger : null;
  })();

  /** Where the operations send their requests (the Worker under one runtime or the other). */
  let target = apiUrl;
  const api = (path: string) => target + path;
  const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const bearer = (token: string): RequestInit => ({ headers: { authorization: `Bearer ${token}` } });
  const dataOf = (body: string): any => {
    try {
      return JSON.parse(body).data;
    } catch {
      return undefined;
    }
  };
  async function signIn(email: string): Promise<{ accessToken: string; refreshToken: string }> {
    const r = await timedFetch(api("/auth/login"), post({ email, password: PASSWORD }));
    const data = dataOf(r.body);
    if (r.status !== 200 || !data?.refreshToken) {
      throw new Error(`seeding: sign-in of ${email} answered ${r.status || r.error}: ${r.body.slice(0, 300)}` + (r.status === 429 ? `\n${LIMITS_HINT}` : ""));
    }
    return { accessToken: data.accessToken, refreshToken: data.refreshToken };
  }

  // Sessions: one per lane (refresh chains, /auth/me tokens) and the staff session. One sign-in of
  // the wrong-password account too: a Worker with other ARGON2_* than ours (--url) re-hashes a
  // stored hash at its first successful sign-in, and the wrong-password logins must then verify
  // against the same parameters as the unknown-email ones.
  const lanes = await Promise.all(Array.from({ length: options.concurrency }, () => signIn(emails.user)));
  const staff = await signIn(emails.staff);
  await signIn(emails.wrong);
  progress(`seeded 3 users and ${lanes.length + 2} sessions in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

  // Machine-to-machine: a service account of the built-in platform application (it exists after the
  // migrations) with one client secret, made through the staff API as an operator would.
  const PLATFORM_APPLICATION_ID = "00000000-0000-4000-8000-000000000001";
  const asStaff = (body: unknown) => post(body, { authorization: `Bearer ${staff.accessToken}` });
  const accountsUrl = api(`/internal/applications/${PLATFORM_APPLICATION_ID}/service-accounts`);
  const createdAccount = await timedFetch(accountsUrl, asStaff({ name: `bench-${runId}`, allowedScopes: ["bench:read"] }));
  const serviceAccountId: string | undefined = dataOf(createdAccount.body)?.id;
  if (createdAccount.status !== 201 || !serviceAccountId) {
    throw new Error(`seeding: service account answered ${createdAccount.status || createdAccount.error}: ${createdAccount.body.slice(0, 300)}`);
  }
  const createdSecret = await timedFetch(`${accountsUrl}/${serviceAccountId}/secrets`, asStaff({}));
  const clientSecret: string | undefined = dataOf(createdSecret.body)?.secret;
  if (createdSecret.status !== 201 || !clientSecret) {
    throw new Error(`seeding: client secret answered ${createdSecret.status || createdSecret.error}: ${createdSecret.body.slice(0, 300)}`);
  }
  const clientBasic = `Basic ${Buffer.from(`${encodeURIComponent(serviceAccountId)}:${encodeURIComponent(clientSecret)}`).toString("base64")}`;
  const oauthPost = (params: Record<string, string>): RequestInit => ({
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: clientBasic },
    body: new URLSearchParams(params).toString(),
  });
  const jsonField = (body: string, field: string): unknown => {
    try {
      return JSON.parse(body)[field];
    } catch {
      return undefined;
    }
  };

  /** Refresh tokens of sessions made by measured logins: what logout ends. */
  const logoutPool: string[] = [];
  let unknownCounter = 0;
  const loginOk = async (): Promise<Sample> =>
    sampleOf(await timedFetch(api("/auth/login"), post({ email: emails.user, password: PASSWORD })), 200, (body) => {
      const rt = dataOf(body)?.refreshToken;
      if (!rt) return "no refreshToken";
      logoutPool.push(rt);
      return null;
    });
  const loginWrong = async (): Promise<Sample> => sampleOf(await timedFetch(api("/auth/login"), post({ email: emails.wrong, password: WRONG_PASSWORD })), 401);
  const loginUnknown = async (): Promise<Sample> =>
    sampleOf(await timedFetch(api("/auth/login"), post({ email: `nobody-${runId}-${++unknownCounter}@example.com`, password: PASSWORD })), 401);

  const ops: OpSpec[] = [
    { name: "health", label: "GET /health", expectedStatus: 200, request: async () => sampleOf(await timedFetch(api("/health")), 200) },
    { name: "jwks", label: "GET /.well-known/jwks.json", expectedStatus: 200, request: async () => sampleOf(await timedFetch(api("/.well-known/jwks.json")), 200) },
    { name: "login", label: "POST /auth/login", expectedStatus: 200, request: loginOk },
    { name: "login_wrong_password", label: "POST /auth/login, wrong password", expectedStatus: 401, request: loginWrong },
    { name: "login_unknown_email", label: "POST /auth/login, unknown email", expectedStatus: 401, request: loginUnknown },
    {
      name: "refresh",
      label: "POST /auth/refresh",
      expectedStatus: 200,
      request: async (lane) =>
        sampleOf(await timedFetch(api("/auth/refresh"), post({ refreshToken: lanes[lane].refreshToken })), 200, (body) => {
          const rt = dataOf(body)?.refreshToken;
          if (!rt) return "no refreshToken";
          lanes[lane].refreshToken = rt; // rotation: each lane chains its own session
          return null;
        }),
    },
    { name: "auth_me", label: "GET /auth/me", expectedStatus: 200, request: async (lane) => sampleOf(await timedFetch(api("/auth/me"), bearer(lanes[lane].accessToken)), 200) },
    {
      name: "admin_users",
      label: "GET /internal/users?limit=20",
      expectedStatus: 200,
      request: async () => sampleOf(await timedFetch(api("/internal/users?limit=20"), bearer(staff.accessToken)), 200),
    },
    {
      name: "client_credentials",
      label: "POST /oauth/token, client_credentials",
      expectedStatus: 200,
      request: async () =>
        sampleOf(await timedFetch(api("/oauth/token"), oauthPost({ grant_type: "client_credentials" })), 200, (body) =>
          typeof jsonField(body, "access_token") === "string" ? null : "no access_token",
        ),
    },
    {
      name: "introspect",
      label: "POST /oauth/introspect (user token)",
      expectedStatus: 200,
      request: async (lane) =>
        sampleOf(await timedFetch(api("/oauth/introspect"), oauthPost({ token: lanes[lane].accessToken })), 200, (body) =>
          jsonField(body, "active") === true ? null : "not active",
        ),
    },
    {
      name: "validate_token",
      label: "POST /auth.v1.TokenService/ValidateToken",
      expectedStatus: 200,
      request: async (lane) =>
        sampleOf(
          await timedFetch(api("/auth.v1.TokenService/ValidateToken"), post({ accessToken: lanes[lane].accessToken }, { authorization: clientBasic })),
          200,
          (body) => (jsonField(body, "valid") === true ? null : "not valid"),
        ),
    },
    {
      name: "logout",
      label: "POST /auth/logout",
      expectedStatus: 200,
      request: async () => {
        const refreshToken = logoutPool.pop();
        if (!refreshToken) return { ms: 0, status: 0, label: "no session left", expected: false };
        return sampleOf(await timedFetch(api("/auth/logout"), post({ refreshToken })), 200);
      },
    },
  ];

  // ---- seeded rows: every request uses up a single-use artefact, made before the row ----
  // Users for them are inserted through the SQL endpoint with one hash of PASSWORD (as the three above).
  const seedHash = await hashPasswordPhc(PASSWORD, argon2Params);
  let seededUsers = 0;
  async function seedUsers(kind: string, count: number, verified: boolean): Promise<string[]> {
    return inParallel(count, 4, async () => {
      const email = `bench-${runId}-${kind}-${++seededUsers}@example.com`;
      const id = await insertApprovedUser(query, { email, passwordHash: seedHash, fullName: `Bench ${kind}`, globalRole: "NONE", createdBy: { actorLabel: "cli:bench", via: "bench" } });
      if (!id) throw new Error(`seeding: ${email} already exists`);
      if (verified) await query("update users set email_verified = true where id = $1::uuid", [id]);
      return email;
    });
  }
  const seedFail = (what: string, r: { status: number; error?: string; body: string }): never => {
    throw new Error(`seeding: ${what} answered ${r.status || r.error}: ${r.body.slice(0, 300)}`);
  };

  // 1. MFA verify with a recovery code: users with TOTP enrolled through the API (setup, then enable
  // with a code computed here, which answers the ten recovery codes), then per request a password
  // sign-in answering mfaRequired: (its mfaToken, one unused recovery code).
  const mfaPool: { mfaToken: string; code: string }[] = [];
  const mfaCodes: { email: string; code: string }[] = [];
  async function seedMfa(count: number): Promise<void> {
    const users = await seedUsers("mfa", Math.max(0, Math.ceil((count - mfaCodes.length) / 10)), false);
    for (const email of users) {
      const session = await signIn(email);
      const setup = await timedFetch(api("/auth/mfa/totp/setup"), post({}, { authorization: `Bearer ${session.accessToken}` }));
      const secret: string | undefined = dataOf(setup.body)?.secret;
      if (setup.status !== 200 || !secret) seedFail("TOTP setup", setup);
      const enable = await timedFetch(api("/auth/mfa/totp/enable"), post({ code: totp(secret!) }, { authorization: `Bearer ${session.accessToken}` }));
      const codes: unknown = dataOf(enable.body)?.recoveryCodes;
      if (enable.status !== 200 || !Array.isArray(codes) || codes.length === 0) seedFail("TOTP enable", enable);
      for (const code of codes as string[]) mfaCodes.push({ email, code });
    }
    const taken = mfaCodes.splice(0, count);
    const challenges = await inParallel(taken.length, options.concurrency, async (i) => {
      const r = await timedFetch(api("/auth/login"), post({ email: taken[i].email, password: PASSWORD }));
      const data = dataOf(r.body);
      if (r.status !== 200 || data?.mfaRequired !== true || !data.mfaToken) seedFail("MFA sign-in", r);
      return { mfaToken: String(data.mfaToken), code: taken[i].code };
    });
    mfaPool.push(...challenges);
  }

  // 2 and 3. Email codes and magic links: requested for seeded users (one artefact per user: a new
  // code replaces the last) and read back from the development outbox in the stack's Redis.
  async function readOutbox(): Promise<{ kind: string; to: string; subject: string; text: string }[]> {
    const res = await fetch(`${redisControl}/`, {
      method: "POST",
      headers: { authorization: `Bearer ${outboxToken}`, "content-type": "application/json" },
      body: JSON.stringify(["ZRANGE", "dev:outbox", "0", "-1"]),
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`seeding: reading the outbox answered ${res.status}: ${await res.text()}`);
    const members = ((await res.json()) as { result: unknown[] }).result ?? [];
    return members.flatMap((m) => {
      try {
        return [typeof m === "string" ? JSON.parse(m) : m];
      } catch {
        return [];
      }
    });
  }
  /** Sends one request per address (in batches the outbox's 200 newest messages can hold) and reads what each got. */
  async function mailed(emails: string[], kind: string, send: (email: string) => Promise<void>, extract: (m: { subject: string; text: string }) => string | undefined): Promise<string[]> {
    const found = new Map<string, string>();
    for (let start = 0; start < emails.length; start += 50) {
      const batch = emails.slice(start, start + 50);
      await inParallel(batch.length, 4, (i) => send(batch[i]));
      const deadline = Date.now() + 10_000;
      while (batch.some((e) => !found.has(e))) {
        for (const m of await readOutbox()) {
          const value = m.kind === kind ? extract(m) : undefined;
          if (value && batch.includes(m.to)) found.set(m.to, value);
        }
        if (batch.every((e) => found.has(e))) break;
        if (Date.now() > deadline) throw new Error(`seeding: ${batch.filter((e) => !found.has(e)).length} ${kind} message(s) missing from the outbox after 10 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return emails.map((e) => found.get(e)!);
  }

  const codePool: { email: string; code: string }[] = [];
  async function seedEmailCodes(count: number): Promise<void> {
    // Verified addresses: the common case, 1 SQL (the session) after the consume.
    const users = await seedUsers("code", count, true);
    const codes = await mailed(
      users,
      "email_otp",
      async (email) => {
        const r = await timedFetch(api("/auth/email-otp/request"), post({ email }));
        if (r.status !== 202) seedFail("email code request", r);
      },
      (m) => /sign-in code is (\d{6})/.exec(m.subject)?.[1],
    );
    codePool.push(...users.map((email, i) => ({ email, code: codes[i] })));
  }

  // 3. Redirect codes: an application with the bench's redirect URI and an API key (staff API, as
  // for the service account); per request a magic link requested for it, its form post (the CSRF
  // pair is the page's cookie and field, any equal values) answering 303 to the redirect URI with
  // the one-time code. Codes live 60 s: the pool is made right before the row.
  let benchApp: { id: string; key: string } | null = null;
  const redirectPool: string[] = [];
  async function seedRedirectCodes(count: number): Promise<void> {
    if (!benchApp) {
      const created = await timedFetch(
        api("/internal/applications"),
        asStaff({ name: `bench ${runId}`, slug: `bench-${runId}`.toLowerCase(), type: "web", redirectUris: [BENCH_REDIRECT_URI] }),
      );
      const id: string | undefined = dataOf(created.body)?.id;
      if (created.status !== 201 || !id) seedFail("application", created);
      const keyed = await timedFetch(api(`/internal/applications/${id}/api-keys`), asStaff({ name: "bench" }));
      const key: string | undefined = dataOf(keyed.body)?.key;
      if (keyed.status !== 201 || !key) seedFail("API key", keyed);
      benchApp = { id: id!, key: key! };
    }
    const app = benchApp;
    const users = await seedUsers("redirect", count, true);
    const tokens = await mailed(
      users,
      "magic_link",
      async (email) => {
        const r = await timedFetch(api("/auth/magic-link/request"), post({ email, redirectUri: BENCH_REDIRECT_URI }, { "x-api-key": app.key }));
        if (r.status !== 202) seedFail("magic link request", r);
      },
      (m) => /\/auth\/magic-link\/verify\?token=([A-Za-z0-9_-]+)/.exec(m.text)?.[1],
    );
    const codes = await inParallel(tokens.length, 4, async (i) => {
      const csrf = randomBytes(16).toString("base64url");
      const r = await timedFetch(api("/auth/magic-link/verify"), {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: `magic_link_csrf=${csrf}` },
        body: new URLSearchParams({ token: tokens[i], csrf }).toString(),
      });
      const location = r.headers?.get("location");
      const code = location ? new URL(location).searchParams.get("code") : null;
      if (r.status !== 303 || !code) seedFail("magic link form post", r);
      return code!;
    });
    redirectPool.push(...codes);
  }

  // 4. Passkey sign-in: one user with a passkey of the bench's authenticator, registered through the
  // API (Bearer of a fresh sign-in); per request a challenge from the options route, answered ahead
  // of time (the authenticator's counter stays 0, so the answers may be verified in any order).
  let passkeyAuthenticator: BenchAuthenticator | null = null;
  const passkeyPool: { challengeId: string; response: unknown }[] = [];
  async function seedPasskeys(count: number): Promise<void> {
    if (!passkeyAuthenticator) {
      const authenticator = new BenchAuthenticator(target);
      const [email] = await seedUsers("passkey", 1, true);
      const session = await signIn(email);
      const auth = { authorization: `Bearer ${session.accessToken}` };
      const opts = await timedFetch(api("/auth/passkeys/register/options"), post({}, auth));
      const options = dataOf(opts.body)?.options;
      if (opts.status !== 200 || !options) seedFail("passkey registration options", opts);
      const registered = await timedFetch(api("/auth/passkeys/register/verify"), post({ response: authenticator.create(options) }, auth));
      if (registered.status !== 201) seedFail("passkey registration", registered);
      passkeyAuthenticator = authenticator;
    }
    const authenticator = passkeyAuthenticator;
    const entries = await inParallel(count, 4, async () => {
      const r = await timedFetch(api("/auth/passkeys/login/options"), post({}));
      const data = dataOf(r.body);
      if (r.status !== 200 || !data?.challengeId) seedFail("passkey sign-in options", r);
      return { challengeId: String(data.challengeId), response: authenticator.get(data.options) };
    });
    passkeyPool.push(...entries);
  }

  const emptyPool: Sample = { ms: 0, status: 0, label: "pool empty", expected: false };
  const hasAccessToken = (body: string) => (typeof dataOf(body)?.accessToken === "string" ? null : "no accessToken");
  const seededOps: OpSpec[] = [
    {
      name: "mfa_verify",
      label: "POST /auth/mfa/verify, recovery code",
      expectedStatus: 200,
      maxRequests: SEEDED_REQUESTS_CAP,
      maxWarmup: SEEDED_WARMUP_CAP,
      seed: seedMfa,
      request: async () => {
        const entry = mfaPool.pop();
        if (!entry) return emptyPool;
        return sampleOf(await timedFetch(api("/auth/mfa/verify"), post({ mfaToken: entry.mfaToken, factor: "recovery_code", code: entry.code })), 200, hasAccessToken);
      },
    },
    {
      name: "passkey_verify",
      label: "POST /auth/passkeys/login/verify",
      expectedStatus: 200,
      maxRequests: SEEDED_REQUESTS_CAP,
      maxWarmup: SEEDED_WARMUP_CAP,
      seed: seedPasskeys,
      request: async () => {
        const entry = passkeyPool.pop();
        if (!entry) return emptyPool;
        return sampleOf(await timedFetch(api("/auth/passkeys/login/verify"), post(entry)), 200, hasAccessToken);
      },
    },
  ];
  if (outboxToken && redisControl) {
    seededOps.push(
      {
        name: "email_code_verify",
        label: "POST /auth/email-otp/verify",
        expectedStatus: 200,
        maxRequests: SEEDED_REQUESTS_CAP,
        maxWarmup: SEEDED_WARMUP_CAP,
        seed: seedEmailCodes,
        request: async () => {
          const entry = codePool.pop();
          if (!entry) return emptyPool;
          return sampleOf(await timedFetch(api("/auth/email-otp/verify"), post({ email: entry.email, code: entry.code })), 200, hasAccessToken);
        },
      },
      {
        name: "redirect_exchange",
        label: "POST /auth/redirect/exchange",
        expectedStatus: 200,
        maxRequests: SEEDED_REQUESTS_CAP,
        maxWarmup: SEEDED_WARMUP_CAP,
        seed: seedRedirectCodes,
        request: async () => {
          const code = redirectPool.pop();
          if (!code) return emptyPool;
          return sampleOf(await timedFetch(api("/auth/redirect/exchange"), post({ code }, { "x-api-key": benchApp!.key })), 200, hasAccessToken);
        },
      },
    );
  } else {
    progress("email_code_verify and redirect_exchange: left out (--url: the outbox's Redis token and the email limits are the running Worker's)");
  }
  ops.splice(ops.findIndex((o) => o.name === "logout"), 0, ...seededOps);

  /** One table row: latency over the expected answers only; round trips from `roundTrips` when known. */
  function toResult(
    spec: OpSpec,
    samples: Sample[],
    wallMs: number,
    concurrency: number,
    roundTrips: { sql: number | null; redis: number | null; source: OpResult["roundTripSource"] },
  ): OpResult {
    const timing = serverTimingPerRequest(samples);
    const pathMs = timing?.pathMs ?? null;
    return {
      name: spec.name,
      label: spec.label,
      expectedStatus: spec.expectedStatus,
      concurrency: Math.min(concurrency, samples.length),
      requests: samples.length,
      rps: samples.length / (wallMs / 1000),
      latencyMs: summarize(samples.filter((s) => s.expected).map((s) => s.ms)),
      sqlPerRequest: roundTrips.sql,
      redisPerRequest: roundTrips.redis,
      roundTripSource: roundTrips.source,
      serverTimingPerRequest: timing,
      pathPerRequest: timing?.path ?? null,
      pathMsPerRequest: pathMs,
      pathOverLatency: pathMs === null || latencyDivisor === null ? null : Math.round((pathMs / latencyDivisor) * 100) / 100,
      errors: samples.filter((s) => !s.expected).length,
      statuses: statusCounts(samples),
    };
  }

  /** Warm-up, counters reset, the measured window at the bench's concurrency, counters read. */
  async function measure(spec: OpSpec, concurrency = options.concurrency): Promise<OpResult> {
    const requests = Math.min(options.requests, spec.maxRequests ?? Infinity);
    const warmup = Math.min(options.warmup, spec.maxWarmup ?? Infinity);
    if (spec.seed) {
      const seeding = performance.now();
      await spec.seed(warmup + requests);
      progress(`${spec.name}: seeded ${warmup + requests} single-use artefacts in ${((performance.now() - seeding) / 1000).toFixed(1)} s`);
    }
    progress(`${spec.name}: ${warmup} warm-up, ${requests} measured at concurrency ${concurrency}${options.compareRuntimes ? ` (${target})` : ""}`);
    if (warmup > 0) await runLanes(warmup, concurrency, spec.request);
    await Promise.all([sqlControl && control(sqlControl, "stats/reset", {}), redisControl && control(redisControl, "stats/reset", {})]);
    const run = await runLanes(requests, concurrency, spec.request);
    const [sqlStats, redisStats] = await Promise.all([sqlControl ? control(sqlControl, "stats") : null, redisControl ? control(redisControl, "stats") : null]);
    const n = run.samples.length;
    return toResult(spec, run.samples, run.wallMs, concurrency, {
      sql: sqlStats ? sqlStats.roundTrips / n : null,
      redis: redisStats ? redisStats.roundTrips / n : null,
      source: sqlStats || redisStats ? "endpoint counters" : null,
    });
  }

  // ---- the run's context (for both reports) ----
  const commit = (() => {
    try {
      const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: PROJECT_ROOT, encoding: "utf8" }).trim();
      const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: PROJECT_ROOT, encoding: "utf8" }).trim() !== "";
      return dirty ? `${sha}+changes` : sha;
    } catch {
      return null;
    }
  })();
  const cpus = os.cpus();
  const machine = { cpus: cpus.length, cpuModel: cpus[0]?.model ?? "unknown", memoryGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}`, node: process.version };
  const flagsLine = [
    `--concurrency ${options.concurrency}`,
    `--requests ${options.requests}`,
    `--warmup ${options.warmup}`,
    `--samples ${options.samples}`,
    ...(options.sqlLatencyMs !== undefined ? [`--sql-latency ${options.sqlLatencyMs}`] : []),
    ...(options.redisLatencyMs !== undefined ? [`--redis-latency ${options.redisLatencyMs}`] : []),
    ...(options.url ? [`--url ${options.url}`] : options.compareRuntimes ? ["--compare-runtimes"] : [`--runtime ${options.runtime}`]),
  ].join(" ");

  const targetDescription = options.url
    ? `${apiUrl} (running Worker)`
    : options.compareRuntimes
      ? `the bench's own Worker under Miniflare (${runtimeUrls.miniflare}) and under wrangler dev (${runtimeUrls.wrangler})`
      : `the bench's own Worker (${options.runtime === "miniflare" ? "bundled by wrangler, served by Miniflare's API" : "wrangler dev"})`;
  const writeJson = (report: Record<string, unknown>): string => {
    const jsonPath = resolve(options.json ?? join(PROJECT_ROOT, "bench-results", `bench-${startedAt.toISOString().replace(/[:.]/g, "-")}.json`));
    mkdirSync(dirname(jsonPath), { recursive: true });
    writeFileSync(jsonPath, JSON.stringify(report, null, 2) + "\n");
    return jsonPath;
  };

  // ---- --compare-runtimes: /health, refresh and /auth/me under both runtimes, nothing else ----
  if (options.compareRuntimes) {
    const compared = ["health", "refresh", "auth_me"].map((name) => ops.find((o) => o.name === name)!);
    const rows: RuntimeComparison[] = [];
    for (const spec of compared) {
      for (const concurrency of [...new Set([options.concurrency, 1])]) {
        // Alternate which runtime goes first, so drift does not favour one.
        const order = rows.length % 2 === 0 ? RUNTIMES : [...RUNTIMES].reverse();
        const byRuntime: Partial<Record<Runtime, OpResult>> = {};
        for (const runtime of order) {
          target = runtimeUrls[runtime]!;
          byRuntime[runtime] = await measure(spec, concurrency);
        }
        rows.push({ name: spec.name, label: spec.label, concurrency, miniflare: byRuntime.miniflare!, wrangler: byRuntime.wrangler! });
      }
    }
    target = apiUrl;
    const failedRows = rows.flatMap((r) => [r.miniflare, r.wrangler]).filter((r) => r.errors > 0);
    const compareNotes = failedRows.map((r) => `${r.name}: ${r.errors} unexpected answer(s) (expected ${r.expectedStatus}): ${JSON.stringify(r.statuses)}`);
    const out: string[] = [""];
    out.push(`npm run bench -- ${flagsLine}`);
    out.push(`${startedAt.toISOString()}  commit ${commit ?? "?"}  ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}`);
    out.push(`target: ${targetDescription}; ${backends}`);
    out.push(`added latency per round trip: SQL ${effectiveLatency.sqlMs ?? "n/a"} ms, Redis ${effectiveLatency.redisMs ?? "n/a"} ms`);
    out.push("");
    out.push("Runtimes (the same bundle, bindings and stack; the floor each runtime puts under every request):");
    out.push(formatRuntimeComparison(rows));
    if (compareNotes.length) out.push("", "Notes:", ...compareNotes.map((n) => `  - ${n}`));
    const jsonPath = writeJson({
      startedAt: startedAt.toISOString(),
      commit,
      machine,
      command: `npm run bench -- ${flagsLine}`,
      options: { ...options, json: undefined },
      target: { mode: "compare runtimes", urls: runtimeUrls },
      backends,
      addedLatencyMs: effectiveLatency,
      runtimeComparison: rows,
      notes: compareNotes,
      ok: failedRows.length === 0,
    });
    out.push("", `JSON: ${jsonPath}`);
    console.log(out.join("\n"));
    return failedRows.length === 0 ? 0 : 1;
  }

  const results: OpResult[] = [];
  const byName = (name: string) => results.find((r) => r.name === name)!;
  for (const spec of ops.filter((o) => o.name !== "logout")) results.push(await measure(spec));

  // The ratio pass: the four sign-in shapes in turn at concurrency 1, the order rotating each round.
  const stored = await query("select password_hash from users where email = $1", [emails.user]);
  const storedHash = String(stored.rows[0]?.[0] ?? "");
  const phc = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(storedHash);
  const verify = async (): Promise<Sample> =>
    sampleOf(await timedFetch(`${argon2Url}/verify`, post({ password: PASSWORD, hash: storedHash })), 200, (body) =>
      dataOf(body)?.ok === true ? null : "ok:false",
    );
  const passSpecs: OpSpec[] = [
    { name: "login", label: "POST /auth/login", expectedStatus: 200, request: loginOk },
    { name: "login_wrong_password", label: "POST /auth/login, wrong password", expectedStatus: 401, request: loginWrong },
    { name: "login_unknown_email", label: "POST /auth/login, unknown email", expectedStatus: 401, request: loginUnknown },
    { name: "argon2id_verify", label: "bare verifyPassword, Argon2id Worker", expectedStatus: 200, request: verify },
  ];
  progress(`ratio pass: ${options.samples} rounds of ${passSpecs.map((s) => s.name).join(", ")} in turn, concurrency 1`);
  const passSamples = new Map<string, Sample[]>(passSpecs.map((s) => [s.name, []]));
  const warmRounds = Math.min(3, options.warmup);
  for (let round = -warmRounds; round < options.samples; round++) {
    const offset = ((round % passSpecs.length) + passSpecs.length) % passSpecs.length;
    for (let k = 0; k < passSpecs.length; k++) {
      const spec = passSpecs[(k + offset) % passSpecs.length];
      const sample = await spec.request(0, round);
      if (round >= 0) passSamples.get(spec.name)!.push(sample);
    }
  }
  const passResults: OpResult[] = passSpecs.map((spec) => {
    // Interleaved, so the endpoints' counters cannot tell the four apart: the Worker's Server-Timing can.
    const samples = passSamples.get(spec.name)!;
    const timing = serverTimingPerRequest(samples);
    const busyMs = samples.reduce((sum, x) => sum + x.ms, 0);
    return toResult(spec, samples, busyMs, 1, { sql: timing?.sql ?? null, redis: timing?.redis ?? null, source: timing ? "Server-Timing" : null });
  });

  // Logout last: it ends the sessions the measured logins made.
  results.push(await measure(ops.find((o) => o.name === "logout")!));

  // ---- ratios ----
  const p50 = (rows: OpResult[], name: string) => rows.find((r) => r.name === name)?.latencyMs?.p50 ?? null;
  const div = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);
  const loginOverHash = div(p50(passResults, "login"), p50(passResults, "argon2id_verify"));
  const unknownOverWrong = div(p50(passResults, "login_unknown_email"), p50(passResults, "login_wrong_password"));
  const ratios: Ratio[] = [
    {
      name: "login_p50_over_bare_argon2id_p50",
      description: "login p50 / bare Argon2id verify p50 (same params, workerd)",
      value: loginOverHash,
      target: "<= 1.1",
      pass: loginOverHash === null ? null : loginOverHash <= 1.1,
    },
    {
      name: "unknown_email_p50_over_wrong_password_p50",
      description: "login p50: unknown email / wrong password",
      value: unknownOverWrong,
      target: "0.9 to 1.1",
      pass: unknownOverWrong === null ? null : unknownOverWrong >= 0.9 && unknownOverWrong <= 1.1,
    },
    { name: "refresh_rps_over_health_rps", description: "refresh req/s / /health req/s", value: div(byName("refresh").rps, byName("health").rps), target: null, pass: null },
    { name: "auth_me_rps_over_health_rps", description: "/auth/me req/s / /health req/s", value: div(byName("auth_me").rps, byName("health").rps), target: null, pass: null },
  ];

  // ---- report ----
  const argon2Used = phc ? { memoryKiB: Number(phc[1]), iterations: Number(phc[2]), parallelism: Number(phc[3]) } : null;
  const out: string[] = [];
  out.push("");
  out.push(`npm run bench -- ${flagsLine}`);
  out.push(`${startedAt.toISOString()}  commit ${commit ?? "?"}  ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}`);
  out.push(`target: ${targetDescription}; ${backends}`);
  out.push(
    `Argon2id: ${argon2Used ? `m=${argon2Used.memoryKiB} KiB, t=${argon2Used.iterations}, p=${argon2Used.parallelism}` : "unknown"}` +
      `${argon2Used && argon2Used.memoryKiB === 19456 && argon2Used.iterations === 2 && argon2Used.parallelism === 1 ? " (production default)" : ""}; ` +
      `added latency per round trip: SQL ${effectiveLatency.sqlMs ?? "n/a"} ms, Redis ${effectiveLatency.redisMs ?? "n/a"} ms`,
  );
  out.push("");
  const latencyColumn = latencyDivisor !== null;
  const pathNote = `path: sequential waits on the origin per request (Server-Timing)${latencyColumn ? `; path ms ÷ latency: the Worker's wait on them ÷ ${latencyDivisor} ms` : ""}`;
  out.push(`Throughput (concurrency ${options.concurrency}; round trips per request from the endpoints' counters; ${pathNote}):`);
  out.push(formatTable(results, { latencyColumn }));
  out.push("");
  out.push(`Ratio pass (concurrency 1, interleaved; round trips from Server-Timing; ${pathNote}):`);
  out.push(formatTable(passResults, { latencyColumn }));
  out.push("");
  out.push("Ratios:");
  out.push(formatRatios(ratios));
  const passLogin = passResults.find((r) => r.name === "login");
  const passVerify = passResults.find((r) => r.name === "argon2id_verify");
  if (passLogin?.latencyMs && passVerify?.latencyMs && passLogin.serverTimingPerRequest) {
    const st = passLogin.serverTimingPerRequest;
    out.push(
      `  login p50 - bare verify p50 = ${(passLogin.latencyMs.p50 - passVerify.latencyMs.p50).toFixed(1)} ms; per login the Worker waited ` +
        `${st.sqlMs.toFixed(1)} ms on SQL and ${st.redisMs.toFixed(1)} ms on Redis (Server-Timing means)`,
    );
  }

  const notes: string[] = [];
  for (const r of results) {
    const st = r.serverTimingPerRequest;
    if (!st || r.sqlPerRequest === null || r.redisPerRequest === null) continue;
    if (Math.abs(st.sql - r.sqlPerRequest) > 0.05 || Math.abs(st.redis - r.redisPerRequest) > 0.05) {
      notes.push(
        `${r.name}: endpoint counters ${r.sqlPerRequest.toFixed(2)} SQL / ${r.redisPerRequest.toFixed(2)} Redis per request, the Worker's Server-Timing ` +
          `${st.sql.toFixed(2)} / ${st.redis.toFixed(2)}: the difference is work after the response (waitUntil: audit rows, deferred bookkeeping) or other traffic at the endpoints during the window (e.g. npm run dev polling its outbox)`,
      );
    }
  }
  const failed = [...results.map((r) => ({ r, where: "" })), ...passResults.map((r) => ({ r, where: "ratio pass, " }))].filter(({ r }) => r.errors > 0);
  for (const { r, where } of failed) notes.push(`${where}${r.name}: ${r.errors} unexpected answer(s) (expected ${r.expectedStatus}): ${JSON.stringify(r.statuses)}`);
  if (failed.some(({ r }) => r.statuses["429"])) {
    notes.push(
      options.url
        ? LIMITS_HINT
        : "429 rate_limited: RATE_LIMIT_* variables in the environment replaced the bench's raised login limits; unset them for the bench",
    );
  }
  if (notes.length) {
    out.push("");
    out.push("Notes:");
    for (const n of notes) out.push(`  - ${n}`);
  }

  const jsonPath = writeJson({
    startedAt: startedAt.toISOString(),
    commit,
    machine,
    command: `npm run bench -- ${flagsLine}`,
    options: { ...options, json: undefined },
    target: options.url ? { url: apiUrl, mode: "running Worker" } : { url: apiUrl, mode: `own Worker (${options.runtime})` },
    latencyDivisorMs: latencyDivisor,
    backends,
    argon2: argon2Used,
    addedLatencyMs: effectiveLatency,
    ops: results,
    ratioPass: passResults,
    ratios,
    notes,
    ok: failed.length === 0,
  });
  out.push("");
  out.push(`JSON: ${jsonPath}`);
  console.log(out.join("\n"));
  return failed.length === 0 ? 0 : 1;
}

const LIMITS_HINT =
  "429 rate_limited: the target's login limits are lower than a benchmark needs; start it with " +
  "RATE_LIMIT_LOGIN_PER_IP=1000000/1m RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL=1000000/15m npm run dev";

main().then(
  (code) => exit(code),
  (err) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    return exit(1);
  },
);
