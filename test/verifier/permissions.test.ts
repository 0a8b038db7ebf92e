// edge-auth/verifier's organization permissions against the running service: requirePermission
// ("invoices:read") passes an org-scoped token whose org_permissions hold it, and refuses (403
// insufficient_permission) tokens without it, tokens of no organization, another organization when
// pinned, and org_permissions without org_id (never honoured), even when correctly signed. The
// source is imported; the compiled package, by its name, is test/node/verifier-node.test.ts.
import { Hono } from "hono";
import { importPKCS8, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createVerifier, hasPermission, VerifierError, type Verifier } from "../../src/verifier/index";
import { requirePermission, type AuthEnv } from "../../src/verifier/hono";
import { applicationWithKey, resetAdmin } from "../helpers/app-registry";
import { BASE, call, json, testKeys, workerFetch } from "../helpers/http";
import { createOrganization, defineRole, member, setRoles } from "../helpers/organizations";
import { bearer, createUser } from "../helpers/users";

const AUDIENCE = "https://invoices.example";
let key: string;
let verifier: Verifier;
let api: Hono<AuthEnv>;

beforeAll(async () => {
  resetAdmin();
  key = (await applicationWithKey({ audience: AUDIENCE, settings: { permissions: ["invoices:read"] } })).key;
  verifier = createVerifier({ issuer: "https://auth.test", audience: AUDIENCE, jwksUrl: `${BASE}/.well-known/jwks.json`, fetch: (u, i) => workerFetch(u, i) });
  // A downstream invoices API.
  api = new Hono<AuthEnv>().get("/invoices", requirePermission(verifier, "invoices:read"), (c) => c.json({ org: c.get("auth").organization!.id }));
});

async function appToken(u: { email: string; password: string }): Promise<string> {
  const res = await call("/auth/login", { json: { email: u.email, password: u.password }, headers: { "x-api-key": key } });
  return (await json(res)).data.accessToken;
}

async function orgTokenUnderApp(u: { email: string; password: string }, orgId: string): Promise<string> {
  const res = await call(`/auth/organizations/${orgId}/token`, { method: "POST", headers: bearer(await appToken(u)) });
  expect(res.status).toBe(200);
  return (await json(res)).data.accessToken;
}

const invoices = (token: string) => api.request("/invoices", { headers: bearer(token) });

describe("requirePermission", () => {
  it("passes an org-scoped token holding the permission; refuses one without it, and a token of no organization", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    await defineRole(owner, org.id, { key: "billing", permissions: ["invoices:read"] });
    const clerk = await createUser();
    await setRoles(org.id, clerk.id, ["billing"]);
    const viewer = await createUser();
    await setRoles(org.id, viewer.id, ["viewer"]);

    const ok = await invoices(await orgTokenUnderApp(clerk, org.id));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ org: org.id });
    expect((await invoices(await orgTokenUnderApp(owner.user, org.id))).status).toBe(200);

    for (const token of [await orgTokenUnderApp(viewer, org.id), await appToken(clerk)]) {
      const res = await invoices(token);
      expect(res.status).toBe(403);
      expect(((await res.json()) as any).error.code).toBe("insufficient_permission");
      expect(res.headers.get("www-authenticate")).toContain("insufficient_scope");
    }
  });

  it("pins the organization when asked", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const token = await orgTokenUnderApp(owner.user, org.id);
    const verified = await verifier.verify(token, { requiredPermissions: ["invoices:read"], organizationId: org.id });
    expect(hasPermission(verified, "invoices:read", org.id)).toBe(true);
    const err = await verifier.verify(token, { requiredPermissions: ["invoices:read"], organizationId: crypto.randomUUID() }).catch((e) => e);
    expect(err).toBeInstanceOf(VerifierError);
    expect((err as VerifierError).code).toBe("insufficient_permission");
    expect((err as VerifierError).status).toBe(403);
  });

  it("never honours org_permissions without org_id, even on a correctly signed token", async () => {
    const signingKey = await importPKCS8(testKeys().pkcs8, "RS256");
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sid: crypto.randomUUID(), email: "x@example.com", globalRole: "NONE", tv: 0, org_permissions: ["invoices:read"], org_roles: ["owner"] })
      .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: "test-key-1" })
      .setIssuer("https://auth.test")
      .setAudience(AUDIENCE)
      .setSubject(crypto.randomUUID())
      .setJti(crypto.randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(signingKey);
    const verified = await verifier.verify(forged);
    expect(verified.organization).toBeUndefined();
    expect(hasPermission(verified, "invoices:read")).toBe(false);
    const res = await invoices(forged);
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).error.code).toBe("insufficient_permission");
  });
});
