// /internal/applications/{id}/service-accounts and their secrets: staff roles (moderator reads,
// admin and superadmin write), 404s for a missing application, account or secret, validation,
// secrets shown once and stored hashed, several live at once, and an audit event per change.
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "../../../src/crypto/random";
import { basic, createApplication, form } from "../../helpers/applications";
import { call, json } from "../../helpers/http";
import { auditEvents, bearer, createUser, deps, login } from "../../helpers/users";

let admin: Record<string, string>;
let moderator: Record<string, string>;
let plain: Record<string, string>;
let appId: string;

beforeAll(async () => {
  admin = bearer((await login(await createUser({ globalRole: "PLATFORM_ADMIN" }))).accessToken);
  moderator = bearer((await login(await createUser({ globalRole: "PLATFORM_MODERATOR" }))).accessToken);
  plain = bearer((await login(await createUser())).accessToken);
  appId = (await createApplication()).id;
});

const base = (app = appId) => `/internal/applications/${app}/service-accounts`;

describe("service accounts", () => {
  it("create, read, list, change and delete, each audited", async () => {
    const created = await call(base(), { json: { name: "billing", allowedScopes: ["bills:read", "bills:read", "bills:write"] }, headers: admin });
    expect(created.status).toBe(201);
    const account = (await json(created)).data;
    expect(account).toMatchObject({ applicationId: appId, name: "billing", allowedScopes: ["bills:read", "bills:write"], status: "active" });

    expect((await json(await call(`${base()}/${account.id}`, { headers: moderator }))).data).toEqual(account);
    const list = await json(await call(base(), { headers: moderator }));
    expect(list.data.serviceAccounts.map((a: any) => a.id)).toContain(account.id);

    const changed = await call(`${base()}/${account.id}`, { method: "PATCH", json: { name: "billing-2", status: "disabled" }, headers: admin });
    expect(changed.status).toBe(200);
    expect((await json(changed)).data).toMatchObject({ name: "billing-2", status: "disabled", allowedScopes: ["bills:read", "bills:write"] });

    expect((await call(`${base()}/${account.id}`, { method: "DELETE", headers: admin })).status).toBe(200);
    expect((await call(`${base()}/${account.id}`, { headers: admin })).status).toBe(404);

    const [c] = await auditEvents("service_account.created");
    expect(c.metadata).toMatchObject({ applicationId: appId, serviceAccountId: account.id });
    expect((await auditEvents("service_account.updated"))[0].metadata).toMatchObject({ changed: ["name", "status"], after: { status: "disabled" } });
    expect((await auditEvents("service_account.deleted"))[0].metadata).toMatchObject({ serviceAccountId: account.id });
  });

  it("secrets: shown once, stored as SHA-256, several live at once, optional expiry, deletable", async () => {
    const account = (await json(await call(base(), { json: { name: "rotating", allowedScopes: ["a"] }, headers: admin }))).data;
    const s1 = await call(`${base()}/${account.id}/secrets`, { json: {}, headers: admin });
    expect(s1.status).toBe(201);
    expect(s1.headers.get("cache-control")).toBe("no-store");
    const first = (await json(s1)).data;
    expect(first.secret).toMatch(/^sas_[A-Za-z0-9_-]{43}$/);
    expect(first.prefix).toBe(first.secret.slice(0, 12));
    expect(first.expiresAt).toBeNull();
    const expiry = new Date(Date.now() + 3_600_000).toISOString();
    const second = (await json(await call(`${base()}/${account.id}/secrets`, { json: { expiresAt: expiry }, headers: admin }))).data;
    expect(new Date(second.expiresAt).toISOString()).toBe(expiry);

    // Only the hash is stored.
    const stored = await deps().db.execute(sql`select secret_hash from service_account_secrets where id = ${first.id}::uuid`);
    expect((stored.rows[0] as any).secret_hash).toBe(await sha256(first.secret));
    const all = await deps().db.execute(sql`select * from service_account_secrets`);
    expect(JSON.stringify(all.rows)).not.toContain(first.secret);

    // Both work at once.
    for (const s of [first, second]) {
      const res = await call("/oauth/token", { method: "POST", ...form({ grant_type: "client_credentials" }, basic(account.id, s.secret)) });
      expect(res.status).toBe(200);
    }
    const listed = (await json(await call(`${base()}/${account.id}/secrets`, { headers: moderator }))).data.secrets;
    expect(listed.map((s: any) => s.id).sort()).toEqual([first.id, second.id].sort());
    for (const s of listed) {
      expect(s).not.toHaveProperty("secret");
      expect(s).not.toHaveProperty("secretHash");
    }

    expect((await call(`${base()}/${account.id}/secrets/${first.id}`, { method: "DELETE", headers: admin })).status).toBe(200);
    expect((await call(`${base()}/${account.id}/secrets/${first.id}`, { method: "DELETE", headers: admin })).status).toBe(404);
    expect((await auditEvents("service_account.secret_created")).length).toBe(2);
    const [deleted] = await auditEvents("service_account.secret_deleted");
    expect(deleted.metadata).toMatchObject({ secretId: first.id, serviceAccountId: account.id });
    expect(JSON.stringify(await auditEvents("service_account.secret_created"))).not.toContain(first.secret);
  });

  it("roles: a moderator reads but cannot write; a user without a platform role cannot read; no token is 401", async () => {
    const account = (await json(await call(base(), { json: { name: "r" }, headers: admin }))).data;
    expect((await call(base(), { headers: moderator })).status).toBe(200);
    expect((await call(`${base()}/${account.id}/secrets`, { headers: moderator })).status).toBe(200);
    for (const [method, path, body] of [
      ["POST", base(), { name: "x" }],
      ["PATCH", `${base()}/${account.id}`, { name: "x" }],
      ["DELETE", `${base()}/${account.id}`, undefined],
      ["POST", `${base()}/${account.id}/secrets`, {}],
    ] as const) {
      const res = await call(path, { method, json: body, headers: moderator });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect((await json(res)).error.code).toBe("forbidden");
    }
    expect((await call(base(), { headers: plain })).status).toBe(403);
    expect((await call(base())).status).toBe(401);
    const superadmin = bearer((await login(await createUser({ globalRole: "PLATFORM_SUPERADMIN" }))).accessToken);
    expect((await call(base(), { json: { name: "by-super" }, headers: superadmin })).status).toBe(201);
  });

  it("404: no such application, account (or one of another application), or secret", async () => {
    const missingApp = crypto.randomUUID();
    expect((await call(base(missingApp), { headers: admin })).status).toBe(404);
    expect((await call(base(missingApp), { json: { name: "x" }, headers: admin })).status).toBe(404);
    const account = (await json(await call(base(), { json: { name: "mine" }, headers: admin }))).data;
    const otherApp = (await createApplication()).id;
    expect((await call(`${base(otherApp)}/${account.id}`, { headers: admin })).status).toBe(404);
    expect((await call(`${base(otherApp)}/${account.id}`, { method: "PATCH", json: { name: "y" }, headers: admin })).status).toBe(404);
    expect((await call(`${base(otherApp)}/${account.id}/secrets`, { json: {}, headers: admin })).status).toBe(404);
    expect((await call(`${base(otherApp)}/${account.id}`, { method: "DELETE", headers: admin })).status).toBe(404);
    expect((await call(`${base()}/${account.id}/secrets/${crypto.randomUUID()}`, { method: "DELETE", headers: admin })).status).toBe(404);
    expect((await call(`${base()}/${crypto.randomUUID()}/secrets`, { headers: admin })).status).toBe(404);
  });

  it("validation: 400 naming the field", async () => {
    const cases: [string, string, unknown, string][] = [
      ["POST", base(), {}, "name"],
      ["POST", base(), { name: "" }, "name"],
      ["POST", base(), { name: "x", allowedScopes: ["has space"] }, "allowedScopes.0"],
      ["POST", base(), { name: "x", allowedScopes: 'a' }, "allowedScopes"],
      ["POST", base(), { name: "x", status: "gone" }, "status"],
      ["POST", base(), { name: "x", extra: 1 }, "extra"],
      ["GET", "/internal/applications/not-a-uuid/service-accounts", undefined, "id"],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await call(path, { method, json: body, headers: admin });
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      const e = (await json(res)).error;
      expect(e.code).toBe("validation_error");
      expect(e.fields.map((f: any) => f.field)).toContain(field);
    }
    const account = (await json(await call(base(), { json: { name: "v" }, headers: admin }))).data;
    const empty = await call(`${base()}/${account.id}`, { method: "PATCH", json: {}, headers: admin });
    expect(empty.status).toBe(400);
    const past = await call(`${base()}/${account.id}/secrets`, { json: { expiresAt: "2001-01-01T00:00:00Z" }, headers: admin });
    expect(past.status).toBe(400);
    expect((await json(past)).error.fields[0].field).toBe("expiresAt");
    const garbled = await call(`${base()}/${account.id}/secrets`, { json: { expiresAt: "tomorrow" }, headers: admin });
    expect(garbled.status).toBe(400);
  });
});
