// /internal/organizations: PLATFORM_MODERATOR and up read, PLATFORM_ADMIN and up change; the
// last-owner rule holds for staff too; every change is audited with the staff member as actor.
import { beforeAll, describe, expect, it } from "vitest";
import type { GlobalRole } from "../../../src/db/schema";
import { resetAdmin } from "../../helpers/app-registry";
import { call, json } from "../../helpers/http";
import { createOrganization, member, orgToken, uniqueSlug } from "../../helpers/organizations";
import { auditEvents, bearer, createUser, login } from "../../helpers/users";

const ROLES = ["NONE", "PLATFORM_MODERATOR", "PLATFORM_ADMIN", "PLATFORM_SUPERADMIN"] as const satisfies readonly GlobalRole[];
const staff = {} as Record<(typeof ROLES)[number], Record<string, string>>;

beforeAll(async () => {
  resetAdmin();
  for (const role of ROLES) staff[role] = bearer((await login(await createUser({ globalRole: role }))).accessToken);
});

describe("/internal/organizations", () => {
  it("role table: reads for MODERATOR and up, changes for ADMIN and up (403 otherwise, nothing changed)", async () => {
    const owner = await member();
    const org = await createOrganization(owner, { name: "Staff table org" });
    const target = await createUser();
    const requests = [
      { req: { path: "/internal/organizations?q=staff%20table" }, expect: [403, 200, 200, 200] },
      { req: { path: `/internal/organizations/${org.id}` }, expect: [403, 200, 200, 200] },
      { req: { path: `/internal/organizations/${org.id}/members` }, expect: [403, 200, 200, 200] },
      { req: { path: `/internal/organizations/${org.id}`, method: "PATCH", json: { metadata: { plan: "pro" } } }, expect: [403, 403, 200, 200] },
      { req: { path: `/internal/organizations/${org.id}/members/${target.id}`, method: "PUT", json: { roles: ["viewer"] } }, expect: [403, 403, 200, 200] },
    ];
    for (const r of requests) {
      const got = [];
      for (const role of ROLES) got.push((await call(r.req.path, { method: r.req.method, json: r.req.json, headers: staff[role] })).status);
      expect({ path: r.req.path, method: r.req.method, got }).toEqual({ path: r.req.path, method: r.req.method, got: r.expect });
    }
    const removeAs = async (role: (typeof ROLES)[number]) => (await call(`/internal/organizations/${org.id}/members/${target.id}`, { method: "DELETE", headers: staff[role] })).status;
    expect([await removeAs("NONE"), await removeAs("PLATFORM_MODERATOR"), await removeAs("PLATFORM_ADMIN")]).toEqual([403, 403, 200]);
  });

  it("lists with member counts and a search; reads and patches one; slug conflicts answer 409", async () => {
    const owner = await member();
    const name = `Findable ${uniqueSlug()}`;
    const org = await createOrganization(owner, { name });
    const list = await json(await call(`/internal/organizations?q=${encodeURIComponent(name.toLowerCase())}`, { headers: staff.PLATFORM_MODERATOR }));
    expect(list.data).toMatchObject({ total: 1, organizations: [{ id: org.id, name, memberCount: 1 }] });
    const other = await createOrganization(owner);
    const clash = await call(`/internal/organizations/${org.id}`, { method: "PATCH", json: { slug: other.slug }, headers: staff.PLATFORM_ADMIN });
    expect(clash.status).toBe(409);
    expect((await json(clash)).error.code).toBe("slug_taken");
    const renamed = await call(`/internal/organizations/${org.id}`, { method: "PATCH", json: { name: "Renamed by staff", externalId: "crm-42" }, headers: staff.PLATFORM_ADMIN });
    expect(renamed.status).toBe(200);
    expect((await json(renamed)).data).toMatchObject({ name: "Renamed by staff", externalId: "crm-42" });
    const audited = (await auditEvents("organization.updated")).filter((e) => e.metadata.organizationId === org.id);
    expect(audited).toHaveLength(1);
    expect(audited[0].metadata).toMatchObject({ before: { name }, after: { name: "Renamed by staff" } });
    expect((await call(`/internal/organizations/${crypto.randomUUID()}`, { headers: staff.PLATFORM_ADMIN })).status).toBe(404);
  });

  it("manages memberships of any organization: adds, changes, removes (tokens die), keeps the last owner", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const m = await member();
    const put = (userId: string, roles: string[]) => call(`/internal/organizations/${org.id}/members/${userId}`, { method: "PUT", json: { roles }, headers: staff.PLATFORM_ADMIN });
    const added = await put(m.user.id, ["member"]);
    expect((await json(added)).data).toEqual({ userId: m.user.id, roles: ["member"], created: true });
    expect((await json(await put(m.user.id, ["admin"]))).data).toEqual({ userId: m.user.id, roles: ["admin"], created: false });
    const demote = await put(owner.user.id, ["admin"]);
    expect(demote.status).toBe(409);
    expect((await json(demote)).error.code).toBe("last_owner");
    const unknown = await put(m.user.id, ["nope"]);
    expect(unknown.status).toBe(400);
    expect((await put(crypto.randomUUID(), ["member"])).status).toBe(404);

    const token = (await json(await orgToken(m, org.id))).data.accessToken;
    expect((await call(`/internal/organizations/${org.id}/members/${m.user.id}`, { method: "DELETE", headers: staff.PLATFORM_ADMIN })).status).toBe(200);
    expect((await call(`/auth/organizations/${org.id}`, { headers: bearer(token) })).status).toBe(401);
    const removed = (await auditEvents("organization.member_removed")).filter((e) => e.metadata.organizationId === org.id);
    expect(removed).toHaveLength(1);
    expect(removed[0].targetUserId).toBe(m.user.id);
    expect((await call(`/internal/organizations/${org.id}/members/${owner.user.id}`, { method: "DELETE", headers: staff.PLATFORM_ADMIN })).status).toBe(409);
  });
});
