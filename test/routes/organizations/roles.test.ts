// Custom roles: built-in keys cannot be shadowed, permissions must be built-in or declared by an
// active application, a creator cannot grant what they lack, and a role in use cannot be deleted.
import { beforeAll, describe, expect, it } from "vitest";
import { admin, registerApplication, resetAdmin } from "../../helpers/app-registry";
import { call, json } from "../../helpers/http";
import { claimsOf, createOrganization, defineRole, member, memberWith, orgToken, setRoles } from "../../helpers/organizations";
import { auditEvents } from "../../helpers/users";

beforeAll(async () => {
  resetAdmin();
  await registerApplication({ settings: { permissions: ["invoices:read", "invoices:write"] } });
});

const createRole = (orgId: string, body: unknown, headers: Record<string, string>) => call(`/auth/organizations/${orgId}/roles`, { json: body, headers });

describe("custom roles", () => {
  it("cannot shadow a built-in key", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    for (const key of ["owner", "admin", "member", "viewer"]) {
      const res = await createRole(org.id, { key, name: "X", permissions: ["org:read"] }, owner.headers);
      expect(res.status).toBe(400);
      expect((await json(res)).error.code).toBe("reserved_role_key");
    }
    const patched = await call(`/auth/organizations/${org.id}/roles/admin`, { method: "PATCH", json: { name: "Boss" }, headers: owner.headers });
    expect(patched.status).toBe(400);
    const deleted = await call(`/auth/organizations/${org.id}/roles/viewer`, { method: "DELETE", headers: owner.headers });
    expect(deleted.status).toBe(400);
  });

  it("takes built-in and application-declared permissions only", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const res = await createRole(org.id, { key: "ledger", name: "Ledger", permissions: ["ledger:read"] }, owner.headers);
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe("unknown_permission");
    const bad = await createRole(org.id, { key: "bad", name: "Bad", permissions: ["NotAPermission"] }, owner.headers);
    expect(bad.status).toBe(400);
    const ok = await createRole(org.id, { key: "billing", name: "Billing", permissions: ["invoices:read", "members:read"] }, owner.headers);
    expect(ok.status).toBe(201);
    expect((await json(ok)).data).toMatchObject({ key: "billing", permissions: ["invoices:read", "members:read"], builtin: false });
    const dup = await createRole(org.id, { key: "billing", name: "Again", permissions: [] }, owner.headers);
    expect(dup.status).toBe(409);
    expect((await json(dup)).error.code).toBe("role_exists");
    const list = await json(await call(`/auth/organizations/${org.id}/roles`, { headers: owner.headers }));
    expect(list.data.roles.map((r: any) => r.key)).toEqual(["owner", "admin", "member", "viewer", "billing"]);
    expect((await auditEvents("organization.role_created")).filter((e) => e.metadata.organizationId === org.id)).toHaveLength(1);
  });

  it("cannot grant a permission its creator lacks (an admin has no application permissions; an owner has all)", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const admin = await memberWith(org.id, ["admin"]);
    const res = await createRole(org.id, { key: "billing", name: "Billing", permissions: ["invoices:read"] }, admin.headers);
    expect(res.status).toBe(403);
    expect((await json(res)).error.code).toBe("permission_not_held");
    expect((await createRole(org.id, { key: "helpers", name: "Helpers", permissions: ["members:read", "invitations:write"] }, admin.headers)).status).toBe(201);
    // Nor add one by changing a role.
    const patched = await call(`/auth/organizations/${org.id}/roles/helpers`, { method: "PATCH", json: { permissions: ["members:read", "invoices:write"] }, headers: admin.headers });
    expect(patched.status).toBe(403);
    expect((await createRole(org.id, { key: "billing", name: "Billing", permissions: ["invoices:read"] }, owner.headers)).status).toBe(201);
    // A change within the admin's own permissions goes through, audited; the refused one left no row.
    const allowed = await call(`/auth/organizations/${org.id}/roles/helpers`, { method: "PATCH", json: { permissions: ["members:read"] }, headers: admin.headers });
    expect(allowed.status).toBe(200);
    expect((await auditEvents("organization.role_updated")).filter((e) => e.metadata.organizationId === org.id)).toHaveLength(1);
  });

  it("cannot be deleted while assigned (409 role_in_use); can once unassigned; members' tokens carry its permissions", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    await defineRole(owner, org.id, { key: "billing", permissions: ["invoices:read", "members:read"] });
    const m = await memberWith(org.id, ["billing"]);
    const t = await orgToken(m, org.id);
    expect(claimsOf((await json(t)).data.accessToken)).toMatchObject({ org_roles: ["billing"], org_permissions: ["members:read"] });
    const res = await call(`/auth/organizations/${org.id}/roles/billing`, { method: "DELETE", headers: owner.headers });
    expect(res.status).toBe(409);
    expect((await json(res)).error.code).toBe("role_in_use");
    await setRoles(org.id, m.user.id, ["member"]);
    expect((await call(`/auth/organizations/${org.id}/roles/billing`, { method: "DELETE", headers: owner.headers })).status).toBe(200);
    expect((await call(`/auth/organizations/${org.id}/roles/billing`, { method: "DELETE", headers: owner.headers })).status).toBe(404);
    expect((await auditEvents("organization.role_deleted")).filter((e) => e.metadata.organizationId === org.id)).toHaveLength(1);
  });
});

describe("applications declare permissions (settings.permissions)", () => {
  it("takes unique resource:action strings and refuses anything else with 400 naming the field", async () => {
    const headers = { authorization: `Bearer ${(await admin()).accessToken}` };
    const create = (permissions: unknown) =>
      call("/internal/applications", { json: { name: "Perms", slug: `perms-${crypto.randomUUID().slice(0, 8)}`, type: "spa", settings: { permissions } }, headers });
    for (const bad of [["invoices"], ["Invoices:Read"], ["invoices:read", "invoices:read"], ["a:b:c"], "invoices:read", [1]]) {
      const res = await create(bad);
      expect(res.status).toBe(400);
      const body = await json(res);
      expect(body.error.code).toBe("validation_error");
      expect(body.error.fields.some((f: any) => f.field.startsWith("settings.permissions"))).toBe(true);
    }
    const ok = await create(["reports:read", "reports:export"]);
    expect(ok.status).toBe(201);
    expect((await json(ok)).data.settings.permissions).toEqual(["reports:read", "reports:export"]);
  });
});
