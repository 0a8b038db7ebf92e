// The MFA gate after a first factor other than the password (completeFirstFactor): an email code
// or a magic link of a user with TOTP answers mfaRequired (no session started), and the verify
// completes it with amr email + otp + mfa; policy "required" asks a
// user without a factor to enrol.
import { decodeJwt } from "jose";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createApiKey, createApplication } from "../../helpers/applications";
import { call, json } from "../../helpers/http";
import { createUser, deps } from "../../helpers/users";
import { issueCode, issueLink, verifyJson } from "../passwordless/support";
import { challenge, code, createMfaUser, stepNow, verify } from "./support";

async function liveSessions(userId: string): Promise<number> {
  return Number(((await deps().db.execute(sql`select count(*)::int as n from sessions where user_id = ${userId}::uuid and revoked_at is null`)).rows[0] as any).n);
}

function codeVerify(email: string, c: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return call("/auth/email-otp/verify", { json: { email, code: c, ...extra }, headers });
}

describe("MFA after other first factors", () => {
  it("an email code of a user with TOTP: mfaRequired and no session; verify completes it with amr email, otp, mfa", async () => {
    const u = await createMfaUser();
    const res = await codeVerify(u.email, await issueCode(u.email));
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.data.mfaRequired).toBe(true);
    expect(body.data.accessToken).toBeUndefined();
    expect(await liveSessions(u.id)).toBe(0);
    const done = await verify(body.data.mfaToken, "totp", await code(u.secret, stepNow()));
    const d = await json(done);
    expect(done.status, JSON.stringify(d)).toBe(200);
    expect(decodeJwt(d.data.accessToken).amr).toEqual(expect.arrayContaining(["email", "otp", "mfa"]));
    expect(decodeJwt(d.data.accessToken).amr).not.toContain("pwd");
  });

  it("a magic link (JSON verify) of a user with TOTP asks for the factor too", async () => {
    const u = await createMfaUser();
    const res = await verifyJson(await issueLink(u.email));
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.data.mfaRequired).toBe(true);
    expect((await verify(body.data.mfaToken, "recovery_code", u.recoveryCodes[0])).status).toBe(200);
  });

  it("policy required: an email code of a user without a factor answers mfaEnrollmentRequired", async () => {
    const app = await createApplication({ type: "spa", settings: { mfa: { policy: "required" } } as any });
    const key = await createApiKey(app.id);
    const u = await createUser();
    const res = await codeVerify(u.email, await issueCode(u.email, key), {}, { "x-api-key": key });
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.data.mfaEnrollmentRequired).toBe(true);
    expect(await liveSessions(u.id)).toBe(0);
  });

  it("a remembered device (the auth_device cookie) skips the factor after an email code and a magic link too", async () => {
    const u = await createMfaUser();
    const first = await json(await codeVerify(u.email, await issueCode(u.email)));
    const done = await verify(first.data.mfaToken, "totp", await code(u.secret, stepNow()), { rememberDevice: true });
    const d = await json(done);
    expect(done.status, JSON.stringify(d)).toBe(200);
    const cookie = `auth_device=${d.data.deviceToken}`;
    const byCode = await json(await codeVerify(u.email, await issueCode(u.email), {}, { cookie }));
    expect(byCode.data.mfaRequired).toBeUndefined();
    expect(typeof byCode.data.accessToken).toBe("string");
    const byLink = await json(await call("/auth/magic-link/verify", { json: { token: await issueLink(u.email) }, headers: { cookie } }));
    expect(typeof byLink.data.accessToken).toBe("string");
    // Without the cookie the factor is asked for again.
    expect((await json(await codeVerify(u.email, await issueCode(u.email)))).data.mfaRequired).toBe(true);
  });
});
