// POST /oauth/introspect (RFC 7662): client-authenticated; active tokens of the caller's own
// application are described, and everything not currently valid is {"active": false}: a bad
// signature, an expired token, an ended session, a bumped token version, a deleted secret's tokens,
// a disabled account or application, a revoked access token, another application's token.
import { decodeJwt, importPKCS8, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { PLATFORM_APPLICATION_ID } from "../../../src/db/schema";
import {
  adminAuth,
  basic,
  createApplication,
  createServiceAccount,
  form,
  serviceToken,
  setApplicationStatus,
  type TestServiceAccount,
} from "../../helpers/applications";
import { call, json, testKeys } from "../../helpers/http";
import { bearer, createUser, login } from "../../helpers/users";

let caller: TestServiceAccount;

beforeAll(async () => {
  // The introspecting client lives in the platform application, where user sessions start.
  caller = await createServiceAccount(PLATFORM_APPLICATION_ID, { name: "introspector" });
});

const introspect = (token: string, by: TestServiceAccount = caller, extra: Record<string, string> = {}) =>
  call("/oauth/introspect", { method: "POST", ...form({ token, ...extra }, basic(by.id, by.secret)) });

async function active(token: string, by: TestServiceAccount = caller): Promise<boolean> {
  const res = await introspect(token, by);
  expect(res.status).toBe(200);
  expect(res.headers.get("cache-control")).toBe("no-store");
  const body = await json(res);
  if (!body.active) expect(body).toEqual({ active: false });
  return body.active;
}

describe("introspection", () => {
  it("describes a valid service token", async () => {
    const app = await createApplication({ audience: "https://api.example" });
    const sa = await createServiceAccount(app.id, { allowedScopes: ["x:read"] });
    const token = await serviceToken(sa);
    const res = await introspect(token, sa);
    expect(res.status).toBe(200);
    const body = await json(res);
    const claims = decodeJwt(token);
    expect(body).toEqual({
      active: true,
      sub: sa.id,
      client_id: app.id,
      scope: "x:read",
      token_use: "service",
      token_type: "Bearer",
      exp: claims.exp,
      iat: claims.iat,
      iss: "https://auth.test",
      aud: "https://api.example",
      jti: claims.jti,
    });
  });

  it("describes a valid user token (username and email), body auth and JSON too", async () => {
    const user = await createUser();
    const s = await login(user);
    const res = await introspect(s.accessToken);
    const body = await json(res);
    expect(body).toMatchObject({ active: true, sub: user.id, client_id: PLATFORM_APPLICATION_ID, token_use: "user", username: user.email, email: user.email });
    const post = await call("/oauth/introspect", { method: "POST", ...form({ token: s.accessToken, client_id: caller.id, client_secret: caller.secret }) });
    expect((await json(post)).active).toBe(true);
    const viaJson = await call("/oauth/introspect", { json: { token: s.accessToken, token_type_hint: "access_token" }, headers: basic(caller.id, caller.secret) });
    expect((await json(viaJson)).active).toBe(true);
  });

  it("inactive: a bad signature, garbage, a refresh token", async () => {
    const s = await login(await createUser());
    const [h, p, sig] = s.accessToken.split(".");
    const flipped = `${h}.${p}.${sig.slice(0, -2)}${sig.endsWith("AA") ? "BB" : "AA"}`;
    expect(await active(flipped)).toBe(false);
    expect(await active("not-a-token")).toBe(false);
    expect(await active(s.refreshToken)).toBe(false);
  });

  it("inactive: an expired token (signed with our key), and a valid control", async () => {
    const user = await createUser();
    const s = await login(user);
    const claims = decodeJwt(s.accessToken);
    const key = await importPKCS8(testKeys().pkcs8, "RS256");
    const mint = (iat: number, exp: number) =>
      new SignJWT({ ...claims, iat, nbf: iat, exp }).setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: "test-key-1" }).sign(key);
    const now = Math.floor(Date.now() / 1000);
    expect(await active(await mint(now - 10, now + 600))).toBe(true);
    expect(await active(await mint(now - 1000, now - 120))).toBe(false);
  });

  it("inactive: an ended session (logout) and a bumped token version (logout-all)", async () => {
    const user = await createUser();
    const one = await login(user);
    const two = await login(user);
    expect(await active(one.accessToken)).toBe(true);
    expect((await call("/auth/logout", { json: { refreshToken: one.refreshToken } })).status).toBeLessThan(300);
    expect(await active(one.accessToken)).toBe(false);
    expect(await active(two.accessToken)).toBe(true);
    expect((await call("/auth/logout-all", { method: "POST", headers: bearer(two.accessToken) })).status).toBeLessThan(300);
    expect(await active(two.accessToken)).toBe(false);
  });

  it("inactive: tokens of a deleted secret, of a disabled account, of a disabled application", async () => {
    const app = await createApplication();
    const sa = await createServiceAccount(app.id);
    const base = `/internal/applications/${app.id}/service-accounts/${sa.id}`;
    const headers = await adminAuth();
    const second = await call(`${base}/secrets`, { json: {}, headers });
    const secondSecret = (await json(second)).data.secret as string;
    const viaFirst = await serviceToken(sa);
    const viaSecond = await serviceToken({ ...sa, secret: secondSecret });
    // The other account introspects (same application).
    const observer = await createServiceAccount(app.id, { name: "observer" });
    expect(await active(viaFirst, observer)).toBe(true);
    expect((await call(`${base}/secrets/${sa.secretId}`, { method: "DELETE", headers })).status).toBe(200);
    expect(await active(viaFirst, observer)).toBe(false);
    expect(await active(viaSecond, observer)).toBe(true);

    expect((await call(base, { method: "PATCH", json: { status: "disabled" }, headers })).status).toBe(200);
    expect(await active(viaSecond, observer)).toBe(false);
    expect((await call(base, { method: "PATCH", json: { status: "active" }, headers })).status).toBe(200);
    expect(await active(viaSecond, observer)).toBe(true);

    // A disabled application: its own clients cannot authenticate any more (so learn nothing), and
    // to everyone else its tokens were never reportable; enabled again, its tokens are live again.
    const observerToken = await serviceToken(observer);
    await setApplicationStatus(app.id, "disabled");
    const refused = await introspect(observerToken, observer);
    expect(refused.status).toBe(401);
    expect((await json(refused)).error).toBe("invalid_client");
    await setApplicationStatus(app.id, "active");
    expect(await active(observerToken, observer)).toBe(true);
  });

  it("inactive: a revoked access token", async () => {
    const s = await login(await createUser());
    expect(await active(s.accessToken)).toBe(true);
    const revoke = await call("/oauth/revoke", { method: "POST", ...form({ token: s.accessToken }, basic(caller.id, caller.secret)) });
    expect(revoke.status).toBe(200);
    expect(await active(s.accessToken)).toBe(false);
  });

  it("inactive for another application's caller: a service token and a user token", async () => {
    const app = await createApplication();
    const sa = await createServiceAccount(app.id);
    const token = await serviceToken(sa);
    const stranger = await createServiceAccount((await createApplication()).id);
    expect(await active(token, sa)).toBe(true);
    expect(await active(token, stranger)).toBe(false);
    const s = await login(await createUser());
    expect(await active(s.accessToken, stranger)).toBe(false);
  });

  it("requires client authentication: 401 invalid_client, RFC body; bad input 400 naming the field", async () => {
    const s = await login(await createUser());
    const none = await call("/oauth/introspect", { method: "POST", ...form({ token: s.accessToken }) });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Basic/);
    expect(await json(none)).toEqual({ error: "invalid_client", error_description: "client authentication failed" });
    const wrong = await call("/oauth/introspect", { method: "POST", ...form({ token: s.accessToken }, basic(caller.id, "sas_wrong")) });
    expect(wrong.status).toBe(401);
    const missing = await call("/oauth/introspect", { method: "POST", ...form({}, basic(caller.id, caller.secret)) });
    expect(missing.status).toBe(400);
    const body = await json(missing);
    expect(body.error).toBe("invalid_request");
    expect(body.error_description).toContain("token");
  });
});
