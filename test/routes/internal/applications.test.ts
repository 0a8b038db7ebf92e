// /internal/applications: the registry for platform staff, its validation, its role rules, the
// built-in platform application, and API keys (shown once, stored hashed, revocable).
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "../../../src/crypto/random";
import { PLATFORM_APPLICATION_ID } from "../../../src/db/schema";
import { admin, createApiKey, registerApplication, resetAdmin } from "../../helpers/app-registry";
import { call, json } from "../../helpers/http";
import { auditEvents, bearer, createUser, deps, login } from "../../helpers/users";

beforeAll(() => resetAdmin());

const asAdmin = async (path: string, opts: { method?: string; json?: unknown } = {}) =>
  call(path, { ...opts, headers: bearer((await admin()).accessToken) });

describe("the application registry", () => {
  it("lists the built-in platform application first, created by migration", async () => {
    const res = await asAdmin("/internal/applications");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const [platform] = (await json(res)).data;
    expect(platform).toMatchObject({ id: PLATFORM_APPLICATION_ID, slug: "platform", builtin: true, status: "active", audience: null });
  });

  it("creates an application with defaults, reads it back with its keys, and audits the change", async () => {
    const res = await asAdmin("/internal/applications", {
      json: {
        name: "Acme dashboard",
        slug: "acme-dashboard",
        type: "spa",
        allowedOrigins: ["https://dash.acme.test", "http://localhost:5173"],
        redirectUris: ["https://dash.acme.test/callback", "http://127.0.0.1:8080/cb"],
        audience: "https://api.acme.test",
        settings: { branding: { displayName: "Acme", primaryColor: "#112233" } },
      },
    });
    expect(res.status).toBe(201);
    const created = (await json(res)).data;
    expect(created).toMatchObject({
      slug: "acme-dashboard",
      type: "spa",
      status: "active",
      builtin: false,
      postLogoutRedirectUris: [],
      allowedAudiences: [],
      audience: "https://api.acme.test",
    });
    const read = await json(await asAdmin(`/internal/applications/${created.id}`));
    expect(read.data).toMatchObject({ id: created.id, apiKeys: [], allowedOrigins: ["https://dash.acme.test", "http://localhost:5173"] });
    const events = await auditEvents("application.created");
    expect(events.at(-1)!.metadata).toMatchObject({ applicationId: created.id, slug: "acme-dashboard" });
  });

  it("refuses bad input with 400 naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ allowedOrigins: ["https://app.test/path"] }, "allowedOrigins.0"],
      [{ allowedOrigins: ["http://app.test"] }, "allowedOrigins.0"],
      [{ allowedOrigins: ["https://a.test", "https://a.test"] }, "allowedOrigins"],
      [{ redirectUris: ["http://app.test/cb"] }, "redirectUris.0"],
      [{ redirectUris: ["https://app.test/cb#frag"] }, "redirectUris.0"],
      [{ redirectUris: ["https://*.app.test/cb"] }, "redirectUris.0"],
      [{ redirectUris: ["/relative"] }, "redirectUris.0"],
      [{ redirectUris: ["https://user:pw@app.test/cb"] }, "redirectUris.0"],
      [{ postLogoutRedirectUris: ["ftp://app.test/"] }, "postLogoutRedirectUris.0"],
      [{ settings: { unknownSection: true } }, "settings.unknownSection"],
      [{ settings: { branding: { primaryColor: "red" } } }, "settings.branding.primaryColor"],
      [{ type: "desktop" }, "type"],
      [{ slug: "Not A Slug" }, "slug"],
      [{ extra: 1 }, "extra"],
    ];
    for (const [fields, field] of cases) {
      const res = await asAdmin("/internal/applications", { json: { name: "X", slug: "bad-input", type: "web", ...fields } });
      expect(res.status, JSON.stringify(fields)).toBe(400);
      const body = await json(res);
      expect(body.error.code).toBe("validation_error");
      expect(body.error.fields.map((f: { field: string }) => f.field), JSON.stringify(fields)).toContain(field);
    }
    const missing = await json(await asAdmin("/internal/applications", { json: { name: "X" } }));
    expect(missing.error.fields.map((f: { field: string }) => f.field).sort()).toEqual(["slug", "type"]);
  });

  it("keeps slugs unique (409 slug_taken on create and on change)", async () => {
    const a = await registerApplication({ slug: "unique-one" });
    const dup = await asAdmin("/internal/applications", { json: { name: "Y", slug: "unique-one", type: "web" } });
    expect(dup.status).toBe(409);
    expect((await json(dup)).error.code).toBe("slug_taken");
    const b = await registerApplication({ slug: "unique-two" });
    const clash = await asAdmin(`/internal/applications/${b.id}`, { method: "PATCH", json: { slug: "unique-one" } });
    expect(clash.status).toBe(409);
    expect((await json(clash)).error.code).toBe("slug_taken");
    expect((await json(await asAdmin(`/internal/applications/${a.id}`))).data.slug).toBe("unique-one");
  });

  it("changes only the fields sent, and DELETE disables (the application stays readable)", async () => {
    const app = await registerApplication({ allowedOrigins: ["https://keep.test"] });
    const patched = await json(await asAdmin(`/internal/applications/${app.id}`, { method: "PATCH", json: { name: "Renamed" } }));
    expect(patched.data).toMatchObject({ name: "Renamed", allowedOrigins: ["https://keep.test"], status: "active" });
    expect((await auditEvents("application.updated")).filter((e) => e.metadata.applicationId === app.id)).toHaveLength(1);
    const deleted = await asAdmin(`/internal/applications/${app.id}`, { method: "DELETE" });
    expect(deleted.status).toBe(200);
    expect((await json(deleted)).data.status).toBe("disabled");
    expect((await json(await asAdmin(`/internal/applications/${app.id}`))).data.status).toBe("disabled");
    expect((await auditEvents("application.disabled")).at(-1)!.metadata.applicationId).toBe(app.id);
  });

  it("the platform application cannot be disabled, deleted, re-slugged or given another audience or origins", async () => {
    const url = `/internal/applications/${PLATFORM_APPLICATION_ID}`;
    for (const change of [{ status: "disabled" }, { slug: "other" }, { audience: "x" }, { allowedOrigins: ["https://x.test"] }, { type: "spa" }]) {
      const res = await asAdmin(url, { method: "PATCH", json: change });
      expect(res.status, JSON.stringify(change)).toBe(409);
      expect((await json(res)).error.code).toBe("builtin_application");
    }
    const del = await asAdmin(url, { method: "DELETE" });
    expect(del.status).toBe(409);
    const renamed = await asAdmin(url, { method: "PATCH", json: { name: "Platform (renamed)" } });
    expect(renamed.status).toBe(200);
    expect((await json(await asAdmin(url))).data).toMatchObject({ status: "active", slug: "platform" });
  });

  it("404 for an unknown application, 400 for a malformed id", async () => {
    expect((await asAdmin("/internal/applications/0b9f8a8e-1c1e-4a47-9d3b-4a8d1f2f5e10")).status).toBe(404);
    expect((await asAdmin("/internal/applications/0b9f8a8e-1c1e-4a47-9d3b-4a8d1f2f5e10", { method: "PATCH", json: { name: "x" } })).status).toBe(404);
    expect((await asAdmin("/internal/applications/0b9f8a8e-1c1e-4a47-9d3b-4a8d1f2f5e10/api-keys", { json: {} })).status).toBe(404);
    expect((await asAdmin("/internal/applications/not-a-uuid")).status).toBe(400);
  });
});

describe("role rules", () => {
  it("moderators read but do not write; users without a platform role do neither; no token is 401", async () => {
    const moderator = await login(await createUser({ globalRole: "PLATFORM_MODERATOR" }), { "cf-connecting-ip": "10.250.0.2" });
    const nobody = await login(await createUser(), { "cf-connecting-ip": "10.250.0.3" });
    const app = await registerApplication();
    expect((await call("/internal/applications", { headers: bearer(moderator.accessToken) })).status).toBe(200);
    expect((await call(`/internal/applications/${app.id}`, { headers: bearer(moderator.accessToken) })).status).toBe(200);
    for (const [path, method, body] of [
      ["/internal/applications", "POST", { name: "M", slug: "by-moderator", type: "web" }],
      [`/internal/applications/${app.id}`, "PATCH", { name: "M" }],
      [`/internal/applications/${app.id}`, "DELETE", undefined],
      [`/internal/applications/${app.id}/api-keys`, "POST", {}],
    ] as const) {
      const res = await call(path, { method, json: body, headers: bearer(moderator.accessToken) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect((await json(res)).error.code).toBe("forbidden");
    }
    expect((await call("/internal/applications", { headers: bearer(nobody.accessToken) })).status).toBe(403);
    expect((await call("/internal/applications")).status).toBe(401);
  });
});

describe("API keys", () => {
  it("shows a key once, stores only its hash and prefix, and lists keys without the secret", async () => {
    const app = await registerApplication();
    const { key, apiKey } = await createApiKey(app.id);
    expect(key).toMatch(/^eak_[A-Za-z0-9_-]{43}$/);
    expect(apiKey.prefix).toBe(key.slice(0, 12));
    const stored = await deps().db.execute(sql`select key_hash, prefix from application_api_keys where id = ${apiKey.id}::uuid`);
    expect(stored.rows[0]).toEqual({ key_hash: await sha256(key), prefix: key.slice(0, 12) });
    const read = await json(await asAdmin(`/internal/applications/${app.id}`));
    expect(read.data.apiKeys).toHaveLength(1);
    expect(JSON.stringify(read)).not.toContain(key);
    expect((await auditEvents("application.api_key_created")).at(-1)!.metadata).toMatchObject({ applicationId: app.id, apiKeyId: apiKey.id });
  });

  it("older keys stay valid while a new one is added; a revoked key stops at once", async () => {
    const app = await registerApplication();
    const first = await createApiKey(app.id);
    const second = await createApiKey(app.id);
    const probe = (key: string) => call("/auth/password-reset/request", { json: { email: "nobody@example.com" }, headers: { "x-api-key": key } });
    expect((await probe(first.key)).status).toBe(200);
    expect((await probe(second.key)).status).toBe(200);

    const revoked = await asAdmin(`/internal/applications/${app.id}/api-keys/${first.apiKey.id}`, { method: "DELETE" });
    expect(revoked.status).toBe(200);
    expect((await json(revoked)).data.revokedAt).not.toBeNull();
    const refused = await probe(first.key);
    expect(refused.status).toBe(401);
    expect((await json(refused)).error.code).toBe("invalid_api_key");
    expect((await probe(second.key)).status).toBe(200);
    expect((await auditEvents("application.api_key_revoked")).filter((e) => e.metadata.apiKeyId === first.apiKey.id)).toHaveLength(1);
    // A used key shows when it was last used (written after the answer); an unused one shows null.
    const keys = async () => (await json(await asAdmin(`/internal/applications/${app.id}`))).data.apiKeys as { id: string; lastUsedAt: string | null }[];
    let used: string | null = null;
    for (let i = 0; i < 100 && !used; i++) {
      used = (await keys()).find((k) => k.id === second.apiKey.id)!.lastUsedAt;
      if (!used) await new Promise((r) => setTimeout(r, 20));
    }
    expect(used).not.toBeNull();
    const third = await createApiKey(app.id);
    expect((await keys()).find((k) => k.id === third.apiKey.id)!.lastUsedAt).toBeNull();
    // A key of another application, or an unknown key id: 404.
    const other = await registerApplication();
    expect((await asAdmin(`/internal/applications/${other.id}/api-keys/${second.apiKey.id}`, { method: "DELETE" })).status).toBe(404);
  });
});
