import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { call, callWithEnv, json, type CallOptions } from "../../helpers/http";
import { settle } from "../../helpers/stack";
import { bearer, createUser, deps, login } from "../../helpers/users";

const KEY = "current-internal-key-0123456789abcdef";
const NEXT_KEY = "next-internal-key-0123456789abcdef01";
const OLD_KEY = "old-internal-key-0123456789abcdef012";

/** The app with INTERNAL_API_KEY set (the test bindings leave it unset). */
function machine(path: string, opts: CallOptions & { key?: string | null } = {}, env: Record<string, string | undefined> = { INTERNAL_API_KEY: KEY }) {
  const { key = KEY, ...rest } = opts;
  const headers = { ...(rest.headers ?? {}), ...(key === null ? {} : { "X-Internal-API-Key": key }) };
  return callWithEnv(env, path, { ...rest, headers });
}

function sessionIdOf(accessToken: string): string {
  const payload = JSON.parse(atob(accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  return payload.sid;
}

async function machineAudit(type: string, targetUserId: string) {
  const r = await deps().db.execute(
    sql`select actor_user_id as "actorUserId", actor_label as "actorLabel", metadata from auth_audit_logs
        where event_type = ${type} and target_user_id = ${targetUserId}::uuid order by created_at`,
  );
  return r.rows as { actorUserId: string | null; actorLabel: string | null; metadata: any }[];
}

describe("machine routes: presence and the API key", () => {
  it("are absent (404) without INTERNAL_API_KEY, whatever key is sent", async () => {
    const id = crypto.randomUUID();
    for (const [method, path] of [
      ["POST", `/internal/sessions/${id}/revoke`],
      ["POST", `/internal/users/${id}/revoke-all`],
      ["GET", `/internal/users/${id}/context`],
    ]) {
      const res = await call(path, { method, headers: { "X-Internal-API-Key": KEY } });
      expect(res.status).toBe(404);
      expect((await json(res)).error.code).toBe("not_found");
    }
  });

  it("refuse a missing or wrong key (401 invalid_api_key) before validating the path", async () => {
    const user = await createUser();
    for (const key of [null, "", "wrong", KEY.slice(0, -1)]) {
      const res = await machine(`/internal/users/${user.id}/context`, { key });
      expect(res.status).toBe(401);
      expect((await json(res)).error.code).toBe("invalid_api_key");
    }
    const notUuid = await machine("/internal/users/nope/context", { key: "wrong" });
    expect(notUuid.status).toBe(401);
    const validated = await machine("/internal/users/nope/context");
    expect(validated.status).toBe(400);
    expect((await json(validated)).error.code).toBe("validation_error");
  });

  it("accept both INTERNAL_API_KEY and INTERNAL_API_KEY_NEXT during a rotation, and not an old key", async () => {
    const user = await createUser();
    const path = `/internal/users/${user.id}/context`;
    const rotating = { INTERNAL_API_KEY: KEY, INTERNAL_API_KEY_NEXT: NEXT_KEY };
    expect((await machine(path, { key: KEY }, rotating)).status).toBe(200);
    expect((await machine(path, { key: NEXT_KEY }, rotating)).status).toBe(200);
    // Rotation done: NEXT promoted, the previous key is gone.
    const promoted = { INTERNAL_API_KEY: NEXT_KEY, INTERNAL_API_KEY_NEXT: undefined };
    expect((await machine(path, { key: NEXT_KEY }, promoted)).status).toBe(200);
    for (const key of [KEY, OLD_KEY]) {
      const res = await machine(path, { key }, promoted);
      expect(res.status).toBe(401);
      expect((await json(res)).error.code).toBe("invalid_api_key");
    }
    // Without a NEXT key only the current one works.
    expect((await machine(path, { key: NEXT_KEY })).status).toBe(401);
  });

  it("are documented with the InternalApiKey security scheme", async () => {
    const doc = await json(await call("/openapi.json"));
    expect(doc.components.securitySchemes.InternalApiKey).toMatchObject({ type: "apiKey", in: "header", name: "X-Internal-API-Key" });
    expect(doc.paths["/internal/sessions/{id}/revoke"].post.security).toEqual([{ InternalApiKey: [] }]);
    expect(doc.paths["/internal/users/{id}/revoke-all"].post.security).toEqual([{ InternalApiKey: [] }]);
    expect(doc.paths["/internal/users/{id}/context"].get.security).toEqual([{ InternalApiKey: [] }]);
    expect(doc.paths["/internal/companies/{companyId}/memberships"].post.security).toEqual([{ Bearer: [] }]);
    expect(doc.paths["/internal/companies/{companyId}/memberships"].post.tags).toEqual(["internal-companies"]);
  });
});

describe("POST /internal/sessions/{id}/revoke", () => {
  it("ends one session: its access token gets 401 token_revoked and its refresh fails; other sessions live on", async () => {
    const user = await createUser();
    const a = await login(user);
    const b = await login(user);
    const sid = sessionIdOf(a.accessToken);

    const res = await machine(`/internal/sessions/${sid}/revoke`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ data: { revoked: true, sessionId: sid, userId: user.id } });

    const me = await call("/auth/me", { headers: bearer(a.accessToken) });
    expect(me.status).toBe(401);
    expect((await json(me)).error.code).toBe("token_revoked");
    const refreshed = await call("/auth/refresh", { json: { refreshToken: a.refreshToken } });
    expect(refreshed.status).toBe(401);
    expect((await call("/auth/me", { headers: bearer(b.accessToken) })).status).toBe(200);

    const events = await machineAudit("session.revoked", user.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actorUserId: null, actorLabel: "internal-api-key", metadata: { sessionId: sid, reason: "internal_revoke" } });
  });

  it("answers 404 for an unknown or already ended session (and audits nothing)", async () => {
    const user = await createUser();
    const s = await login(user);
    const sid = sessionIdOf(s.accessToken);
    expect((await machine(`/internal/sessions/${crypto.randomUUID()}/revoke`, { method: "POST" })).status).toBe(404);
    expect((await machine(`/internal/sessions/${sid}/revoke`, { method: "POST" })).status).toBe(200);
    const again = await machine(`/internal/sessions/${sid}/revoke`, { method: "POST" });
    expect(again.status).toBe(404);
    expect((await json(again)).error.code).toBe("not_found");
    // Logged out by the user: ended too.
    const other = await login(user);
    await call("/auth/logout", { json: { refreshToken: other.refreshToken } });
    expect((await machine(`/internal/sessions/${sessionIdOf(other.accessToken)}/revoke`, { method: "POST" })).status).toBe(404);
    expect(await machineAudit("session.revoked", user.id)).toHaveLength(1);
  });
});

describe("POST /internal/users/{id}/revoke-all", () => {
  it("ends every session and bumps the token version: tokens get 401 token_revoked, refreshes fail", async () => {
    const user = await createUser();
    const a = await login(user);
    const b = await login(user);
    const before = await json(await machine(`/internal/users/${user.id}/context`));

    const res = await machine(`/internal/users/${user.id}/revoke-all`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ data: { revokedSessions: 2, tokenVersion: before.data.tokenVersion + 1 } });

    for (const s of [a, b]) {
      const me = await call("/auth/me", { headers: bearer(s.accessToken) });
      expect(me.status).toBe(401);
      expect((await json(me)).error.code).toBe("token_revoked");
      expect((await call("/auth/refresh", { json: { refreshToken: s.refreshToken } })).status).toBe(401);
    }
    // Signing in again works, with the new version.
    const c = await login(user);
    expect((await call("/auth/me", { headers: bearer(c.accessToken) })).status).toBe(200);

    const events = await machineAudit("sessions.revoked_all", user.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actorUserId: null,
      actorLabel: "internal-api-key",
      metadata: { reason: "internal_revoke_all", revokedSessions: 2, tokenVersion: before.data.tokenVersion + 1 },
    });
  });

  it("works with no open session, and answers 404 for an unknown user (nothing audited)", async () => {
    const user = await createUser();
    const res = await machine(`/internal/users/${user.id}/revoke-all`, { method: "POST" });
    expect(res.status).toBe(200);
    expect((await json(res)).data.revokedSessions).toBe(0);
    const ghost = crypto.randomUUID();
    const missing = await machine(`/internal/users/${ghost}/revoke-all`, { method: "POST" });
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.code).toBe("not_found");
    expect(await machineAudit("sessions.revoked_all", ghost)).toHaveLength(0);
    expect((await machine("/internal/users/x/revoke-all", { method: "POST" })).status).toBe(400);
  });
});

describe("GET /internal/users/{id}/context", () => {
  it("returns the user with the /auth/me membership shape (active memberships), plus tokenVersion", async () => {
    const user = await createUser({ fullName: "Ada Lovelace" });
    const company = crypto.randomUUID();
    const bu = crypto.randomUUID();
    const db = deps().db;
    await db.execute(sql`insert into company_memberships (user_id, company_id, role) values (${user.id}::uuid, ${company}::uuid, 'ADMIN')`);
    await db.execute(
      sql`insert into company_memberships (user_id, company_id, role, is_active) values (${user.id}::uuid, ${crypto.randomUUID()}::uuid, 'MEMBER', false)`,
    );
    await db.execute(
      sql`insert into business_unit_memberships (user_id, company_id, business_unit_id, role) values (${user.id}::uuid, ${company}::uuid, ${bu}::uuid, 'MANAGER')`,
    );
    const s = await login(user);
    // lastLoginAt is written just after the sign-in's answer.
    await settle();

    const res = await machine(`/internal/users/${user.id}/context`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { data } = await json(res);
    expect(data).toMatchObject({
      id: user.id,
      email: user.email,
      fullName: "Ada Lovelace",
      globalRole: "NONE",
      approvalStatus: "APPROVED",
      isActive: true,
      authProvider: "password",
      tokenVersion: 0,
      companyMemberships: [{ companyId: company, role: "ADMIN", isActive: true }],
      businessUnitMemberships: [{ companyId: company, businessUnitId: bu, role: "MANAGER", isActive: true }],
    });
    expect(Date.parse(data.lastLoginAt)).not.toBeNaN();
    expect(data).not.toHaveProperty("passwordHash");
    expect(data).not.toHaveProperty("sessionActive");

    // Same memberships, same shape as the user's own /auth/me.
    const me = (await json(await call("/auth/me", { headers: bearer(s.accessToken) }))).data;
    expect(data.companyMemberships).toEqual(me.companyMemberships);
    expect(data.businessUnitMemberships).toEqual(me.businessUnitMemberships);
    // /auth/me also lists the user's organizations (the organizations issue); this route keeps its seed-000 shape.
    const { tokenVersion: _tv, ...rest } = data;
    const { organizations: _orgs, ...meSeed000 } = me;
    expect(rest).toEqual(meSeed000);
    expect(data).not.toHaveProperty("organizations");
  });

  it("answers 404 for an unknown user", async () => {
    const res = await machine(`/internal/users/${crypto.randomUUID()}/context`);
    expect(res.status).toBe(404);
    expect((await json(res)).error.code).toBe("not_found");
  });
});
