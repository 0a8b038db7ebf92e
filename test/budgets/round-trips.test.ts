// DESIGN.md section 7: SQL and Redis round trips per request, counted by the local endpoints
// (what the Worker's drivers actually sent), in steady state (scripts loaded, keys built).
import { describe, expect, it } from "vitest";
import { call } from "../helpers/http";
import { countRoundTrips } from "../helpers/stack";
import { bearer, createUser, login } from "../helpers/users";

/** The Worker's own count of sequential waits on the origin for one response (Server-Timing `path`). */
function sequentialWaits(res: Response): number {
  const m = /path;dur=[\d.]+;desc="(\d+) sequential waits"/.exec(res.headers.get("server-timing") ?? "");
  if (!m) throw new Error(`no critical path in Server-Timing: ${res.headers.get("server-timing")}`);
  return Number(m[1]);
}

describe("critical path (sequential waits on the origin; parallel round trips count once)", () => {
  it("JWKS 0; /auth/me 1 (Redis alongside SQL); refresh 1; the admin list at most 2", async () => {
    const admin = await createUser({ globalRole: "PLATFORM_ADMIN" });
    const s = await login(admin, { "cf-connecting-ip": "192.0.2.30" });
    await call("/auth/me", { headers: bearer(s.accessToken) });
    expect(sequentialWaits(await call("/.well-known/jwks.json"))).toBe(0);
    const me = await call("/auth/me", { headers: bearer(s.accessToken) });
    expect(me.status).toBe(200);
    expect(sequentialWaits(me)).toBe(1);
    const refreshed = await call("/auth/refresh", { json: { refreshToken: s.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(sequentialWaits(refreshed)).toBe(1);
    const list = await call("/internal/users?limit=5", { headers: bearer(s.accessToken) });
    expect(list.status).toBe(200);
    expect(sequentialWaits(list)).toBeLessThanOrEqual(2);
  });

  it("sign-in: 1 sequential wait plus the hash (the limit check alongside the one statement), for right and wrong passwords and unknown emails alike", async () => {
    const user = await createUser();
    await login(user, { "cf-connecting-ip": "192.0.2.31" });
    const res = await call("/auth/login", { json: { email: user.email, password: user.password }, headers: { "cf-connecting-ip": "192.0.2.31" } });
    expect(res.status).toBe(200);
    expect(sequentialWaits(res)).toBe(1);
    const wrong = await call("/auth/login", { json: { email: user.email, password: "wrong-Tractor-61" }, headers: { "cf-connecting-ip": "192.0.2.31" } });
    expect(wrong.status).toBe(401);
    const unknown = await call("/auth/login", { json: { email: "nobody.here@example.com", password: "wrong-Tractor-61" }, headers: { "cf-connecting-ip": "192.0.2.31" } });
    expect(unknown.status).toBe(401);
    // Unknown email, wrong and right password wait on the origin the same number of times.
    expect(sequentialWaits(wrong)).toBe(1);
    expect(sequentialWaits(unknown)).toBe(1);
  });
});

describe("round-trip budgets", () => {
  it("JWKS: 0 SQL, 0 Redis", async () => {
    await call("/.well-known/jwks.json");
    expect((await countRoundTrips(() => call("/.well-known/jwks.json"), 200)).rt).toEqual({ sql: 0, redis: 0 });
  });

  it("login: 2 SQL (the sign-in statement, and its audit and last-login write after the response) and 1 Redis", async () => {
    const user = await createUser();
    await login(user, { "cf-connecting-ip": "192.0.2.10" }); // warms the rate-limit scripts
    const { rt } = await countRoundTrips(() => call("/auth/login", { json: { email: user.email, password: user.password }, headers: { "cf-connecting-ip": "192.0.2.10" } }), 200);
    expect(rt).toEqual({ sql: 2, redis: 1 });
  });

  it("refresh: 1 SQL, no more than 1 Redis", async () => {
    const s = await login(await createUser(), { "cf-connecting-ip": "192.0.2.11" });
    const { rt } = await countRoundTrips(() => call("/auth/refresh", { json: { refreshToken: s.refreshToken } }), 200);
    expect(rt.sql).toBe(1);
    expect(rt.redis).toBeLessThanOrEqual(1);
  });

  it("/auth/me: 1 SQL, at most 1 Redis", async () => {
    const s = await login(await createUser(), { "cf-connecting-ip": "192.0.2.12" });
    const { rt } = await countRoundTrips(() => call("/auth/me", { headers: bearer(s.accessToken) }), 200);
    expect(rt.sql).toBe(1);
    expect(rt.redis).toBeLessThanOrEqual(1);
  });

  it("Bearer check on an admin route: at most 1 SQL and 1 Redis (plus the route's own query)", async () => {
    const admin = await createUser({ globalRole: "PLATFORM_ADMIN" });
    const s = await login(admin, { "cf-connecting-ip": "192.0.2.13" });
    const { rt } = await countRoundTrips(() => call("/internal/users?limit=5", { headers: bearer(s.accessToken) }), 200);
    // One statement for the staff check and one for the listing.
    expect(rt.sql).toBeLessThanOrEqual(2);
    expect(rt.redis).toBeLessThanOrEqual(1);
  });

  it("Server-Timing on every response reports the round trips the endpoints counted for it", async () => {
    const user = await createUser();
    const s = await login(user, { "cf-connecting-ip": "192.0.2.14" });
    const reported = (res: Response) => {
      const header = res.headers.get("server-timing") ?? "";
      const count = (name: string) => Number(new RegExp(`${name};dur=[\\d.]+;desc="(\\d+) round trips?"`).exec(header)?.[1]);
      return { sql: count("sql"), redis: count("redis") };
    };
    // Work deferred past the response is not in Server-Timing: the sign-in's audit write (1 SQL),
    // and for a wrong password the session's removal with its audit row (1 SQL) and the failure
    // count (1 Redis). The endpoints count it once it has run.
    const deferred: Record<string, { sql: number; redis: number }> = { login: { sql: 1, redis: 0 }, "wrong password": { sql: 1, redis: 1 } };
    const cases: [string, () => Promise<Response>, number][] = [
      ["login", () => call("/auth/login", { json: { email: user.email, password: user.password }, headers: { "cf-connecting-ip": "192.0.2.14" } }), 200],
      ["wrong password", () => call("/auth/login", { json: { email: user.email, password: "wrong-Tractor-61" }, headers: { "cf-connecting-ip": "192.0.2.14" } }), 401],
      ["refresh", () => call("/auth/refresh", { json: { refreshToken: s.refreshToken } }), 200],
      ["me", () => call("/auth/me", { headers: bearer(s.accessToken) }), 200],
      ["bad token", () => call("/auth/me", { headers: bearer("garbage") }), 401],
      ["validation error", () => call("/auth/login", { json: { email: 1 } }), 400],
      ["unknown route", () => call("/no/such/route"), 404],
    ];
    for (const [name, send, status] of cases) {
      const { res, rt: counted } = await countRoundTrips(send, status, { label: name });
      const later = deferred[name] ?? { sql: 0, redis: 0 };
      expect(reported(res), name).toEqual({ sql: counted.sql - later.sql, redis: counted.redis - later.redis });
    }
  });
});
