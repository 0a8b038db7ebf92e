import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { call, callWithEnv, json } from "../../helpers/http";
import { auditEvents, bearer, createUser, deps, login, outboxFor, waitForEmail } from "../../helpers/users";

const ip = (n: number) => ({ "cf-connecting-ip": `100.64.0.${n}` });
const NEW_PASSWORD = "Copper-Lantern-72-ridge";

function changePassword(accessToken: string | null, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return call("/auth/change-password", { json: body, headers: { ...(accessToken ? bearer(accessToken) : {}), ...headers } });
}

function signIn(email: string, password: string, headers: Record<string, string>): Promise<Response> {
  return call("/auth/login", { json: { email, password }, headers });
}

async function storedHash(userId: string): Promise<string> {
  const r = await deps().db.execute(sql`select password_hash as h from users where id = ${userId}::uuid`);
  return (r.rows[0] as { h: string }).h;
}

describe("POST /auth/change-password", () => {
  it("requires a Bearer token", async () => {
    const res = await changePassword(null, { currentPassword: "whatever-1", newPassword: NEW_PASSWORD }, ip(1));
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    expect((await json(res)).error.code).toBe("unauthorized");
    const garbage = await changePassword("garbage", { currentPassword: "whatever-1", newPassword: NEW_PASSWORD }, ip(1));
    expect(garbage.status).toBe(401);
    expect((await json(garbage)).error.code).toBe("invalid_token");
  });

  it("refuses a wrong current password with 400 invalid_current_password and changes nothing", async () => {
    const user = await createUser();
    const s = await login(user, ip(2));
    const before = await storedHash(user.id);
    const res = await changePassword(s.accessToken, { currentPassword: "Not-the-password-11", newPassword: NEW_PASSWORD }, ip(2));
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error.code).toBe("invalid_current_password");
    expect(body.error.fields.map((f: { field: string }) => f.field)).toEqual(["currentPassword"]);
    expect(await storedHash(user.id)).toBe(before);
    expect((await signIn(user.email, user.password, ip(2))).status).toBe(200);
    expect((await auditEvents("password.changed")).filter((e) => e.targetUserId === user.id)).toHaveLength(0);
  });

  it("answers a policy failure with 400 weak_password naming newPassword and changes nothing", async () => {
    const user = await createUser();
    const s = await login(user, ip(3));
    const before = await storedHash(user.id);
    const local = user.email.split("@")[0];
    const cases: [string, string][] = [
      ["Ab3$xyz", "too_short"],
      ["Aq7-".repeat(32) + "z", "too_long"],
      ["password123", "common_password"],
      [`new-${local}-pw`, "contains_email"],
    ];
    for (const [newPassword, rule] of cases) {
      const res = await changePassword(s.accessToken, { currentPassword: user.password, newPassword }, ip(3));
      expect(res.status).toBe(400);
      const body = await json(res);
      expect(body.error.code).toBe("weak_password");
      expect(body.error.fields.map((f: { field: string }) => f.field)).toEqual(["newPassword"]);
      expect(body.error.details).toEqual({ rule });
    }
    expect(await storedHash(user.id)).toBe(before);
    expect((await call("/auth/me", { headers: bearer(s.accessToken) })).status).toBe(200);
  });

  it("names the offending fields of a bad body", async () => {
    const user = await createUser();
    const s = await login(user, ip(4));
    const res = await changePassword(s.accessToken, { currentPassword: user.password, extra: true }, ip(4));
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error.code).toBe("validation_error");
    expect(body.error.fields.map((f: { field: string }) => f.field).sort()).toEqual(["extra", "newPassword"]);
  });

  it("changes the password, ends the caller's other sessions and keeps the current one", async () => {
    const user = await createUser({ fullName: "Dorothy Vaughan" });
    const current = await login(user, ip(5));
    const other1 = await login(user, ip(5));
    const other2 = await login(user, ip(5));
    // Another user's session is not touched.
    const bystander = await createUser();
    const theirs = await login(bystander, ip(5));

    const res = await changePassword(current.accessToken, { currentPassword: user.password, newPassword: NEW_PASSWORD }, { ...ip(5), "user-agent": "change-test" });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ data: { revokedSessions: 2 } });

    for (const s of [other1, other2]) {
      const me = await call("/auth/me", { headers: bearer(s.accessToken) });
      expect(me.status).toBe(401);
      expect((await json(me)).error.code).toBe("token_revoked");
      expect((await call("/auth/refresh", { json: { refreshToken: s.refreshToken } })).status).toBe(401);
    }
    // The current session keeps working, refresh included.
    expect((await call("/auth/me", { headers: bearer(current.accessToken) })).status).toBe(200);
    const refreshed = await call("/auth/refresh", { json: { refreshToken: current.refreshToken } });
    expect(refreshed.status).toBe(200);
    const next = (await json(refreshed)).data.accessToken;
    expect((await call("/auth/me", { headers: bearer(next) })).status).toBe(200);
    expect((await call("/auth/me", { headers: bearer(theirs.accessToken) })).status).toBe(200);

    // New password in, old password out.
    expect((await signIn(user.email, NEW_PASSWORD, ip(6))).status).toBe(200);
    const old = await signIn(user.email, user.password, ip(6));
    expect(old.status).toBe(401);
    expect((await json(old)).error.code).toBe("invalid_credentials");
    expect(await storedHash(user.id)).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);

    const events = (await auditEvents("password.changed")).filter((e) => e.targetUserId === user.id);
    expect(events).toHaveLength(1);
    expect(events[0].actorUserId).toBe(user.id);
    const mail = await waitForEmail(user.email, "password_changed");
    expect(mail.to).toBe(user.email);
    expect((await outboxFor(bystander.email)).filter((m) => m.kind === "password_changed")).toEqual([]);

    // The old password is now the wrong current password.
    const again = await changePassword(current.accessToken, { currentPassword: user.password, newPassword: "Another-Lantern-73-ridge" }, ip(5));
    expect(again.status).toBe(400);
    expect((await json(again)).error.code).toBe("invalid_current_password");
  });

  it("answers revokedSessions 0 for a caller with one session", async () => {
    const user = await createUser();
    const s = await login(user, ip(7));
    const res = await changePassword(s.accessToken, { currentPassword: user.password, newPassword: NEW_PASSWORD }, ip(7));
    expect(res.status).toBe(200);
    expect((await json(res)).data).toEqual({ revokedSessions: 0 });
    expect((await call("/auth/me", { headers: bearer(s.accessToken) })).status).toBe(200);
  });

  it("refuses the access token of a session that was ended", async () => {
    const user = await createUser();
    const a = await login(user, ip(8));
    const b = await login(user, ip(8));
    expect((await changePassword(a.accessToken, { currentPassword: user.password, newPassword: NEW_PASSWORD }, ip(8))).status).toBe(200);
    const res = await changePassword(b.accessToken, { currentPassword: NEW_PASSWORD, newPassword: "Another-Lantern-73-ridge" }, ip(8));
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("token_revoked");
    expect((await signIn(user.email, NEW_PASSWORD, ip(8))).status).toBe(200);
  });

  it("counts wrong current passwords against the account's failure limit (429 with Retry-After)", async () => {
    const user = await createUser();
    const s = await login(user, ip(9));
    const env = { RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL: "2/1m" };
    const attempt = (currentPassword: string) =>
      callWithEnv(env, "/auth/change-password", { json: { currentPassword, newPassword: NEW_PASSWORD }, headers: { ...bearer(s.accessToken), ...ip(9) } });
    for (let i = 0; i < 2; i++) expect((await attempt(`Wrong-guess-${i}-xx`)).status).toBe(400);
    const blocked = await attempt(user.password);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await json(blocked)).error.code).toBe("rate_limited");
    expect((await call("/auth/me", { headers: bearer(s.accessToken) })).status).toBe(200);
    expect((await auditEvents("password.changed")).filter((e) => e.targetUserId === user.id)).toHaveLength(0);
  });
});
