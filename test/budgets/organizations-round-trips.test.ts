// Budgets of issue 12, counted by the local endpoints: an organization-scoped token costs at most
// 2 SQL and 1 Redis round trips (here: 1 SQL, the Bearer check's Redis alongside it); a
// permission check on an organization route costs at most 1 SQL (GET of the organization: the
// check and the answer are the same statement); the route's own statement comes on top.
import { beforeAll, describe, expect, it } from "vitest";
import { resetAdmin } from "../helpers/app-registry";
import { call } from "../helpers/http";
import { createOrganization, member, memberWith } from "../helpers/organizations";
import { resetRoundTrips, roundTrips, settle } from "../helpers/stack";

beforeAll(() => resetAdmin());

async function counted(fn: () => Promise<Response>, expectStatus: number): Promise<{ sql: number; redis: number; res: Response }> {
  await settle();
  await resetRoundTrips();
  const res = await fn();
  expect(res.status).toBe(expectStatus);
  await settle();
  return { ...(await roundTrips()), res };
}

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
    const rt = await counted(mint, 200);
    expect(rt.sql).toBeLessThanOrEqual(2);
    expect(rt.redis).toBeLessThanOrEqual(1);
    expect(rt.sql).toBe(1);
    expect(sequentialWaits(rt.res)).toBe(1);
  });

  it("a permission check: 1 SQL (GET of the organization), and 1 more for a route's own read or write", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const viewer = await memberWith(org.id, ["viewer"]);
    await call(`/auth/organizations/${org.id}`, { headers: viewer.headers });
    const get = await counted(() => call(`/auth/organizations/${org.id}`, { headers: viewer.headers }), 200);
    expect({ sql: get.sql, redis: get.redis }).toEqual({ sql: 1, redis: 1 });
    expect(sequentialWaits(get.res)).toBe(1);
    // Refused: the check alone.
    const refused = await counted(() => call(`/auth/organizations/${org.id}/members`, { headers: viewer.headers }), 403);
    expect(refused.sql).toBe(1);
    const list = await counted(() => call(`/auth/organizations/${org.id}/members`, { headers: owner.headers }), 200);
    expect(list.sql).toBe(2);
    expect(list.redis).toBeLessThanOrEqual(1);
    const patch = await counted(() => call(`/auth/organizations/${org.id}`, { method: "PATCH", json: { name: "Budget" }, headers: owner.headers }), 200);
    expect(patch.sql).toBe(2);
    expect(patch.redis).toBeLessThanOrEqual(1);
  });
});
