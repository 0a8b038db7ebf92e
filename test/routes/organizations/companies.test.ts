// Seed 000's companies and business units are organizations: a company is the organization whose
// id is the Finance company id, created on its first membership; a business unit is a child
// organization. Their memberships (OWNER/ADMIN/MANAGER/MEMBER/VIEWER, one each) show as roles
// owner/admin/member/member/viewer, and stay managed by /internal/companies (and the Finance
// import), which keep their contract (test/routes/internal/companies.test.ts).
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import migration0005 from "../../../drizzle/0005_organizations_finance.sql?raw";
import { admin, resetAdmin } from "../../helpers/app-registry";
import { call, json } from "../../helpers/http";
import { claimsOf, member, orgToken, setRoles, type Member } from "../../helpers/organizations";
import { bearer, deps } from "../../helpers/users";

beforeAll(() => resetAdmin());

async function upsertCompany(companyId: string, userId: string, role: string, isActive?: boolean) {
  const res = await call(`/internal/companies/${companyId}/memberships`, {
    json: { userId, role, ...(isActive === undefined ? {} : { isActive }) },
    headers: bearer((await admin()).accessToken),
  });
  expect([200, 201]).toContain(res.status);
}

async function upsertUnit(companyId: string, unitId: string, userId: string, role: string) {
  const res = await call(`/internal/companies/${companyId}/business-units/${unitId}/memberships`, { json: { userId, role }, headers: bearer((await admin()).accessToken) });
  expect([200, 201]).toContain(res.status);
}

async function myOrgs(m: Member) {
  return (await json(await call("/auth/organizations", { headers: m.headers }))).data.organizations as any[];
}

describe("companies and business units as organizations", () => {
  it("the first company membership creates the company's organization; a business unit's is its child", async () => {
    const company = crypto.randomUUID();
    const unit = crypto.randomUUID();
    const u = await member();
    await upsertCompany(company, u.user.id, "OWNER");
    await upsertUnit(company, unit, u.user.id, "MANAGER");
    const staff = bearer((await admin()).accessToken);
    const org = await json(await call(`/internal/organizations/${company}`, { headers: staff }));
    expect(org.data).toMatchObject({ id: company, slug: `company-${company}`, externalId: `finance:company:${company}`, parentId: null });
    const child = await json(await call(`/internal/organizations/${unit}`, { headers: staff }));
    expect(child.data).toMatchObject({ id: unit, parentId: company, externalId: `finance:business-unit:${unit}` });
    const children = await json(await call(`/internal/organizations?parentId=${company}`, { headers: staff }));
    expect(children.data.organizations.map((o: any) => o.id)).toEqual([unit]);

    const mine = await myOrgs(u);
    expect(mine.find((o) => o.id === company)).toMatchObject({ roles: ["owner"], parentId: null });
    expect(mine.find((o) => o.id === unit)).toMatchObject({ roles: ["member"], parentId: company });
  });

  it("maps roles, reads members from both sources, issues org tokens, and leaves Finance memberships to /internal/companies", async () => {
    const company = crypto.randomUUID();
    const [owner, viewer, admin2] = [await member(), await member(), await member()];
    await upsertCompany(company, owner.user.id, "OWNER");
    await upsertCompany(company, viewer.user.id, "VIEWER");
    await upsertCompany(company, admin2.user.id, "ADMIN");
    // A member added here as well as from Finance: both sources, roles merged.
    await setRoles(company, viewer.user.id, ["member"]);

    const members = await json(await call(`/auth/organizations/${company}/members`, { headers: owner.headers }));
    const byId = Object.fromEntries(members.data.members.map((m: any) => [m.userId, m]));
    expect(byId[owner.user.id]).toMatchObject({ roles: ["owner"], sources: ["finance"] });
    expect(byId[viewer.user.id]).toMatchObject({ roles: ["member", "viewer"], sources: ["finance", "organization"] });
    expect(byId[admin2.user.id]).toMatchObject({ roles: ["admin"] });

    const token = claimsOf((await json(await orgToken(admin2, company))).data.accessToken);
    expect(token).toMatchObject({ org_id: company, org_slug: `company-${company}`, org_roles: ["admin"] });

    for (const res of [
      await call(`/auth/organizations/${company}/members/${admin2.user.id}`, { method: "DELETE", headers: owner.headers }),
      await call(`/auth/organizations/${company}/members/${admin2.user.id}`, { method: "PATCH", json: { roles: ["viewer"] }, headers: owner.headers }),
      await call(`/auth/organizations/${company}/leave`, { method: "POST", headers: admin2.headers }),
      await call(`/auth/organizations/${company}`, { method: "DELETE", headers: owner.headers }),
    ]) {
      expect(res.status).toBe(409);
      expect((await json(res)).error.code).toBe("managed_by_finance");
    }

    // Deactivated in Finance: no longer a member here, and the org-scoped token is revoked at once.
    const orgScoped = (await json(await orgToken(admin2, company))).data.accessToken;
    expect((await call("/auth/organizations", { headers: bearer(orgScoped) })).status).toBe(200);
    await upsertCompany(company, admin2.user.id, "ADMIN", false);
    expect((await call(`/auth/organizations/${company}`, { headers: admin2.headers })).status).toBe(404);
    expect((await orgToken(admin2, company)).status).toBe(404);
    const revoked = await call("/auth/organizations", { headers: bearer(orgScoped) });
    expect(revoked.status).toBe(401);
    expect((await json(revoked)).error.code).toBe("token_revoked");
    // The session's own token is not affected.
    expect((await call("/auth/organizations", { headers: admin2.headers })).status).toBe(200);
  });

  it("the migration's backfill makes organizations of memberships that existed before it, idempotently", async () => {
    const company = crypto.randomUUID();
    const unit = crypto.randomUUID();
    const u = await member();
    await upsertUnit(company, unit, u.user.id, "VIEWER");
    const db = deps().db;
    // As before migration 0005: the memberships exist, their organizations do not.
    await db.execute(sql`delete from organizations where id = ${unit}::uuid`);
    await db.execute(sql`delete from organizations where id = ${company}::uuid`);
    const backfill = migration0005
      .split("--> statement-breakpoint")
      .map((s) => s.trim())
      .filter((s) => s.startsWith("SELECT finance_organization"));
    expect(backfill).toHaveLength(2);
    for (let i = 0; i < 2; i++) for (const statement of backfill) await db.execute(sql.raw(statement));
    const found = await db.execute(sql`select id::text, parent_id::text as parent from organizations where id in (${company}::uuid, ${unit}::uuid) order by parent_id nulls first`);
    expect(found.rows).toEqual([
      { id: company, parent: null },
      { id: unit, parent: company },
    ]);
    expect((await myOrgs(u)).find((o) => o.id === unit)).toMatchObject({ roles: ["viewer"] });
  });

  it("nobody can take a Finance company's slug or external id first (400)", async () => {
    const u = await member();
    const company = crypto.randomUUID();
    for (const body of [
      { name: "Squat", slug: `company-${company}` },
      { name: "Squat", slug: `business-unit-${company}` },
      { name: "Squat", slug: "squat-ok", externalId: `finance:company:${company}` },
    ]) {
      const res = await call("/auth/organizations", { json: body, headers: u.headers });
      expect(res.status).toBe(400);
      expect((await json(res)).error.code).toBe("validation_error");
    }
  });
});
