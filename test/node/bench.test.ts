// `npm run bench` end to end, small: its own stack and Workers, every operation measured without
// an unexpected answer, the round trips per request within DESIGN.md section 7, and nothing left
// running afterwards. Fast Argon2id parameters through ARGON2_* (the bench's default is production).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../scripts/local-stack/index.ts";

const run = promisify(execFile);
const SCRIPT = join(PROJECT_ROOT, "scripts", "bench.ts");

async function bench(args: string[], env: Record<string, string> = {}, timeout = 150_000) {
  const base: Record<string, string | undefined> = { ...process.env, ...env };
  // Always the embedded stack: a real DATABASE_URL / REDIS_URL would only get extra bench users.
  delete base.DATABASE_URL;
  delete base.REDIS_URL;
  try {
    const { stdout, stderr } = await run(process.execPath, [SCRIPT, ...args], { env: base, cwd: PROJECT_ROOT, timeout, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface OpRow {
  name: string;
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  expectedStatus: number;
  sqlPerRequest: number | null;
  redisPerRequest: number | null;
  latencyMs: { p50: number; p95: number; p99: number } | null;
  rps: number;
  pathPerRequest: number | null;
  pathOverLatency: number | null;
}

const dir = mkdtempSync(join(tmpdir(), "edge-auth-bench-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm run bench", () => {
  it("measures every operation with no unexpected answer, within the round-trip budgets, and stops what it started", { timeout: 180_000 }, async () => {
    const jsonPath = join(dir, "result.json");
    const res = await bench(["--requests", "12", "--warmup", "3", "--samples", "3", "--concurrency", "3", "--json", jsonPath], {
      ARGON2_MEMORY: "1024",
      ARGON2_TIME: "1",
    });
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).toMatch(/\| op +\| conc \| reqs \| req\/s \| p50 ms \| p95 ms \| p99 ms \| SQL\/req \| Redis\/req \| path \| errors \| statuses \|/);
    // No added latency: no "path ms ÷ latency" column.
    expect(res.stdout).not.toContain("path ms ÷ latency");
    expect(res.stdout).toContain("Ratios:");
    expect(res.stdout).toContain(`JSON: ${jsonPath}`);

    const report = JSON.parse(readFileSync(jsonPath, "utf8"));
    expect(report.ok).toBe(true);
    expect(report.argon2).toEqual({ memoryKiB: 1024, iterations: 1, parallelism: 1 });
    // The default runtime: the bundle served through Miniflare's API, not wrangler dev.
    expect(report.target.mode).toBe("own Worker (miniflare)");
    const ops = new Map<string, OpRow>((report.ops as OpRow[]).map((o) => [o.name, o]));
    expect([...ops.keys()].sort()).toEqual(
      [
        "admin_users",
        "auth_me",
        "client_credentials",
        "health",
        "introspect",
        "jwks",
        "login",
        "login_unknown_email",
        "login_wrong_password",
        "logout",
        "refresh",
        // The seeded rows: each request uses up an artefact made before the row.
        "mfa_verify",
        "email_code_verify",
        "redirect_exchange",
        "passkey_verify",
        "validate_token",
      ].sort(),
    );
    for (const op of [...ops.values(), ...(report.ratioPass as OpRow[])]) {
      expect(op.errors, `${op.name}: ${JSON.stringify(op.statuses)}`).toBe(0);
      expect(op.statuses).toEqual({ [String(op.expectedStatus)]: op.requests });
      expect(op.latencyMs?.p50).toBeGreaterThan(0);
      expect(op.rps).toBeGreaterThan(0);
    }
    expect(ops.get("login")!.requests).toBe(12);
    // Their pools hold warm-up plus measured requests (under the bench's cap of 50), so every
    // request found its artefact: no "pool empty" answer above, and all 12 measured.
    for (const name of ["mfa_verify", "email_code_verify", "redirect_exchange", "passkey_verify"]) expect(ops.get(name)!.requests, name).toBe(12);

    // The critical path, from the Worker's Server-Timing: the JWKS never waits on the origin, and
    // /auth/me waits once (its Redis marker check runs alongside its SQL statement).
    expect(ops.get("health")!.pathPerRequest).toBe(0);
    expect(ops.get("jwks")!.pathPerRequest).toBe(0);
    expect(ops.get("auth_me")!.pathPerRequest).toBe(1);
    expect(ops.get("refresh")!.pathPerRequest).toBe(1);
    for (const op of ops.values()) expect(op.pathOverLatency, op.name).toBeNull();

    // DESIGN.md section 7, from the endpoints' counters over each measured window.
    const rt = (name: string) => ({ sql: ops.get(name)!.sqlPerRequest!, redis: ops.get(name)!.redisPerRequest! });
    expect(rt("health")).toEqual({ sql: 0, redis: 0 });
    expect(rt("jwks")).toEqual({ sql: 0, redis: 0 });
    expect(rt("refresh").sql).toBe(1);
    expect(rt("refresh").redis).toBeLessThanOrEqual(1);
    expect(rt("auth_me").sql).toBe(1);
    expect(rt("auth_me").redis).toBeLessThanOrEqual(1);
    expect(rt("login").sql).toBeLessThanOrEqual(2);
    expect(rt("login").redis).toBeLessThanOrEqual(1);
    // The Bearer check (at most 1 SQL, 1 Redis) plus the listing's own statement.
    expect(rt("admin_users").sql).toBeLessThanOrEqual(2);
    expect(rt("admin_users").redis).toBeLessThanOrEqual(1);
    // Each measured logout ended a live session: one statement, and the revocation marker.
    expect(rt("logout")).toEqual({ sql: 1, redis: 1 });
    // Machine-to-machine: client_credentials is 1 statement on the request plus its deferred
    // bookkeeping statement (which the endpoint also counts); introspection and ValidateToken
    // authenticate the caller and check the token in one statement, next to one Redis peek.
    expect(rt("client_credentials").sql).toBeGreaterThanOrEqual(1);
    expect(rt("client_credentials").sql).toBeLessThanOrEqual(2);
    expect(rt("client_credentials").redis).toBeLessThanOrEqual(1);
    expect((ops.get("client_credentials") as OpRow & { serverTimingPerRequest: { sql: number } | null }).serverTimingPerRequest?.sql).toBe(1);
    for (const name of ["introspect", "validate_token"]) {
      expect(rt(name).sql, name).toBeLessThanOrEqual(1);
      expect(rt(name).redis, name).toBeLessThanOrEqual(1);
    }
    // test/budgets/mfa.test.ts: a recovery code is at most 2 SQL and 2 Redis, the challenge's
    // consume, the code's, then the session on the path. test/budgets/passwordless.test.ts: an email
    // code for a verified address is 1 Redis (the consume) and 1 SQL (the session), path 2.
    expect(rt("mfa_verify").sql).toBeLessThanOrEqual(2);
    expect(rt("mfa_verify").redis).toBeLessThanOrEqual(2);
    expect(ops.get("mfa_verify")!.pathPerRequest).toBe(3);
    expect(rt("email_code_verify")).toEqual({ sql: 1, redis: 1 });
    expect(ops.get("email_code_verify")!.pathPerRequest).toBe(2);
    // The redirect code's atomic consume answers the sign-in made when the link was used.
    expect(rt("redirect_exchange").sql).toBeLessThanOrEqual(1);
    expect(rt("redirect_exchange").redis).toBe(1);
    expect(ops.get("redirect_exchange")!.pathPerRequest).toBeLessThanOrEqual(2);
    // test/budgets/passkeys.test.ts: the challenge taken once (1 Redis), then the credential, the
    // counter compare-and-set and the session (3 SQL) in sequence.
    expect(rt("passkey_verify").redis).toBe(1);
    expect(rt("passkey_verify").sql).toBeLessThanOrEqual(3);
    expect(ops.get("passkey_verify")!.pathPerRequest).toBeLessThanOrEqual(4);

    const ratios = new Map<string, { value: number | null }>(report.ratios.map((r: { name: string; value: number | null }) => [r.name, r]));
    for (const name of ["login_p50_over_bare_argon2id_p50", "unknown_email_p50_over_wrong_password_p50", "refresh_rps_over_health_rps", "auth_me_rps_over_health_rps"]) {
      expect(ratios.get(name)?.value, name).toBeGreaterThan(0);
    }

    // Nothing it started is still listening.
    await expect(fetch(`${report.target.url}/health`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
  });

  // Its own start-up bounds (90 s per Worker, each with its log's end in the error) sit inside this one.
  it("--compare-runtimes serves the same Worker under Miniflare and under wrangler dev, side by side, and stops both", { timeout: 270_000 }, async () => {
    const jsonPath = join(dir, "compare.json");
    const res = await bench(
      ["--compare-runtimes", "--requests", "6", "--warmup", "2", "--concurrency", "2", "--json", jsonPath],
      { ARGON2_MEMORY: "1024", ARGON2_TIME: "1" },
      240_000,
    );
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).toMatch(/\| op +\| conc \| Miniflare req\/s \| p50 ms \| p99 ms \| wrangler dev req\/s \| p50 ms \| p99 ms \| req\/s × \| p50 saved ms \|/);
    const report = JSON.parse(readFileSync(jsonPath, "utf8"));
    expect(report.ok).toBe(true);
    const rows = report.runtimeComparison as { name: string; concurrency: number; miniflare: OpRow; wrangler: OpRow }[];
    expect(rows.map((r) => `${r.name}@${r.concurrency}`)).toEqual(["health@2", "health@1", "refresh@2", "refresh@1", "auth_me@2", "auth_me@1"]);
    for (const row of rows) {
      for (const op of [row.miniflare, row.wrangler]) {
        expect(op.errors, `${row.name}: ${JSON.stringify(op.statuses)}`).toBe(0);
        expect(op.requests).toBe(6);
      }
      // The same Worker either way: the same critical path.
      expect(row.miniflare.pathPerRequest, row.name).toBe(row.wrangler.pathPerRequest);
    }
    const urls = Object.values(report.target.urls as Record<string, string>);
    expect(urls).toHaveLength(2);
    for (const url of urls) {
      expect(new URL(url).hostname).toBe("127.0.0.1");
      await expect(fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
    }
  });

  it("refuses a target off loopback, and explains itself", async () => {
    const refused = await bench(["--url", "http://192.0.2.1:8787"], {}, 30_000);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/must be an http URL on loopback/);
    const help = await bench(["--help"], {}, 30_000);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/usage: npm run bench/);
    expect(help.stdout).toMatch(/--sql-latency MS/);
    expect(help.stdout).toMatch(/--runtime R/);
    expect(help.stdout).toMatch(/--compare-runtimes/);
    const badRuntime = await bench(["--runtime", "node"], {}, 30_000);
    expect(badRuntime.code).toBe(2);
    expect(badRuntime.stderr).toMatch(/--runtime must be miniflare or wrangler/);
    const both = await bench(["--url", "http://127.0.0.1:8787", "--compare-runtimes"], {}, 30_000);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--url targets a running one/);
  });
});
