// POST /oauth/revoke (RFC 7009): client-authenticated. A refresh token of the caller's application
// ends its session (once, under concurrency); an access token is refused until it expires; an
// unknown, malformed or foreign token is 200 and changes nothing.
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { PLATFORM_APPLICATION_ID } from "../../../src/db/schema";
import { basic, createApplication, createServiceAccount, form, serviceToken, type TestServiceAccount } from "../../helpers/applications";
import { call, json } from "../../helpers/http";
import { withFault } from "../../helpers/stack";
import { auditEvents, bearer, createUser, login } from "../../helpers/users";

let caller: TestServiceAccount;

beforeAll(async () => {
  caller = await createServiceAccount(PLATFORM_APPLICATION_ID, { name: "revoker" });
});

const revoke = (token: string, by: TestServiceAccount = caller, extra: Record<string, string> = {}) =>
  call("/oauth/revoke", { method: "POST", ...form({ token, ...extra }, basic(by.id, by.secret)) });

const introspect = async (token: string, by: TestServiceAccount = caller) =>
  (await json(await call("/oauth/introspect", { method: "POST", ...form({ token }, basic(by.id, by.secret)) }))).active as boolean;

describe("revocation", () => {
  it("a refresh token ends its session: refresh is then 401 and the access token inactive", async () => {
    const s = await login(await createUser());
    const res = await revoke(s.refreshToken, caller, { token_type_hint: "refresh_token" });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.text()).toBe("");
    expect((await call("/auth/refresh", { json: { refreshToken: s.refreshToken } })).status).toBe(401);
    expect(await introspect(s.accessToken)).toBe(false);
    const events = await auditEvents("oauth.token_revoked");
    expect(events.at(-1)?.metadata).toMatchObject({ tokenType: "refresh_token", reason: "oauth_revoke" });
  });

  it("the hint is only a hint: a refresh token sent as access_token is still revoked", async () => {
    const s = await login(await createUser());
    expect((await revoke(s.refreshToken, caller, { token_type_hint: "access_token" })).status).toBe(200);
    expect((await call("/auth/refresh", { json: { refreshToken: s.refreshToken } })).status).toBe(401);
    // An unknown hint is ignored too.
    const t = await login(await createUser());
    expect((await revoke(t.refreshToken, caller, { token_type_hint: "id_token" })).status).toBe(200);
    expect((await call("/auth/refresh", { json: { refreshToken: t.refreshToken } })).status).toBe(401);
  });

  it("10 concurrent revocations of one refresh token: all 200, the session ended once", async () => {
    const s = await login(await createUser());
    const before = (await auditEvents("oauth.token_revoked")).length;
    const answers = await Promise.all(Array.from({ length: 10 }, () => revoke(s.refreshToken)));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect((await auditEvents("oauth.token_revoked")).length - before).toBe(1);
    expect((await call("/auth/refresh", { json: { refreshToken: s.refreshToken } })).status).toBe(401);
  });

  it("an access token (user or service) is refused until it expires; the session lives on", async () => {
    const s = await login(await createUser());
    expect(await introspect(s.accessToken)).toBe(true);
    expect((await revoke(s.accessToken, caller, { token_type_hint: "access_token" })).status).toBe(200);
    expect(await introspect(s.accessToken)).toBe(false);
    // This service's own Bearer checks refuse it too: through the Redis marker, and through
    // Postgres when the marker cannot be read.
    const me = await call("/auth/me", { headers: bearer(s.accessToken) });
    expect(me.status).toBe(401);
    expect((await json(me)).error.code).toBe("token_revoked");
    const withoutRedis = await withFault("redis", { mode: "down" }, () => call("/auth/me", { headers: bearer(s.accessToken) }));
    expect(withoutRedis.status).toBe(401);
    // The refresh token still works: only that access token was revoked.
    const refreshed = await call("/auth/refresh", { json: { refreshToken: s.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(await introspect((await json(refreshed)).data.accessToken)).toBe(true);

    const app = await createApplication();
    const sa = await createServiceAccount(app.id);
    const token = await serviceToken(sa);
    const other = await serviceToken(sa);
    expect((await revoke(token, sa)).status).toBe(200);
    expect(await introspect(token, sa)).toBe(false);
    expect(await introspect(other, sa)).toBe(true);
    const events = await auditEvents("oauth.token_revoked");
    expect(events.at(-1)?.metadata).toMatchObject({ tokenType: "access_token", tokenUse: "service", jti: decodeJwt(token).jti });
  });

  it("unknown, malformed and other applications' tokens: 200, nothing changes", async () => {
    const before = (await auditEvents("oauth.token_revoked")).length;
    expect((await revoke("no-such-token")).status).toBe(200);
    expect((await revoke(`${crypto.randomUUID()}.${"A".repeat(43)}`)).status).toBe(200);
    const s = await login(await createUser());
    const stranger = await createServiceAccount((await createApplication()).id);
    expect((await revoke(s.refreshToken, stranger)).status).toBe(200);
    expect((await revoke(s.accessToken, stranger)).status).toBe(200);
    expect(await introspect(s.accessToken)).toBe(true);
    expect((await call("/auth/refresh", { json: { refreshToken: s.refreshToken } })).status).toBe(200);
    const foreignService = await serviceToken(stranger);
    expect((await revoke(foreignService)).status).toBe(200);
    expect(await introspect(foreignService, stranger)).toBe(true);
    expect((await auditEvents("oauth.token_revoked")).length).toBe(before);
  });

  it("requires client authentication and a token parameter", async () => {
    const s = await login(await createUser());
    const none = await call("/oauth/revoke", { method: "POST", ...form({ token: s.refreshToken }) });
    expect(none.status).toBe(401);
    expect(await json(none)).toEqual({ error: "invalid_client", error_description: "client authentication failed" });
    expect((await call("/auth/refresh", { json: { refreshToken: s.refreshToken } })).status).toBe(200);
    const missing = await call("/oauth/revoke", { method: "POST", ...form({}, basic(caller.id, caller.secret)) });
    expect(missing.status).toBe(400);
    expect((await json(missing)).error_description).toContain("token");
  });
});
