// An application requiring MFA (issue 10 item 3): a user without a factor gets
// mfaEnrollmentRequired and a token that can only set up and enable TOTP; enabling completes the
// held-back sign-in. A user with a factor gets the usual challenge.
import { describe, expect, it } from "vitest";
import { createApiKey, createApplication } from "../../helpers/applications";
import { call, json } from "../../helpers/http";
import { bearer, createUser } from "../../helpers/users";
import { challenge, code, createMfaUser, freshStep, ip, stepNow, verify } from "./support";

async function requiredApp() {
  const app = await createApplication({ type: "spa", settings: { mfa: { policy: "required" } } as any });
  return { app, key: await createApiKey(app.id) };
}

function claims(accessToken: string): any {
  return JSON.parse(atob(accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
}

describe("MFA policy required", () => {
  it("a user without a factor: mfaEnrollmentRequired; the token sets up and enables TOTP and completes the sign-in, once", async () => {
    const { app, key } = await requiredApp();
    const u = await createUser();
    const res = await call("/auth/login", { json: { email: u.email, password: u.password }, headers: { ...ip(), "x-api-key": key } });
    const body = await json(res);
    expect(res.status).toBe(200);
    expect(body.data).toEqual({ mfaEnrollmentRequired: true, mfaToken: expect.any(String), expiresIn: 600 });
    const t = body.data.mfaToken;
    // It is not an access token.
    expect((await call("/auth/me", { headers: bearer(t) })).status).toBe(401);
    expect((await call("/auth/devices", { headers: bearer(t) })).status).toBe(401);
    expect((await call("/auth/step-up", { json: { factor: "password", password: u.password }, headers: bearer(t) })).status).toBe(401);
    // Nor a challenge.
    expect((await verify(t, "totp", "123456", {}, { "x-api-key": key })).status).toBe(401);
    const setup = await call("/auth/mfa/totp/setup", { method: "POST", headers: bearer(t) });
    const s = await json(setup);
    expect(setup.status, JSON.stringify(s)).toBe(200);
    const step = await freshStep();
    const enable = await call("/auth/mfa/totp/enable", { json: { code: await code(s.data.secret, step) }, headers: bearer(t) });
    const e = await json(enable);
    expect(enable.status, JSON.stringify(e)).toBe(200);
    expect(e.data.recoveryCodes).toHaveLength(10);
    expect(e.data.signIn.accessToken).toEqual(expect.any(String));
    const c = claims(e.data.signIn.accessToken);
    expect(c.client_id).toBe(app.id);
    expect(c.amr).toEqual(expect.arrayContaining(["pwd", "otp", "mfa"]));
    // Used up.
    expect((await call("/auth/mfa/totp/setup", { method: "POST", headers: bearer(t) })).status).toBe(401);
    // From now on: the usual challenge.
    const token = await challenge(u, { "x-api-key": key });
    expect((await verify(token, "totp", await code(s.data.secret, step + 1), {}, { "x-api-key": key })).status).toBe(200);
  });

  it("a user with a factor gets the challenge; the platform (optional) does not ask a user without one", async () => {
    const { key } = await requiredApp();
    const u = await createMfaUser();
    const token = await challenge(u, { "x-api-key": key });
    expect((await verify(token, "totp", await code(u.secret, stepNow()), {}, { "x-api-key": key })).status).toBe(200);
    const plain = await createUser();
    const res = await call("/auth/login", { json: { email: plain.email, password: plain.password }, headers: ip() });
    expect((await json(res)).data.accessToken).toEqual(expect.any(String));
  });

  it("a challenge token is not an enrollment token", async () => {
    const u = await createMfaUser();
    const token = await challenge(u);
    const res = await call("/auth/mfa/totp/setup", { method: "POST", headers: bearer(token) });
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("invalid_mfa_token");
  });
});
