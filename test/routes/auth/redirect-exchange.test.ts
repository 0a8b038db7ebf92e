// POST /auth/redirect/exchange: the one-time code that ends every browser sign-in flow. Exactly
// once, within 60 s, for the application it was issued to and the redirect URI it went to; and a
// code is only ever issued for a registered redirect URI.
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { resolveApplicationById } from "../../../src/services/applications/resolve";
import { startSessionForProvenUser } from "../../../src/services/auth/proven-session";
import { redirectWithCode, redirectWithError } from "../../../src/services/auth/redirect-code";
import { createApiKey, createApplication } from "../../helpers/applications";
import { call, json } from "../../helpers/http";
import { bearer, createUser, deps } from "../../helpers/users";

const REDIRECT = "https://app.example.com/callback";
const meta = { ip: "203.0.113.9", userAgent: "test" };

async function signedInCode(redirectUri = REDIRECT) {
  const app = await createApplication({ type: "web", redirectUris: [REDIRECT, "http://127.0.0.1:3000/cb"] });
  const key = await createApiKey(app.id);
  const user = await createUser();
  const d = deps();
  const calling = await resolveApplicationById(d, app.id);
  const outcome = await startSessionForProvenUser(d, calling, { userId: user.id, amr: ["email"], audit: { type: "login.success", metadata: { method: "test" } } }, meta);
  const url = new URL(await redirectWithCode(d, calling, redirectUri, outcome));
  return { app, key, user, calling, url, code: url.searchParams.get("code")! };
}

describe("POST /auth/redirect/exchange", () => {
  it("turns the code into the sign-in answer once; the redirect URL carries only the code", async () => {
    const { key, user, url, code } = await signedInCode();
    expect(`${url.origin}${url.pathname}`).toBe(REDIRECT);
    expect([...url.searchParams.keys()]).toEqual(["code"]);
    expect(code.length).toBeGreaterThanOrEqual(43);

    const res = await call("/auth/redirect/exchange", { json: { code }, headers: { "x-api-key": key } });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { data } = await json(res);
    expect(data.user.id).toBe(user.id);
    const claims = decodeJwt(data.accessToken);
    expect(claims.amr).toEqual(["email"]);
    expect(claims.email_verified).toBe(false);
    const me = await call("/auth/me", { headers: { ...bearer(data.accessToken), "x-api-key": key } });
    expect(me.status).toBe(200);

    const again = await call("/auth/redirect/exchange", { json: { code }, headers: { "x-api-key": key } });
    expect(again.status).toBe(400);
    expect((await json(again)).error.code).toBe("invalid_code");
  });

  it("gives one answer to N concurrent exchanges of one code", async () => {
    const { key, code } = await signedInCode();
    const answers = await Promise.all(Array.from({ length: 12 }, () => call("/auth/redirect/exchange", { json: { code }, headers: { "x-api-key": key } })));
    expect(answers.map((r) => r.status).sort()).toEqual([200, ...Array(11).fill(400)]);
  });

  it("refuses another application's code (and the code is dead afterwards), and another redirect URI", async () => {
    const { key, code } = await signedInCode();
    const other = await createApplication({ type: "web" });
    const otherKey = await createApiKey(other.id);
    const stolen = await call("/auth/redirect/exchange", { json: { code }, headers: { "x-api-key": otherKey } });
    expect(stolen.status).toBe(400);
    expect((await call("/auth/redirect/exchange", { json: { code }, headers: { "x-api-key": key } })).status).toBe(400);
    const platform = await signedInCode();
    expect((await call("/auth/redirect/exchange", { json: { code: platform.code } })).status).toBe(400);

    const second = await signedInCode();
    const wrongUri = await call("/auth/redirect/exchange", { json: { code: second.code, redirectUri: "https://app.example.com/other" }, headers: { "x-api-key": second.key } });
    expect(wrongUri.status).toBe(400);
    const third = await signedInCode("http://127.0.0.1:3000/cb");
    const rightUri = await call("/auth/redirect/exchange", { json: { code: third.code, redirectUri: "http://127.0.0.1:3000/cb", tokenTransport: "cookie" }, headers: { "x-api-key": third.key } });
    expect(rightUri.status).toBe(200);
    const body = await json(rightUri);
    expect(body.data.refreshToken).toBeUndefined();
    expect(rightUri.headers.get("set-cookie")).toMatch(/auth_refresh=/);
  });

  it("never issues a code or an error redirect for an unregistered redirect URI", async () => {
    const { calling } = await signedInCode();
    const outcome = { kind: "mfa_required" as const, mfaToken: "x", factors: ["totp" as const], expiresIn: 300 };
    for (const uri of ["https://app.example.com/callback/", "https://app.example.com/callback?x=1", "https://evil.example.com/callback", "http://app.example.com/callback"]) {
      await expect(redirectWithCode(deps(), calling, uri, outcome)).rejects.toMatchObject({ status: 400, code: "redirect_uri_not_registered" });
      expect(() => redirectWithError(calling, uri, "access_denied")).toThrow(/registered/);
    }
    expect(redirectWithError(calling, REDIRECT, "access_denied", "no")).toBe(`${REDIRECT}?error=access_denied&error_description=no`);
  });

  it("answers bad input with a 400 envelope", async () => {
    for (const body of [{}, { code: "" }, { code: 5 }, { code: "x", extra: 1 }, { code: "x".repeat(201) }]) {
      const res = await call("/auth/redirect/exchange", { json: body });
      expect(res.status).toBe(400);
      expect((await json(res)).error.code).toBe("validation_error");
    }
  });
});

describe("identity claims", () => {
  it("password sign-in and refresh carry email_verified, amr [pwd] and auth_time of the sign-in", async () => {
    const user = await createUser();
    const res = await call("/auth/login", { json: { email: user.email, password: user.password } });
    const { data } = await json(res);
    const claims = decodeJwt(data.accessToken);
    expect(claims.email_verified).toBe(false);
    expect(claims.amr).toEqual(["pwd"]);
    expect(Math.abs((claims.auth_time as number) - Math.floor(Date.now() / 1000))).toBeLessThan(30);
    await new Promise((r) => setTimeout(r, 1100));
    const refreshed = await json(await call("/auth/refresh", { json: { refreshToken: data.refreshToken } }));
    const after = decodeJwt(refreshed.data.accessToken);
    expect(after.amr).toEqual(["pwd"]);
    expect(after.auth_time).toBe(claims.auth_time);
    expect(after.iat).toBeGreaterThan(claims.iat!);
  });
});
