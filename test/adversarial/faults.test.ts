// Adversarial suite, part 4: dependency faults. SQL down, erroring, or slower than
// DEPENDENCY_TIMEOUT_MS, and Redis down or erroring, all produced by the real local endpoints
// (never by stubs). Every main flow answers 503 `dependency_unavailable` in the envelope, or
// succeeds where the design says so (Redis holds only rate limits and revocation markers; Postgres
// is the source of truth). Nothing is ever half-written: a failed request leaves the state as it
// was, the same request succeeds once the fault clears, and nothing stays poisoned.
// With `after: N` the endpoint lets the first N round trips through and fails the next ones, so a
// request whose flow spans several round trips fails between them.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { sha256 } from "../../src/crypto/random";
import { call, callWithEnv, json } from "../helpers/http";
import { settle, withFault, type Fault } from "../helpers/stack";
import { auditEvents, bearer, createUser, deps, GOOD_PASSWORD, login, outboxFor, uniqueEmail, type Session, type TestUser } from "../helpers/users";

// ---- helpers ---------------------------------------------------------------------------------

type Env = Record<string, string>;
type Dependency = "sql" | "redis";

let ipCounter = 0;
/** A fresh client address per request that is rate limited per IP. */
function nextIp(): Record<string, string> {
  ipCounter += 1;
  return { "cf-connecting-ip": `10.3.${(ipCounter >> 8) & 255}.${ipCounter & 255}` };
}

/** The app with the test bindings, or with some of them overridden. */
function send(env: Env, path: string, opts: Parameters<typeof call>[1] = {}): Promise<Response> {
  return Object.keys(env).length > 0 ? callWithEnv(env, path, opts) : call(path, opts);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const signIn = (u: TestUser): Promise<Session> => login(u, nextIp());
const sidOf = (refreshToken: string) => refreshToken.split(".")[0];
const hashOf = (refreshToken: string) => sha256(refreshToken.split(".")[1]);

const NEW_PASSWORD = "Harbor-Violet-57-anchor";
/** Checks of which password works try wrong ones on purpose: a roomy failure limit for them. */
const ROOMY_LIMITS = { RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL: "1000/15m" };

async function passwordWorks(email: string, password: string): Promise<boolean> {
  const res = await callWithEnv(ROOMY_LIMITS, "/auth/login", { json: { email, password }, headers: nextIp() });
  if (res.status !== 200 && res.status !== 401) throw new Error(`unexpected login answer ${res.status} ${await res.text()}`);
  return res.status === 200;
}

async function meStatus(accessToken: string): Promise<{ status: number; code?: string }> {
  const res = await call("/auth/me", { headers: bearer(accessToken) });
  return { status: res.status, code: res.status === 200 ? undefined : (await json(res)).error.code };
}

async function refreshStatus(refreshToken: string): Promise<number> {
  return (await call("/auth/refresh", { json: { refreshToken } })).status;
}

/** 503 dependency_unavailable in the envelope, naming the dependency and nothing of the driver. */
async function expectUnavailable(res: Response, dependency: Dependency): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(503);
  expect(res.headers.get("x-request-id")).toBeTruthy();
  const body = JSON.parse(text);
  expect(body).toEqual({ error: { code: "dependency_unavailable", message: expect.any(String), details: { dependency } } });
  expect(text).not.toMatch(/injected|stack|NeonDbError|UpstashError|ECONNREFUSED|08006|at \w+ \(/);
}

async function one<T>(query: ReturnType<typeof sql>): Promise<T> {
  return (await deps().db.execute(query)).rows[0] as T;
}

async function count(query: ReturnType<typeof sql>): Promise<number> {
  return Number((await one<{ n: number | string }>(query)).n);
}

interface SessionRow {
  refreshHash: string;
  previousRefreshHash: string | null;
  generation: number;
  revoked: boolean;
}

async function sessionRow(sessionId: string): Promise<SessionRow> {
  const r = await one<Record<string, unknown>>(
    sql`select refresh_hash as "refreshHash", previous_refresh_hash as "previousRefreshHash", generation, revoked_at is not null as revoked
        from sessions where id = ${sessionId}::uuid`,
  );
  return { ...(r as unknown as SessionRow), generation: Number(r.generation) };
}

const tokenVersion = async (userId: string) => Number((await one<{ v: number }>(sql`select token_version as v from users where id = ${userId}::uuid`)).v);
const sessionCount = (userId: string) => count(sql`select count(*)::int as n from sessions where user_id = ${userId}::uuid`);
const auditCount = async (type: string, userId?: string) =>
  (await auditEvents(type)).filter((e) => userId === undefined || e.targetUserId === userId).length;

async function resetTokenState(token: string): Promise<{ used: boolean } | undefined> {
  return one<{ used: boolean } | undefined>(sql`select used_at is not null as used from password_reset_tokens where token_hash = ${await sha256(token)}`);
}

// ---- the faults --------------------------------------------------------------------------------

/** The timeout the slow cases run with (DEPENDENCY_TIMEOUT_MS), and how long the endpoint holds answers back. */
const SHORT_TIMEOUT = { DEPENDENCY_TIMEOUT_MS: "400" };
const SLOW_MS = 1500;

interface FaultCase {
  label: string;
  endpoint: Dependency;
  fault: Fault;
}

const SQL_FAILURES: FaultCase[] = [
  { label: "SQL down", endpoint: "sql", fault: { mode: "down" } },
  { label: "SQL erroring", endpoint: "sql", fault: { mode: "error" } },
];
const REDIS_FAILURES: FaultCase[] = [
  { label: "Redis down", endpoint: "redis", fault: { mode: "down" } },
  { label: "Redis erroring", endpoint: "redis", fault: { mode: "error" } },
];

// ---- the flows -----------------------------------------------------------------------------------

interface Flow<C> {
  name: string;
  /** What the request needs, made before any fault. */
  setup(): Promise<C>;
  request(c: C, env: Env): Promise<Response>;
  okStatus: number;
  /**
   * Without Redis: "unavailable" when a rate limit guards the flow and fails closed (503 redis);
   * "works" when Redis only holds revocation markers (read with Postgres as the fallback, written
   * best effort) or is not used at all.
   */
  withoutRedis: "unavailable" | "works";
  /** Nothing of the request was applied. */
  unchanged(c: C): Promise<void>;
  /** The request's effect is in place, given the success answer's body. */
  applied(c: C, body: any): Promise<void>;
  /**
   * After an SQL answer came too late (the request answered 503, the statement still ran): the
   * state is whole, either all of the change or none of it, and the client can carry on.
   */
  afterLateAnswer?(c: C): Promise<void>;
}

const flow = <C>(f: Flow<C>): Flow<C> => f;

const REGISTRATION = { PUBLIC_REGISTRATION_ENABLED: "true" };
const EXPOSE_RESET = { EXPOSE_PASSWORD_RESET_TOKEN: "true" };

const usersWithEmail = (email: string) => count(sql`select count(*)::int as n from users where lower(email) = lower(${email})`);

const flows = [
  flow({
    name: "POST /auth/register",
    setup: async () => ({ email: uniqueEmail("fault.reg"), registeredBefore: await auditCount("user.registered") }),
    request: (c, env) =>
      send({ ...REGISTRATION, ...env }, "/auth/register", { json: { email: c.email, password: GOOD_PASSWORD, fullName: "Fault Tester" }, headers: nextIp() }),
    okStatus: 202,
    withoutRedis: "unavailable",
    unchanged: async (c) => {
      // No user, no audit of a registration, and no email announcing an account that does not exist.
      expect(await usersWithEmail(c.email)).toBe(0);
      expect(await auditCount("user.registered")).toBe(c.registeredBefore);
      expect(await outboxFor(c.email)).toEqual([]);
    },
    applied: async (c) => {
      const r = await one<{ approvalStatus: string; isActive: boolean }>(
        sql`select approval_status as "approvalStatus", is_active as "isActive" from users where lower(email) = lower(${c.email})`,
      );
      expect(r).toEqual({ approvalStatus: "PENDING", isActive: false });
      expect(await auditCount("user.registered")).toBe(c.registeredBefore + 1);
    },
    afterLateAnswer: async (c) => {
      const n = await usersWithEmail(c.email);
      expect([0, 1]).toContain(n);
      expect(await auditCount("user.registered")).toBe(c.registeredBefore + n);
    },
  }),
  flow({
    name: "POST /auth/login",
    setup: async () => ({ user: await createUser() }),
    request: (c, env) => send(env, "/auth/login", { json: { email: c.user.email, password: c.user.password }, headers: nextIp() }),
    okStatus: 200,
    withoutRedis: "unavailable",
    unchanged: async (c) => {
      expect(await sessionCount(c.user.id)).toBe(0);
      expect(await auditCount("login.success", c.user.id)).toBe(0);
      expect((await one<{ at: unknown }>(sql`select last_login_at as at from users where id = ${c.user.id}::uuid`)).at).toBeNull();
    },
    applied: async (c, body) => {
      expect(await sessionCount(c.user.id)).toBe(1);
      expect(await auditCount("login.success", c.user.id)).toBe(1);
      expect((await meStatus(body.data.accessToken)).status).toBe(200);
    },
  }),
  flow({
    name: "POST /auth/refresh",
    setup: async () => {
      const user = await createUser();
      return { user, s: await signIn(user) };
    },
    request: (c, env) => send(env, "/auth/refresh", { json: { refreshToken: c.s.refreshToken } }),
    okStatus: 200,
    withoutRedis: "works",
    unchanged: async (c) => {
      // The old token is still the current one.
      const row = await sessionRow(sidOf(c.s.refreshToken));
      expect(row).toMatchObject({ generation: 0, refreshHash: await hashOf(c.s.refreshToken), revoked: false });
      expect((await meStatus(c.s.accessToken)).status).toBe(200);
    },
    applied: async (c, body) => {
      const row = await sessionRow(sidOf(c.s.refreshToken));
      expect(row).toMatchObject({ generation: 1, refreshHash: await hashOf(body.data.refreshToken), revoked: false });
      expect((await meStatus(body.data.accessToken)).status).toBe(200);
      expect(await refreshStatus(body.data.refreshToken)).toBe(200);
    },
    afterLateAnswer: async (c) => {
      // The rotation may have landed after the client gave up; a retry with the old token within
      // the grace window gets the successor, which is then the one live token.
      const retry = await call("/auth/refresh", { json: { refreshToken: c.s.refreshToken } });
      expect(retry.status).toBe(200);
      const successor = (await json(retry)).data.refreshToken;
      const row = await sessionRow(sidOf(c.s.refreshToken));
      expect(row).toMatchObject({ generation: 1, refreshHash: await hashOf(successor), previousRefreshHash: await hashOf(c.s.refreshToken), revoked: false });
      expect(await refreshStatus(successor)).toBe(200);
    },
  }),
  flow({
    name: "POST /auth/logout",
    setup: async () => {
      const user = await createUser();
      return { user, s: await signIn(user) };
    },
    request: (c, env) => send(env, "/auth/logout", { json: { refreshToken: c.s.refreshToken } }),
    okStatus: 200,
    withoutRedis: "works",
    unchanged: async (c) => {
      expect((await sessionRow(sidOf(c.s.refreshToken))).revoked).toBe(false);
      expect((await meStatus(c.s.accessToken)).status).toBe(200);
      expect(await auditCount("logout", c.user.id)).toBe(0);
    },
    applied: async (c) => {
      expect((await sessionRow(sidOf(c.s.refreshToken))).revoked).toBe(true);
      expect(await meStatus(c.s.accessToken)).toEqual({ status: 401, code: "token_revoked" });
      expect(await refreshStatus(c.s.refreshToken)).toBe(401);
      expect(await auditCount("logout", c.user.id)).toBe(1);
    },
    afterLateAnswer: async (c) => {
      const revoked = (await sessionRow(sidOf(c.s.refreshToken))).revoked;
      expect(await auditCount("logout", c.user.id)).toBe(revoked ? 1 : 0);
      // Logging out again is harmless either way.
      expect((await call("/auth/logout", { json: { refreshToken: c.s.refreshToken } })).status).toBe(200);
      expect((await sessionRow(sidOf(c.s.refreshToken))).revoked).toBe(true);
    },
  }),
  flow({
    name: "POST /auth/logout-all",
    setup: async () => {
      const user = await createUser();
      return { user, a: await signIn(user), b: await signIn(user) };
    },
    request: (c, env) => send(env, "/auth/logout-all", { method: "POST", headers: bearer(c.a.accessToken) }),
    okStatus: 200,
    withoutRedis: "works",
    unchanged: async (c) => {
      expect(await tokenVersion(c.user.id)).toBe(0);
      for (const s of [c.a, c.b]) {
        expect((await sessionRow(sidOf(s.refreshToken))).revoked).toBe(false);
        expect((await meStatus(s.accessToken)).status).toBe(200);
      }
      expect(await auditCount("logout.all", c.user.id)).toBe(0);
    },
    applied: async (c, body) => {
      expect(body.data.revokedSessions).toBe(2);
      expect(await tokenVersion(c.user.id)).toBe(1);
      for (const s of [c.a, c.b]) {
        expect(await meStatus(s.accessToken)).toEqual({ status: 401, code: "token_revoked" });
        expect(await refreshStatus(s.refreshToken)).toBe(401);
      }
      expect(await auditCount("logout.all", c.user.id)).toBe(1);
    },
    afterLateAnswer: async (c) => {
      // The token-version bump, the revocations and the audit event land together or not at all.
      const bumped = (await tokenVersion(c.user.id)) === 1;
      for (const s of [c.a, c.b]) expect((await sessionRow(sidOf(s.refreshToken))).revoked).toBe(bumped);
      expect(await auditCount("logout.all", c.user.id)).toBe(bumped ? 1 : 0);
    },
  }),
  flow({
    name: "GET /auth/me",
    setup: async () => {
      const user = await createUser();
      return { user, s: await signIn(user) };
    },
    request: (c, env) => send(env, "/auth/me", { headers: bearer(c.s.accessToken) }),
    okStatus: 200,
    withoutRedis: "works",
    unchanged: async () => {},
    applied: async (c, body) => {
      expect(body.data).toMatchObject({ id: c.user.id, email: c.user.email });
    },
  }),
  flow({
    name: "GET /auth/sessions",
    setup: async () => {
      const user = await createUser();
      return { user, s: await signIn(user) };
    },
    request: (c, env) => send(env, "/auth/sessions", { headers: bearer(c.s.accessToken) }),
    okStatus: 200,
    withoutRedis: "works",
    unchanged: async () => {},
    applied: async (c, body) => {
      expect(body.data.sessions.map((s: { id: string; current: boolean }) => [s.id, s.current])).toEqual([[sidOf(c.s.refreshToken), true]]);
    },
  }),
  flow({
    name: "DELETE /auth/sessions/{id}",
    setup: async () => {
      const user = await createUser();
      return { user, a: await signIn(user), b: await signIn(user) };
    },
    request: (c, env) => send(env, `/auth/sessions/${sidOf(c.b.refreshToken)}`, { method: "DELETE", headers: bearer(c.a.accessToken) }),
    okStatus: 200,
    withoutRedis: "works",
    unchanged: async (c) => {
      expect((await meStatus(c.b.accessToken)).status).toBe(200);
      expect(await auditCount("session.revoked", c.user.id)).toBe(0);
    },
    applied: async (c) => {
      expect(await meStatus(c.b.accessToken)).toEqual({ status: 401, code: "token_revoked" });
      expect(await refreshStatus(c.b.refreshToken)).toBe(401);
      expect((await meStatus(c.a.accessToken)).status).toBe(200);
      expect(await auditCount("session.revoked", c.user.id)).toBe(1);
    },
  }),
  flow({
    name: "POST /auth/password-reset/request",
    setup: async () => ({ user: await createUser() }),
    request: (c, env) => send({ ...EXPOSE_RESET, ...env }, "/auth/password-reset/request", { json: { email: c.user.email }, headers: nextIp() }),
    okStatus: 200,
    withoutRedis: "unavailable",
    unchanged: async (c) => {
      expect(await count(sql`select count(*)::int as n from password_reset_tokens where user_id = ${c.user.id}::uuid`)).toBe(0);
      expect(await auditCount("password_reset.requested", c.user.id)).toBe(0);
      expect(await outboxFor(c.user.email)).toEqual([]);
    },
    applied: async (c, body) => {
      expect(await resetTokenState(body.data.token)).toEqual({ used: false });
      expect(await auditCount("password_reset.requested", c.user.id)).toBe(1);
    },
  }),
  flow({
    name: "POST /auth/password-reset/confirm",
    setup: async () => {
      const user = await createUser();
      const s = await signIn(user);
      const issued = await callWithEnv(EXPOSE_RESET, "/auth/password-reset/request", { json: { email: user.email }, headers: nextIp() });
      expect(issued.status).toBe(200);
      return { user, s, token: (await json(issued)).data.token as string };
    },
    request: (c, env) => send(env, "/auth/password-reset/confirm", { json: { token: c.token, newPassword: NEW_PASSWORD } }),
    okStatus: 200,
    withoutRedis: "works",
    unchanged: async (c) => {
      // The token is unused, the password unchanged, the sessions not revoked.
      expect(await resetTokenState(c.token)).toEqual({ used: false });
      expect(await tokenVersion(c.user.id)).toBe(0);
      expect((await meStatus(c.s.accessToken)).status).toBe(200);
      expect(await auditCount("password_reset.completed", c.user.id)).toBe(0);
      expect(await passwordWorks(c.user.email, c.user.password)).toBe(true);
      expect(await passwordWorks(c.user.email, NEW_PASSWORD)).toBe(false);
    },
    applied: async (c) => {
      expect(await resetTokenState(c.token)).toEqual({ used: true });
      expect(await tokenVersion(c.user.id)).toBe(1);
      expect(await meStatus(c.s.accessToken)).toEqual({ status: 401, code: "token_revoked" });
      expect(await refreshStatus(c.s.refreshToken)).toBe(401);
      expect(await passwordWorks(c.user.email, NEW_PASSWORD)).toBe(true);
      expect(await passwordWorks(c.user.email, c.user.password)).toBe(false);
    },
  }),
  flow({
    name: "POST /auth/change-password",
    setup: async () => {
      const user = await createUser();
      return { user, a: await signIn(user), b: await signIn(user) };
    },
    request: (c, env) =>
      send(env, "/auth/change-password", { json: { currentPassword: c.user.password, newPassword: NEW_PASSWORD }, headers: bearer(c.a.accessToken) }),
    okStatus: 200,
    withoutRedis: "unavailable",
    unchanged: async (c) => {
      expect((await meStatus(c.b.accessToken)).status).toBe(200);
      expect(await auditCount("password.changed", c.user.id)).toBe(0);
      expect(await passwordWorks(c.user.email, c.user.password)).toBe(true);
      expect(await passwordWorks(c.user.email, NEW_PASSWORD)).toBe(false);
    },
    applied: async (c, body) => {
      expect(body.data.revokedSessions).toBeGreaterThanOrEqual(1);
      expect((await meStatus(c.a.accessToken)).status).toBe(200);
      expect(await meStatus(c.b.accessToken)).toEqual({ status: 401, code: "token_revoked" });
      expect(await auditCount("password.changed", c.user.id)).toBe(1);
      expect(await passwordWorks(c.user.email, NEW_PASSWORD)).toBe(true);
      expect(await passwordWorks(c.user.email, c.user.password)).toBe(false);
    },
  }),
  flow({
    name: "GET /internal/users/{id} (admin, Bearer)",
    setup: async () => {
      const admin = await createUser({ globalRole: "PLATFORM_ADMIN" });
      return { admin: await signIn(admin), target: await createUser({ fullName: "Looked Up" }) };
    },
    request: (c, env) => send(env, `/internal/users/${c.target.id}`, { headers: bearer(c.admin.accessToken) }),
    okStatus: 200,
    withoutRedis: "works",
    unchanged: async () => {},
    applied: async (c, body) => {
      expect(body.data).toMatchObject({ id: c.target.id, email: c.target.email, fullName: "Looked Up" });
    },
  }),
] as Flow<any>[];

// ---- the matrix: every flow under every fault -------------------------------------------------

for (const f of flows) {
  describe(f.name, () => {
    for (const fc of SQL_FAILURES) {
      it(`${fc.label}: 503 dependency_unavailable (sql), nothing written; the same request succeeds once SQL is back`, async () => {
        const c = await f.setup();
        const res = await withFault(fc.endpoint, fc.fault, () => f.request(c, {}));
        await expectUnavailable(res, "sql");
        await settle();
        await f.unchanged(c);
        const again = await f.request(c, {});
        expect(again.status, await again.clone().text()).toBe(f.okStatus);
        await settle();
        await f.applied(c, await json(again));
      });
    }

    it("SQL slower than DEPENDENCY_TIMEOUT_MS: 503 once the timeout passes; a late statement lands whole; the next request succeeds", async () => {
      const c = await f.setup();
      const started = Date.now();
      const res = await withFault("sql", { mode: "slow", delayMs: SLOW_MS }, () => f.request(c, SHORT_TIMEOUT));
      const elapsed = Date.now() - started;
      await expectUnavailable(res, "sql");
      expect(elapsed).toBeGreaterThanOrEqual(380);
      expect(elapsed).toBeLessThan(SLOW_MS);
      // The endpoint still runs the statement it held back: wait for it, then look.
      await sleep(Math.max(0, started + SLOW_MS + 300 - Date.now()));
      await settle();
      await f.afterLateAnswer?.(c);
      const fresh = await f.setup();
      const next = await f.request(fresh, {});
      expect(next.status, await next.clone().text()).toBe(f.okStatus);
      await settle();
      await f.applied(fresh, await json(next));
    });

    for (const fc of REDIS_FAILURES) {
      if (f.withoutRedis === "unavailable") {
        it(`${fc.label}: 503 dependency_unavailable (redis), the rate limit fails closed and nothing is written; then it succeeds`, async () => {
          const c = await f.setup();
          const res = await withFault(fc.endpoint, fc.fault, () => f.request(c, {}));
          await expectUnavailable(res, "redis");
          await settle();
        await f.unchanged(c);
          const again = await f.request(c, {});
          expect(again.status, await again.clone().text()).toBe(f.okStatus);
          await settle();
          await f.applied(c, await json(again));
        });
      } else {
        it(`${fc.label}: succeeds, with Postgres as the source of truth`, async () => {
          const c = await f.setup();
          const res = await withFault(fc.endpoint, fc.fault, () => f.request(c, {}));
          expect(res.status, await res.clone().text()).toBe(f.okStatus);
          await settle();
          await f.applied(c, await json(res));
        });
      }
    }
  });
}

describe("the default DEPENDENCY_TIMEOUT_MS (5 s)", () => {
  it("a request waiting on a slow SQL answer gets 503 after about five seconds, not a hang", async () => {
    const user = await createUser();
    const s = await signIn(user);
    const started = Date.now();
    const res = await withFault("sql", { mode: "slow", delayMs: 7000 }, () => call("/auth/me", { headers: bearer(s.accessToken) }));
    const elapsed = Date.now() - started;
    await expectUnavailable(res, "sql");
    expect(elapsed).toBeGreaterThanOrEqual(4900);
    expect(elapsed).toBeLessThan(7000);
    expect((await meStatus(s.accessToken)).status).toBe(200);
  });
});

// ---- fail-open settings -------------------------------------------------------------------------------

describe("documented fail-open: RATE_LIMIT_FAIL_CLOSED_LOGIN=false", () => {
  const OPEN = { RATE_LIMIT_FAIL_CLOSED_LOGIN: "false" };

  it("login goes through without Redis, and its tokens work", async () => {
    const user = await createUser();
    const res = await withFault("redis", { mode: "down" }, () =>
      callWithEnv(OPEN, "/auth/login", { json: { email: user.email, password: user.password }, headers: nextIp() }),
    );
    expect(res.status).toBe(200);
    const { data } = await json(res);
    expect((await meStatus(data.accessToken)).status).toBe(200);
    expect(await refreshStatus(data.refreshToken)).toBe(200);
  });

  it("a wrong password is still refused without Redis", async () => {
    const user = await createUser();
    const res = await withFault("redis", { mode: "down" }, () =>
      callWithEnv(OPEN, "/auth/login", { json: { email: user.email, password: "Wrong-Password-12-x" }, headers: nextIp() }),
    );
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("invalid_credentials");
    expect(await sessionCount(user.id)).toBe(0);
  });

  it("change-password goes through without Redis, and still ends the other sessions", async () => {
    const user = await createUser();
    const a = await signIn(user);
    const b = await signIn(user);
    const res = await withFault("redis", { mode: "down" }, async () => {
      const r = await callWithEnv(OPEN, "/auth/change-password", {
        json: { currentPassword: user.password, newPassword: NEW_PASSWORD },
        headers: bearer(a.accessToken),
      });
      // No marker could be written: the other session's token is refused from Postgres right away.
      expect(await meStatus(b.accessToken)).toEqual({ status: 401, code: "token_revoked" });
      return r;
    });
    expect(res.status).toBe(200);
    expect(await passwordWorks(user.email, NEW_PASSWORD)).toBe(true);
    expect(await meStatus(b.accessToken)).toEqual({ status: 401, code: "token_revoked" });
    expect((await meStatus(a.accessToken)).status).toBe(200);
  });
});

// ---- failing mid-request ---------------------------------------------------------------------------

describe("SQL failing mid-request (the endpoint lets the first round trips through)", () => {
  for (const mode of ["down", "error"] as const) {
    it(`registration (${mode} after the Redis rate limit passed): no user, no audit, no email; the address registers afterwards, once`, async () => {
      const email = uniqueEmail("fault.mid");
      const before = await auditCount("user.registered");
      const register = () =>
        callWithEnv(REGISTRATION, "/auth/register", { json: { email, password: GOOD_PASSWORD }, headers: nextIp() });
      // Registration is one statement (user and audit event together): its only SQL round trip fails.
      await expectUnavailable(await withFault("sql", { mode, after: 0 }, register), "sql");
      expect(await usersWithEmail(email)).toBe(0);
      expect(await auditCount("user.registered")).toBe(before);
      expect(await outboxFor(email)).toEqual([]);
      expect((await register()).status).toBe(202);
      expect(await usersWithEmail(email)).toBe(1);
      expect(await auditCount("user.registered")).toBe(before + 1);
    });

    it(`login (${mode} after the sign-in statement): the sign-in stands; its outcome is not written, but the attempt is recorded`, async () => {
      const user = await createUser();
      const res = await withFault("sql", { mode, after: 1 }, async () => {
        const r = await call("/auth/login", { json: { email: user.email, password: user.password }, headers: nextIp() });
        await settle();
        return r;
      });
      expect(res.status).toBe(200);
      const { accessToken } = (await json(res)).data;
      const sid = JSON.parse(atob(accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sid;
      expect((await meStatus(accessToken)).status).toBe(200);
      expect(await sessionCount(user.id)).toBe(1);
      expect(await auditCount("login.success", user.id)).toBe(0);
      // The deferred write never ran (as if the isolate were evicted): the sign-in statement's own
      // login.attempt row says when, from where, which account, application and session.
      const attempt = await deps().db.execute(sql`select target_user_id as target, metadata from auth_audit_logs where event_type = 'login.attempt' and target_user_id = ${user.id}::uuid`);
      expect(attempt.rows).toHaveLength(1);
      expect((attempt.rows[0] as { metadata: Record<string, unknown> }).metadata).toMatchObject({ sessionId: sid });
    });

    it(`a refused login (${mode} after the sign-in statement): 401, no token disclosed; the session it started stays unusable`, async () => {
      const user = await createUser();
      const res = await withFault("sql", { mode, after: 1 }, async () => {
        const r = await call("/auth/login", { json: { email: user.email, password: "Wrong-Password-61-x" }, headers: nextIp() });
        await settle();
        return r;
      });
      expect(res.status).toBe(401);
      const body = await json(res);
      expect(body.data).toBeUndefined();
      expect(JSON.stringify(body)).not.toMatch(/[0-9a-f-]{36}\.[A-Za-z0-9_-]{20,}/);
      // Its removal failed with SQL: the row stays, never rotated, its refresh secret never sent
      // anywhere, and no access token was signed for it; it expires with REFRESH_TOKEN_TTL.
      const rows = await deps().db.execute(sql`select generation, revoked_at from sessions where user_id = ${user.id}::uuid`);
      expect(rows.rows).toEqual([{ generation: 0, revoked_at: null }]);
      // Its outcome row was not written either; the attempt is on record.
      expect(await auditCount("login.attempt", user.id)).toBe(1);
      expect(await auditCount("login.failure", user.id)).toBe(0);
      // The account is unharmed: the next sign-in works.
      expect((await meStatus((await signIn(user)).accessToken)).status).toBe(200);
    });

    it(`password-reset confirm (${mode} after the token was read): token unused, old password works, new one does not, sessions live`, async () => {
      const user = await createUser();
      const s = await signIn(user);
      const issued = await callWithEnv(EXPOSE_RESET, "/auth/password-reset/request", { json: { email: user.email }, headers: nextIp() });
      const token = (await json(issued)).data.token as string;
      const confirm = () => call("/auth/password-reset/confirm", { json: { token, newPassword: NEW_PASSWORD } });

      await expectUnavailable(await withFault("sql", { mode, after: 1 }, confirm), "sql");
      expect(await resetTokenState(token)).toEqual({ used: false });
      expect(await tokenVersion(user.id)).toBe(0);
      expect(await auditCount("password_reset.completed", user.id)).toBe(0);
      expect((await meStatus(s.accessToken)).status).toBe(200);
      expect(await passwordWorks(user.email, user.password)).toBe(true);
      expect(await passwordWorks(user.email, NEW_PASSWORD)).toBe(false);

      // The same token still works once SQL is back.
      expect((await confirm()).status).toBe(200);
      expect(await resetTokenState(token)).toEqual({ used: true });
      expect(await passwordWorks(user.email, NEW_PASSWORD)).toBe(true);
      expect(await meStatus(s.accessToken)).toEqual({ status: 401, code: "token_revoked" });
    });

    it(`change-password (${mode} after the profile and credentials were read): password unchanged, other sessions live`, async () => {
      const user = await createUser();
      const a = await signIn(user);
      const b = await signIn(user);
      const change = () =>
        call("/auth/change-password", { json: { currentPassword: user.password, newPassword: NEW_PASSWORD }, headers: bearer(a.accessToken) });

      await expectUnavailable(await withFault("sql", { mode, after: 2 }, change), "sql");
      expect(await auditCount("password.changed", user.id)).toBe(0);
      expect((await meStatus(b.accessToken)).status).toBe(200);
      expect(await passwordWorks(user.email, user.password)).toBe(true);
      expect(await passwordWorks(user.email, NEW_PASSWORD)).toBe(false);

      expect((await change()).status).toBe(200);
      expect(await passwordWorks(user.email, NEW_PASSWORD)).toBe(true);
      expect(await meStatus(b.accessToken)).toEqual({ status: 401, code: "token_revoked" });
    });

    it(`refresh (${mode} on its one statement): the old token stays valid and refreshes once the fault clears`, async () => {
      const user = await createUser();
      const s = await signIn(user);
      const refresh = () => call("/auth/refresh", { json: { refreshToken: s.refreshToken } });
      await expectUnavailable(await withFault("sql", { mode, after: 0 }, refresh), "sql");
      expect(await sessionRow(sidOf(s.refreshToken))).toMatchObject({ generation: 0, refreshHash: await hashOf(s.refreshToken), revoked: false });
      const res = await refresh();
      expect(res.status).toBe(200);
      const successor = (await json(res)).data.refreshToken;
      expect(await sessionRow(sidOf(s.refreshToken))).toMatchObject({ generation: 1, refreshHash: await hashOf(successor) });
    });

    it(`refresh reuse (${mode} after the rotation statement saw the reuse): detection is not lost, the next attempt ends the family`, async () => {
      const user = await createUser();
      const s = await signIn(user);
      const first = await call("/auth/refresh", { json: { refreshToken: s.refreshToken } });
      const successor = (await json(first)).data.refreshToken;
      await deps().db.execute(sql`update sessions set rotated_at = rotated_at - interval '1 hour' where id = ${sidOf(s.refreshToken)}::uuid`);

      const replay = () => call("/auth/refresh", { json: { refreshToken: s.refreshToken } });
      await expectUnavailable(await withFault("sql", { mode, after: 1 }, replay), "sql");
      expect(await auditCount("refresh.reuse_detected", user.id)).toBe(0);

      const again = await replay();
      expect(again.status).toBe(401);
      expect((await json(again)).error.code).toBe("refresh_token_reused");
      expect(await refreshStatus(successor)).toBe(401);
      expect(await auditCount("refresh.reuse_detected", user.id)).toBe(1);
    });
  }
});

describe("Redis failing mid-request: revocation markers are not written, Postgres still refuses the tokens", () => {
  /** Everything a revoked access token must no longer do, with Redis up but no marker for it. */
  async function expectRefusedEverywhere(accessToken: string, otherSessionId: string): Promise<void> {
    expect(await meStatus(accessToken)).toEqual({ status: 401, code: "token_revoked" });
    for (const [path, method] of [
      ["/auth/sessions", "GET"],
      [`/auth/sessions/${otherSessionId}`, "DELETE"],
      ["/auth/logout-all", "POST"],
      ["/auth/change-password", "POST"],
    ] as const) {
      const res = await call(path, {
        method,
        headers: bearer(accessToken),
        ...(path === "/auth/change-password" ? { json: { currentPassword: GOOD_PASSWORD, newPassword: NEW_PASSWORD } } : {}),
      });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect((await json(res)).error.code, `${method} ${path}`).toBe("token_revoked");
    }
  }

  it("logout while Redis is down: 200; the session's access token is refused by every Bearer route", async () => {
    const user = await createUser();
    const gone = await signIn(user);
    const stays = await signIn(user);
    const res = await withFault("redis", { mode: "down" }, () => call("/auth/logout", { json: { refreshToken: gone.refreshToken } }));
    expect(res.status).toBe(200);
    await expectRefusedEverywhere(gone.accessToken, sidOf(stays.refreshToken));
    // Nothing the refused token tried had an effect on the other session.
    expect((await meStatus(stays.accessToken)).status).toBe(200);
    expect(await tokenVersion(user.id)).toBe(0);
    expect(await passwordWorks(user.email, user.password)).toBe(true);
  });

  it("logout-all with Redis failing after the Bearer check (marker write lost): 200, and no token of the user works", async () => {
    const user = await createUser();
    const a = await signIn(user);
    const b = await signIn(user);
    // The Bearer check's marker read goes through; the marker write after the SQL change fails.
    const res = await withFault("redis", { mode: "down", after: 1 }, () => call("/auth/logout-all", { method: "POST", headers: bearer(a.accessToken) }));
    expect(res.status).toBe(200);
    expect((await json(res)).data.revokedSessions).toBe(2);
    const markers = await deps().redis.mget<(string | null)[]>(`auth:revoked-session:${sidOf(a.refreshToken)}`, `auth:min-token-version:${user.id}`);
    expect(markers).toEqual([null, null]);
    await expectRefusedEverywhere(a.accessToken, sidOf(b.refreshToken));
    expect(await meStatus(b.accessToken)).toEqual({ status: 401, code: "token_revoked" });
    expect(await refreshStatus(b.refreshToken)).toBe(401);
    expect(await tokenVersion(user.id)).toBe(1);
  });

  it("password-reset confirm while Redis is down: 200; earlier tokens are refused at once, even before Redis is back", async () => {
    const user = await createUser();
    const s = await signIn(user);
    const other = await signIn(user);
    const issued = await callWithEnv(EXPOSE_RESET, "/auth/password-reset/request", { json: { email: user.email }, headers: nextIp() });
    const token = (await json(issued)).data.token as string;
    await withFault("redis", { mode: "down" }, async () => {
      const res = await call("/auth/password-reset/confirm", { json: { token, newPassword: NEW_PASSWORD } });
      expect(res.status).toBe(200);
      expect(await meStatus(s.accessToken)).toEqual({ status: 401, code: "token_revoked" });
    });
    await expectRefusedEverywhere(s.accessToken, sidOf(other.refreshToken));
    expect(await passwordWorks(user.email, NEW_PASSWORD)).toBe(true);
  });
});

describe("recovery: nothing stays poisoned after a fault", () => {
  it("after SQL and Redis faults one after another, every flow works at once", async () => {
    const user = await createUser();
    const s = await signIn(user);
    for (const [endpoint, fault] of [
      ["sql", { mode: "down" }],
      ["redis", { mode: "down" }],
      ["sql", { mode: "error" }],
      ["redis", { mode: "error" }],
    ] as [Dependency, Fault][]) {
      await withFault(endpoint, fault, async () => {
        expect((await call("/auth/login", { json: { email: user.email, password: user.password }, headers: nextIp() })).status).toBe(503);
      });
      const fresh = await signIn(user);
      expect((await meStatus(fresh.accessToken)).status).toBe(200);
      expect((await meStatus(s.accessToken)).status).toBe(200);
      expect(await refreshStatus(fresh.refreshToken)).toBe(200);
      expect((await call("/auth/sessions", { headers: bearer(s.accessToken) })).status).toBe(200);
      const reset = await callWithEnv(EXPOSE_RESET, "/auth/password-reset/request", { json: { email: uniqueEmail("nobody") }, headers: nextIp() });
      expect(reset.status).toBe(200);
    }
  });
});
