// `npm run dev` end to end: scripts/dev.ts as the npm script runs it, on free ports, with a data
// folder and a .dev.vars (DEV_VARS_FILE) of its own, so a developer's .dev.vars and .local are
// never touched. Three start-ups in all:
//  1. what the Worker sees is exactly what was set, from .dev.vars and from the process
//     environment, for a table of awkward values (observed through the Worker's own config error);
//  2. and 3. the README's key rotation walkthrough: next key published, then promoted with the old
//     key retired, and a token from before the promotion still accepted after it.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { decodeProtectedHeader } from "jose";
import { unstable_getVarsForDev } from "wrangler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, envSchema, parseConfig } from "../../src/config.ts";
import { PROJECT_ROOT } from "../../scripts/local-stack/index.ts";
import { freePorts } from "../../scripts/local-worker.ts";
import { argon2ParamsFromEnv, hashPasswordPhc, insertApprovedUser, sqlEndpointQuery } from "../../scripts/seed-users.ts";

const DEV = join(PROJECT_ROOT, "scripts", "dev.ts");
const run = promisify(execFile);
// A start-up takes seconds on a quiet machine and much longer on a loaded 2-core one.
const STARTUP_MS = 150_000;

/** The process environment without anything that would reach the Worker or pick real servers. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of [...Object.keys(envSchema.shape), "REDIS_URL", "DEV_VARS_FILE", "LOCAL_DATA_DIR", "PORT_WORKER", "LOCAL_SQL_PORT", "LOCAL_REDIS_PORT"])
    delete env[key];
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

interface Dev {
  url: string;
  sqlPort: number;
  devVarsFile: string;
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<Dev>();

/** Starts `npm run dev` (scripts/dev.ts) and resolves once the Worker answers /health at all. */
async function startDev(opts: { dataDir: string; devVars: string; env?: Record<string, string> }): Promise<Dev> {
  const [port, sqlPort, redisPort] = await freePorts(3);
  const devVarsFile = join(opts.dataDir, "dev.vars");
  writeFileSync(devVarsFile, opts.devVars);
  let output = "";
  const child: ChildProcess = spawn(process.execPath, [DEV], {
    cwd: PROJECT_ROOT,
    env: {
      ...cleanEnv(),
      PORT_WORKER: String(port),
      LOCAL_SQL_PORT: String(sqlPort),
      LOCAL_REDIS_PORT: String(redisPort),
      LOCAL_DATA_DIR: opts.dataDir,
      DEV_VARS_FILE: devVarsFile,
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const dev: Dev = {
    url: `http://127.0.0.1:${port}`,
    sqlPort,
    devVarsFile,
    output: () => output,
    stop: async () => {
      running.delete(dev);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 20_000).unref());
      if ((await Promise.race([exited, timeout])) === "timeout") child.kill("SIGKILL");
      await exited;
    },
  };
  running.add(dev);
  const deadline = Date.now() + STARTUP_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`npm run dev exited (${child.exitCode}):\n${output}`);
    try {
      const res = await fetch(`${dev.url}/health`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return dev;
    } catch {
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  await dev.stop();
  throw new Error(`npm run dev did not answer within ${STARTUP_MS / 1000} s:\n${output}`);
}

afterAll(async () => {
  await Promise.all([...running].map((d) => d.stop()));
});

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.json() };
}

/** The Worker's own log line for its configuration error (one JSON object per line). */
function configErrorLogged(output: string): { variables: string[]; problem: string } | undefined {
  for (const line of output.split("\n")) {
    const at = line.indexOf('{"time"');
    if (at < 0 || !line.includes('"configuration error"')) continue;
    return JSON.parse(line.slice(at));
  }
  return undefined;
}

describe("npm run dev hands every value to the Worker unchanged", () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "edge-auth-dev-values-"));
  });
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  // Each value sits in a variable the Worker validates and reports with the value it received
  // ("... got "<value>""), so the Worker's config error spells out what it saw. None is valid.
  // .dev.vars as a developer writes it (dotenv syntax, as wrangler itself reads .dev.vars):
  const DEV_VARS_LINES = [
    `ACCESS_TOKEN_TTL='[{"kid":"old","pem":"-----BEGIN PUBLIC KEY-----\\nMIIB\\n-----END PUBLIC KEY-----\\n"}]'`,
    `REFRESH_TOKEN_TTL="escapes \\n become a line break in double quotes"`,
    `REFRESH_REUSE_GRACE='a #not a comment $HOME \\$X ' # a comment`,
    `PASSWORD_RESET_TTL="  spaces kept  "`,
    "FINANCE_CACHE_TTL=`it's \"both\"`",
    `FINANCE_NEGATIVE_CACHE_TTL="first line`,
    `second line"`,
    `JWKS_MAX_AGE=ключ 🔑`,
    `RATE_LIMIT_REGISTER_PER_IP='from .dev.vars, overridden'`,
    `PASSWORD_MIN_LENGTH='C:\\path\\ends with \\'`,
    // No env file line can carry this value (npm run dev passes it as --var):
    "EMAIL_VERIFICATION_TTL='it\\'s \"all\" `three` # and a hash",
    "and a line'",
  ];
  const FROM_DEV_VARS: Record<string, string> = {
    ACCESS_TOKEN_TTL: '[{"kid":"old","pem":"-----BEGIN PUBLIC KEY-----\\nMIIB\\n-----END PUBLIC KEY-----\\n"}]',
    REFRESH_TOKEN_TTL: "escapes \n become a line break in double quotes",
    REFRESH_REUSE_GRACE: "a #not a comment $HOME \\$X ",
    PASSWORD_RESET_TTL: "  spaces kept  ",
    FINANCE_CACHE_TTL: `it's "both"`,
    FINANCE_NEGATIVE_CACHE_TTL: "first line\nsecond line",
    JWKS_MAX_AGE: "ключ 🔑",
    RATE_LIMIT_REGISTER_PER_IP: "from .dev.vars, overridden",
    PASSWORD_MIN_LENGTH: "C:\\path\\ends with \\",
    EMAIL_VERIFICATION_TTL: "it\\'s \"all\" `three` # and a hash\nand a line",
  };
  // The process environment, byte for byte (a process environment variable overrides .dev.vars):
  const FROM_ENV: Record<string, string> = {
    ARGON2_MEMORY: 'say "hi"',
    ARGON2_TIME: '[{"kid":"k\\"1","pem":"a\\\\nb"}]',
    ARGON2_THREADS: "line 1\nline 2\n",
    ARGON2_KEYLEN: "dos\r\nline\r",
    MAX_BODY_BYTES: "$HOME ${PATH} \\$USER $",
    READY_TIMEOUT_MS: "  leading and trailing  ",
    DEPENDENCY_TIMEOUT_MS: "ends with \\",
    RATE_LIMIT_LOGIN_PER_IP: "a#b # not a comment",
    RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL: "ключ 🔑 — é\ttab",
    RATE_LIMIT_PASSWORD_RESET_PER_EMAIL: "it's `x` \"y\"",
    RATE_LIMIT_PASSWORD_RESET_PER_IP: "\nafter a newline",
    RATE_LIMIT_REGISTER_PER_IP: 'from "the" environment',
    // Values no env file line can carry (npm run dev passes them as --var):
    EMAIL_OTP_TTL: "it's \"all\" `three` # and a hash\nand a line",
    STEP_UP_TTL: 'a"\r#',
  };

  it("from .dev.vars and from the environment, as the Worker's config error shows", async () => {
    const devVars = DEV_VARS_LINES.join("\n") + "\n";
    // The expectations are what wrangler itself makes of that .dev.vars (no test of ours decides it).
    const project = mkdtempSync(join(dataDir, "wrangler-reads-"));
    writeFileSync(join(project, ".dev.vars"), devVars);
    const wranglerReads = unstable_getVarsForDev(join(project, "wrangler.toml"), undefined, {}, undefined, true);
    expect(Object.fromEntries(Object.entries(wranglerReads).map(([k, b]) => [k, (b as { value: string }).value]))).toEqual(FROM_DEV_VARS);

    const seen = { ...FROM_DEV_VARS, ...FROM_ENV };
    let expected: ConfigError | undefined;
    try {
      parseConfig(seen);
    } catch (err) {
      expected = err as ConfigError;
    }
    // Every value is reported by the config error, so a changed value changes the message.
    expect(expected).toBeInstanceOf(ConfigError);
    expect([...expected!.variables].sort()).toEqual(Object.keys(seen).sort());
    for (const [name, value] of Object.entries(seen)) {
      expect(expected!.message).toContain(`${name}: `);
      expect(expected!.message).toContain(`got "${value}"`);
    }

    const dev = await startDev({ dataDir, devVars, env: FROM_ENV });
    try {
      const health = await getJson(`${dev.url}/health`);
      expect(health.status).toBe(500);
      expect(health.body.error.code).toBe("config_error");
      expect(health.body.error.details.variables).toEqual(expected!.variables);
      let logged = configErrorLogged(dev.output());
      for (let i = 0; !logged && i < 20; i++) {
        await new Promise((r) => setTimeout(r, 100));
        logged = configErrorLogged(dev.output());
      }
      expect(logged, dev.output()).toBeDefined();
      expect(logged!.variables).toEqual(expected!.variables);
      expect(logged!.problem).toBe(expected!.message);
    } finally {
      await dev.stop();
    }
    // The merged file held the development signing key; it goes when dev stops.
    expect(existsSync(join(PROJECT_ROOT, ".wrangler", "dev", `vars-${new URL(dev.url).port}.env`))).toBe(false);
  }, STARTUP_MS + 60_000);

  it("refuses only a value wrangler cannot be given (a NUL character it would need on the command line), before starting anything", async () => {
    const [port, sqlPort, redisPort] = await freePorts(3);
    writeFileSync(join(dataDir, "refused.vars"), "EMAIL_APP_NAME='it\\'s \"all\" `three` # and\0 a NUL'\n");
    const res = await run(process.execPath, [DEV], {
      cwd: PROJECT_ROOT,
      timeout: 30_000, // were it to start after all
      env: {
        ...cleanEnv(),
        LOCAL_DATA_DIR: dataDir,
        DEV_VARS_FILE: join(dataDir, "refused.vars"),
        PORT_WORKER: String(port),
        LOCAL_SQL_PORT: String(sqlPort),
        LOCAL_REDIS_PORT: String(redisPort),
      },
    }).then(
      () => ({ code: 0, out: "" }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, out: err.stdout + err.stderr }),
    );
    expect(res.code).toBe(1);
    expect(res.out).toMatch(/\[dev\] EMAIL_APP_NAME: contains a NUL character/);
    expect(res.out).not.toMatch(/local stack/);
    // DEV_VARS_FILE names the .dev.vars to use; the signing key is generated into it like the default one.
    expect(readFileSync(join(dataDir, "refused.vars"), "utf8")).toContain("JWT_SIGNING_KEY_PEM=");
  });
});

describe("key rotation under npm run dev (README, Key rotation)", () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "edge-auth-dev-rotation-"));
  });
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  const pair = () => generateKeyPairSync("rsa", { modulusLength: 2048 });
  const A = pair(); // the current key
  const B = pair(); // the next key
  const C = pair(); // retired by an earlier rotation, still published
  const privatePem = (k: ReturnType<typeof pair>) => k.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const publicPem = (k: ReturnType<typeof pair>) => k.publicKey.export({ type: "spki", format: "pem" }).toString();
  const jwk = (k: ReturnType<typeof pair>) => k.publicKey.export({ format: "jwk" }) as { n: string };
  const until = new Date(Date.now() + 3_600_000).toISOString();
  // A kid of the earlier rotation with the characters the old env file broke.
  const OLD_KID = `2026-10 "legacy" #1 $HOME it's`;

  async function jwks(dev: Dev): Promise<{ kid: string; n: string }[]> {
    const res = await getJson(`${dev.url}/.well-known/jwks.json`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.keys;
  }

  async function login(dev: Dev): Promise<string> {
    const res = await getJson(`${dev.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "ops@example.com", password: "plum-Tractor-61-orbit" }),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.data.accessToken;
  }

  it("publishes the next key, promotes it, and keeps accepting tokens signed before the promotion", async () => {
    // Step 1: JWT_NEXT_KEY_PEM / JWT_NEXT_KID published beside the current key, in .dev.vars
    // (PEMs in double quotes over several lines, as npm run dev writes its own key); the key of an
    // earlier rotation retired through the environment, as the issue set it.
    const before = await startDev({
      dataDir,
      devVars: [
        `JWT_SIGNING_KEY_PEM="${privatePem(A)}"`,
        "JWT_KID=2026-11",
        `JWT_NEXT_KEY_PEM="${publicPem(B)}"`,
        "JWT_NEXT_KID=2026-12",
        "",
      ].join("\n"),
      env: { JWT_RETIRED_KEYS: JSON.stringify([{ kid: OLD_KID, pem: publicPem(C), until }]) },
    });
    let token: string;
    try {
      expect(await jwks(before)).toMatchObject([
        { kid: "2026-11", n: jwk(A).n },
        { kid: "2026-12", n: jwk(B).n },
        { kid: OLD_KID, n: jwk(C).n },
      ]);
      // An approved account, inserted through the running stack's SQL endpoint as
      // `npm run admin:create` does.
      const id = await insertApprovedUser(sqlEndpointQuery(`http://127.0.0.1:${before.sqlPort}`), {
        email: "ops@example.com",
        passwordHash: await hashPasswordPhc("plum-Tractor-61-orbit", argon2ParamsFromEnv({})),
        globalRole: "PLATFORM_ADMIN",
        createdBy: { actorLabel: "test:dev", via: "admin:create" },
      });
      expect(id).not.toBeNull();
      token = await login(before);
      expect(decodeProtectedHeader(token).kid).toBe("2026-11"); // the old key still signs
    } finally {
      await before.stop();
    }

    // Step 3: promoted. JWT_SIGNING_KEY_PEM = B, JWT_KID = its kid, JWT_NEXT_* removed, A's public
    // key in JWT_RETIRED_KEYS: here in .dev.vars, single-quoted JSON with \n escapes in the PEM.
    const retired = JSON.stringify([{ kid: "2026-11", pem: publicPem(A), until }]);
    expect(retired).toContain("\\n");
    const after = await startDev({
      dataDir,
      devVars: [`JWT_SIGNING_KEY_PEM="${privatePem(B)}"`, "JWT_KID=2026-12", `JWT_RETIRED_KEYS='${retired}'`, ""].join("\n"),
    });
    try {
      expect(await jwks(after)).toMatchObject([
        { kid: "2026-12", n: jwk(B).n },
        { kid: "2026-11", n: jwk(A).n },
      ]);
      const me = await getJson(`${after.url}/auth/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status, JSON.stringify(me.body)).toBe(200);
      expect(me.body.data.email ?? me.body.data.user?.email).toBe("ops@example.com");
      expect(decodeProtectedHeader(await login(after)).kid).toBe("2026-12");
    } finally {
      await after.stop();
    }
  }, 2 * STARTUP_MS + 60_000);
});
