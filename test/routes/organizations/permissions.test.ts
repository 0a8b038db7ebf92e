// The permission table of /auth/organizations: every route against an owner, an admin, a member,
// a viewer, a custom role (billing: invoices:read and members:read) and a non-member, allowed
// (200/201) or refused (403 forbidden; 404 for a non-member, who learns nothing), with nothing
// changed on refusal. The same table is written down in the README, section "Organizations".
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { registerApplication, resetAdmin } from "../../helpers/app-registry";
import { call, json } from "../../helpers/http";
import { createOrganization, defineRole, member, setRoles, uniqueSlug, type Member } from "../../helpers/organizations";
import { deps, uniqueEmail } from "../../helpers/users";

const PERSONAS = ["nonMember", "viewer", "member", "custom", "admin", "owner"] as const;
type Persona = (typeof PERSONAS)[number];
const ROLES: Record<Exclude<Persona, "nonMember">, string[]> = { viewer: ["viewer"], member: ["member"], custom: ["billing"], admin: ["admin"], owner: ["owner"] };

let creator: Member;
const people = {} as Record<Persona, Member>;

beforeAll(async () => {
  resetAdmin();
  await registerApplication({ settings: { permissions: ["invoices:read", "invoices:write"] } });
  creator = await member();
  for (const p of PERSONAS) people[p] = await member();
});

/** A fresh organization of `creator` with every persona in it (the owner persona is a second owner). */
async function fixture(): Promise<string> {
  const org = await createOrganization(creator);
  await defineRole(creator, org.id, { key: "billing", permissions: ["invoices:read", "members:read"] });
  for (const [p, roles] of Object.entries(ROLES)) await setRoles(org.id, people[p as Persona].user.id, roles);
  return org.id;
}

interface Req {
  method: string;
  path: string;
  json?: unknown;
}

/** What a row needs: the request for an actor, and a fingerprint of what it would change. */
interface Row {
  name: string;
  request: (org: string, actor: Persona) => Promise<Req>;
  /** [nonMember, viewer, member, custom, admin, owner] */
  expected: [number, number, number, number, number, number];
}

async function target(org: string): Promise<string> {
  const t = await member();
  await setRoles(org, t.user.id, ["member"]);
  return t.user.id;
}

let roleCounter = 0;
async function tempRole(org: string): Promise<string> {
  const key = `temp${++roleCounter}`;
  await defineRole(creator, org, { key, permissions: ["org:read"] });
  return key;
}

async function invitation(org: string): Promise<string> {
  const res = await call(`/auth/organizations/${org}/invitations`, { json: { email: uniqueEmail("inv"), roles: ["member"] }, headers: creator.headers });
  expect(res.status).toBe(201);
  return (await json(res)).data.id;
}

const TABLE: Row[] = [
  { name: "GET /auth/organizations/{id}", request: async (o) => ({ method: "GET", path: `/auth/organizations/${o}` }), expected: [404, 200, 200, 403, 200, 200] },
  { name: "PATCH /auth/organizations/{id}", request: async (o) => ({ method: "PATCH", path: `/auth/organizations/${o}`, json: { name: "Renamed" } }), expected: [404, 403, 403, 403, 200, 200] },
  { name: "DELETE /auth/organizations/{id}", request: async (o) => ({ method: "DELETE", path: `/auth/organizations/${o}` }), expected: [404, 403, 403, 403, 403, 200] },
  { name: "GET .../members", request: async (o) => ({ method: "GET", path: `/auth/organizations/${o}/members` }), expected: [404, 403, 200, 200, 200, 200] },
  {
    name: "PATCH .../members/{userId}",
    request: async (o) => ({ method: "PATCH", path: `/auth/organizations/${o}/members/${await target(o)}`, json: { roles: ["viewer"] } }),
    expected: [404, 403, 403, 403, 200, 200],
  },
  { name: "DELETE .../members/{userId}", request: async (o) => ({ method: "DELETE", path: `/auth/organizations/${o}/members/${await target(o)}` }), expected: [404, 403, 403, 403, 200, 200] },
  { name: "POST .../leave", request: async (o) => ({ method: "POST", path: `/auth/organizations/${o}/leave` }), expected: [404, 200, 200, 200, 200, 200] },
  { name: "GET .../roles", request: async (o) => ({ method: "GET", path: `/auth/organizations/${o}/roles` }), expected: [404, 403, 200, 403, 200, 200] },
  {
    name: "POST .../roles",
    request: async (o) => ({ method: "POST", path: `/auth/organizations/${o}/roles`, json: { key: `r${++roleCounter}`, name: "R", permissions: ["org:read"] } }),
    expected: [404, 403, 403, 403, 201, 201],
  },
  {
    name: "PATCH .../roles/{key}",
    request: async (o) => ({ method: "PATCH", path: `/auth/organizations/${o}/roles/${await tempRole(o)}`, json: { name: "Renamed" } }),
    expected: [404, 403, 403, 403, 200, 200],
  },
  { name: "DELETE .../roles/{key}", request: async (o) => ({ method: "DELETE", path: `/auth/organizations/${o}/roles/${await tempRole(o)}` }), expected: [404, 403, 403, 403, 200, 200] },
  { name: "GET .../invitations", request: async (o) => ({ method: "GET", path: `/auth/organizations/${o}/invitations` }), expected: [404, 403, 200, 403, 200, 200] },
  {
    name: "POST .../invitations",
    request: async (o) => ({ method: "POST", path: `/auth/organizations/${o}/invitations`, json: { email: uniqueEmail("inv"), roles: ["member"] } }),
    expected: [404, 403, 403, 403, 201, 201],
  },
  {
    name: "POST .../invitations/{id}/revoke",
    request: async (o) => ({ method: "POST", path: `/auth/organizations/${o}/invitations/${await invitation(o)}/revoke` }),
    expected: [404, 403, 403, 403, 200, 200],
  },
  { name: "POST .../token", request: async (o) => ({ method: "POST", path: `/auth/organizations/${o}/token` }), expected: [404, 200, 200, 200, 200, 200] },
];

/** Everything an organization route can change, for "nothing changed on refusal". */
async function snapshot(org: string): Promise<string> {
  const r = await deps().db.execute(sql`select
      (select row_to_json(o)::text from organizations o where o.id = ${org}::uuid) as org,
      (select json_agg(m order by m.user_id)::text from organization_members m where m.organization_id = ${org}::uuid) as members,
      (select json_agg(r order by r.key)::text from organization_roles r where r.organization_id = ${org}::uuid) as roles,
      (select json_agg(json_build_object('id', i.id, 'status', i.status) order by i.id)::text from organization_invitations i where i.organization_id = ${org}::uuid) as invitations,
      (select count(*)::int from auth_audit_logs where metadata->>'organizationId' = ${org}) as audits`);
  return JSON.stringify(r.rows[0]);
}

describe("organization permission table", () => {
  for (const row of TABLE) {
    it(row.name, async () => {
      const org = await fixture();
      const got: Record<string, number> = {};
      const want: Record<string, number> = {};
      // Refusals first, the owner last: an owner's DELETE ends the organization.
      for (const [i, persona] of PERSONAS.entries()) {
        const req = await row.request(org, persona);
        const before = await snapshot(org);
        const res = await call(req.path, { method: req.method, json: req.json, headers: people[persona].headers });
        got[persona] = res.status;
        want[persona] = row.expected[i];
        if (res.status >= 400) {
          const body = await json(res);
          expect(body.error.code).toBe(res.status === 404 ? "not_found" : "forbidden");
          expect(await snapshot(org)).toBe(before);
        }
      }
      expect(got).toEqual(want);
    });
  }

  it("GET /auth/organizations lists exactly the caller's organizations, with the caller's roles", async () => {
    const org = await fixture();
    for (const persona of PERSONAS) {
      const res = await call("/auth/organizations", { headers: people[persona].headers });
      expect(res.status).toBe(200);
      const mine = (await json(res)).data.organizations.find((o: any) => o.id === org);
      if (persona === "nonMember") expect(mine).toBeUndefined();
      else expect(mine.roles).toEqual(ROLES[persona]);
    }
  });

  it("POST /auth/organizations: any signed-in user creates one and is its only owner", async () => {
    const res = await call("/auth/organizations", { json: { name: "Acme", slug: uniqueSlug("acme") }, headers: people.nonMember.headers });
    expect(res.status).toBe(201);
    const org = (await json(res)).data;
    const members = await json(await call(`/auth/organizations/${org.id}/members`, { headers: people.nonMember.headers }));
    expect(members.data.members.map((m: any) => [m.userId, m.roles])).toEqual([[people.nonMember.user.id, ["owner"]]]);
  });
});
