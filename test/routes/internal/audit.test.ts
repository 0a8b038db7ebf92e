import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { recordAudit } from "../../../src/stores/audit";
import { call, json } from "../../helpers/http";
import { bearer, createUser, deps, login, type TestUser } from "../../helpers/users";

const PATH = "/internal/audit-events";

let admin: TestUser;
let adminToken: string;
let moderatorToken: string;
let plainToken: string;

function list(query: Record<string, string | number> = {}, token = adminToken): Promise<Response> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  return call(`${PATH}${qs ? `?${qs}` : ""}`, { headers: bearer(token) });
}

async function items(query: Record<string, string | number> = {}): Promise<any[]> {
  const res = await list(query);
  expect(res.status).toBe(200);
  return (await json(res)).data.items;
}

/** Every page of a query, following nextCursor. */
async function allPages(query: Record<string, string | number>): Promise<{ pages: any[][]; cursors: (string | null)[] }> {
  const pages: any[][] = [];
  const cursors: (string | null)[] = [];
  let cursor: string | null = null;
  do {
    const res = await list(cursor ? { ...query, cursor } : query);
    expect(res.status).toBe(200);
    const body = await json(res);
    pages.push(body.data.items);
    cursors.push(body.data.nextCursor);
    cursor = body.data.nextCursor;
    expect(pages.length).toBeLessThan(50);
  } while (cursor);
  return { pages, cursors };
}

const at = (iso: string) => new Date(iso);

beforeAll(async () => {
  admin = await createUser({ globalRole: "PLATFORM_ADMIN" });
  const moderator = await createUser({ globalRole: "PLATFORM_MODERATOR" });
  const plain = await createUser({ globalRole: "NONE" });
  adminToken = (await login(admin)).accessToken;
  moderatorToken = (await login(moderator)).accessToken;
  plainToken = (await login(plain)).accessToken;
});

describe("GET /internal/audit-events: access", () => {
  it("answers 401 without a token and with a bad one", async () => {
    const none = await call(PATH);
    expect(none.status).toBe(401);
    expect((await json(none)).error.code).toBe("unauthorized");
    const bad = await call(PATH, { headers: bearer("not.a.token") });
    expect(bad.status).toBe(401);
    expect((await json(bad)).error.code).toBe("invalid_token");
    // Authentication comes before query validation.
    expect((await call(`${PATH}?limit=0`)).status).toBe(401);
  });

  it("answers 403 forbidden to a user with no platform role", async () => {
    const res = await list({}, plainToken);
    expect(res.status).toBe(403);
    expect((await json(res)).error.code).toBe("forbidden");
  });

  it("is open to every platform role, never cached", async () => {
    const res = await list({}, moderatorToken);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect((await list({}, adminToken)).status).toBe(200);
  });
});

describe("GET /internal/audit-events: items and filters", () => {
  let target: string;
  let other: string;
  let actor: string;

  beforeAll(async () => {
    target = (await createUser()).id;
    other = (await createUser()).id;
    actor = (await createUser({ globalRole: "PLATFORM_ADMIN" })).id;
    const db = deps().db;
    const events = [
      { type: "login.success", targetUserId: target, actorUserId: target, at: at("2026-03-01T10:00:00Z") },
      { type: "login.failure", targetUserId: target, at: at("2026-03-02T10:00:00Z"), metadata: { reason: "password" } },
      { type: "login.blocked", targetUserId: target, at: at("2026-03-03T10:00:00Z") },
      { type: "logout", targetUserId: target, actorUserId: target, at: at("2026-03-04T10:00:00Z") },
      { type: "password_reset.requested", targetUserId: target, at: at("2026-03-05T10:00:00Z") },
      { type: "passwordXreset.lookalike", targetUserId: target, at: at("2026-03-06T10:00:00Z") },
      { type: "user.updated", targetUserId: target, actorUserId: actor, actorLabel: "admin@example.com", at: at("2026-03-07T10:00:00Z"), ip: "203.0.113.9", userAgent: "curl/8" },
      { type: "user.updated", targetUserId: other, actorUserId: actor, at: at("2026-03-08T10:00:00Z") },
      { type: "login.success", targetUserId: other, actorUserId: other, at: at("2026-03-09T10:00:00Z") },
    ];
    for (const e of events) await recordAudit(db, e);
  });

  it("returns items with exactly the documented fields, newest first", async () => {
    const found = await items({ userId: target });
    expect(found.map((e) => e.eventType)).toEqual([
      "user.updated",
      "passwordXreset.lookalike",
      "password_reset.requested",
      "logout",
      "login.blocked",
      "login.failure",
      "login.success",
    ]);
    expect(Object.keys(found[0]).sort()).toEqual(["actorLabel", "actorUserId", "createdAt", "eventType", "id", "ip", "metadata", "targetUserId", "userAgent"]);
    expect(found[0]).toMatchObject({
      eventType: "user.updated",
      actorUserId: actor,
      actorLabel: "admin@example.com",
      targetUserId: target,
      ip: "203.0.113.9",
      userAgent: "curl/8",
      metadata: {},
      createdAt: "2026-03-07T10:00:00.000Z",
    });
    expect(found.find((e) => e.eventType === "login.failure").metadata).toEqual({ reason: "password" });
  });

  it("filters by target user and by actor", async () => {
    expect((await items({ userId: other })).map((e) => e.eventType)).toEqual(["login.success", "user.updated"]);
    const byActor = await items({ actorUserId: actor });
    expect(byActor.map((e) => e.targetUserId)).toEqual([other, target]);
    expect((await items({ actorUserId: actor, userId: other })).map((e) => e.eventType)).toEqual(["user.updated"]);
  });

  it("filters by exact event type and by prefix with a trailing *", async () => {
    expect((await items({ userId: target, eventType: "login.failure" })).map((e) => e.eventType)).toEqual(["login.failure"]);
    expect((await items({ userId: target, eventType: "login" })).map((e) => e.eventType)).toEqual([]);
    expect((await items({ userId: target, eventType: "login.*" })).map((e) => e.eventType)).toEqual(["login.blocked", "login.failure", "login.success"]);
    expect((await items({ userId: target, eventType: "log*" })).map((e) => e.eventType)).toEqual(["logout", "login.blocked", "login.failure", "login.success"]);
    // `_` and `%` in a prefix are literal, not LIKE wildcards.
    expect((await items({ userId: target, eventType: "password_reset.*" })).map((e) => e.eventType)).toEqual(["password_reset.requested"]);
    expect((await items({ userId: target, eventType: "%*" }))).toEqual([]);
  });

  it("filters by time: from inclusive, to exclusive", async () => {
    const found = await items({ userId: target, from: "2026-03-02T10:00:00Z", to: "2026-03-05T10:00:00Z" });
    expect(found.map((e) => e.eventType)).toEqual(["logout", "login.blocked", "login.failure"]);
    const withOffset = await items({ userId: target, from: "2026-03-07T12:00:00+02:00" });
    expect(withOffset.map((e) => e.eventType)).toEqual(["user.updated"]);
    expect(await items({ userId: target, from: "2026-03-04T10:00:00Z", to: "2026-03-04T10:00:00Z" })).toEqual([]);
  });

  it("refuses bad queries with 400 validation_error naming the fields", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ limit: "0" }, "limit"],
      [{ limit: "201" }, "limit"],
      [{ limit: "abc" }, "limit"],
      [{ limit: "1.5" }, "limit"],
      [{ userId: "not-a-uuid" }, "userId"],
      [{ actorUserId: "123" }, "actorUserId"],
      [{ from: "yesterday" }, "from"],
      [{ to: "2026-13-01T00:00:00Z" }, "to"],
      [{ from: "2026-03-05T00:00:00Z", to: "2026-03-01T00:00:00Z" }, "to"],
      [{ eventType: "*" }, "eventType"],
      [{ eventType: "lo*gin" }, "eventType"],
      [{ eventType: "x".repeat(101) }, "eventType"],
      [{ cursor: "garbage!" }, "cursor"],
      [{ cursor: btoa(JSON.stringify({ v: 1, t: "nope", i: "x" })) }, "cursor"],
      [{ sort: "asc" }, "sort"],
    ];
    for (const [query, field] of cases) {
      const res = await list(query);
      const body = await json(res);
      expect({ query, status: res.status, code: body.error?.code }).toEqual({ query, status: 400, code: "validation_error" });
      expect(body.error.fields.map((f: { field: string }) => f.field)).toContain(field);
    }
  });
});

describe("GET /internal/audit-events: pagination", () => {
  it("pages newest first with no duplicates and no gaps, ties on the timestamp broken by id", async () => {
    const target = (await createUser()).id;
    const db = deps().db;
    // 25 events over 10 distinct instants: several share a timestamp.
    for (let i = 0; i < 25; i++) {
      await recordAudit(db, { type: "page.test", targetUserId: target, metadata: { i }, at: at(`2026-04-01T00:00:0${i % 10}.000Z`) });
    }
    const { pages, cursors } = await allPages({ userId: target, limit: 10 });
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(cursors[2]).toBeNull();
    expect(typeof cursors[0]).toBe("string");
    const all = pages.flat();
    expect(new Set(all.map((e) => e.id)).size).toBe(25);
    expect(all.map((e) => e.metadata.i).sort((a, b) => a - b)).toEqual([...Array(25).keys()]);
    // Order: created_at descending, then id descending.
    for (let k = 1; k < all.length; k++) {
      const [a, b] = [all[k - 1], all[k]];
      expect(a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id)).toBe(true);
    }
    // A single page of everything agrees with the pages.
    expect((await items({ userId: target, limit: 200 })).map((e) => e.id)).toEqual(all.map((e) => e.id));
  });

  it("keeps microsecond timestamps apart across pages", async () => {
    const target = (await createUser()).id;
    await deps().db.execute(sql`insert into auth_audit_logs (event_type, target_user_id, created_at) values
      ('micro.test', ${target}::uuid, '2026-05-01T00:00:00.123456Z'),
      ('micro.test', ${target}::uuid, '2026-05-01T00:00:00.123457Z'),
      ('micro.test', ${target}::uuid, '2026-05-01T00:00:00.123458Z'),
      ('micro.test', ${target}::uuid, '2026-05-01T00:00:00.123Z')`);
    const { pages } = await allPages({ userId: target, limit: 1 });
    const ids = pages.flat().map((e) => e.id);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
  });

  it("does not shift pages when new events arrive between requests", async () => {
    const target = (await createUser()).id;
    const db = deps().db;
    for (let i = 0; i < 6; i++) await recordAudit(db, { type: "shift.test", targetUserId: target, metadata: { i }, at: at(`2026-06-01T00:00:0${i}Z`) });
    const first = await json(await list({ userId: target, limit: 3 }));
    expect(first.data.items.map((e: any) => e.metadata.i)).toEqual([5, 4, 3]);
    await recordAudit(db, { type: "shift.test", targetUserId: target, metadata: { i: 6 }, at: at("2026-06-01T00:00:09Z") });
    const second = await json(await list({ userId: target, limit: 3, cursor: first.data.nextCursor }));
    expect(second.data.items.map((e: any) => e.metadata.i)).toEqual([2, 1, 0]);
    expect(second.data.nextCursor).toBeNull();
  });

  it("defaults to 50 per page", async () => {
    const target = (await createUser()).id;
    const values = Array.from({ length: 55 }, (_, i) => sql`('default.test', ${target}::uuid, ${new Date(Date.UTC(2026, 6, 1, 0, 0, i)).toISOString()}::timestamptz)`);
    await deps().db.execute(sql`insert into auth_audit_logs (event_type, target_user_id, created_at) values ${sql.join(values, sql`, `)}`);
    const body = await json(await list({ userId: target }));
    expect(body.data.items).toHaveLength(50);
    expect(typeof body.data.nextCursor).toBe("string");
    const rest = await json(await list({ userId: target, cursor: body.data.nextCursor }));
    expect(rest.data.items).toHaveLength(5);
    expect(rest.data.nextCursor).toBeNull();
  });

  it("shows the logins of this file's staff (real events, not only inserted ones)", async () => {
    const found = await items({ userId: admin.id, eventType: "login.success" });
    expect(found.length).toBeGreaterThanOrEqual(1);
    expect(found[0]).toMatchObject({ eventType: "login.success", targetUserId: admin.id });
  });
});
