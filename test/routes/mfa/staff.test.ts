// Staff and second factors (issue 10 item 9): GET /internal/users/{id} shows which factors are on;
// DELETE /internal/users/{id}/mfa (PLATFORM_ADMIN and up) removes TOTP, recovery codes and
// remembered devices, audited, and emails the user.
import { describe, expect, it } from "vitest";
import { call, json } from "../../helpers/http";
import { settle } from "../../helpers/stack";
import { auditEvents, bearer, createUser, login, waitForEmail } from "../../helpers/users";
import { challenge, createMfaUser, ip, verify } from "./support";

describe("staff and MFA", () => {
  it("shows the factors, and an admin resets them (a moderator may not)", async () => {
    const admin = await createUser({ globalRole: "PLATFORM_ADMIN" });
    const moderator = await createUser({ globalRole: "PLATFORM_MODERATOR" });
    const adminAuth = bearer((await login(admin, ip())).accessToken);
    const modAuth = bearer((await login(moderator, ip())).accessToken);
    const u = await createMfaUser();
    await verify(await challenge(u), "recovery_code", u.recoveryCodes[0], { rememberDevice: true });
    const before = await json(await call(`/internal/users/${u.id}`, { headers: adminAuth }));
    expect(before.data.mfa).toEqual({ totp: true, recoveryCodesRemaining: 4, passkeys: 0 });
    const refused = await call(`/internal/users/${u.id}/mfa`, { method: "DELETE", headers: modAuth });
    expect(refused.status).toBe(403);
    const res = await call(`/internal/users/${u.id}/mfa`, { method: "DELETE", headers: adminAuth });
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    // Every recovery code row goes, used ones included.
    expect(body.data).toEqual({ totp: true, recoveryCodes: 5, devices: 1 });
    const after = await json(await call(`/internal/users/${u.id}`, { headers: adminAuth }));
    expect(after.data.mfa).toEqual({ totp: false, recoveryCodesRemaining: 0, passkeys: 0 });
    const signIn = await call("/auth/login", { json: { email: u.email, password: u.password }, headers: ip() });
    expect((await json(signIn)).data.accessToken).toEqual(expect.any(String));
    await waitForEmail(u.email, "mfa_disabled");
    await settle();
    const events = (await auditEvents("mfa.reset_by_staff")).filter((e) => e.targetUserId === u.id);
    expect(events).toHaveLength(1);
    expect(events[0].actorUserId).toBe(admin.id);
    expect((await call(`/internal/users/00000000-0000-4000-8000-000000000000/mfa`, { method: "DELETE", headers: adminAuth })).status).toBe(404);
  });
});
