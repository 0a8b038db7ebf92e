// The role table of user administration: each platform role against each action on
// /internal/users, allowed (200/201) or refused (403 forbidden, with nothing changed). The same
// table is written down in the README, section "Staff administration".
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import type { GlobalRole } from "../../../src/db/schema";
import { call, json } from "../../helpers/http";
import { bearer, createUser, deps, login, uniqueEmail, type TestUser } from "../../helpers/users";

const ROLES = ["NONE", "PLATFORM_MODERATOR", "PLATFORM_ADMIN", "PLATFORM_SUPERADMIN"] as const satisfies readonly GlobalRole[];
type Role = (typeof ROLES)[number];

let ipCounter = 0;
const nextIp = () => `198.51.100.${++ipCounter}`;

interface Actor extends TestUser {
  role: Role;
  token: string;
}
const actors = {} as Record<Role, Actor>;

beforeAll(async () => {
  for (const role of ROLES) {
    const user = await createUser({ globalRole: role, fullName: `Actor ${role}` });
    const s = await login(user, { "cf-connecting-ip": nextIp() });
    actors[role] = { ...user, role, token: s.accessToken };
  }
  // A second superadmin, so a superadmin acting on itself meets the self rule, never the last-superadmin rule.
  await createUser({ globalRole: "PLATFORM_SUPERADMIN", fullName: "Spare superadmin" });
});

interface Req {
  method: string;
  path: string;
  json?: unknown;
  /** The user the request would change: checked unchanged after a refusal. */
  targetId?: string;
}

const NEW_PASSWORD = "quartz-Lantern-83-meadow";

const target = (opts: Parameters<typeof createUser>[0]) => createUser({ fullName: "Target", ...opts });
const patch = async (opts: Parameters<typeof createUser>[0], body: unknown): Promise<Req> => {
  const t = await target(opts);
  return { method: "PATCH", path: `/internal/users/${t.id}`, json: body, targetId: t.id };
};
const remove = async (role: Role): Promise<Req> => {
  const t = await target({ globalRole: role });
  return { method: "DELETE", path: `/internal/users/${t.id}`, targetId: t.id };
};
const create = (globalRole: Role): Req => ({ method: "POST", path: "/internal/users", json: { email: uniqueEmail("created"), password: NEW_PASSWORD, globalRole } });
const self = (actor: Actor, body: unknown): Req => ({ method: "PATCH", path: `/internal/users/${actor.id}`, json: body, targetId: actor.id });

const N = "NONE";
const M = "PLATFORM_MODERATOR";
const A = "PLATFORM_ADMIN";
const S = "PLATFORM_SUPERADMIN";

/** action, request, expected status for [NONE, PLATFORM_MODERATOR, PLATFORM_ADMIN, PLATFORM_SUPERADMIN]. */
const TABLE: [string, (actor: Actor) => Req | Promise<Req>, [number, number, number, number]][] = [
  ["list users", () => ({ method: "GET", path: "/internal/users" }), [403, 200, 200, 200]],
  ["read a user", async () => ({ method: "GET", path: `/internal/users/${(await target({})).id}` }), [403, 200, 200, 200]],
  ["create a NONE user", () => create(N), [403, 403, 201, 201]],
  ["create a PLATFORM_MODERATOR", () => create(M), [403, 403, 201, 201]],
  ["create a PLATFORM_ADMIN", () => create(A), [403, 403, 403, 201]],
  ["create a PLATFORM_SUPERADMIN", () => create(S), [403, 403, 403, 201]],
  ["approve a pending NONE user", () => patch({ approvalStatus: "PENDING", isActive: false }, { approvalStatus: "APPROVED" }), [403, 200, 200, 200]],
  ["reject a pending NONE user", () => patch({ approvalStatus: "PENDING", isActive: false }, { approvalStatus: "REJECTED" }), [403, 200, 200, 200]],
  ["approve a pending PLATFORM_MODERATOR", () => patch({ globalRole: M, approvalStatus: "PENDING" }, { approvalStatus: "APPROVED" }), [403, 403, 200, 200]],
  ["approve a pending PLATFORM_ADMIN", () => patch({ globalRole: A, approvalStatus: "PENDING" }, { approvalStatus: "APPROVED" }), [403, 403, 403, 200]],
  ["approve and rename in one request", () => patch({ approvalStatus: "PENDING" }, { approvalStatus: "APPROVED", fullName: "Renamed" }), [403, 403, 200, 200]],
  ["rename a NONE user", () => patch({}, { fullName: "Renamed" }), [403, 403, 200, 200]],
  ["activate a NONE user", () => patch({ isActive: false }, { isActive: true }), [403, 403, 200, 200]],
  ["deactivate a NONE user", () => patch({}, { isActive: false }), [403, 403, 200, 200]],
  ["set a NONE user's password", () => patch({}, { password: NEW_PASSWORD }), [403, 403, 200, 200]],
  ["change a NONE user's email", () => patch({}, { email: uniqueEmail("moved") }), [403, 403, 200, 200]],
  ["rename a PLATFORM_MODERATOR", () => patch({ globalRole: M }, { fullName: "Renamed" }), [403, 403, 200, 200]],
  ["rename a PLATFORM_ADMIN", () => patch({ globalRole: A }, { fullName: "Renamed" }), [403, 403, 403, 200]],
  ["rename a PLATFORM_SUPERADMIN", () => patch({ globalRole: S }, { fullName: "Renamed" }), [403, 403, 403, 200]],
  ["grant PLATFORM_MODERATOR", () => patch({}, { globalRole: M }), [403, 403, 200, 200]],
  ["grant PLATFORM_ADMIN", () => patch({}, { globalRole: A }), [403, 403, 403, 200]],
  ["grant PLATFORM_SUPERADMIN", () => patch({}, { globalRole: S }), [403, 403, 403, 200]],
  ["remove PLATFORM_MODERATOR", () => patch({ globalRole: M }, { globalRole: N }), [403, 403, 200, 200]],
  ["remove PLATFORM_ADMIN", () => patch({ globalRole: A }, { globalRole: N }), [403, 403, 403, 200]],
  ["remove PLATFORM_SUPERADMIN", () => patch({ globalRole: S }, { globalRole: A }), [403, 403, 403, 200]],
  ["deactivate a PLATFORM_ADMIN", () => patch({ globalRole: A }, { isActive: false }), [403, 403, 403, 200]],
  ["delete a NONE user", () => remove(N), [403, 403, 200, 200]],
  ["delete a PLATFORM_MODERATOR", () => remove(M), [403, 403, 200, 200]],
  ["delete a PLATFORM_ADMIN", () => remove(A), [403, 403, 403, 200]],
  ["delete a PLATFORM_SUPERADMIN", () => remove(S), [403, 403, 403, 200]],
  ["rename oneself", (a) => self(a, { fullName: "Myself" }), [403, 403, 200, 200]],
  ["change one's own role", (a) => self(a, { globalRole: a.role === N ? M : N }), [403, 403, 403, 403]],
  ["deactivate oneself", (a) => self(a, { isActive: false }), [403, 403, 403, 403]],
  ["reject oneself", (a) => self(a, { approvalStatus: "REJECTED" }), [403, 403, 403, 403]],
  ["set one's own password", (a) => self(a, { password: NEW_PASSWORD }), [403, 403, 403, 403]],
  ["change one's own email", (a) => self(a, { email: uniqueEmail("self") }), [403, 403, 403, 403]],
  ["delete oneself", (a) => ({ method: "DELETE", path: `/internal/users/${a.id}`, targetId: a.id }), [403, 403, 403, 403]],
];

const CASES = TABLE.flatMap(([action, build, expected]) => ROLES.map((role, i) => ({ action, build, role, status: expected[i] })));

async function snapshot(id: string) {
  const r = await deps().db.execute(
    sql`select email, password_hash as "passwordHash", full_name as "fullName", global_role as "globalRole", approval_status as "approvalStatus",
          is_active as "isActive", token_version as "tokenVersion" from users where id = ${id}::uuid`,
  );
  return r.rows[0];
}

describe("/internal/users role table", () => {
  it.each(CASES)("$action as $role -> $status", async ({ build, role, status }) => {
    const actor = actors[role];
    const req = await build(actor);
    const before = req.targetId ? await snapshot(req.targetId) : null;
    const res = await call(req.path, { method: req.method, json: req.json, headers: bearer(actor.token) });
    const body = await json(res);
    expect({ status: res.status, code: body.error?.code }).toEqual({ status, code: status === 403 ? "forbidden" : undefined });
    if (status === 403 && req.targetId) expect(await snapshot(req.targetId)).toEqual(before);
  });

  it("the table covers every role against every action", () => {
    expect(CASES).toHaveLength(TABLE.length * ROLES.length);
    // Allowed and refused both occur for every role except NONE (refused everything).
    for (const role of ROLES.slice(1)) {
      const statuses = new Set(CASES.filter((c) => c.role === role).map((c) => c.status));
      expect(statuses.has(403)).toBe(true);
      expect(statuses.has(200)).toBe(true);
    }
  });
});

describe("the last active PLATFORM_SUPERADMIN", () => {
  let sole: Actor;

  beforeAll(async () => {
    // Leave exactly one active, approved superadmin.
    const user = await createUser({ globalRole: "PLATFORM_SUPERADMIN", fullName: "Sole superadmin" });
    const s = await login(user, { "cf-connecting-ip": nextIp() });
    sole = { ...user, role: "PLATFORM_SUPERADMIN", token: s.accessToken };
    await deps().db.execute(sql`update users set is_active = false where global_role = 'PLATFORM_SUPERADMIN' and id <> ${sole.id}::uuid`);
  });

  it.each([
    ["demote", { method: "PATCH", json: { globalRole: "PLATFORM_ADMIN" } }],
    ["deactivate", { method: "PATCH", json: { isActive: false } }],
    ["reject", { method: "PATCH", json: { approvalStatus: "REJECTED" } }],
    ["delete", { method: "DELETE" }],
  ] as const)("cannot %s itself: 409 last_superadmin", async (_what, req) => {
    const before = await snapshot(sole.id);
    const res = await call(`/internal/users/${sole.id}`, { ...req, headers: bearer(sole.token) });
    expect(res.status).toBe(409);
    expect((await json(res)).error.code).toBe("last_superadmin");
    expect(await snapshot(sole.id)).toEqual(before);
  });

  it("can be demoted once another superadmin is active, and two superadmins demoting each other at once leave one", async () => {
    const other = await createUser({ globalRole: "PLATFORM_SUPERADMIN", fullName: "Second superadmin" });
    const otherSession = await login(other, { "cf-connecting-ip": nextIp() });
    const [a, b] = await Promise.all([
      call(`/internal/users/${other.id}`, { method: "PATCH", json: { globalRole: "PLATFORM_ADMIN" }, headers: bearer(sole.token) }),
      call(`/internal/users/${sole.id}`, { method: "PATCH", json: { globalRole: "PLATFORM_ADMIN" }, headers: bearer(otherSession.accessToken) }),
    ]);
    const statuses = [a.status, b.status].sort();
    // One demotion applies; the other is refused: by the guard (409), or because its actor was already demoted (403, 401).
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect([401, 403, 409]).toContain(statuses[0] === 200 ? statuses[1] : statuses[0]);
    const left = await deps().db.execute(
      sql`select count(*)::int as n from users where global_role = 'PLATFORM_SUPERADMIN' and is_active and approval_status = 'APPROVED'`,
    );
    expect(Number((left.rows[0] as { n: number }).n)).toBe(1);
  });
});
