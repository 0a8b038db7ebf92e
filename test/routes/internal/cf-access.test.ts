// Cloudflare Access as a staff principal on /internal/*: assertions are signed here with the keys
// test/global-setup.ts serves as a team's certs on loopback (kid cf-access-test-1; the "unknown"
// key, kid cf-access-test-unknown, is served only under /rotating/ from the second fetch on).
import { env } from "cloudflare:workers";
import { importPKCS8, SignJWT } from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { call, callWithEnv, json } from "../../helpers/http";
import { bearer, createUser, login, type TestUser } from "../../helpers/users";

const bindings = env as unknown as Record<string, string>;
const CERTS_URL = bindings.TEST_CF_ACCESS_CERTS_URL;
const CERTS_ORIGIN = new URL(CERTS_URL).origin;
const KID = "cf-access-test-1";
const ROTATED_KID = "cf-access-test-unknown";
const TEAM = "team.example.com";
const AUD = "aud-123";
const ISSUER = `https://${TEAM}`;
const PATH = "/internal/audit-events";

const accessEnv = (certsUrl = CERTS_URL) => ({ CF_ACCESS_TEAM_DOMAIN: TEAM, CF_ACCESS_AUD: AUD, CF_ACCESS_CERTS_URL: certsUrl });

let accessKey: CryptoKey;
let unknownKey: CryptoKey;

interface AssertionOptions {
  email?: string | null;
  aud?: string | string[];
  iss?: string;
  kid?: string;
  key?: CryptoKey;
  /** Seconds relative to now. */
  exp?: number;
  nbf?: number;
  iat?: number;
}

/** An assertion shaped like Cloudflare Access's (claims and header), valid unless told otherwise. */
async function assertion(o: AssertionOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { type: "app", identity_nonce: "nonce-1", country: "NZ" };
  if (o.email !== null) claims.email = o.email ?? "nobody@example.com";
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid: o.kid ?? KID, typ: "JWT" })
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(o.aud ?? [AUD])
    .setSubject("8f3c2a6e-1b5d-4c7e-9a0f-2d4e6b8c0a1e")
    .setIssuedAt(now + (o.iat ?? 0))
    .setNotBefore(now + (o.nbf ?? 0))
    .setExpirationTime(now + (o.exp ?? 300))
    .sign(o.key ?? accessKey);
}

function viaAccess(token: string, overrides: Record<string, string | undefined> = accessEnv(), headers: Record<string, string> = {}) {
  return callWithEnv(overrides, PATH, { headers: { "cf-access-jwt-assertion": token, ...headers } });
}

async function expectError(res: Response, status: number, code: string): Promise<any> {
  const body = await json(res);
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  return body;
}

async function certsHits(path: string): Promise<number> {
  const res = await fetch(`${CERTS_ORIGIN}/__hits?path=${encodeURIComponent(path)}`);
  return (await res.json<{ hits: number }>()).hits;
}

const b64url = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

let admin: TestUser;
let moderator: TestUser;

beforeAll(async () => {
  accessKey = (await importPKCS8(bindings.TEST_CF_ACCESS_PRIVATE_KEY, "RS256")) as CryptoKey;
  unknownKey = (await importPKCS8(bindings.TEST_CF_ACCESS_UNKNOWN_PRIVATE_KEY, "RS256")) as CryptoKey;
  admin = await createUser({ globalRole: "PLATFORM_ADMIN" });
  moderator = await createUser({ globalRole: "PLATFORM_MODERATOR" });
});

afterEach(() => {
  vi.useRealTimers();
});

describe("Cloudflare Access assertions on /internal/*", () => {
  it("accepts a valid assertion for a platform-staff email (any platform role, email case-insensitive)", async () => {
    const res = await viaAccess(await assertion({ email: admin.email }));
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(Array.isArray(body.data.items)).toBe(true);
    expect(body.data).toHaveProperty("nextCursor");

    expect((await viaAccess(await assertion({ email: moderator.email.toUpperCase() }))).status).toBe(200);
  });

  it("accepts an audience list that contains CF_ACCESS_AUD, and a team domain given as a URL", async () => {
    expect((await viaAccess(await assertion({ email: admin.email, aud: ["other-app", AUD] }))).status).toBe(200);
    const asUrl = { ...accessEnv(), CF_ACCESS_TEAM_DOMAIN: `https://${TEAM}/` };
    expect((await viaAccess(await assertion({ email: admin.email }), asUrl)).status).toBe(200);
  });

  it("rejects an expired assertion, and one not yet valid, with 401 invalid_access_token", async () => {
    await expectError(await viaAccess(await assertion({ email: admin.email, iat: -600, nbf: -600, exp: -120 })), 401, "invalid_access_token");
    await expectError(await viaAccess(await assertion({ email: admin.email, nbf: 300, exp: 900 })), 401, "invalid_access_token");
    // Within the small skew both are still fine.
    expect((await viaAccess(await assertion({ email: admin.email, iat: -600, nbf: -600, exp: -5 }))).status).toBe(200);
  });

  it("rejects a wrong audience and a wrong issuer", async () => {
    await expectError(await viaAccess(await assertion({ email: admin.email, aud: ["aud-999"] })), 401, "invalid_access_token");
    await expectError(await viaAccess(await assertion({ email: admin.email, aud: "aud-1234" })), 401, "invalid_access_token");
    await expectError(await viaAccess(await assertion({ email: admin.email, iss: "https://other-team.example.com" })), 401, "invalid_access_token");
    await expectError(await viaAccess(await assertion({ email: admin.email, iss: TEAM })), 401, "invalid_access_token");
  });

  it("rejects HS256 and alg none", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { email: admin.email, iss: ISSUER, aud: [AUD], iat: now, nbf: now, exp: now + 300 };
    const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: KID }).sign(new TextEncoder().encode("a-shared-secret-of-enough-length!"));
    await expectError(await viaAccess(hs256), 401, "invalid_access_token");
    const none = `${b64url(JSON.stringify({ alg: "none", kid: KID }))}.${b64url(JSON.stringify(claims))}.`;
    await expectError(await viaAccess(none), 401, "invalid_access_token");
    const valid = await assertion({ email: admin.email });
    const [, payload] = valid.split(".");
    // The RS256 signature of a valid token under an alg-none header is still refused.
    await expectError(await viaAccess(`${b64url(JSON.stringify({ alg: "none", kid: KID }))}.${payload}.${valid.split(".")[2]}`), 401, "invalid_access_token");
    await expectError(await viaAccess("not-a-jwt"), 401, "invalid_access_token");
    await expectError(await viaAccess(""), 401, "invalid_access_token");
  });

  it("rejects an unknown kid, and the right kid with the wrong key", async () => {
    const unknownKid = await assertion({ email: admin.email, kid: ROTATED_KID, key: unknownKey });
    const body = await expectError(await viaAccess(unknownKid), 401, "invalid_access_token");
    expect(body.error.message).toMatch(/unknown key/);
    await expectError(await viaAccess(await assertion({ email: admin.email, key: unknownKey })), 401, "invalid_access_token");
  });

  it("rejects a tampered payload", async () => {
    const valid = await assertion({ email: moderator.email });
    const [header, , signature] = valid.split(".");
    const now = Math.floor(Date.now() / 1000);
    const forged = b64url(JSON.stringify({ email: admin.email, iss: ISSUER, aud: [AUD], iat: now, nbf: now, exp: now + 300, type: "app" }));
    await expectError(await viaAccess(`${header}.${forged}.${signature}`), 401, "invalid_access_token");
  });

  it("answers 403 forbidden for an unknown email, a NONE-role user, an inactive or unapproved user, and no email", async () => {
    const unknown = await expectError(await viaAccess(await assertion({ email: "nobody-here@example.com" })), 403, "forbidden");
    expect(unknown.error.message).toMatch(/no account for this Access identity/i);

    const plain = await createUser({ globalRole: "NONE" });
    await expectError(await viaAccess(await assertion({ email: plain.email })), 403, "forbidden");

    const inactive = await createUser({ globalRole: "PLATFORM_SUPERADMIN", isActive: false });
    await expectError(await viaAccess(await assertion({ email: inactive.email })), 403, "forbidden");

    const pending = await createUser({ globalRole: "PLATFORM_ADMIN", approvalStatus: "PENDING" });
    await expectError(await viaAccess(await assertion({ email: pending.email })), 403, "forbidden");

    // A service-token assertion carries no email.
    await expectError(await viaAccess(await assertion({ email: null })), 403, "forbidden");
  });

  it("ignores the header without CF_ACCESS_* configuration (a Bearer token is needed)", async () => {
    const token = await assertion({ email: admin.email });
    await expectError(await call(PATH, { headers: { "cf-access-jwt-assertion": token } }), 401, "unauthorized");
    await expectError(await viaAccess(token, { CF_ACCESS_TEAM_DOMAIN: undefined, CF_ACCESS_AUD: undefined, CF_ACCESS_CERTS_URL: undefined }), 401, "unauthorized");
  });

  it("still takes a Bearer token when Access is configured; the assertion decides when it is sent", async () => {
    const s = await login(admin);
    expect((await callWithEnv(accessEnv(), PATH, { headers: bearer(s.accessToken) })).status).toBe(200);
    // With both, the Access assertion is the principal: a bad one is refused whatever the token.
    await expectError(await viaAccess("garbage", accessEnv(), bearer(s.accessToken)), 401, "invalid_access_token");
  });

  it("fetches the certs once and caches them; garbage kids do not make it refetch", async () => {
    const path = "/cache-check/cdn-cgi/access/certs";
    const url = `${CERTS_ORIGIN}${path}`;
    for (let i = 0; i < 3; i++) expect((await viaAccess(await assertion({ email: admin.email }), accessEnv(url))).status).toBe(200);
    expect(await certsHits(path)).toBe(1);
    for (let i = 0; i < 5; i++) {
      const token = await assertion({ email: admin.email, kid: `garbage-${i}`, key: unknownKey });
      await expectError(await viaAccess(token, accessEnv(url)), 401, "invalid_access_token");
    }
    expect(await certsHits(path)).toBe(1);
  });

  it("refetches on an unknown kid after the short interval, picking up a rotated key, at most once per interval", async () => {
    const path = "/rotating/cdn-cgi/access/certs";
    const url = `${CERTS_ORIGIN}${path}`;
    expect((await viaAccess(await assertion({ email: admin.email }), accessEnv(url))).status).toBe(200);
    expect(await certsHits(path)).toBe(1);
    // Right away, the new kid is not looked for again.
    await expectError(await viaAccess(await assertion({ email: admin.email, kid: ROTATED_KID, key: unknownKey }), accessEnv(url)), 401, "invalid_access_token");
    expect(await certsHits(path)).toBe(1);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 31_000);
    expect((await viaAccess(await assertion({ email: admin.email, kid: ROTATED_KID, key: unknownKey }), accessEnv(url))).status).toBe(200);
    expect(await certsHits(path)).toBe(2);
    // An unknown kid right after that refetch does not cause another.
    await expectError(await viaAccess(await assertion({ email: admin.email, kid: "garbage", key: unknownKey }), accessEnv(url)), 401, "invalid_access_token");
    expect(await certsHits(path)).toBe(2);
    // After the cache lifetime the set is fetched again.
    vi.setSystemTime(Date.now() + 11 * 60_000);
    expect((await viaAccess(await assertion({ email: admin.email }), accessEnv(url))).status).toBe(200);
    expect(await certsHits(path)).toBe(3);
  });

  it("answers 503 dependency_unavailable when the certs cannot be fetched, without hammering the URL", async () => {
    const path = "/fail/cdn-cgi/access/certs";
    const url = `${CERTS_ORIGIN}${path}`;
    const body = await expectError(await viaAccess(await assertion({ email: admin.email }), accessEnv(url)), 503, "dependency_unavailable");
    expect(body.error.details).toEqual({ dependency: "cloudflare-access" });
    await expectError(await viaAccess(await assertion({ email: admin.email }), accessEnv(url)), 503, "dependency_unavailable");
    expect(await certsHits(path)).toBe(1);
    // An unreachable certs URL is the same failure.
    await expectError(await viaAccess(await assertion({ email: admin.email }), accessEnv("http://127.0.0.1:9/cdn-cgi/access/certs")), 503, "dependency_unavailable");
  });

  it("does not fetch the certs at all for an assertion whose header is wrong", async () => {
    const path = "/no-fetch/cdn-cgi/access/certs";
    const url = `${CERTS_ORIGIN}${path}`;
    const hs256 = await new SignJWT({ email: admin.email }).setProtectedHeader({ alg: "HS256", kid: KID }).sign(new TextEncoder().encode("a-shared-secret-of-enough-length!"));
    await expectError(await viaAccess(hs256, accessEnv(url)), 401, "invalid_access_token");
    await expectError(await viaAccess("a.b.c", accessEnv(url)), 401, "invalid_access_token");
    expect(await certsHits(path)).toBe(0);
  });
});
