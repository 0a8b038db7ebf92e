// Budgets of issue 12, counted by the local endpoints: an organization-scoped token costs at most
// 2 SQL and 1 Redis round trips (here: 1 SQL, the Bearer check's Redis alongside it); a
// permission check on an organization route costs at most 1 SQL (GET of the organization: the
// check and the answer are the same statement); the route's own statement comes on top.
import { beforeAll, describe, expect, it } from "vitest";
import { resetAdmin } from "../helpers/app-registry";
import { call } from "../helpers/http";
import { createOrganization, member, memberWith } from "../helpers/organizations";
import { countRoundTrips } from "../helpers/stack";

beforeAll(() => resetAdmin());

function sequentialWaits(res: Response): number {
  const m = /path;dur=[\d.]+;desc="(\d+) sequential waits"/.exec(res.headers.get("server-timing") ?? "");
  if (!m) throw new Error(`no critical path in Server-Timing: ${res.headers.get("server-timing")}`);
  return Number(m[1]);
}

describe("organization budgets", () => {
  it("an org-scoped token: at most 2 SQL and 1 Redis, one sequential wait", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const m = await memberWith(org.id, ["member"]);
    const mint = () => call(`/auth/organizations/${org.id}/token`, { method: "POST", headers: m.headers });
    await mint();
    const { res, rt } = await countRoundTrips(mint, 200);
    expect(rt.sql).toBeLessThanOrEqual(2);
    expect(rt.redis).toBeLessThanOrEqual(1);
    expect(rt.sql).toBe(1);
    expect(sequentialWaits(res)).toBe(1);
  });

  it("a permission check: 1 SQL (GET of the organization), and 1 more for a route's own read or write", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const viewer = await memberWith(org.id, ["viewer"]);
    await call(`/auth/organizations/${org.id}`, { headers: viewer.headers });
    const get = await countRoundTrips(() => call(`/auth/organizations/${org.id}`, { headers: viewer.headers }), 200);
    expect(get.rt).toEqual({ sql: 1, redis: 1 });
    expect(sequentialWaits(get.res)).toBe(1);
    // Refused: the check alone.
    const refused = await countRoundTrips(() => call(`/auth/organizations/${org.id}/members`, { headers: viewer.headers }), 403);
    expect(refused.rt.sql).toBe(1);
    const list = await countRoundTrips(() => call(`/auth/organizations/${org.id}/members`, { headers: owner.headers }), 200);
    expect(list.rt.sql).toBe(2);
    expect(list.rt.redis).toBeLessThanOrEqual(1);
    const patch = await countRoundTrips(() => call(`/auth/organizations/${org.id}`, { method: "PATCH", json: { name: "Budget" }, headers: owner.headers }), 200);
    expect(patch.rt.sql).toBe(2);
    expect(patch.rt.redis).toBeLessThanOrEqual(1);
  });
});
