// POST /auth.v1.TokenService/ValidateToken (Connect unary JSON): an application API key or
// service-account credentials; the same checks as introspection, only the caller's application's
// tokens valid; Connect errors for a bad caller or body.
import { decodeJwt, importPKCS8, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { PLATFORM_APPLICATION_ID } from "../../src/db/schema";
import { basic, createApiKey, createApplication, createServiceAccount, form, serviceToken, type TestServiceAccount } from "../helpers/applications";
import { call, json, testKeys } from "../helpers/http";
import { bearer, createUser, login } from "../helpers/users";

const PATH = "/auth.v1.TokenService/ValidateToken";
let platformKey: string;
let platformAccount: TestServiceAccount;

beforeAll(async () => {
  platformKey = await createApiKey(PLATFORM_APPLICATION_ID);
  platformAccount = await createServiceAccount(PLATFORM_APPLICATION_ID);
});

const validate = (accessToken: string, headers: Record<string, string> = { "x-api-key": platformKey }) =>
  call(PATH, { json: { accessToken }, headers: { "connect-protocol-version": "1", ...headers } });

const INVALID = (error: string) => ({ valid: false, userId: "", email: "", clientId: "", scopes: [], tokenUse: "", error });

describe("ValidateToken", () => {
  it("a valid user token, by API key and by Basic credentials", async () => {
    const user = await createUser();
    const s = await login(user);
    for (const headers of [{ "x-api-key": platformKey }, basic(platformAccount.id, platformAccount.secret)]) {
      const res = await validate(s.accessToken, headers);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await json(res)).toEqual({
        valid: true,
        userId: user.id,
        email: user.email,
        clientId: PLATFORM_APPLICATION_ID,
        scopes: [],
        tokenUse: "user",
        error: "",
      });
    }
  });

  it("a valid service token of the caller's application", async () => {
    const app = await createApplication();
    const sa = await createServiceAccount(app.id, { allowedScopes: ["r", "w"] });
    const key = await createApiKey(app.id);
    const token = await serviceToken(sa, { scope: "r" });
    expect(await json(await validate(token, { "x-api-key": key }))).toEqual({
      valid: true,
      userId: sa.id,
      email: "",
      clientId: app.id,
      scopes: ["r"],
      tokenUse: "service",
      error: "",
    });
    // Another application's key: not valid for it.
    expect(await json(await validate(token))).toEqual(INVALID("invalid_token"));
  });

  it("not valid: garbage, expired, logged out, revoked", async () => {
    expect(await json(await validate("garbage"))).toEqual(INVALID("invalid_token"));
    const s = await login(await createUser());
    const claims = decodeJwt(s.accessToken);
    const key = await importPKCS8(testKeys().pkcs8, "RS256");
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ ...claims, iat: now - 1000, nbf: now - 1000, exp: now - 100 })
      .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: "test-key-1" })
      .sign(key);
    expect(await json(await validate(expired))).toEqual(INVALID("token_expired"));
    expect((await call("/auth/logout-all", { method: "POST", headers: bearer(s.accessToken) })).status).toBeLessThan(300);
    expect(await json(await validate(s.accessToken))).toEqual(INVALID("token_revoked"));

    const t = await login(await createUser());
    expect((await call("/oauth/revoke", { method: "POST", ...form({ token: t.accessToken }, basic(platformAccount.id, platformAccount.secret)) })).status).toBe(200);
    expect(await json(await validate(t.accessToken))).toEqual(INVALID("token_revoked"));
  });

  it("caller credentials: missing, wrong key, wrong secret, revoked key: 401 unauthenticated (Connect error)", async () => {
    const s = await login(await createUser());
    for (const headers of [{}, { "x-api-key": "ak_wrong" }, basic(platformAccount.id, "sas_wrong"), { authorization: "Bearer x" }]) {
      const res = await validate(s.accessToken, headers);
      expect(res.status).toBe(401);
      const body = await json(res);
      expect(body.code).toBe("unauthenticated");
      expect(typeof body.message).toBe("string");
    }
    const both = await validate(s.accessToken, { "x-api-key": platformKey, ...basic(platformAccount.id, platformAccount.secret) });
    expect(both.status).toBe(400);
    expect((await json(both)).code).toBe("invalid_argument");
  });

  it("bad bodies: invalid_argument naming the field; non-JSON is 415", async () => {
    const headers = { "x-api-key": platformKey };
    const missing = await call(PATH, { json: {}, headers });
    expect(missing.status).toBe(400);
    expect(await json(missing)).toMatchObject({ code: "invalid_argument" });
    expect((await json(await call(PATH, { json: {}, headers }))).message).toContain("accessToken");
    const extra = await call(PATH, { json: { accessToken: "x", other: 1 }, headers });
    expect(extra.status).toBe(400);
    expect((await json(extra)).message).toContain("other");
    const malformed = await call(PATH, { method: "POST", body: "{", headers: { ...headers, "content-type": "application/json" } });
    expect(malformed.status).toBe(400);
    expect((await json(malformed)).code).toBe("invalid_argument");
    const text = await call(PATH, { method: "POST", body: "accessToken=x", headers: { ...headers, "content-type": "application/x-www-form-urlencoded" } });
    expect(text.status).toBe(415);
    expect((await json(text)).code).toBe("invalid_argument");
  });
});
