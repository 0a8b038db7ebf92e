// Naming an application costs no round trip once an isolate has resolved its key (the key's
// application is cached for APPLICATION_CACHE_TTL): the sign-in, refresh and /auth/me budgets of
// DESIGN.md section 7 hold under an application as they do for the platform.
import { beforeAll, describe, expect, it } from "vitest";
import { applicationWithKey, resetAdmin } from "../helpers/app-registry";
import { call, json } from "../helpers/http";
import { countRoundTrips, type CountOptions } from "../helpers/stack";
import { bearer, createUser } from "../helpers/users";

beforeAll(() => resetAdmin());

// The counters as the response arrives: no wait for deferred work before or after (a key's lastUsedAt touch runs after the response).
const atResponse: CountOptions = { settleBefore: false, countDeferred: false };

describe("round trips under an application", () => {
  it("the first request with a key pays a SQL round trip to resolve it; later ones cost what the platform's do", async () => {
    const { key } = await applicationWithKey({ allowedOrigins: ["https://budget.test"] });
    const user = await createUser();
    const headers = { "x-api-key": key, "cf-connecting-ip": "192.0.2.40" };
    const signIn = () => call("/auth/login", { json: { email: user.email, password: user.password }, headers });

    const platform = await countRoundTrips(() => call("/auth/login", { json: { email: user.email, password: user.password }, headers: { "cf-connecting-ip": "192.0.2.41" } }), 200, atResponse);
    // The first request resolves the key (one more statement; its lastUsedAt touch runs after the response).
    const first = await countRoundTrips(signIn, 200, atResponse);
    expect(first.rt.sql).toBeGreaterThan(platform.rt.sql);
    const warm = await countRoundTrips(signIn, 200, atResponse);
    expect(warm.rt).toEqual(platform.rt);
    expect(warm.rt.sql).toBeLessThanOrEqual(2);
    expect(warm.rt.redis).toBeLessThanOrEqual(1);

    const { data } = await json(warm.res);
    const refreshed = await countRoundTrips(() => call("/auth/refresh", { json: { refreshToken: data.refreshToken }, headers: { "x-api-key": key } }), 200, atResponse);
    expect(refreshed.rt).toEqual({ sql: 1, redis: 0 });

    // A token of a non-platform application: its audience is cached like the key after the first check.
    const token = (await json(refreshed.res)).data.accessToken;
    await call("/auth/me", { headers: bearer(token) });
    const me = await countRoundTrips(() => call("/auth/me", { headers: bearer(token) }), 200, atResponse);
    expect(me.rt.sql).toBe(1);
    expect(me.rt.redis).toBeLessThanOrEqual(1);
  });
});
