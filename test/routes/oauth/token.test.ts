// POST /oauth/token, grant_type=client_credentials (RFC 6749 section 4.4): client authentication
// by Basic or in the body (never both), scopes and audiences, the token's claims, RFC-shaped
// errors with no-store, refusals of expired, deleted and disabled credentials, and the failure limit.
import { decodeJwt, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { PLATFORM_APPLICATION_ID } from "../../../src/db/schema";
import {
  addSecret,
  adminAuth,
  basic,
  createApplication,
  createServiceAccount,
  form,
  freshIp,
  setApplicationStatus,
} from "../../helpers/applications";
import { call, callWithEnv, json } from "../../helpers/http";
import { auditEvents } from "../../helpers/users";

const tokenRequest = (params: Record<string, string>, headers: Record<string, string> = {}) =>
  call("/oauth/token", { method: "POST", ...form(params, { "cf-connecting-ip": freshIp(), ...headers }) });

async function expectInvalidClient(res: Response): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toMatch(/^Basic/);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(await json(res)).toEqual({ error: "invalid_client", error_description: "client authentication failed" });
}

describe("client_credentials", () => {
  it("issues an RS256 at+jwt with the service claims, by Basic, form-encoded", async () => {
    const app = await createApplication({ audience: "https://orders.example" });
    const sa = await createServiceAccount(app.id, { allowedScopes: ["orders:read", "orders:write"] });
    const res = await tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, sa.secret));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await json(res);
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "orders:read orders:write" });
    expect(decodeProtectedHeader(body.access_token)).toEqual({ alg: "RS256", typ: "at+jwt", kid: "test-key-1" });
    const claims = decodeJwt(body.access_token);
    expect(claims).toMatchObject({
      iss: "https://auth.test",
      aud: "https://orders.example",
      sub: sa.id,
      client_id: app.id,
      scope: "orders:read orders:write",
      token_use: "service",
      secret_id: sa.secretId,
    });
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(claims.nbf).toBe(claims.iat);
    expect(typeof claims.jti).toBe("string");
    // Audited after the response, with last_used_at.
    await expect.poll(async () => (await auditEvents("oauth.token_issued")).length).toBe(1);
    const [event] = await auditEvents("oauth.token_issued");
    expect(event.metadata).toMatchObject({ serviceAccountId: sa.id, applicationId: app.id, jti: claims.jti, authMethod: "client_secret_basic" });
    const secrets = await json(await call(`/internal/applications/${app.id}/service-accounts/${sa.id}/secrets`, { headers: await adminAuth() }));
    await expect.poll(async () => (await json(await call(`/internal/applications/${app.id}/service-accounts/${sa.id}/secrets`, { headers: await adminAuth() }))).data.secrets[0].lastUsedAt).not.toBeNull();
    expect(secrets.data.secrets[0]).not.toHaveProperty("secret");
  });

  it("accepts client_secret_post, and JSON bodies", async () => {
    const app = await createApplication();
    const sa = await createServiceAccount(app.id);
    const post = await tokenRequest({ grant_type: "client_credentials", client_id: sa.id, client_secret: sa.secret });
    expect(post.status).toBe(200);
    const viaJson = await call("/oauth/token", { json: { grant_type: "client_credentials", client_id: sa.id, client_secret: sa.secret } });
    expect(viaJson.status).toBe(200);
    // No application audience: JWT_AUDIENCE.
    expect(decodeJwt((await json(viaJson)).access_token).aud).toBe("test-apps");
  });

  it("lives SERVICE_TOKEN_TTL when it is set", async () => {
    const app = await createApplication();
    const sa = await createServiceAccount(app.id);
    const res = await callWithEnv({ SERVICE_TOKEN_TTL: "10m" }, "/oauth/token", { method: "POST", ...form({ grant_type: "client_credentials" }, basic(sa.id, sa.secret)) });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.expires_in).toBe(600);
    const claims = decodeJwt(body.access_token);
    expect(claims.exp! - claims.iat!).toBe(600);
  });

  it("refuses Basic and body credentials together: 400 invalid_request", async () => {
    const app = await createApplication();
    const sa = await createServiceAccount(app.id);
    const res = await tokenRequest({ grant_type: "client_credentials", client_id: sa.id, client_secret: sa.secret }, basic(sa.id, sa.secret));
    expect(res.status).toBe(400);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect((await json(res)).error).toBe("invalid_request");
  });

  it("answers a wrong secret and an unknown client id alike: 401 invalid_client, audited", async () => {
    const app = await createApplication();
    const sa = await createServiceAccount(app.id);
    await expectInvalidClient(await tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, `${sa.secret}x`)));
    await expectInvalidClient(await tokenRequest({ grant_type: "client_credentials" }, basic(crypto.randomUUID(), sa.secret)));
    await expectInvalidClient(await tokenRequest({ grant_type: "client_credentials", client_id: "not-a-uuid", client_secret: "x" }));
    await expectInvalidClient(await tokenRequest({ grant_type: "client_credentials" }));
    await expectInvalidClient(await tokenRequest({ grant_type: "client_credentials" }, { authorization: "Basic !!!" }));
    const failed = await auditEvents("oauth.client_auth_failed");
    // No credentials, or a Basic header that does not decode, fail client authentication too.
    expect(failed.map((e) => e.metadata.reason)).toEqual(["wrong_secret", "unknown_client", "unknown_client", "missing_or_malformed", "missing_or_malformed"]);
  });

  it("refuses an expired secret, a deleted secret, a disabled account and a disabled application", async () => {
    const app = await createApplication();
    const sa = await createServiceAccount(app.id);
    const headers = await adminAuth();
    const base = `/internal/applications/${app.id}/service-accounts/${sa.id}`;

    // Expired: a secret made to expire in a second.
    const shortLived = await addSecret(app.id, sa.id, { expiresAt: new Date(Date.now() + 1000).toISOString() });
    expect((await tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, shortLived.secret))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    await expectInvalidClient(await tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, shortLived.secret)));

    // Deleted: the second secret keeps working (rotation), the deleted one does not.
    const second = await addSecret(app.id, sa.id);
    expect((await call(`${base}/secrets/${sa.secretId}`, { method: "DELETE", headers })).status).toBe(200);
    await expectInvalidClient(await tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, sa.secret)));
    expect((await tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, second.secret))).status).toBe(200);

    // Disabled account, then enabled again.
    expect((await call(base, { method: "PATCH", json: { status: "disabled" }, headers })).status).toBe(200);
    await expectInvalidClient(await tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, second.secret)));
    expect((await call(base, { method: "PATCH", json: { status: "active" }, headers })).status).toBe(200);
    expect((await tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, second.secret))).status).toBe(200);

    // Disabled application.
    await setApplicationStatus(app.id, "disabled");
    await expectInvalidClient(await tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, second.secret)));
  });

  it("scope: a subset is granted, none means all, one outside the allowed set is 400 invalid_scope", async () => {
    const app = await createApplication();
    const sa = await createServiceAccount(app.id, { allowedScopes: ["a:read", "a:write", "b:read"] });
    const subset = await json(await tokenRequest({ grant_type: "client_credentials", scope: "b:read a:read" }, basic(sa.id, sa.secret)));
    expect(subset.scope).toBe("b:read a:read");
    expect(decodeJwt(subset.access_token).scope).toBe("b:read a:read");
    const all = await json(await tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, sa.secret)));
    expect(all.scope).toBe("a:read a:write b:read");
    const outside = await tokenRequest({ grant_type: "client_credentials", scope: "a:read admin" }, basic(sa.id, sa.secret));
    expect(outside.status).toBe(400);
    expect(outside.headers.get("cache-control")).toBe("no-store");
    expect(await json(outside)).toEqual({ error: "invalid_scope", error_description: "scope not allowed for this client: admin" });
  });

  it("audience: the application's own or an allowed one; any other is 400 invalid_target", async () => {
    const app = await createApplication({ audience: "https://api.example", allowedAudiences: ["https://reports.example"] });
    const sa = await createServiceAccount(app.id);
    const allowed = await json(await tokenRequest({ grant_type: "client_credentials", audience: "https://reports.example" }, basic(sa.id, sa.secret)));
    expect(decodeJwt(allowed.access_token).aud).toBe("https://reports.example");
    const own = await json(await tokenRequest({ grant_type: "client_credentials", audience: "https://api.example" }, basic(sa.id, sa.secret)));
    expect(decodeJwt(own.access_token).aud).toBe("https://api.example");
    const other = await tokenRequest({ grant_type: "client_credentials", audience: "https://evil.example" }, basic(sa.id, sa.secret));
    expect(other.status).toBe(400);
    expect((await json(other)).error).toBe("invalid_target");
  });

  it("bad input: RFC errors naming the parameter, never the envelope", async () => {
    const app = await createApplication();
    const sa = await createServiceAccount(app.id);
    const missing = await tokenRequest({}, basic(sa.id, sa.secret));
    expect(missing.status).toBe(400);
    const m = await json(missing);
    expect(m.error).toBe("invalid_request");
    expect(m.error_description).toContain("grant_type");

    const unsupported = await tokenRequest({ grant_type: "password" }, basic(sa.id, sa.secret));
    expect(unsupported.status).toBe(400);
    expect((await json(unsupported)).error).toBe("unsupported_grant_type");

    const badScope = await tokenRequest({ grant_type: "client_credentials", scope: 'a "b' }, basic(sa.id, sa.secret));
    expect(badScope.status).toBe(400);
    expect((await json(badScope)).error_description).toContain("scope");

    const malformed = await call("/oauth/token", { method: "POST", body: "{not json", headers: { "content-type": "application/json", ...basic(sa.id, sa.secret) } });
    expect(malformed.status).toBe(400);
    expect((await json(malformed)).error).toBe("invalid_request");

    const text = await call("/oauth/token", { method: "POST", body: "grant_type=client_credentials", headers: { "content-type": "text/plain", ...basic(sa.id, sa.secret) } });
    expect(text.status).toBe(400);
    expect((await json(text)).error).toBe("invalid_request");

    const oversize = await call("/oauth/token", { method: "POST", ...form({ grant_type: "client_credentials", scope: "a".repeat(20_000) }, basic(sa.id, sa.secret)) });
    expect(oversize.status).toBe(413);

    const repeated = await call("/oauth/token", { method: "POST", body: "grant_type=client_credentials&grant_type=client_credentials", headers: { "content-type": "application/x-www-form-urlencoded", ...basic(sa.id, sa.secret) } });
    expect(repeated.status).toBe(400);
    expect((await json(repeated)).error_description).toContain("grant_type");
  });

  it("failed client authentications are limited per client id and per IP (429, Retry-After, RFC body)", async () => {
    const app = await createApplication();
    const sa = await createServiceAccount(app.id);
    const env = { RATE_LIMIT_CLIENT_AUTH_FAILURES_PER_CLIENT: "3/1m", RATE_LIMIT_CLIENT_AUTH_FAILURES_PER_IP: "5/1m" };
    const send = (secret: string, ip: string, id = sa.id) =>
      callWithEnv(env, "/oauth/token", { method: "POST", ...form({ grant_type: "client_credentials" }, { ...basic(id, secret), "cf-connecting-ip": ip }) });
    // A correct secret is not counted.
    for (let i = 0; i < 4; i++) expect((await send(sa.secret, "192.0.2.50")).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await send("wrong", `192.0.2.${60 + i}`)).status).toBe(401);
    // Per client id: even the right secret, from a fresh IP, waits now.
    const limited = await send(sa.secret, "192.0.2.70");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(limited.headers.get("cache-control")).toBe("no-store");
    expect((await json(limited)).error).toBe("temporarily_unavailable");

    // Per IP: five failures with unknown ids from one address block that address for everyone.
    const other = await createServiceAccount(app.id);
    for (let i = 0; i < 5; i++) expect((await send("x", "192.0.2.80", crypto.randomUUID())).status).toBe(401);
    expect((await send(other.secret, "192.0.2.80", other.id)).status).toBe(429);
    expect((await send(other.secret, "192.0.2.81", other.id)).status).toBe(200);

    // Malformed or missing credentials count against the address too, and are refused once it is over.
    const malformed = (ip: string, headers: Record<string, string>) =>
      callWithEnv(env, "/oauth/introspect", { method: "POST", ...form({ token: "x" }, { ...headers, "cf-connecting-ip": ip }) });
    for (let i = 0; i < 3; i++) expect((await malformed("192.0.2.90", { authorization: "Basic !!!" })).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await malformed("192.0.2.90", {})).status).toBe(401);
    expect((await malformed("192.0.2.90", { authorization: "Basic !!!" })).status).toBe(429);
    expect((await send(other.secret, "192.0.2.90", other.id)).status).toBe(429);
  });

  it("works for any application, the platform one included", async () => {
    const sa = await createServiceAccount(PLATFORM_APPLICATION_ID);
    expect((await tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, sa.secret))).status).toBe(200);
  });
});

describe("OpenAPI", () => {
  it("lists the OAuth, ValidateToken and service-account routes, with their RFC-shaped bodies", async () => {
    const doc = await json(await call("/openapi.json"));
    const expected: [string, string][] = [
      ["/oauth/token", "post"],
      ["/oauth/introspect", "post"],
      ["/oauth/revoke", "post"],
      ["/auth.v1.TokenService/ValidateToken", "post"],
      ["/internal/applications/{id}/service-accounts", "get"],
      ["/internal/applications/{id}/service-accounts", "post"],
      ["/internal/applications/{id}/service-accounts/{serviceAccountId}", "get"],
      ["/internal/applications/{id}/service-accounts/{serviceAccountId}", "patch"],
      ["/internal/applications/{id}/service-accounts/{serviceAccountId}", "delete"],
      ["/internal/applications/{id}/service-accounts/{serviceAccountId}/secrets", "get"],
      ["/internal/applications/{id}/service-accounts/{serviceAccountId}/secrets", "post"],
      ["/internal/applications/{id}/service-accounts/{serviceAccountId}/secrets/{secretId}", "delete"],
    ];
    for (const [path, method] of expected) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    const token = doc.paths["/oauth/token"].post;
    expect(Object.keys(token.requestBody.content)).toEqual(["application/x-www-form-urlencoded", "application/json"]);
    expect(token.responses["401"].content["application/json"].schema.$ref).toBe("#/components/schemas/OAuthError");
    expect(doc.components.schemas.OAuthError.required).toEqual(["error", "error_description"]);
    expect(doc.components.securitySchemes.ClientBasic).toMatchObject({ type: "http", scheme: "basic" });
  });
});

describe("dependencies down", () => {
  it("Redis or SQL unreachable: 503 temporarily_unavailable in the RFC shape, no-store", async () => {
    const { withFault } = await import("../../helpers/stack");
    const app = await createApplication();
    const sa = await createServiceAccount(app.id);
    for (const endpoint of ["redis", "sql"] as const) {
      const res = await withFault(endpoint, { mode: "down" }, () => tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, sa.secret)));
      expect(res.status, endpoint).toBe(503);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect((await json(res)).error).toBe("temporarily_unavailable");
      const validate = await withFault(endpoint, { mode: "down" }, () =>
        call("/auth.v1.TokenService/ValidateToken", { json: { accessToken: "x" }, headers: basic(sa.id, sa.secret) }),
      );
      expect(validate.status, endpoint).toBe(503);
      expect((await json(validate)).code).toBe("unavailable");
    }
    expect((await tokenRequest({ grant_type: "client_credentials" }, basic(sa.id, sa.secret))).status).toBe(200);
  });
});
