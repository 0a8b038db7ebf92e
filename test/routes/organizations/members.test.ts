// Membership rules: the last owner cannot be removed, demoted or leave (409 last_owner), also
// under concurrency; only owners grant or take away owner; nobody grants a role beyond their own
// permissions; every change is audited with actor and target.
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { registerApplication, resetAdmin } from "../../helpers/app-registry";
import { call, json } from "../../helpers/http";
import { createOrganization, defineRole, member, memberWith } from "../../helpers/organizations";
import { auditEvents, deps } from "../../helpers/users";

beforeAll(async () => {
  resetAdmin();
  await registerApplication({ settings: { permissions: ["invoices:read"] } });
});

const patchRoles = (orgId: string, userId: string, roles: string[], headers: Record<string, string>) =>
  call(`/auth/organizations/${orgId}/members/${userId}`, { method: "PATCH", json: { roles }, headers });
const remove = (orgId: string, userId: string, headers: Record<string, string>) => call(`/auth/organizations/${orgId}/members/${userId}`, { method: "DELETE", headers });
const leave = (orgId: string, headers: Record<string, string>) => call(`/auth/organizations/${orgId}/leave`, { method: "POST", headers });

async function rolesOf(orgId: string): Promise<Record<string, string[]>> {
  const r = await deps().db.execute(sql`select user_id::text as id, roles from organization_members where organization_id = ${orgId}::uuid`);
  return Object.fromEntries((r.rows as any[]).map((x) => [x.id, typeof x.roles === "string" ? JSON.parse(x.roles) : x.roles]));
}

describe("the last owner", () => {
  it("cannot leave, be removed or be demoted; with a second owner each works", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const admin = await memberWith(org.id, ["admin"]);
    for (const res of [await leave(org.id, owner.headers), await patchRoles(org.id, owner.user.id, ["admin"], owner.headers)]) {
      expect(res.status).toBe(409);
      expect((await json(res)).error.code).toBe("last_owner");
    }
    // An admin may not touch an owner at all (only owners grant or take away owner).
    const byAdmin = await remove(org.id, owner.user.id, admin.headers);
    expect(byAdmin.status).toBe(403);
    expect((await rolesOf(org.id))[owner.user.id]).toEqual(["owner"]);

    // Make the admin an owner; now the first owner may step down and leave.
    expect((await patchRoles(org.id, admin.user.id, ["owner"], owner.headers)).status).toBe(200);
    expect((await patchRoles(org.id, owner.user.id, ["member"], owner.headers)).status).toBe(200);
    expect((await leave(org.id, owner.headers)).status).toBe(200);
    expect(Object.keys(await rolesOf(org.id))).toEqual([admin.user.id]);
    // The remaining owner is the last one again.
    const last = await remove(org.id, admin.user.id, admin.headers);
    expect(last.status).toBe(409);
    expect((await json(last)).error.code).toBe("last_owner");
  });

  it("two owners leaving at once: exactly one leaves, the organization keeps an owner", async () => {
    const a = await member();
    const org = await createOrganization(a);
    const b = await memberWith(org.id, ["owner"]);
    const results = await Promise.all([leave(org.id, a.headers), leave(org.id, b.headers)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const left = Object.values(await rolesOf(org.id));
    expect(left).toEqual([["owner"]]);
  });
});

describe("granting", () => {
  it("only owners grant or take away owner", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const admin = await memberWith(org.id, ["admin"]);
    const m = await memberWith(org.id, ["member"]);
    const res = await patchRoles(org.id, m.user.id, ["owner"], admin.headers);
    expect(res.status).toBe(403);
    expect((await rolesOf(org.id))[m.user.id]).toEqual(["member"]);
    expect((await patchRoles(org.id, m.user.id, ["owner", "member"], owner.headers)).status).toBe(200);
    expect((await patchRoles(org.id, m.user.id, ["member"], admin.headers)).status).toBe(403);
    expect((await rolesOf(org.id))[m.user.id].sort()).toEqual(["member", "owner"]);
  });

  it("an admin cannot grant a custom role with a permission the admin lacks (permission_not_held); an owner can", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    await defineRole(owner, org.id, { key: "billing", permissions: ["invoices:read"] });
    const admin = await memberWith(org.id, ["admin"]);
    const m = await memberWith(org.id, ["member"]);
    const res = await patchRoles(org.id, m.user.id, ["member", "billing"], admin.headers);
    expect(res.status).toBe(403);
    expect((await json(res)).error.code).toBe("permission_not_held");
    expect((await patchRoles(org.id, m.user.id, ["member", "billing"], owner.headers)).status).toBe(200);
    // Nor may the admin take it away again, or remove a member who holds it.
    expect((await patchRoles(org.id, m.user.id, ["member"], admin.headers)).status).toBe(403);
    expect((await remove(org.id, m.user.id, admin.headers)).status).toBe(403);
    // Unknown roles are refused.
    const unknown = await patchRoles(org.id, m.user.id, ["nope"], owner.headers);
    expect(unknown.status).toBe(400);
    expect((await json(unknown)).error.code).toBe("unknown_role");
  });

  it("audits updates, removals and leaving with actor and target", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const a = await memberWith(org.id, ["member"]);
    const b = await memberWith(org.id, ["member"]);
    await patchRoles(org.id, a.user.id, ["viewer"], owner.headers);
    await remove(org.id, a.user.id, owner.headers);
    await leave(org.id, b.headers);
    const mine = (events: any[]) => events.filter((e) => e.metadata.organizationId === org.id);
    const updated = mine(await auditEvents("organization.member_updated")).filter((e) => e.actorUserId === owner.user.id);
    expect(updated).toHaveLength(1);
    expect(updated[0]).toMatchObject({ targetUserId: a.user.id, metadata: { before: ["member"], after: ["viewer"] } });
    expect(mine(await auditEvents("organization.member_removed"))).toMatchObject([{ actorUserId: owner.user.id, targetUserId: a.user.id }]);
    expect(mine(await auditEvents("organization.member_left"))).toMatchObject([{ actorUserId: b.user.id, targetUserId: b.user.id }]);
    expect(mine(await auditEvents("organization.created"))).toMatchObject([{ actorUserId: owner.user.id }]);
  });

  it("removing a non-member answers 404; roles must be a non-empty list of role keys", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const stranger = await member();
    expect((await remove(org.id, stranger.user.id, owner.headers)).status).toBe(404);
    for (const body of [{ roles: [] }, { roles: ["Owner"] }, { roles: ["member", "member"] }, { roles: "member" }, {}]) {
      const res = await call(`/auth/organizations/${org.id}/members/${owner.user.id}`, { method: "PATCH", json: body, headers: owner.headers });
      expect(res.status).toBe(400);
    }
  });
});

describe("GET /auth/me", () => {
  it("lists the user's organizations with the roles held, and drops one the user was removed from", async () => {
    const owner = await member();
    const org = await createOrganization(owner, { name: "Acme Me" });
    const other = await createOrganization(owner, { name: "Other Me" });
    const m = await memberWith(org.id, ["admin"]);
    const me = async (headers: Record<string, string>) => (await json(await call("/auth/me", { headers }))).data.organizations;
    expect(await me(m.headers)).toEqual([{ id: org.id, slug: org.slug, name: "Acme Me", parentId: null, roles: ["admin"] }]);
    expect((await me(owner.headers)).map((o: { name: string; roles: string[] }) => [o.name, o.roles])).toEqual([
      ["Acme Me", ["owner"]],
      ["Other Me", ["owner"]],
    ]);
    expect((await call(`/auth/organizations/${org.id}/members/${m.user.id}`, { method: "DELETE", headers: owner.headers })).status).toBe(200);
    expect(await me(m.headers)).toEqual([]);
    expect(other.id).not.toBe(org.id);
  });
});
