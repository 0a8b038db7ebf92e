// Step-up (issue 10 item 7): a user with a second factor whose sign-in is older than 5 minutes
// needs X-Step-Up-Token (POST /auth/step-up, bound to the session) for sensitive actions: change
// password, disable TOTP, new recovery codes, and the staff routes that mint API keys and
// service-account secrets. Without a factor, or within 5 minutes of signing in, it passes.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createApplication } from "../../helpers/applications";
import { call, json } from "../../helpers/http";
import { settle } from "../../helpers/stack";
import { auditEvents, bearer, createUser, deps, login, waitForEmail } from "../../helpers/users";
import { challenge, code, createMfaUser, freshStep, ip, mfaLogin, stepNow, verify, type MfaUser } from "./support";

function sessionOf(accessToken: string): string {
  return JSON.parse(atob(accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sid;
}

/** The sign-in of this session happened `minutes` ago (what a clock would show after waiting). */
async function age(accessToken: string, minutes: number): Promise<void> {
  await deps().db.execute(sql`update sessions set auth_time = now() - make_interval(mins => ${minutes}) where id = ${sessionOf(accessToken)}::uuid`);
}

const NEW_PASSWORD = "violet-Harbor-93-quill";

function changePassword(u: { password: string }, accessToken: string, headers: Record<string, string> = {}) {
  return call("/auth/change-password", { json: { currentPassword: u.password, newPassword: NEW_PASSWORD }, headers: { ...bearer(accessToken), ...headers } });
}

async function stepUp(accessToken: string, body: Record<string, unknown>) {
  return call("/auth/step-up", { json: body, headers: bearer(accessToken) });
}

async function oldSession(u: MfaUser): Promise<string> {
  const { accessToken } = await mfaLogin(u);
  await age(accessToken, 10);
  return accessToken;
}

describe("step-up", () => {
  it("change-password: 403 step_up_required without, 200 with a step-up token from a TOTP code", async () => {
    const u = await createMfaUser();
    const step = await freshStep();
    const token = await challenge(u);
    const signedIn = await json(await verify(token, "totp", await code(u.secret, step)));
    const at = signedIn.data.accessToken;
    await age(at, 10);
    const refused = await changePassword(u, at);
    expect(refused.status).toBe(403);
    expect((await json(refused)).error.code).toBe("step_up_required");
    // The code just used for sign-in does not step up; the next one does.
    expect((await stepUp(at, { factor: "totp", code: await code(u.secret, step) })).status).toBe(400);
    const up = await stepUp(at, { factor: "totp", code: await code(u.secret, step + 1) });
    const body = await json(up);
    expect(up.status, JSON.stringify(body)).toBe(200);
    expect(body.data.expiresIn).toBe(300);
    expect((await changePassword(u, at, { "x-step-up-token": body.data.stepUpToken })).status).toBe(200);
    await settle();
    expect((await auditEvents("mfa.step_up.success")).some((e) => e.targetUserId === u.id)).toBe(true);
  });

  it("a step-up token is bound to its session: another session of the same user cannot use it", async () => {
    const u = await createMfaUser();
    const a = await oldSession(u);
    const b = await json(await verify(await challenge(u), "recovery_code", u.recoveryCodes[0]));
    await age(b.data.accessToken, 10);
    const up = await json(await stepUp(a, { factor: "password", password: u.password }));
    const res = await changePassword(u, b.data.accessToken, { "x-step-up-token": up.data.stepUpToken });
    expect(res.status).toBe(403);
    const junk = await changePassword(u, a, { "x-step-up-token": "x".repeat(43) });
    expect(junk.status).toBe(403);
  });

  it("within 5 minutes of signing in no step-up is needed; a user without a factor never needs one", async () => {
    const u = await createMfaUser();
    const { accessToken } = await mfaLogin(u);
    await age(accessToken, 4);
    expect((await changePassword(u, accessToken)).status).toBe(200);
    const plain = await createUser();
    const s = await login(plain, ip());
    await age(s.accessToken, 60);
    expect((await changePassword(plain, s.accessToken)).status).toBe(200);
  });

  it("step-up by password and by recovery code (which is spent); wrong ones are 400", async () => {
    const u = await createMfaUser();
    const at = await oldSession(u);
    const wrong = await stepUp(at, { factor: "password", password: "wrong-Tractor-61" });
    expect(wrong.status).toBe(400);
    expect((await json(wrong)).error.code).toBe("invalid_password");
    expect((await stepUp(at, { factor: "password", password: u.password })).status).toBe(200);
    expect((await stepUp(at, { factor: "recovery_code", code: u.recoveryCodes[2] })).status).toBe(200);
    expect((await stepUp(at, { factor: "recovery_code", code: u.recoveryCodes[2] })).status).toBe(400);
    expect((await stepUp(at, { factor: "totp" })).status).toBe(400);
    expect((await stepUp(at, { factor: "sms", code: "1" })).status).toBe(400);
  });

  it("new recovery codes need a step-up; the old set stops working, the new one works, the user is told", async () => {
    const u = await createMfaUser();
    const at = await oldSession(u);
    const refused = await call("/auth/mfa/recovery-codes", { method: "POST", headers: bearer(at) });
    expect(refused.status).toBe(403);
    const up = await json(await stepUp(at, { factor: "password", password: u.password }));
    const res = await call("/auth/mfa/recovery-codes", { method: "POST", headers: { ...bearer(at), "x-step-up-token": up.data.stepUpToken } });
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.data.recoveryCodes).toHaveLength(10);
    expect((await json(await call("/auth/mfa/recovery-codes", { headers: bearer(at) }))).data.remaining).toBe(10);
    expect((await verify(await challenge(u), "recovery_code", u.recoveryCodes[4])).status).toBe(401);
    expect((await verify(await challenge(u), "recovery_code", body.data.recoveryCodes[0])).status).toBe(200);
    await waitForEmail(u.email, "mfa_recovery_codes");
    await settle();
    expect((await auditEvents("mfa.recovery_codes.regenerated")).some((e) => e.targetUserId === u.id)).toBe(true);
  });

  it("disabling TOTP needs a step-up too", async () => {
    const u = await createMfaUser();
    const at = await oldSession(u);
    const refused = await call("/auth/mfa/totp/disable", { json: { password: u.password }, headers: bearer(at) });
    expect(refused.status).toBe(403);
    const up = await json(await stepUp(at, { factor: "password", password: u.password }));
    const res = await call("/auth/mfa/totp/disable", { json: { password: u.password }, headers: { ...bearer(at), "x-step-up-token": up.data.stepUpToken } });
    expect(res.status).toBe(200);
  });

  it("staff with a factor need a step-up to mint an API key or a service-account secret", async () => {
    const admin = await createMfaUser({ globalRole: "PLATFORM_ADMIN" });
    const at = await oldSession(admin);
    const app = await createApplication({ type: "spa" });
    const refused = await call(`/internal/applications/${app.id}/api-keys`, { json: { name: "k" }, headers: bearer(at) });
    expect(refused.status).toBe(403);
    expect((await json(refused)).error.code).toBe("step_up_required");
    const up = await json(await stepUp(at, { factor: "totp", code: await code(admin.secret, stepNow() + 1) }));
    const ok = await call(`/internal/applications/${app.id}/api-keys`, { json: { name: "k" }, headers: { ...bearer(at), "x-step-up-token": up.data.stepUpToken } });
    expect(ok.status, await ok.clone().text()).toBe(201);
    const sa = await call(`/internal/applications/${app.id}/service-accounts`, { json: { name: "job" }, headers: bearer(at) });
    expect(sa.status, await sa.clone().text()).toBe(201);
    const saId = (await json(sa)).data.id;
    const noSecret = await call(`/internal/applications/${app.id}/service-accounts/${saId}/secrets`, { json: {}, headers: bearer(at) });
    expect(noSecret.status).toBe(403);
    const secret = await call(`/internal/applications/${app.id}/service-accounts/${saId}/secrets`, { json: {}, headers: { ...bearer(at), "x-step-up-token": up.data.stepUpToken } });
    expect(secret.status, await secret.clone().text()).toBe(201);
    // Staff without a factor mint as before.
    const plainAdmin = await createUser({ globalRole: "PLATFORM_ADMIN" });
    const s = await login(plainAdmin, ip());
    await age(s.accessToken, 60);
    expect((await call(`/internal/applications/${app.id}/api-keys`, { json: { name: "k2" }, headers: bearer(s.accessToken) })).status).toBe(201);
  });
});
