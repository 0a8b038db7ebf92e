// Remembered devices (issue 10 item 8): after MFA, rememberDevice sets the auth_device cookie and
// returns a device token that skips the second factor for MFA_REMEMBER_DAYS; listed and forgotten
// by the user; disabling MFA, a password reset and a staff reset forget them all.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createApiKey, createApplication } from "../../helpers/applications";
import { call, callWithEnv, json } from "../../helpers/http";
import { settle } from "../../helpers/stack";
import { auditEvents, bearer, deps } from "../../helpers/users";
import { challenge, code, createMfaUser, ip, stepNow, verify, type MfaUser } from "./support";

async function remember(u: MfaUser, headers: Record<string, string> = {}): Promise<{ deviceToken: string; accessToken: string; setCookie: string }> {
  const res = await verify(await challenge(u, headers), "recovery_code", u.recoveryCodes.shift()!, { rememberDevice: true }, headers);
  const body = await json(res);
  expect(res.status, JSON.stringify(body)).toBe(200);
  return { deviceToken: body.data.deviceToken, accessToken: body.data.accessToken, setCookie: res.headers.get("set-cookie") ?? "" };
}

function passwordLogin(u: MfaUser, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return call("/auth/login", { json: { email: u.email, password: u.password, ...extra }, headers: { ...ip(), ...headers } });
}

async function devicesIn(userId: string): Promise<number> {
  return Number(((await deps().db.execute(sql`select count(*)::int as n from remembered_devices where user_id = ${userId}::uuid`)).rows[0] as any).n);
}

describe("remembered devices", () => {
  it("rememberDevice: an HttpOnly, SameSite=Lax cookie scoped to /auth and a device token; it skips the second factor (cookie or body)", async () => {
    const u = await createMfaUser();
    const d = await remember(u);
    expect(d.deviceToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(d.setCookie).toContain(`auth_device=${d.deviceToken}`);
    expect(d.setCookie).toMatch(/HttpOnly/i);
    expect(d.setCookie).toMatch(/SameSite=Lax/i);
    expect(d.setCookie).toMatch(/Path=\/auth/);
    expect(d.setCookie).toMatch(/Max-Age=2592000/);
    const byBody = await json(await passwordLogin(u, { deviceToken: d.deviceToken }));
    expect(byBody.data.accessToken).toEqual(expect.any(String));
    const byCookie = await json(await passwordLogin(u, {}, { cookie: `auth_device=${d.deviceToken}` }));
    expect(byCookie.data.accessToken).toEqual(expect.any(String));
    // Not a device token of this user, or none: asked again.
    expect((await json(await passwordLogin(u, { deviceToken: "x".repeat(43) }))).data.mfaRequired).toBe(true);
    await settle();
    expect((await auditEvents("mfa.device.remembered")).some((e) => e.targetUserId === u.id)).toBe(true);
  });

  it("is refused for another user: a device token only skips the factor of the user it was made for", async () => {
    const a = await createMfaUser();
    const b = await createMfaUser();
    const d = await remember(a);
    expect((await json(await passwordLogin(b, { deviceToken: d.deviceToken }))).data.mfaRequired).toBe(true);
  });

  it("GET /auth/devices lists them; DELETE forgets one (then the factor is asked again); another user's is 404", async () => {
    const u = await createMfaUser();
    const d = await remember(u, { "user-agent": "TestBrowser/1.0" });
    const list = await json(await call("/auth/devices", { headers: bearer(d.accessToken) }));
    expect(list.data.devices).toHaveLength(1);
    expect(list.data.devices[0]).toMatchObject({ id: expect.any(String), userAgent: "TestBrowser/1.0", expiresAt: expect.any(String) });
    const other = await createMfaUser();
    const od = await remember(other);
    expect((await call(`/auth/devices/${list.data.devices[0].id}`, { method: "DELETE", headers: bearer(od.accessToken) })).status).toBe(404);
    const del = await call(`/auth/devices/${list.data.devices[0].id}`, { method: "DELETE", headers: bearer(d.accessToken) });
    expect(del.status).toBe(200);
    expect((await json(await passwordLogin(u, { deviceToken: d.deviceToken }))).data.mfaRequired).toBe(true);
    expect((await call(`/auth/devices/${list.data.devices[0].id}`, { method: "DELETE", headers: bearer(d.accessToken) })).status).toBe(404);
    expect((await call("/auth/devices/not-a-uuid", { method: "DELETE", headers: bearer(d.accessToken) })).status).toBe(400);
  });

  it("disabling MFA forgets every device", async () => {
    const u = await createMfaUser();
    const d = await remember(u);
    await remember(u);
    expect(await devicesIn(u.id)).toBe(2);
    const res = await call("/auth/mfa/totp/disable", { json: { password: u.password }, headers: bearer(d.accessToken) });
    expect(res.status).toBe(200);
    expect(await devicesIn(u.id)).toBe(0);
  });

  it("a password reset forgets every device: the new password and the old device token are asked for the factor", async () => {
    const u = await createMfaUser();
    const d = await remember(u);
    const req = await callWithEnv({ EXPOSE_PASSWORD_RESET_TOKEN: "true" }, "/auth/password-reset/request", { json: { email: u.email }, headers: ip() });
    const token = (await json(req)).data.token;
    const newPassword = "violet-Harbor-93-quill";
    expect((await call("/auth/password-reset/confirm", { json: { token, newPassword } })).status).toBe(200);
    expect(await devicesIn(u.id)).toBe(0);
    const res = await call("/auth/login", { json: { email: u.email, password: newPassword, deviceToken: d.deviceToken }, headers: ip() });
    expect((await json(res)).data.mfaRequired).toBe(true);
  });

  it("an application that does not allow remembering devices neither remembers nor honours them", async () => {
    const app = await createApplication({ type: "spa", settings: { mfa: { policy: "optional", rememberDevice: false } } as any });
    const key = await createApiKey(app.id);
    const u = await createMfaUser();
    const res = await verify(await challenge(u, { "x-api-key": key }), "totp", await code(u.secret, stepNow()), { rememberDevice: true }, { "x-api-key": key });
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.data.deviceToken).toBeUndefined();
    expect(res.headers.get("set-cookie") ?? "").not.toContain("auth_device");
    const d = await remember(u);
    expect((await json(await passwordLogin(u, { deviceToken: d.deviceToken }, { "x-api-key": key }))).data.mfaRequired).toBe(true);
  });
});
