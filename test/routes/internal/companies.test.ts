import { beforeAll, describe, expect, it } from "vitest";
import { call, json } from "../../helpers/http";
import { auditEvents, bearer, createUser, login, type TestUser } from "../../helpers/users";

type Actor = TestUser & { token: string };

async function actor(opts: Parameters<typeof createUser>[0] = {}): Promise<Actor> {
  const u = await createUser(opts);
  const s = await login(u);
  return { ...u, token: s.accessToken };
}

function upsert(token: string, companyId: string, body: unknown) {
  return call(`/internal/companies/${companyId}/memberships`, { json: body, headers: bearer(token) });
}

function upsertBu(token: string, companyId: string, buId: string, body: unknown) {
  return call(`/internal/companies/${companyId}/business-units/${buId}/memberships`, { json: body, headers: bearer(token) });
}

function listCompany(token: string, companyId: string, query = "") {
  return call(`/internal/companies/${companyId}/users${query}`, { headers: bearer(token) });
}

function listBu(token: string, companyId: string, buId: string, query = "") {
  return call(`/internal/companies/${companyId}/business-units/${buId}/users${query}`, { headers: bearer(token) });
}

async function expectStatus(res: Response, status: number, code?: string) {
  const body = await json(res);
  expect({ status: res.status, body }).toMatchObject({ status, ...(code ? { body: { error: { code } } } : {}) });
  return body;
}

describe("/internal/companies memberships", () => {
  const company = crypto.randomUUID();
  const otherCompany = crypto.randomUUID();
  let platformAdmin: Actor;
  let moderator: Actor;
  let owner: Actor;
  let admin: Actor;
  let member: Actor;
  let otherAdmin: Actor;
  let nobody: Actor;

  beforeAll(async () => {
    [platformAdmin, moderator, owner, admin, member, otherAdmin, nobody] = await Promise.all([
      actor({ globalRole: "PLATFORM_ADMIN" }),
      actor({ globalRole: "PLATFORM_MODERATOR" }),
      actor(),
      actor(),
      actor(),
      actor(),
      actor(),
    ]);
  });

  describe("POST /internal/companies/{companyId}/memberships", () => {
    it("lets platform staff create (201), update (200) and re-send unchanged (200, not audited)", async () => {
      const created = await upsert(platformAdmin.token, company, { userId: owner.id, role: "OWNER" });
      const body = await expectStatus(created, 201);
      expect(body.data).toMatchObject({ userId: owner.id, companyId: company, role: "OWNER", isActive: true });
      expect(body.data.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.parse(body.data.createdAt)).not.toBeNaN();

      const again = await upsert(platformAdmin.token, company, { userId: owner.id, role: "OWNER" });
      expect((await expectStatus(again, 200)).data).toMatchObject({ id: body.data.id, role: "OWNER", isActive: true });

      const events = (await auditEvents("membership.upserted")).filter((e) => e.targetUserId === owner.id);
      expect(events).toHaveLength(1);
      expect(events[0].actorUserId).toBe(platformAdmin.id);
      expect(events[0].metadata).toMatchObject({ companyId: company, before: null, after: { role: "OWNER", isActive: true } });

      // A moderator is platform staff too: it may manage memberships.
      const byModerator = await upsert(moderator.token, otherCompany, { userId: otherAdmin.id, role: "ADMIN" });
      expect((await expectStatus(byModerator, 201)).data).toMatchObject({ companyId: otherCompany, role: "ADMIN" });
    });

    it("lets the company's OWNER and ADMIN manage members, but only an OWNER grants or changes OWNER", async () => {
      await expectStatus(await upsert(owner.token, company, { userId: admin.id, role: "ADMIN" }), 201);
      await expectStatus(await upsert(admin.token, company, { userId: member.id, role: "VIEWER" }), 201);
      const changed = await upsert(admin.token, company, { userId: member.id, role: "MEMBER" });
      expect((await expectStatus(changed, 200)).data).toMatchObject({ userId: member.id, role: "MEMBER", isActive: true });
      const events = (await auditEvents("membership.upserted")).filter((e) => e.targetUserId === member.id);
      expect(events.map((e) => e.metadata)).toEqual([
        expect.objectContaining({ companyId: company, before: null, after: { role: "VIEWER", isActive: true } }),
        expect.objectContaining({ companyId: company, before: { role: "VIEWER", isActive: true }, after: { role: "MEMBER", isActive: true } }),
      ]);
      expect(events[1].actorUserId).toBe(admin.id);

      // An ADMIN may not grant OWNER, nor touch an OWNER's membership (and nothing is written).
      await expectStatus(await upsert(admin.token, company, { userId: member.id, role: "OWNER" }), 403, "forbidden");
      await expectStatus(await upsert(admin.token, company, { userId: owner.id, role: "MEMBER" }), 403, "forbidden");
      await expectStatus(await upsert(admin.token, company, { userId: admin.id, role: "OWNER" }), 403, "forbidden");
      const list = await json(await listCompany(owner.token, company));
      const roles = Object.fromEntries(list.data.users.map((u: any) => [u.id, u.companyMemberships[0]?.role]));
      expect(roles).toMatchObject({ [owner.id]: "OWNER", [admin.id]: "ADMIN", [member.id]: "MEMBER" });

      // An OWNER may.
      const coOwner = await createUser();
      await expectStatus(await upsert(owner.token, company, { userId: coOwner.id, role: "OWNER" }), 201);
      await expectStatus(await upsert(owner.token, company, { userId: coOwner.id, role: "VIEWER" }), 200);
    });

    it("refuses a company MEMBER, another company's ADMIN and a user with no role (403, nothing written)", async () => {
      const target = await createUser();
      for (const who of [member, otherAdmin, nobody]) {
        await expectStatus(await upsert(who.token, company, { userId: target.id, role: "VIEWER" }), 403, "forbidden");
        await expectStatus(await upsertBu(who.token, company, crypto.randomUUID(), { userId: target.id, role: "VIEWER" }), 403, "forbidden");
      }
      // Even for an unknown user: a non-manager learns nothing about which users exist.
      await expectStatus(await upsert(nobody.token, company, { userId: crypto.randomUUID(), role: "VIEWER" }), 403, "forbidden");
      expect((await auditEvents("membership.upserted")).filter((e) => e.targetUserId === target.id)).toHaveLength(0);
    });

    it("stops honouring an ADMIN membership once it is deactivated", async () => {
      const exAdmin = await actor();
      await expectStatus(await upsert(owner.token, company, { userId: exAdmin.id, role: "ADMIN" }), 201);
      const target = await createUser();
      await expectStatus(await upsert(exAdmin.token, company, { userId: target.id, role: "VIEWER" }), 201);
      const off = await upsert(owner.token, company, { userId: exAdmin.id, role: "ADMIN", isActive: false });
      expect((await expectStatus(off, 200)).data).toMatchObject({ role: "ADMIN", isActive: false });
      await expectStatus(await upsert(exAdmin.token, company, { userId: target.id, role: "MEMBER" }), 403, "forbidden");
      // isActive omitted on an update leaves it as it is.
      const roleOnly = await upsert(owner.token, company, { userId: exAdmin.id, role: "MANAGER" });
      expect((await expectStatus(roleOnly, 200)).data).toMatchObject({ role: "MANAGER", isActive: false });
    });

    it("answers 404 for an unknown user, 400 for malformed ids and bodies, 401 without a token", async () => {
      await expectStatus(await upsert(platformAdmin.token, company, { userId: crypto.randomUUID(), role: "MEMBER" }), 404, "not_found");
      await expectStatus(await upsert(platformAdmin.token, "not-a-uuid", { userId: member.id, role: "MEMBER" }), 400, "validation_error");
      await expectStatus(await upsert(platformAdmin.token, company, { userId: "nope", role: "MEMBER" }), 400, "validation_error");
      await expectStatus(await upsert(platformAdmin.token, company, { userId: member.id, role: "KING" }), 400, "validation_error");
      await expectStatus(await upsert(platformAdmin.token, company, { userId: member.id, role: "MEMBER", extra: 1 }), 400, "validation_error");
      await expectStatus(await upsert(platformAdmin.token, company, { role: "MEMBER" }), 400, "validation_error");
      const anonymous = await call(`/internal/companies/${company}/memberships`, { json: { userId: member.id, role: "MEMBER" } });
      await expectStatus(anonymous, 401, "unauthorized");
      // Authentication comes before validation.
      await expectStatus(await call("/internal/companies/not-a-uuid/users"), 401, "unauthorized");
    });

    it("shows up in the member's /auth/me", async () => {
      const fresh = await createUser();
      await expectStatus(await upsert(platformAdmin.token, company, { userId: fresh.id, role: "MANAGER" }), 201);
      const s = await login(fresh);
      const me = await json(await call("/auth/me", { headers: bearer(s.accessToken) }));
      expect(me.data.companyMemberships).toEqual([{ companyId: company, role: "MANAGER", isActive: true }]);
    });
  });

  describe("business units", () => {
    const bu = crypto.randomUUID();
    const bu2 = crypto.randomUUID();

    it("lets the company's ADMIN upsert BU memberships that record the company; audited with before and after", async () => {
      const created = await upsertBu(admin.token, company, bu, { userId: member.id, role: "MEMBER" });
      const body = await expectStatus(created, 201);
      expect(body.data).toMatchObject({ userId: member.id, companyId: company, businessUnitId: bu, role: "MEMBER", isActive: true });

      const same = await upsertBu(admin.token, company, bu, { userId: member.id, role: "MEMBER" });
      expect((await expectStatus(same, 200)).data).toMatchObject({ id: body.data.id, businessUnitId: bu });
      const updated = await upsertBu(admin.token, company, bu, { userId: member.id, role: "MANAGER" });
      expect((await expectStatus(updated, 200)).data).toMatchObject({ id: body.data.id, role: "MANAGER" });

      // BU roles, OWNER included, are the company ADMIN's to give (no rights over the company).
      await expectStatus(await upsertBu(admin.token, company, bu2, { userId: member.id, role: "OWNER" }), 201);

      const events = (await auditEvents("business_unit_membership.upserted")).filter((e) => e.targetUserId === member.id);
      expect(events).toHaveLength(3);
      expect(events[0]).toMatchObject({
        actorUserId: admin.id,
        metadata: { companyId: company, businessUnitId: bu, before: null, after: { role: "MEMBER", isActive: true } },
      });
      expect(events[1].metadata).toMatchObject({ businessUnitId: bu, before: { role: "MEMBER", isActive: true }, after: { role: "MANAGER", isActive: true } });
      expect(events[2].metadata).toMatchObject({ businessUnitId: bu2, after: { role: "OWNER" } });

      // Platform staff may too; unknown users are 404.
      await expectStatus(await upsertBu(platformAdmin.token, company, bu, { userId: owner.id, role: "VIEWER" }), 201);
      await expectStatus(await upsertBu(platformAdmin.token, company, bu, { userId: crypto.randomUUID(), role: "VIEWER" }), 404, "not_found");
      await expectStatus(await upsertBu(platformAdmin.token, company, "nope", { userId: owner.id, role: "VIEWER" }), 400, "validation_error");
    });

    it("refuses a business unit already recorded under another company (409), even to platform staff", async () => {
      // otherAdmin is ADMIN of otherCompany (set up by the moderator above).
      const res = await upsertBu(otherAdmin.token, otherCompany, bu, { userId: member.id, role: "OWNER" });
      await expectStatus(res, 409, "business_unit_company_mismatch");
      await expectStatus(await upsertBu(platformAdmin.token, otherCompany, bu, { userId: otherAdmin.id, role: "MEMBER" }), 409);
      // member's BU membership still belongs to `company`.
      const list = await json(await listBu(admin.token, company, bu));
      expect(list.data.users.find((u: any) => u.id === member.id).businessUnitMemberships).toContainEqual({
        companyId: company,
        businessUnitId: bu,
        role: "MANAGER",
        isActive: true,
      });
    });

    it("lists only users with an ACTIVE membership in the business unit", async () => {
      const before = await json(await listBu(owner.token, company, bu));
      expect(before.data.users.map((u: any) => u.id).sort()).toEqual([member.id, owner.id].sort());
      await expectStatus(await upsertBu(owner.token, company, bu, { userId: owner.id, role: "VIEWER", isActive: false }), 200);
      const after = await listBu(owner.token, company, bu);
      const page = (await expectStatus(after, 200)).data;
      expect(page.users.map((u: any) => u.id)).toEqual([member.id]);
      expect(page.total).toBe(1);
      const m = page.users[0];
      expect(m).toMatchObject({ id: member.id, email: member.email, globalRole: "NONE", approvalStatus: "APPROVED", isActive: true });
      expect(m.companyMemberships).toEqual([{ companyId: company, role: "MEMBER", isActive: true }]);
      expect(m.businessUnitMemberships).toEqual(
        expect.arrayContaining([
          { companyId: company, businessUnitId: bu, role: "MANAGER", isActive: true },
          { companyId: company, businessUnitId: bu2, role: "OWNER", isActive: true },
        ]),
      );
      // The deactivated one is still in the company listing, flagged.
      const companyList = await json(await listCompany(owner.token, company));
      const o = companyList.data.users.find((u: any) => u.id === owner.id);
      expect(o.businessUnitMemberships).toEqual([{ companyId: company, businessUnitId: bu, role: "VIEWER", isActive: false }]);
    });
  });

  describe("GET /internal/companies/{companyId}/users", () => {
    it("lists users with any membership in the company, with only that company's memberships nested", async () => {
      const buOnly = await createUser();
      const otherBu = crypto.randomUUID();
      await expectStatus(await upsertBu(platformAdmin.token, company, crypto.randomUUID(), { userId: buOnly.id, role: "VIEWER" }), 201);
      // member also belongs to the other company: not shown in this company's listing.
      await expectStatus(await upsert(platformAdmin.token, otherCompany, { userId: member.id, role: "VIEWER" }), 201);
      await expectStatus(await upsertBu(platformAdmin.token, otherCompany, otherBu, { userId: member.id, role: "VIEWER" }), 201);

      const res = await listCompany(admin.token, company);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const page = (await expectStatus(res, 200)).data;
      expect(page).toMatchObject({ limit: 50, offset: 0 });
      expect(page.total).toBe(page.users.length);
      const ids = page.users.map((u: any) => u.id);
      expect(ids).toEqual(expect.arrayContaining([owner.id, admin.id, member.id, buOnly.id]));
      expect(ids).not.toContain(otherAdmin.id);
      expect(ids).not.toContain(nobody.id);
      // Ordered by email.
      const emails = page.users.map((u: any) => u.email.toLowerCase());
      expect(emails).toEqual([...emails].sort());

      const m = page.users.find((u: any) => u.id === member.id);
      expect(Object.keys(m).sort()).toEqual(
        ["id", "email", "fullName", "globalRole", "approvalStatus", "isActive", "companyMemberships", "businessUnitMemberships"].sort(),
      );
      expect(m.companyMemberships).toEqual([{ companyId: company, role: "MEMBER", isActive: true }]);
      expect(m.businessUnitMemberships.every((b: any) => b.companyId === company)).toBe(true);
      const b = page.users.find((u: any) => u.id === buOnly.id);
      expect(b.companyMemberships).toEqual([]);
      expect(b.businessUnitMemberships).toHaveLength(1);
    });

    it("pages with limit and offset (bounded)", async () => {
      const all = (await json(await listCompany(platformAdmin.token, company))).data;
      const first = (await expectStatus(await listCompany(platformAdmin.token, company, "?limit=2"), 200)).data;
      const second = (await expectStatus(await listCompany(platformAdmin.token, company, "?limit=2&offset=2"), 200)).data;
      expect(first).toMatchObject({ limit: 2, offset: 0, total: all.total });
      expect(first.users.map((u: any) => u.id)).toEqual(all.users.slice(0, 2).map((u: any) => u.id));
      expect(second.users.map((u: any) => u.id)).toEqual(all.users.slice(2, 4).map((u: any) => u.id));
      await expectStatus(await listCompany(platformAdmin.token, company, "?limit=201"), 400, "validation_error");
      await expectStatus(await listCompany(platformAdmin.token, company, "?limit=0"), 400, "validation_error");
      await expectStatus(await listCompany(platformAdmin.token, company, "?offset=-1"), 400, "validation_error");
    });

    it("is for platform staff and the company's OWNER/ADMIN only", async () => {
      await expectStatus(await listCompany(moderator.token, company), 200);
      await expectStatus(await listCompany(owner.token, company), 200);
      for (const who of [member, otherAdmin, nobody]) {
        await expectStatus(await listCompany(who.token, company), 403, "forbidden");
        await expectStatus(await listBu(who.token, company, crypto.randomUUID()), 403, "forbidden");
      }
      await expectStatus(await listCompany(platformAdmin.token, "123"), 400, "validation_error");
      await expectStatus(await listBu(platformAdmin.token, company, "123"), 400, "validation_error");
      await expectStatus(await call(`/internal/companies/${company}/users`), 401, "unauthorized");
      // A company with nobody in it is an empty page, not a 404.
      const empty = (await expectStatus(await listCompany(platformAdmin.token, crypto.randomUUID()), 200)).data;
      expect(empty).toEqual({ users: [], total: 0, limit: 50, offset: 0 });
    });
  });
});
