// Organization-scoped access tokens: the caller's session with org claims, permissions as the
// roles grant them under the token's application, organization permissions never without org_id,
// and death at once after the member is removed (also with Redis down), or with the session.
import { beforeAll, describe, expect, it } from "vitest";
import { applicationWithKey, resetAdmin } from "../../helpers/app-registry";
import { call, json } from "../../helpers/http";
import { claimsOf, createOrganization, defineRole, member, memberWith, orgToken, setRoles } from "../../helpers/organizations";
import { withFault } from "../../helpers/stack";
import { basic, createServiceAccount, form } from "../../helpers/applications";
import { PLATFORM_APPLICATION_ID } from "../../../src/db/schema";
import { bearer, createUser, deps } from "../../helpers/users";

let key: string;
let appId: string;

beforeAll(async () => {
  resetAdmin();
  const registered = await applicationWithKey({ settings: { permissions: ["invoices:read", "invoices:write"] }, audience: "https://invoices.example" });
  key = registered.key;
  appId = registered.app.id;
});

describe("POST /auth/organizations/{orgId}/token", () => {
  it("carries the caller's session, client_id and audience plus org_id, org_slug, org_roles and org_permissions; no-store", async () => {
    const owner = await member();
    const org = await createOrganization(owner, { slug: `acme-${Date.now().toString(36)}` });
    const m = await memberWith(org.id, ["member"]);
    const res = await orgToken(m, org.id);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toContain("no-store");
    const { data } = await json(res);
    const claims = claimsOf(data.accessToken);
    const plain = claimsOf(m.session.accessToken);
    expect(claims).toMatchObject({
      sub: m.user.id,
      sid: plain.sid,
      client_id: plain.client_id,
      aud: plain.aud,
      org_id: org.id,
      org_slug: org.slug,
      org_roles: ["member"],
      org_permissions: ["invitations:read", "members:read", "org:read", "roles:read"],
    });
    expect(claims.jti).not.toBe(plain.jti);
    expect(data.organization).toMatchObject({ id: org.id, roles: ["member"] });
    // A token without org_id carries no organization permissions.
    for (const k of ["org_id", "org_roles", "org_permissions"]) expect(plain[k]).toBeUndefined();
    // It is a Bearer token of this service like the session's own.
    expect((await call(`/auth/organizations/${org.id}`, { headers: bearer(data.accessToken) })).status).toBe(200);
    expect((await call("/auth/me", { headers: bearer(data.accessToken) })).status).toBe(200);
  });

  it("under an application: its audience, and the permissions it declares as the roles grant them (owner: all)", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    await defineRole(owner, org.id, { key: "billing", permissions: ["invoices:read", "members:read"] });
    const clerkUser = await createUser();
    await setRoles(org.id, clerkUser.id, ["billing"]);
    const appSession = async (u: { email: string; password: string }) => {
      const res = await call("/auth/login", { json: { email: u.email, password: u.password }, headers: { "x-api-key": key } });
      return (await json(res)).data.accessToken as string;
    };
    const clerk = await call(`/auth/organizations/${org.id}/token`, { method: "POST", headers: bearer(await appSession(clerkUser)) });
    expect(clerk.status).toBe(200);
    const clerkClaims = claimsOf((await json(clerk)).data.accessToken);
    expect(clerkClaims).toMatchObject({ aud: "https://invoices.example", client_id: appId, org_roles: ["billing"], org_permissions: ["invoices:read", "members:read"] });
    const own = await call(`/auth/organizations/${org.id}/token`, { method: "POST", headers: bearer(await appSession(owner.user)) });
    expect(claimsOf((await json(own)).data.accessToken).org_permissions).toEqual([
      "invitations:read",
      "invitations:write",
      "invoices:read",
      "invoices:write",
      "members:read",
      "members:write",
      "org:read",
      "org:write",
      "roles:read",
      "roles:write",
    ]);
  });

  it("a non-member gets 404 and no token", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const stranger = await member();
    const res = await orgToken(stranger, org.id);
    expect(res.status).toBe(404);
    expect((await json(res)).data).toBeUndefined();
  });

  it("dies at once when the member is removed: this service's Bearer checks refuse it, and refresh scope is gone", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const m = await memberWith(org.id, ["admin"]);
    const token = (await json(await orgToken(m, org.id))).data.accessToken;
    // While a member, a refresh of the session keeps the organization (and that token is recorded too).
    const refreshed = (await json(await call("/auth/refresh", { json: { refreshToken: m.session.refreshToken } }))).data;
    expect(claimsOf(refreshed.accessToken)).toMatchObject({ org_id: org.id, org_slug: org.slug, org_roles: ["admin"] });
    expect(claimsOf(refreshed.accessToken).org_permissions).toContain("members:write");

    expect((await call(`/auth/organizations/${org.id}/members/${m.user.id}`, { method: "DELETE", headers: owner.headers })).status).toBe(200);
    for (const t of [token, refreshed.accessToken]) {
      for (const path of ["/auth/me", `/auth/organizations/${org.id}`]) {
        const res = await call(path, { headers: bearer(t) });
        expect(res.status).toBe(401);
        expect((await json(res)).error.code).toBe("token_revoked");
      }
    }
    // The session itself lives on, unscoped: the next refresh carries no organization, and its token works.
    const after = await call("/auth/refresh", { json: { refreshToken: refreshed.refreshToken } });
    expect(after.status).toBe(200);
    const plain = (await json(after)).data.accessToken;
    expect(claimsOf(plain).org_id).toBeUndefined();
    expect(claimsOf(plain).org_permissions).toBeUndefined();
    expect((await call("/auth/me", { headers: bearer(plain) })).status).toBe(200);
  });

  it("after the removal, introspection answers active: false and ValidateToken valid: false for it", async () => {
    const introspector = await createServiceAccount(PLATFORM_APPLICATION_ID, { name: "org-introspector" });
    const owner = await member();
    const org = await createOrganization(owner);
    const m = await memberWith(org.id, ["member"]);
    const token = (await json(await orgToken(m, org.id))).data.accessToken;
    const introspect = async () => (await json(await call("/oauth/introspect", { method: "POST", ...form({ token }, basic(introspector.id, introspector.secret)) }))).active;
    const validate = async () => (await json(await call("/auth.v1.TokenService/ValidateToken", { json: { accessToken: token }, headers: basic(introspector.id, introspector.secret) }))).valid;
    expect(await introspect()).toBe(true);
    expect(await validate()).toBe(true);
    expect((await call(`/auth/organizations/${org.id}/members/${m.user.id}`, { method: "DELETE", headers: owner.headers })).status).toBe(200);
    expect(await introspect()).toBe(false);
    expect(await validate()).toBe(false);
  });

  it("dies when its organization is deleted", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const m = await memberWith(org.id, ["member"]);
    const token = (await json(await orgToken(m, org.id))).data.accessToken;
    expect((await call("/auth/me", { headers: bearer(token) })).status).toBe(200);
    expect((await call(`/auth/organizations/${org.id}`, { method: "DELETE", headers: owner.headers })).status).toBe(200);
    const res = await call("/auth/me", { headers: bearer(token) });
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("token_revoked");
  });

  it("with Redis down at removal, Postgres still refuses the token on routes that check it", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const m = await memberWith(org.id, ["member"]);
    const token = (await json(await orgToken(m, org.id))).data.accessToken;
    await withFault("redis", { mode: "down" }, async () => {
      expect((await call(`/auth/organizations/${org.id}/members/${m.user.id}`, { method: "DELETE", headers: owner.headers })).status).toBe(200);
    });
    const res = await call("/auth/organizations", { headers: bearer(token) });
    expect(res.status).toBe(401);
  });

  it("dies with its session (logout)", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const token = (await json(await orgToken(owner, org.id))).data.accessToken;
    expect((await call("/auth/logout", { json: { refreshToken: owner.session.refreshToken } })).status).toBe(200);
    expect((await call(`/auth/organizations/${org.id}`, { headers: bearer(token) })).status).toBe(401);
  });

  it("a member whose roles change keeps the scope on refresh, with the new roles", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const m = await memberWith(org.id, ["viewer"]);
    const token = (await json(await orgToken(m, org.id))).data.accessToken;
    expect(claimsOf(token).org_roles).toEqual(["viewer"]);
    await setRoles(org.id, m.user.id, ["member"]);
    const res = await call("/auth/refresh", { json: { refreshToken: m.session.refreshToken } });
    expect(res.status).toBe(200);
    expect(claimsOf((await json(res)).data.accessToken)).toMatchObject({ org_id: org.id, org_roles: ["member"] });
  });
});
