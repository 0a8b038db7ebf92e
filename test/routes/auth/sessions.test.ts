import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { call, json } from "../../helpers/http";
import { settle, withFault } from "../../helpers/stack";
import { auditEvents, bearer, createUser, deps, login } from "../../helpers/users";

describe("POST /auth/logout", () => {
  it("ends the session of the refresh token, and is idempotent", async () => {
    const user = await createUser();
    const s = await login(user);
    const first = await call("/auth/logout", { json: { refreshToken: s.refreshToken } });
    expect(first.status).toBe(200);
    expect(await json(first)).toEqual({ data: { loggedOut: true } });
    const second = await call("/auth/logout", { json: { refreshToken: s.refreshToken } });
    expect(second.status).toBe(200);
    const garbage = await call("/auth/logout", { json: { refreshToken: "not-a-token" } });
    expect(garbage.status).toBe(200);
    // The session's access token is refused at once.
    const me = await call("/auth/me", { headers: bearer(s.accessToken) });
    expect(me.status).toBe(401);
    expect((await json(me)).error.code).toBe("token_revoked");
    expect((await auditEvents("logout")).filter((e) => e.targetUserId === user.id)).toHaveLength(1);
  });
});

describe("POST /auth/logout-all", () => {
  it("ends every session and rejects outstanding access tokens right away", async () => {
    const user = await createUser();
    const a = await login(user);
    const b = await login(user);
    const res = await call("/auth/logout-all", { method: "POST", headers: bearer(a.accessToken) });
    expect(res.status).toBe(200);
    expect((await json(res)).data.revokedSessions).toBe(2);
    for (const token of [a.accessToken, b.accessToken]) {
      const me = await call("/auth/me", { headers: bearer(token) });
      expect(me.status).toBe(401);
      expect((await json(me)).error.code).toBe("token_revoked");
    }
    for (const rt of [a.refreshToken, b.refreshToken]) {
      expect((await call("/auth/refresh", { json: { refreshToken: rt } })).status).toBe(401);
    }
    // A fresh sign-in works and carries the new token version.
    const c = await login(user);
    expect((await call("/auth/me", { headers: bearer(c.accessToken) })).status).toBe(200);
    expect((await auditEvents("logout.all")).some((e) => e.targetUserId === user.id)).toBe(true);
  });

  it("is still enforced from Postgres when Redis markers cannot be read", async () => {
    const user = await createUser();
    const a = await login(user);
    await call("/auth/logout-all", { method: "POST", headers: bearer(a.accessToken) });
    const me = await withFault("redis", { mode: "down" }, () => call("/auth/me", { headers: bearer(a.accessToken) }));
    expect(me.status).toBe(401);
    expect((await json(me)).error.code).toBe("token_revoked");
  });

  it("requires a Bearer token", async () => {
    const res = await call("/auth/logout-all", { method: "POST" });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    expect((await json(res)).error.code).toBe("unauthorized");
  });
});

describe("GET /auth/me", () => {
  it("returns the user with active company and business-unit memberships", async () => {
    const user = await createUser({ fullName: "Grace Hopper" });
    const company = crypto.randomUUID();
    const bu = crypto.randomUUID();
    const db = deps().db;
    await db.execute(sql`insert into company_memberships (user_id, company_id, role) values (${user.id}::uuid, ${company}::uuid, 'ADMIN')`);
    await db.execute(sql`insert into company_memberships (user_id, company_id, role, is_active) values (${user.id}::uuid, ${crypto.randomUUID()}::uuid, 'MEMBER', false)`);
    await db.execute(
      sql`insert into business_unit_memberships (user_id, company_id, business_unit_id, role) values (${user.id}::uuid, ${company}::uuid, ${bu}::uuid, 'MANAGER')`,
    );
    const s = await login(user);
    // lastLoginAt is written just after the sign-in's answer.
    await settle();
    const res = await call("/auth/me", { headers: bearer(s.accessToken) });
    expect(res.status).toBe(200);
    const { data } = await json(res);
    expect(data).toMatchObject({ id: user.id, email: user.email, fullName: "Grace Hopper", globalRole: "NONE", isActive: true, approvalStatus: "APPROVED" });
    expect(data.companyMemberships).toEqual([{ companyId: company, role: "ADMIN", isActive: true }]);
    expect(data.businessUnitMemberships).toEqual([{ companyId: company, businessUnitId: bu, role: "MANAGER", isActive: true }]);
    expect(data).not.toHaveProperty("passwordHash");
    expect(data).not.toHaveProperty("tokenVersion");
    expect(typeof data.lastLoginAt).toBe("string");
  });

  it("refuses missing, malformed and garbage tokens with 401 in the envelope", async () => {
    for (const headers of [{}, { authorization: "Basic abc" }, { authorization: "Bearer" }, bearer("garbage"), bearer("a.b.c")]) {
      const res = await call("/auth/me", { headers });
      expect(res.status).toBe(401);
      expect(["unauthorized", "invalid_token"]).toContain((await json(res)).error.code);
    }
  });

  it("refuses a refresh token used as an access token", async () => {
    const s = await login(await createUser());
    const res = await call("/auth/me", { headers: bearer(s.refreshToken) });
    expect(res.status).toBe(401);
  });

  it("refuses the access token of a deactivated user", async () => {
    const user = await createUser();
    const s = await login(user);
    await deps().db.execute(sql`update users set is_active = false where id = ${user.id}::uuid`);
    const res = await call("/auth/me", { headers: bearer(s.accessToken) });
    expect(res.status).toBe(401);
  });
});

describe("/auth/sessions", () => {
  it("lists the caller's active sessions and marks the current one", async () => {
    const user = await createUser();
    const a = await login(user, { "user-agent": "tab-a", "cf-connecting-ip": "203.0.113.7" });
    await login(user, { "user-agent": "tab-b" });
    const res = await call("/auth/sessions", { headers: bearer(a.accessToken) });
    expect(res.status).toBe(200);
    const { sessions } = (await json(res)).data;
    expect(sessions).toHaveLength(2);
    const current = sessions.filter((s: { current: boolean }) => s.current);
    expect(current).toHaveLength(1);
    expect(current[0]).toMatchObject({ id: a.refreshToken.split(".")[0], userAgent: "tab-a", ip: "203.0.113.7" });
  });

  it("ends one of the caller's own sessions; another user's is 404", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const a1 = await login(alice);
    const a2 = await login(alice);
    const b1 = await login(bob);
    const other = await call(`/auth/sessions/${b1.refreshToken.split(".")[0]}`, { method: "DELETE", headers: bearer(a1.accessToken) });
    expect(other.status).toBe(404);
    expect((await call("/auth/me", { headers: bearer(b1.accessToken) })).status).toBe(200);

    const own = await call(`/auth/sessions/${a2.refreshToken.split(".")[0]}`, { method: "DELETE", headers: bearer(a1.accessToken) });
    expect(own.status).toBe(200);
    expect((await call("/auth/me", { headers: bearer(a2.accessToken) })).status).toBe(401);
    expect((await call("/auth/refresh", { json: { refreshToken: a2.refreshToken } })).status).toBe(401);
    expect((await call("/auth/me", { headers: bearer(a1.accessToken) })).status).toBe(200);

    const again = await call(`/auth/sessions/${a2.refreshToken.split(".")[0]}`, { method: "DELETE", headers: bearer(a1.accessToken) });
    expect(again.status).toBe(404);
    const malformed = await call("/auth/sessions/not-a-uuid", { method: "DELETE", headers: bearer(a1.accessToken) });
    expect(malformed.status).toBe(400);
  });
});
