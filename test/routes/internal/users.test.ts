// /internal/users: list (filters, cursor pagination), read, create, partial update, soft delete;
// session revocation, emails and audit events. Role rules are tested as a table in roles.test.ts.
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { importPKCS8, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { call, callWithEnv, json } from "../../helpers/http";
import { settle } from "../../helpers/stack";
import { auditEvents, bearer, createUser, deps, GOOD_PASSWORD, login, outboxFor, uniqueEmail, waitForEmail, type TestUser } from "../../helpers/users";

let ipCounter = 0;
const nextIp = () => `203.0.113.${++ipCounter}`;
/**
 * A session for `u`, once the sign-in's own write after its answer (last sign-in time) has landed:
 * staff changes compare the whole row's version (xmin), so a change racing that write would get
 * 409 conflict (retry), which is not what these tests are about.
 */
const signIn = async (u: { email: string; password: string }) => {
  const s = await login(u, { "cf-connecting-ip": nextIp() });
  await settle(20);
  return s;
};

/** The round trips of one request, from its Server-Timing header. */
function requestRoundTrips(res: Response): { sql: number; redis: number } {
  const header = res.headers.get("server-timing") ?? "";
  const count = (name: string) => Number(new RegExp(`${name};dur=[\\d.]+;desc="(\\d+) round trips"`).exec(header)?.[1] ?? NaN);
  return { sql: count("sql"), redis: count("redis") };
}

const NEW_PASSWORD = "quartz-Lantern-83-meadow";

let admin: TestUser & { token: string };
let superadmin: TestUser & { token: string };
let moderator: TestUser & { token: string };

async function staffUser(globalRole: "PLATFORM_ADMIN" | "PLATFORM_SUPERADMIN" | "PLATFORM_MODERATOR") {
  const u = await createUser({ globalRole, fullName: `Staff ${globalRole}` });
  return { ...u, token: (await signIn(u)).accessToken };
}

beforeAll(async () => {
  admin = await staffUser("PLATFORM_ADMIN");
  superadmin = await staffUser("PLATFORM_SUPERADMIN");
  moderator = await staffUser("PLATFORM_MODERATOR");
});

const as = (who: { token: string }) => bearer(who.token);

async function row(id: string) {
  const r = await deps().db.execute(
    sql`select email, password_hash as "passwordHash", full_name as "fullName", global_role as "globalRole", approval_status as "approvalStatus",
          is_active as "isActive", token_version as "tokenVersion", auth_provider as "authProvider", phone_number as "phoneNumber" from users where id = ${id}::uuid`,
  );
  return r.rows[0] as Record<string, any>;
}

async function auditRows(targetUserId: string) {
  const r = await deps().db.execute(
    sql`select event_type as "eventType", actor_user_id as "actorUserId", actor_label as "actorLabel", target_user_id as "targetUserId", ip, metadata
        from auth_audit_logs where target_user_id = ${targetUserId}::uuid and event_type like 'user.%' order by created_at`,
  );
  return r.rows as { eventType: string; actorUserId: string | null; actorLabel: string | null; targetUserId: string; ip: string | null; metadata: any }[];
}

async function expectRevoked(accessToken: string, refreshToken: string) {
  const me = await call("/auth/me", { headers: bearer(accessToken) });
  expect(me.status).toBe(401);
  expect((await json(me)).error.code).toBe("token_revoked");
  expect((await call("/auth/refresh", { json: { refreshToken } })).status).toBe(401);
}

// ---- list ----------------------------------------------------------------------------------------

describe("GET /internal/users", () => {
  const tag = `zephyr${Date.now().toString(36)}`;
  const company = crypto.randomUUID();
  let listed: TestUser[];

  beforeAll(async () => {
    listed = [];
    for (let i = 0; i < 5; i++) {
      listed.push(
        await createUser({
          email: uniqueEmail(`${tag}.${i}`),
          fullName: i === 2 ? "Ada LOVELACE" : `Member ${i}`,
          globalRole: i === 3 ? "PLATFORM_MODERATOR" : "NONE",
          approvalStatus: i === 4 ? "PENDING" : "APPROVED",
          isActive: i !== 4,
        }),
      );
    }
    const db = deps().db;
    await db.execute(sql`insert into company_memberships (user_id, company_id, role) values (${listed[0].id}::uuid, ${company}::uuid, 'MEMBER')`);
    await db.execute(sql`insert into company_memberships (user_id, company_id, role) values (${listed[1].id}::uuid, ${company}::uuid, 'ADMIN')`);
    await db.execute(sql`insert into company_memberships (user_id, company_id, role, is_active) values (${listed[2].id}::uuid, ${company}::uuid, 'MEMBER', false)`);
  });

  const list = async (query: string, who = admin) => {
    const res = await call(`/internal/users${query}`, { headers: as(who) });
    return { status: res.status, body: await json(res) };
  };
  const ids = (body: any) => body.data.users.map((u: any) => u.id);

  it("searches email or name, case-insensitively, and answers the admin view of each user", async () => {
    const byEmail = await list(`?q=${tag.toUpperCase()}`);
    expect(byEmail.status).toBe(200);
    expect(ids(byEmail.body)).toEqual(listed.map((u) => u.id));
    expect(byEmail.body.data.nextCursor).toBeNull();
    const first = byEmail.body.data.users[0];
    expect(Object.keys(first).sort()).toEqual(
      ["approvalStatus", "authProvider", "createdAt", "email", "emailVerified", "fullName", "globalRole", "id", "isActive", "lastLoginAt", "phoneNumber", "profilePictureUrl", "updatedAt"].sort(),
    );
    expect(JSON.stringify(byEmail.body)).not.toMatch(/argon2|passwordHash|tokenVersion/);
    const byName = await list("?q=lovelace");
    expect(ids(byName.body)).toEqual([listed[2].id]);
    // LIKE wildcards are matched literally.
    expect(ids((await list("?q=%25")).body)).toEqual([]);
  });

  it("filters by globalRole, approvalStatus, isActive and companyId (active memberships)", async () => {
    expect(ids((await list(`?q=${tag}&globalRole=PLATFORM_MODERATOR`)).body)).toEqual([listed[3].id]);
    expect(ids((await list(`?q=${tag}&approvalStatus=PENDING`)).body)).toEqual([listed[4].id]);
    expect(ids((await list(`?q=${tag}&isActive=false`)).body)).toEqual([listed[4].id]);
    expect(ids((await list(`?q=${tag}&isActive=true&approvalStatus=APPROVED`)).body)).toHaveLength(4);
    expect(ids((await list(`?companyId=${company}`)).body)).toEqual([listed[0].id, listed[1].id]);
    expect(ids((await list(`?companyId=${crypto.randomUUID()}`)).body)).toEqual([]);
  });

  it("pages with an opaque cursor in a stable (createdAt, id) order, without gaps or repeats", async () => {
    // Same creation instant for all: the id breaks the tie.
    await deps().db.execute(sql`update users set created_at = '2030-01-01T00:00:00.123456Z' where email like ${`${tag}.%`}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await list(`?q=${tag}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(r.status).toBe(200);
      expect(r.body.data.users.length).toBeLessThanOrEqual(2);
      seen.push(...ids(r.body));
      cursor = r.body.data.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([...listed.map((u) => u.id)].sort());
  });

  it("bounds the limit (default 50, max 200) and refuses a bad cursor, filter or unknown parameter", async () => {
    for (let i = 0; i < 3; i++) await createUser();
    const all = await list("");
    expect(all.status).toBe(200);
    expect(all.body.data.users.length).toBeLessThanOrEqual(50);
    for (const query of ["?limit=0", "?limit=201", "?limit=abc", "?cursor=garbage", "?globalRole=ROOT", "?isActive=yes", "?companyId=nope", "?role=NONE"]) {
      const r = await list(query);
      expect({ query, status: r.status, code: r.body.error?.code }).toEqual({ query, status: 400, code: "validation_error" });
    }
    expect((await list("?limit=200")).status).toBe(200);
  });

  it("pages through more than the default page", async () => {
    const extra = `many${Date.now().toString(36)}`;
    for (let i = 0; i < 55; i++) {
      await deps().db.execute(sql`insert into users (email, full_name, approval_status, is_active) values (${`${extra}.${i}@example.com`}, 'Bulk', 'APPROVED', true)`);
    }
    const first = await list(`?q=${extra}`);
    expect(first.body.data.users).toHaveLength(50);
    expect(first.body.data.nextCursor).toEqual(expect.any(String));
    const second = await list(`?q=${extra}&cursor=${encodeURIComponent(first.body.data.nextCursor)}`);
    expect(second.body.data.users).toHaveLength(5);
    expect(second.body.data.nextCursor).toBeNull();
    expect(new Set([...ids(first.body), ...ids(second.body)]).size).toBe(55);
  });

  it("needs a staff Bearer token", async () => {
    const res = await call("/internal/users");
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("unauthorized");
  });

  it("costs the staff check plus one SQL statement", async () => {
    const res = await call(`/internal/users?q=${tag}&companyId=${company}`, { headers: as(admin) });
    expect(res.status).toBe(200);
    expect(requestRoundTrips(res)).toEqual({ sql: 2, redis: 1 });
  });
});

// ---- read ----------------------------------------------------------------------------------------

describe("GET /internal/users/{id}", () => {
  it("answers one user; unknown id 404, malformed id 400", async () => {
    const u = await createUser({ fullName: "Read Me" });
    const res = await call(`/internal/users/${u.id}`, { headers: as(moderator) });
    expect(res.status).toBe(200);
    expect((await json(res)).data).toMatchObject({ id: u.id, email: u.email, fullName: "Read Me", globalRole: "NONE", isActive: true });
    const missing = await call(`/internal/users/${crypto.randomUUID()}`, { headers: as(moderator) });
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.code).toBe("not_found");
    const bad = await call("/internal/users/not-a-uuid", { headers: as(moderator) });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe("validation_error");
  });
});

// ---- create --------------------------------------------------------------------------------------

describe("POST /internal/users", () => {
  it("creates an approved, active NONE user who can sign in, with a welcome email and an audit event", async () => {
    const email = uniqueEmail("created");
    const res = await call("/internal/users", {
      json: { email, password: NEW_PASSWORD, fullName: "New Person", phoneNumber: "+1 555 0100" },
      headers: { ...as(admin), "cf-connecting-ip": "192.0.2.10" },
    });
    expect(res.status).toBe(201);
    const { data } = await json(res);
    expect(data).toMatchObject({
      email,
      fullName: "New Person",
      phoneNumber: "+1 555 0100",
      profilePictureUrl: null,
      globalRole: "NONE",
      approvalStatus: "APPROVED",
      isActive: true,
      authProvider: "password",
      lastLoginAt: null,
    });
    await signIn({ email, password: NEW_PASSWORD });
    const mail = await waitForEmail(email, "admin_welcome");
    expect(mail.text).toContain(email);

    const events = await auditRows(data.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ eventType: "user.created", actorUserId: admin.id, actorLabel: null, ip: "192.0.2.10" });
    expect(events[0].metadata.changes).toMatchObject({
      email: { before: null, after: email },
      globalRole: { before: null, after: "NONE" },
      approvalStatus: { before: null, after: "APPROVED" },
      isActive: { before: null, after: true },
      password: "set",
    });
    const stored = await row(data.id);
    expect(JSON.stringify(events[0].metadata)).not.toContain(NEW_PASSWORD);
    expect(JSON.stringify(events[0].metadata)).not.toContain(stored.passwordHash);
  });

  it("takes explicit role, status and provider; a non-password provider needs no password", async () => {
    const email = uniqueEmail("sso");
    const res = await call("/internal/users", {
      json: { email, authProvider: "sso", globalRole: "PLATFORM_MODERATOR", isActive: false, approvalStatus: "PENDING", profilePictureUrl: "" },
      headers: as(superadmin),
    });
    expect(res.status).toBe(201);
    const { data } = await json(res);
    expect(data).toMatchObject({ authProvider: "sso", globalRole: "PLATFORM_MODERATOR", isActive: false, approvalStatus: "PENDING", profilePictureUrl: null });
    expect((await row(data.id)).passwordHash).toBeNull();
    // Not able to sign in yet: no welcome email.
    await new Promise((r) => setTimeout(r, 200));
    expect((await outboxFor(email)).map((m) => m.kind)).not.toContain("admin_welcome");
  });

  it("refuses a taken address, case-insensitively: 409 email_taken", async () => {
    const existing = await createUser();
    const res = await call("/internal/users", { json: { email: existing.email.toUpperCase(), password: NEW_PASSWORD }, headers: as(admin) });
    expect(res.status).toBe(409);
    expect((await json(res)).error.code).toBe("email_taken");
  });

  it("applies the password policy and requires a password for the password provider", async () => {
    const weak = await call("/internal/users", { json: { email: uniqueEmail(), password: "password" }, headers: as(admin) });
    expect(weak.status).toBe(400);
    expect((await json(weak)).error).toMatchObject({ code: "weak_password", details: { rule: "common_password" } });
    const missing = await call("/internal/users", { json: { email: uniqueEmail() }, headers: as(admin) });
    expect(missing.status).toBe(400);
    expect((await json(missing)).error).toMatchObject({ code: "validation_error", fields: [{ field: "password" }] });
    const unknown = await call("/internal/users", { json: { email: uniqueEmail(), password: NEW_PASSWORD, tokenVersion: 9 }, headers: as(admin) });
    expect(unknown.status).toBe(400);
    expect((await json(unknown)).error.fields).toEqual([{ field: "tokenVersion", message: "unknown field" }]);
  });

  it("costs the staff check plus one SQL statement", async () => {
    const res = await call("/internal/users", { json: { email: uniqueEmail(), password: NEW_PASSWORD }, headers: as(admin) });
    expect(res.status).toBe(201);
    expect(requestRoundTrips(res)).toEqual({ sql: 2, redis: 1 });
  });
});

// ---- update --------------------------------------------------------------------------------------

describe("PATCH /internal/users/{id}", () => {
  it("changes only the fields sent and records each change before and after", async () => {
    const u = await createUser({ fullName: "Old Name" });
    const s = await signIn(u);
    const res = await call(`/internal/users/${u.id}`, {
      method: "PATCH",
      json: { fullName: "New Name", phoneNumber: "+44 20 7946 0000", profilePictureUrl: "https://example.com/a.png" },
      headers: as(admin),
    });
    expect(res.status).toBe(200);
    expect((await json(res)).data).toMatchObject({
      email: u.email,
      fullName: "New Name",
      phoneNumber: "+44 20 7946 0000",
      profilePictureUrl: "https://example.com/a.png",
      globalRole: "NONE",
      isActive: true,
      approvalStatus: "APPROVED",
    });
    // A profile change leaves sessions alone.
    expect((await call("/auth/me", { headers: bearer(s.accessToken) })).status).toBe(200);
    const events = await auditRows(u.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ eventType: "user.updated", actorUserId: admin.id });
    expect(events[0].metadata).toEqual({
      changes: {
        fullName: { before: "Old Name", after: "New Name" },
        phoneNumber: { before: null, after: "+44 20 7946 0000" },
        profilePictureUrl: { before: null, after: "https://example.com/a.png" },
      },
      sessionsRevoked: 0,
    });
    // Clearing a field with null.
    const cleared = await call(`/internal/users/${u.id}`, { method: "PATCH", json: { phoneNumber: null }, headers: as(admin) });
    expect((await json(cleared)).data.phoneNumber).toBeNull();
  });

  it("an empty or unchanged request changes nothing and writes no event", async () => {
    const u = await createUser({ fullName: "Same" });
    const before = await row(u.id);
    for (const body of [{}, { fullName: "Same", isActive: true }]) {
      const res = await call(`/internal/users/${u.id}`, { method: "PATCH", json: body, headers: as(admin) });
      expect(res.status).toBe(200);
    }
    expect(await row(u.id)).toEqual(before);
    expect(await auditRows(u.id)).toEqual([]);
  });

  it("a password change ends every session, bumps the token version and records no password material", async () => {
    const u = await createUser();
    const a = await signIn(u);
    const b = await signIn(u);
    const before = await row(u.id);
    const res = await call(`/internal/users/${u.id}`, { method: "PATCH", json: { password: NEW_PASSWORD }, headers: as(admin) });
    expect(res.status).toBe(200);
    await expectRevoked(a.accessToken, a.refreshToken);
    await expectRevoked(b.accessToken, b.refreshToken);
    const after = await row(u.id);
    expect(after.tokenVersion).toBe(before.tokenVersion + 1);
    expect(after.passwordHash).not.toBe(before.passwordHash);
    // The old password no longer works, the new one does.
    expect((await call("/auth/login", { json: { email: u.email, password: GOOD_PASSWORD }, headers: { "cf-connecting-ip": nextIp() } })).status).toBe(401);
    await signIn({ email: u.email, password: NEW_PASSWORD });
    const [event] = await auditRows(u.id);
    expect(event.metadata).toEqual({ changes: { password: "changed" }, sessionsRevoked: 2 });
    expect(JSON.stringify(event.metadata)).not.toContain(after.passwordHash);
    await waitForEmail(u.email, "password_changed");
  });

  it("a weak password is refused and nothing changes", async () => {
    const u = await createUser();
    const before = await row(u.id);
    const res = await call(`/internal/users/${u.id}`, { method: "PATCH", json: { password: "short" }, headers: as(admin) });
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe("weak_password");
    expect(await row(u.id)).toEqual(before);
  });

  it("approving a pending registration lets the user sign in and emails them", async () => {
    const u = await createUser({ approvalStatus: "PENDING", isActive: false });
    const blocked = await call("/auth/login", { json: { email: u.email, password: u.password }, headers: { "cf-connecting-ip": nextIp() } });
    expect((await json(blocked)).error.code).toBe("pending_approval");
    const res = await call(`/internal/users/${u.id}`, { method: "PATCH", json: { approvalStatus: "APPROVED", isActive: true }, headers: as(admin) });
    expect(res.status).toBe(200);
    await signIn(u);
    await waitForEmail(u.email, "account_approved");
    const [event] = await auditRows(u.id);
    expect(event).toMatchObject({ eventType: "user.approved" });
    expect(event.metadata.changes).toEqual({ approvalStatus: { before: "PENDING", after: "APPROVED" }, isActive: { before: false, after: true } });
  });

  it("rejecting ends sessions, blocks sign-in and emails the user (a moderator may do it)", async () => {
    const u = await createUser();
    const s = await signIn(u);
    const res = await call(`/internal/users/${u.id}`, { method: "PATCH", json: { approvalStatus: "REJECTED" }, headers: as(moderator) });
    expect(res.status).toBe(200);
    expect((await json(res)).data.approvalStatus).toBe("REJECTED");
    await expectRevoked(s.accessToken, s.refreshToken);
    const login = await call("/auth/login", { json: { email: u.email, password: u.password }, headers: { "cf-connecting-ip": nextIp() } });
    expect((await json(login)).error.code).toBe("registration_rejected");
    await waitForEmail(u.email, "account_rejected");
    expect((await auditRows(u.id))[0]).toMatchObject({ eventType: "user.rejected", actorUserId: moderator.id });
  });

  it("deactivating ends sessions at once (also for Redis-trusting checks) and emails the user", async () => {
    const u = await createUser();
    const s = await signIn(u);
    const before = await row(u.id);
    const res = await call(`/internal/users/${u.id}`, { method: "PATCH", json: { isActive: false }, headers: as(admin) });
    expect(res.status).toBe(200);
    await expectRevoked(s.accessToken, s.refreshToken);
    expect((await row(u.id)).tokenVersion).toBe(before.tokenVersion + 1);
    await waitForEmail(u.email, "account_deactivated");
    const [event] = await auditRows(u.id);
    expect(event).toMatchObject({ eventType: "user.deactivated" });
    expect(event.metadata).toEqual({ changes: { isActive: { before: true, after: false } }, sessionsRevoked: 1 });
  });

  it("lowering a role ends the user's sessions (their tokens carry the old role); raising it does not", async () => {
    const u = await createUser({ globalRole: "PLATFORM_MODERATOR" });
    const s = await signIn(u);
    const up = await call(`/internal/users/${u.id}`, { method: "PATCH", json: { globalRole: "PLATFORM_ADMIN" }, headers: as(superadmin) });
    expect(up.status).toBe(200);
    expect((await call("/auth/me", { headers: bearer(s.accessToken) })).status).toBe(200);
    const down = await call(`/internal/users/${u.id}`, { method: "PATCH", json: { globalRole: "NONE" }, headers: as(superadmin) });
    expect(down.status).toBe(200);
    await expectRevoked(s.accessToken, s.refreshToken);
    const events = await auditRows(u.id);
    expect(events.map((e) => e.metadata.changes.globalRole)).toEqual([
      { before: "PLATFORM_MODERATOR", after: "PLATFORM_ADMIN" },
      { before: "PLATFORM_ADMIN", after: "NONE" },
    ]);
  });

  it("changes the email unless another account has it (case-insensitively): 409 email_taken", async () => {
    const u = await createUser();
    const other = await createUser();
    const taken = await call(`/internal/users/${u.id}`, { method: "PATCH", json: { email: other.email.toUpperCase() }, headers: as(admin) });
    expect(taken.status).toBe(409);
    expect((await json(taken)).error.code).toBe("email_taken");
    const fresh = uniqueEmail("renamed");
    const ok = await call(`/internal/users/${u.id}`, { method: "PATCH", json: { email: fresh }, headers: as(admin) });
    expect(ok.status).toBe(200);
    expect((await json(ok)).data.email).toBe(fresh);
    await signIn({ email: fresh, password: u.password });
    // A change of case of one's own address is allowed.
    const cased = await call(`/internal/users/${u.id}`, { method: "PATCH", json: { email: fresh.toUpperCase() }, headers: as(admin) });
    expect(cased.status).toBe(200);
  });

  it("unknown id 404, malformed id 400, invalid fields 400", async () => {
    const missing = await call(`/internal/users/${crypto.randomUUID()}`, { method: "PATCH", json: { fullName: "x" }, headers: as(admin) });
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.code).toBe("not_found");
    const bad = await call("/internal/users/123", { method: "PATCH", json: { fullName: "x" }, headers: as(admin) });
    expect(bad.status).toBe(400);
    const u = await createUser();
    for (const body of [{ globalRole: "ROOT" }, { isActive: "no" }, { email: "not-an-email" }, { email: null }, { password: null }, { id: u.id }]) {
      const res = await call(`/internal/users/${u.id}`, { method: "PATCH", json: body, headers: as(admin) });
      expect({ body, status: res.status, code: (await json(res)).error.code }).toEqual({ body, status: 400, code: "validation_error" });
    }
  });

  it("costs the staff check plus one read and one write statement", async () => {
    const u = await createUser();
    await signIn(u);
    const res = await call(`/internal/users/${u.id}`, { method: "PATCH", json: { isActive: false }, headers: as(admin) });
    expect(res.status).toBe(200);
    // Redis: the Bearer markers read, the revocation markers write (the email goes out after the response).
    expect(requestRoundTrips(res)).toEqual({ sql: 3, redis: 2 });
  });
});

// ---- Cloudflare Access actors ------------------------------------------------------------------

describe("Cloudflare Access as the acting staff member", () => {
  it("records the user as actor and labels the event cloudflare-access", async () => {
    const bindings = env as unknown as Record<string, string>;
    const key = await importPKCS8(bindings.TEST_CF_ACCESS_PRIVATE_KEY, "RS256");
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ email: admin.email, type: "app" })
      .setProtectedHeader({ alg: "RS256", kid: "cf-access-test-1", typ: "JWT" })
      .setIssuer("https://team.example.com")
      .setAudience(["aud-123"])
      .setSubject(crypto.randomUUID())
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 300)
      .sign(key);
    const u = await createUser({ fullName: "Via Access" });
    const res = await callWithEnv(
      { CF_ACCESS_TEAM_DOMAIN: "team.example.com", CF_ACCESS_AUD: "aud-123", CF_ACCESS_CERTS_URL: bindings.TEST_CF_ACCESS_CERTS_URL },
      `/internal/users/${u.id}`,
      { method: "PATCH", json: { fullName: "Changed via Access" }, headers: { "cf-access-jwt-assertion": assertion } },
    );
    expect(res.status).toBe(200);
    const [event] = await auditRows(u.id);
    expect(event).toMatchObject({ eventType: "user.updated", actorUserId: admin.id, actorLabel: "cloudflare-access" });
  });
});

// ---- delete --------------------------------------------------------------------------------------

describe("DELETE /internal/users/{id}", () => {
  it("soft-deletes: inactive, token version bumped, sessions ended, email and audit event; the row stays", async () => {
    const u = await createUser({ fullName: "Leaving" });
    const s = await signIn(u);
    const before = await row(u.id);
    const res = await call(`/internal/users/${u.id}`, { method: "DELETE", headers: as(admin) });
    expect(res.status).toBe(200);
    expect((await json(res)).data).toMatchObject({ id: u.id, email: u.email, isActive: false, fullName: "Leaving" });
    await expectRevoked(s.accessToken, s.refreshToken);
    const after = await row(u.id);
    expect(after).toMatchObject({ isActive: false, tokenVersion: before.tokenVersion + 1, email: u.email });
    const login = await call("/auth/login", { json: { email: u.email, password: u.password }, headers: { "cf-connecting-ip": nextIp() } });
    expect((await json(login)).error.code).toBe("account_inactive");
    await waitForEmail(u.email, "account_deactivated");
    const [event] = await auditRows(u.id);
    expect(event).toMatchObject({ eventType: "user.deactivated", actorUserId: admin.id });
    expect(event.metadata).toEqual({ changes: { isActive: { before: true, after: false } }, deleted: true, sessionsRevoked: 1 });
    // Again: still 200, no second email.
    expect((await call(`/internal/users/${u.id}`, { method: "DELETE", headers: as(admin) })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect((await outboxFor(u.email)).filter((m) => m.kind === "account_deactivated")).toHaveLength(1);
  });

  it("unknown id 404, malformed id 400", async () => {
    const missing = await call(`/internal/users/${crypto.randomUUID()}`, { method: "DELETE", headers: as(admin) });
    expect(missing.status).toBe(404);
    const bad = await call("/internal/users/abc", { method: "DELETE", headers: as(admin) });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe("validation_error");
  });
});

// ---- OpenAPI -------------------------------------------------------------------------------------

describe("OpenAPI", () => {
  it("documents every /internal/users route with Bearer security and the internal-users tag", async () => {
    const doc = await json(await call("/openapi.json"));
    const ops = [
      doc.paths["/internal/users"]?.get,
      doc.paths["/internal/users"]?.post,
      doc.paths["/internal/users/{id}"]?.get,
      doc.paths["/internal/users/{id}"]?.patch,
      doc.paths["/internal/users/{id}"]?.delete,
    ];
    for (const op of ops) {
      expect(op).toBeDefined();
      expect(op.tags).toEqual(["internal-users"]);
      expect(op.security).toEqual([{ Bearer: [] }]);
      expect(op.responses["403"]).toBeDefined();
    }
    expect(Object.keys(doc.paths["/internal/users"].post.responses)).toEqual(expect.arrayContaining(["201", "409"]));
    expect(doc.components.schemas.AdminUser).toBeDefined();
  });
});
