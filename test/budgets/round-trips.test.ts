// DESIGN.md section 7: SQL and Redis round trips per request, counted by the local endpoints
// (what the Worker's drivers actually sent), in steady state (scripts loaded, keys built).
import { describe, expect, it } from "vitest";
import { call } from "../helpers/http";
import { resetRoundTrips, roundTrips } from "../helpers/stack";
import { bearer, createUser, login } from "../helpers/users";

async function counted(fn: () => Promise<Response>, expectStatus: number): Promise<{ sql: number; redis: number }> {
  await resetRoundTrips();
  const res = await fn();
  expect(res.status).toBe(expectStatus);
  // Deferred work (email) may still be running; the budgets below are for the request itself,
  // and none of these requests defers any.
  return roundTrips();
}

describe("round-trip budgets", () => {
  it("JWKS: 0 SQL, 0 Redis", async () => {
    await call("/.well-known/jwks.json");
    expect(await counted(() => call("/.well-known/jwks.json"), 200)).toEqual({ sql: 0, redis: 0 });
  });

  it("login: at most 2 SQL and 1 Redis", async () => {
    const user = await createUser();
    await login(user, { "cf-connecting-ip": "192.0.2.10" }); // warms the rate-limit scripts
    const rt = await counted(() => call("/auth/login", { json: { email: user.email, password: user.password }, headers: { "cf-connecting-ip": "192.0.2.10" } }), 200);
    expect(rt.sql).toBeLessThanOrEqual(2);
    expect(rt.redis).toBeLessThanOrEqual(1);
  });

  it("refresh: 1 SQL, no more than 1 Redis", async () => {
    const s = await login(await createUser(), { "cf-connecting-ip": "192.0.2.11" });
    const rt = await counted(() => call("/auth/refresh", { json: { refreshToken: s.refreshToken } }), 200);
    expect(rt.sql).toBe(1);
    expect(rt.redis).toBeLessThanOrEqual(1);
  });

  it("/auth/me: 1 SQL, at most 1 Redis", async () => {
    const s = await login(await createUser(), { "cf-connecting-ip": "192.0.2.12" });
    const rt = await counted(() => call("/auth/me", { headers: bearer(s.accessToken) }), 200);
    expect(rt.sql).toBe(1);
    expect(rt.redis).toBeLessThanOrEqual(1);
  });

  it("Bearer check on an admin route: at most 1 SQL and 1 Redis (plus the route's own query)", async () => {
    const admin = await createUser({ globalRole: "PLATFORM_ADMIN" });
    const s = await login(admin, { "cf-connecting-ip": "192.0.2.13" });
    const rt = await counted(() => call("/internal/users?limit=5", { headers: bearer(s.accessToken) }), 200);
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
      await resetRoundTrips();
      const res = await send();
      expect(res.status, name).toBe(status);
      expect(reported(res), name).toEqual(await roundTrips());
    }
  });
});
