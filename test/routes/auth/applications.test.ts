// App-initiated routes under an application (X-API-Key): sessions belong to the application they
// were started under, tokens carry its id and audience, keys and origins are checked, and a
// disabled application's sessions and tokens stop working.
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { PLATFORM_APPLICATION_ID } from "../../../src/db/schema";
import { admin, applicationWithKey, resetAdmin } from "../../helpers/app-registry";
import { call, callWithEnv, json } from "../../helpers/http";
import { bearer, createUser, login, type TestUser } from "../../helpers/users";

beforeAll(() => resetAdmin());

let ipCounter = 0;
const ip = () => ({ "cf-connecting-ip": `10.251.${(++ipCounter >> 8) & 255}.${ipCounter & 255}` });

async function signIn(user: TestUser, key?: string, extra: Record<string, string> = {}) {
  return call("/auth/login", { json: { email: user.email, password: user.password }, headers: { ...ip(), ...(key ? { "x-api-key": key } : {}), ...extra } });
}

const refreshWith = (refreshToken: string, key?: string) =>
  call("/auth/refresh", { json: { refreshToken }, headers: key ? { "x-api-key": key } : {} });

describe("sign-in under an application", () => {
  it("binds the session to the application: tokens carry client_id and its audience, and /auth/me accepts them", async () => {
    const { app, key } = await applicationWithKey({ audience: "https://api.acme.test" });
    const user = await createUser();
    const res = await signIn(user, key);
    expect(res.status).toBe(200);
    const { data } = await json(res);
    const claims = decodeJwt(data.accessToken);
    expect(claims.client_id).toBe(app.id);
    expect(claims.aud).toBe("https://api.acme.test");
    expect((await call("/auth/me", { headers: bearer(data.accessToken) })).status).toBe(200);

    const sessions = await json(await call("/auth/sessions", { headers: { ...bearer(data.accessToken), "x-api-key": key } }));
    expect(sessions.data.sessions[0].application).toEqual({ id: app.id, slug: app.slug, name: app.name });
  });

  it("without a key: the platform application, JWT_AUDIENCE, as before", async () => {
    const user = await createUser();
    const { data } = await json(await signIn(user));
    const claims = decodeJwt(data.accessToken);
    expect(claims.client_id).toBe(PLATFORM_APPLICATION_ID);
    expect(claims.aud).toBe("test-apps");
  });

  it("refuses a wrong, malformed, revoked or disabled application's key with 401 invalid_api_key", async () => {
    const user = await createUser();
    for (const key of ["eak_not-a-real-key", "x".repeat(300)]) {
      const res = await signIn(user, key);
      expect(res.status).toBe(401);
      expect((await json(res)).error.code).toBe("invalid_api_key");
    }
    const { app, key, keyId } = await applicationWithKey();
    const token = (await admin()).accessToken;
    await call(`/internal/applications/${app.id}/api-keys/${keyId}`, { method: "DELETE", headers: bearer(token) });
    expect((await json(await signIn(user, key))).error.code).toBe("invalid_api_key");

    const other = await applicationWithKey();
    await call(`/internal/applications/${other.app.id}`, { method: "DELETE", headers: bearer(token) });
    expect((await json(await signIn(user, other.key))).error.code).toBe("invalid_api_key");
  });

  it("with REQUIRE_APPLICATION=true a request that names no application is 401 application_required", async () => {
    const user = await createUser();
    const res = await callWithEnv({ REQUIRE_APPLICATION: "true" }, "/auth/login", { json: { email: user.email, password: user.password }, headers: ip() });
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("application_required");
    const reset = await callWithEnv({ REQUIRE_APPLICATION: "true" }, "/auth/password-reset/request", { json: { email: user.email }, headers: ip() });
    expect((await json(reset)).error.code).toBe("application_required");
  });

  it("a browser Origin the application does not list is 403 origin_not_allowed; a listed one passes", async () => {
    const { key } = await applicationWithKey({ allowedOrigins: ["https://app.acme.test"] });
    const user = await createUser();
    const refused = await signIn(user, key, { origin: "https://evil.test" });
    expect(refused.status).toBe(403);
    expect((await json(refused)).error.code).toBe("origin_not_allowed");
    const reg = await call("/auth/register", {
      json: { email: "someone.new@example.com", password: "Quiet-Harbor-93-lamp" },
      headers: { "x-api-key": key, origin: "https://evil.test", ...ip() },
    });
    expect(reg.status).toBe(403);
    const allowed = await signIn(user, key, { origin: "https://app.acme.test" });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.acme.test");
  });
});

describe("CORS per application", () => {
  it("preflights from any active application's origin pass and allow X-API-Key; the request is then judged by its own application", async () => {
    const a = await applicationWithKey({ allowedOrigins: ["https://a.cors.test"] });
    const b = await applicationWithKey({ allowedOrigins: ["https://b.cors.test"] });
    const preflight = (origin: string) =>
      call("/auth/login", { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type, x-api-key" } });

    const ok = await preflight("https://a.cors.test");
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://a.cors.test");
    expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
    expect(ok.headers.get("access-control-allow-headers")).toMatch(/X-API-Key/i);
    expect((await preflight("https://unknown.cors.test")).headers.get("access-control-allow-origin")).toBeNull();

    // A's key from B's origin: refused, and B's origin may not read the answer as A's.
    const user = await createUser();
    const crossed = await signIn(user, a.key, { origin: "https://b.cors.test" });
    expect(crossed.status).toBe(403);
    expect(crossed.headers.get("access-control-allow-origin")).toBeNull();

    // A Bearer route names no application: an application's origin may read it.
    const { data } = await json(await signIn(user, b.key, { origin: "https://b.cors.test" }));
    const me = await call("/auth/me", { headers: { ...bearer(data.accessToken), origin: "https://b.cors.test" } });
    expect(me.status).toBe(200);
    expect(me.headers.get("access-control-allow-origin")).toBe("https://b.cors.test");
    const stranger = await call("/auth/me", { headers: { ...bearer(data.accessToken), origin: "https://unknown.cors.test" } });
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("the refresh cookie under an application", () => {
  it("may be used from the application's own origins, and not from another application's", async () => {
    const a = await applicationWithKey({ allowedOrigins: ["https://a.cookie.test"] });
    const b = await applicationWithKey({ allowedOrigins: ["https://b.cookie.test"] });
    const user = await createUser();
    const res = await call("/auth/login?tokenTransport=cookie", {
      json: { email: user.email, password: user.password },
      headers: { "x-api-key": a.key, origin: "https://a.cookie.test", ...ip() },
    });
    expect(res.status).toBe(200);
    const cookie = res.headers.get("set-cookie")!.split(";")[0];
    const viaCookie = (key: string, origin: string) => call("/auth/refresh", { json: {}, headers: { cookie, "x-api-key": key, origin } });
    // B's key from B's origin with A's cookie: B's origin passes B's check, but the session is A's.
    const crossed = await viaCookie(b.key, "https://b.cookie.test");
    expect(crossed.status).toBe(401);
    expect((await json(crossed)).error.code).toBe("invalid_refresh_token");
    // The cookie is A's session, alive for A: not cleared by B's refusal.
    expect(crossed.headers.get("set-cookie")).toBeNull();
    const own = await viaCookie(a.key, "https://a.cookie.test");
    expect(own.status).toBe(200);
    expect(own.headers.get("access-control-allow-origin")).toBe("https://a.cookie.test");
  });
});

describe("a session used through another application", () => {
  it("refresh and logout with another application's key, or with none: 401 invalid_refresh_token, nothing changes", async () => {
    const a = await applicationWithKey();
    const b = await applicationWithKey();
    const user = await createUser();
    const { data } = await json(await signIn(user, a.key));

    for (const key of [b.key, undefined]) {
      const res = await refreshWith(data.refreshToken, key);
      expect(res.status).toBe(401);
      expect((await json(res)).error.code).toBe("invalid_refresh_token");
      const out = await call("/auth/logout", { json: { refreshToken: data.refreshToken }, headers: key ? { "x-api-key": key } : {} });
      expect(out.status).toBe(401);
      expect((await json(out)).error.code).toBe("invalid_refresh_token");
    }
    // Nothing changed: the session still rotates through its own application, with no reuse detected.
    const own = await refreshWith(data.refreshToken, a.key);
    expect(own.status).toBe(200);
    const rotated = (await json(own)).data;
    expect(decodeJwt(rotated.accessToken).client_id).toBe(a.app.id);
    expect((await call("/auth/logout", { json: { refreshToken: rotated.refreshToken }, headers: { "x-api-key": a.key } })).status).toBe(200);
    expect((await refreshWith(rotated.refreshToken, a.key)).status).toBe(401);
  });

  it("the session routes with another application's key, or with none, are 401 and end nothing", async () => {
    const a = await applicationWithKey();
    const b = await applicationWithKey();
    const user = await createUser();
    const mine = (await json(await signIn(user, a.key))).data;
    const other = (await json(await signIn(user, a.key))).data;
    const otherSid = other.refreshToken.split(".")[0];
    for (const key of [b.key, undefined]) {
      const headers = { ...bearer(mine.accessToken), ...(key ? { "x-api-key": key } : {}) };
      const list = await call("/auth/sessions", { headers });
      expect(list.status).toBe(401);
      expect((await json(list)).error.code).toBe("invalid_token");
      expect((await call(`/auth/sessions/${otherSid}`, { method: "DELETE", headers })).status).toBe(401);
    }
    const listed = await call("/auth/sessions", { headers: { ...bearer(mine.accessToken), "x-api-key": a.key } });
    expect(listed.status).toBe(200);
    expect((await json(listed)).data.sessions).toHaveLength(2);
    expect((await refreshWith(other.refreshToken, a.key)).status).toBe(200);
  });

  it("a platform session refreshed with an application's key is refused", async () => {
    const { key } = await applicationWithKey();
    const s = await login(await createUser(), ip());
    const res = await refreshWith(s.refreshToken, key);
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("invalid_refresh_token");
    expect((await refreshWith(s.refreshToken)).status).toBe(200);
  });
});

describe("a disabled application", () => {
  it("its sessions stop refreshing and its access tokens fail this service's checks at once", async () => {
    const { app, key } = await applicationWithKey();
    const user = await createUser();
    const { data } = await json(await signIn(user, key));
    expect((await call("/auth/me", { headers: bearer(data.accessToken) })).status).toBe(200);

    const disabled = await call(`/internal/applications/${app.id}`, { method: "DELETE", headers: bearer((await admin()).accessToken) });
    expect(disabled.status).toBe(200);

    const me = await call("/auth/me", { headers: bearer(data.accessToken) });
    expect(me.status).toBe(401);
    const res = await refreshWith(data.refreshToken, key);
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("invalid_api_key");

    // Re-enabled: the same session refreshes again (disabling ended nothing for good).
    await call(`/internal/applications/${app.id}`, { method: "PATCH", json: { status: "active" }, headers: bearer((await admin()).accessToken) });
    expect((await refreshWith(data.refreshToken, key)).status).toBe(200);
  });
});
