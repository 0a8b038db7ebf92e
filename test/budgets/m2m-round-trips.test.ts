// DESIGN.md section 7 for machine-to-machine routes: client_credentials is 1 SQL statement and at
// most 1 Redis round trip (the failure-limit peek, sent alongside); its bookkeeping (last_used_at
// and the oauth.token_issued audit row) is one deferred statement after the response. Introspection
// and ValidateToken: at most 1 SQL and 1 Redis, caller authentication included.
import { beforeAll, describe, expect, it } from "vitest";
import { PLATFORM_APPLICATION_ID } from "../../src/db/schema";
import { basic, createApiKey, createServiceAccount, form, serviceToken, type TestServiceAccount } from "../helpers/applications";
import { call } from "../helpers/http";
import { countRoundTrips, resetRoundTrips, roundTrips, type CountOptions } from "../helpers/stack";
import { createUser, login } from "../helpers/users";

let sa: TestServiceAccount;
let apiKey: string;

beforeAll(async () => {
  sa = await createServiceAccount(PLATFORM_APPLICATION_ID, { allowedScopes: ["r"] });
  apiKey = await createApiKey(PLATFORM_APPLICATION_ID);
  await serviceToken(sa); // warms the rate-limit scripts and the key set
});

function reported(res: Response): { sql: number; redis: number } {
  const header = res.headers.get("server-timing") ?? "";
  const count = (name: string) => Number(new RegExp(`${name};dur=[\\d.]+;desc="(\\d+) round trips?"`).exec(header)?.[1]);
  return { sql: count("sql"), redis: count("redis") };
}

// Budgets below: the round trips up to the response (the request's own deferred work is not
// waited for; earlier requests' is settled first), which its Server-Timing must report as well.
const untilResponse: CountOptions = { countDeferred: false };

describe("machine-to-machine round-trip budgets", () => {
  it("client_credentials: 1 SQL and at most 1 Redis on the request, plus 1 deferred write", async () => {
    await resetRoundTrips();
    const res = await call("/oauth/token", { method: "POST", ...form({ grant_type: "client_credentials" }, basic(sa.id, sa.secret)) });
    expect(res.status).toBe(200);
    const own = reported(res);
    expect(own.sql).toBe(1);
    expect(own.redis).toBeLessThanOrEqual(1);
    // The deferred bookkeeping statement lands after the response, and nothing else does.
    await expect.poll(async () => (await roundTrips()).sql).toBe(2);
    await new Promise((r) => setTimeout(r, 100));
    expect(await roundTrips()).toEqual({ sql: 2, redis: own.redis });
  });

  it("introspect: at most 1 SQL and 1 Redis (user and service tokens)", async () => {
    const s = await login(await createUser());
    const token = await serviceToken(sa);
    for (const t of [s.accessToken, token]) {
      const { res, rt } = await countRoundTrips(() => call("/oauth/introspect", { method: "POST", ...form({ token: t }, basic(sa.id, sa.secret)) }), 200, untilResponse);
      expect(reported(res)).toEqual(rt);
      expect(rt.sql).toBeLessThanOrEqual(1);
      expect(rt.redis).toBeLessThanOrEqual(1);
    }
  });

  it("ValidateToken: at most 1 SQL and 1 Redis, by API key and by Basic", async () => {
    const s = await login(await createUser());
    for (const headers of [{ "x-api-key": apiKey }, basic(sa.id, sa.secret)]) {
      const { res, rt } = await countRoundTrips(() => call("/auth.v1.TokenService/ValidateToken", { json: { accessToken: s.accessToken }, headers }), 200, untilResponse);
      expect(reported(res)).toEqual(rt);
      expect(rt.sql).toBeLessThanOrEqual(1);
      expect(rt.redis).toBeLessThanOrEqual(1);
    }
  });
});

describe("client authentication costs the same for an unknown client and a wrong secret", () => {
  it("same round trips, same answer", async () => {
    const send = (id: string, secret: string, ip: string) =>
      call("/oauth/token", { method: "POST", ...form({ grant_type: "client_credentials" }, { ...basic(id, secret), "cf-connecting-ip": ip }) });
    await resetRoundTrips();
    const wrong = await send(sa.id, "sas_wrong-secret", "192.0.2.201");
    const wrongRt = await roundTrips();
    await resetRoundTrips();
    const unknown = await send(crypto.randomUUID(), "sas_wrong-secret", "192.0.2.202");
    const unknownRt = await roundTrips();
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.text()).toBe(await unknown.text());
    expect(unknownRt).toEqual(wrongRt);
  });
});
