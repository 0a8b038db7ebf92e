// edge-auth/verifier against the running service: the verifier's fetch goes into the Worker, so
// the JWKS it caches is the one the service serves (under other key bindings through callWithEnv
// for the rotation cases), and user tokens come from POST /auth/login. Every JWKS request is
// counted by the fetch wrapper, so caching and the unknown-kid rate limit are asserted, not assumed.
// The source is imported (so an edit is tested without a rebuild); the compiled package, by its
// name, is test/node/verifier-node.test.ts.
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { base64url, decodeJwt, decodeProtectedHeader, exportJWK, exportSPKI, generateKeyPair, importJWK, importPKCS8, SignJWT, type JWTPayload } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createVerifier, VerifierError, type Verifier, type VerifierErrorCode, type VerifierOptions } from "../../src/verifier/index";
import { requireAuth, type AuthEnv } from "../../src/verifier/hono";
import { BASE, callWithEnv, json, testKeys, workerFetch } from "../helpers/http";
import { createUser, type TestUser } from "../helpers/users";

const ISSUER = "https://auth.test";
const AUDIENCE = "test-apps";
const JWKS_URL = `${BASE}/.well-known/jwks.json`;
const KID = "test-key-1";
const NEXT_KID = "test-key-2";
const enc = new TextEncoder();

type Bindings = Record<string, string | undefined>;

// ---- the JWKS route: into the Worker, under chosen bindings, counted -----------------------------

interface JwksLog {
  url: string;
  ifNoneMatch: string | null;
  status: number | "threw";
}

/** A fetch for the verifier that serves the service's JWKS under `bindings` (undefined: the suite's own). */
function jwksRoute() {
  const route = {
    bindings: undefined as Bindings | undefined,
    /** When set, every request throws (the endpoint is unreachable). */
    down: false,
    log: [] as JwksLog[],
    get requests() {
      return route.log.length;
    },
    fetch: async (input: string, init?: RequestInit): Promise<Response> => {
      const headers = new Headers(init?.headers);
      const entry: JwksLog = { url: input, ifNoneMatch: headers.get("if-none-match"), status: "threw" };
      route.log.push(entry);
      if (route.down) throw new TypeError("fetch failed: connect ECONNREFUSED");
      const url = new URL(input);
      const res = route.bindings
        ? await callWithEnv(route.bindings, url.pathname, { headers: Object.fromEntries(headers) })
        : await workerFetch(input, init);
      entry.status = res.status;
      return res;
    },
  };
  return route;
}

/** A clock the test moves; the verifier reads it for exp checks and cache ages alike. */
function clock() {
  const c = { offsetMs: 0, now: () => Date.now() + c.offsetMs, advance: (s: number) => void (c.offsetMs += s * 1000) };
  return c;
}

function verifierFor(route: ReturnType<typeof jwksRoute>, c = clock(), over: Partial<VerifierOptions> = {}): Verifier {
  return createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: JWKS_URL, fetch: route.fetch, now: c.now, ...over });
}

async function rejection(p: Promise<unknown>): Promise<VerifierError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(VerifierError);
    return err as VerifierError;
  }
  throw new Error("expected the verifier to reject the token");
}

async function expectCode(p: Promise<unknown>, code: VerifierErrorCode): Promise<void> {
  const err = await rejection(p);
  expect(err.code, err.message).toBe(code);
}

// ---- keys, bindings and tokens -------------------------------------------------------------------

let ours: CryptoKey;
let oursSpki: string;
let nextKey: CryptoKey;
let stranger: CryptoKey;
let strangerJwk: Record<string, unknown>;
let user: TestUser;
let ipCounter = 0;

/** Before the rotation: the next key is published but does not sign yet. */
const prePromotion = (): Bindings => ({ JWT_NEXT_KEY_PEM: testKeys().nextSpki, JWT_NEXT_KID: NEXT_KID });

/** After it: the next key signs; the old one is retired and stays published until `until`. */
const postPromotion = (until = new Date(Date.now() + 3_600_000).toISOString()): Bindings => ({
  JWT_SIGNING_KEY_PEM: testKeys().nextPkcs8,
  JWT_KID: NEXT_KID,
  JWT_RETIRED_KEYS: JSON.stringify([{ kid: KID, pem: oursSpki, until }]),
});

/** A real access token from POST /auth/login, under the suite's bindings or others. */
async function loginToken(bindings: Bindings = {}): Promise<string> {
  const res = await callWithEnv(bindings, "/auth/login", {
    json: { email: user.email, password: user.password },
    headers: { "cf-connecting-ip": `203.0.113.${++ipCounter}` },
  });
  const body = await json(res);
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(body)}`);
  return body.data.accessToken;
}

/** A token signed with the service's test key: any claims and header (service-like tokens, forgeries). */
async function mint(claims: JWTPayload = {}, header: Record<string, unknown> = {}, key: CryptoKey = ours): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { iss: ISSUER, aud: AUDIENCE, sub: "svc_reports", iat: now, nbf: now, exp: now + 900, jti: crypto.randomUUID(), ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  const h = { alg: "RS256", typ: "at+jwt", kid: KID, ...header };
  for (const [k, v] of Object.entries(h)) if (v === undefined) delete (h as Record<string, unknown>)[k];
  return new SignJWT(payload).setProtectedHeader(h as { alg: string }).sign(key);
}

const serviceClaims = (scope: string): JWTPayload => ({ sub: "svc_reports", client_id: "app_reports", scope, token_use: "service" });

/** A compact JWS signed by raw bytes (for alg none and HMAC confusion). */
async function forge(header: Record<string, unknown>, payload: Record<string, unknown>, sign: ((input: Uint8Array) => Promise<Uint8Array>) | null) {
  const input = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}`;
  return sign ? `${input}.${base64url.encode(await sign(enc.encode(input)))}` : `${input}.`;
}

beforeAll(async () => {
  const keys = testKeys();
  ours = await importPKCS8(keys.pkcs8, "RS256");
  nextKey = await importPKCS8(keys.nextPkcs8, "RS256");
  const { n, e } = await exportJWK(await importPKCS8(keys.pkcs8, "RS256", { extractable: true }));
  oursSpki = await exportSPKI((await importJWK({ kty: "RSA", n, e }, "RS256", { extractable: true })) as CryptoKey);
  const pair = await generateKeyPair("RS256", { extractable: true });
  stranger = pair.privateKey;
  strangerJwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: "RS256", use: "sig" };
  user = await createUser();
});

// ---- real tokens ---------------------------------------------------------------------------------

describe("a user access token from POST /auth/login", () => {
  it("verifies, with its claims typed, after one JWKS request that later verifications reuse", async () => {
    const route = jwksRoute();
    const verifier = verifierFor(route);
    const token = await loginToken();
    const claims = decodeJwt(token);

    const verified = await verifier.verify(token);
    expect(verified).toMatchObject({
      sub: user.id,
      sid: claims.sid,
      email: user.email,
      globalRole: "NONE",
      tokenUse: "user",
      scopes: [],
      iat: claims.iat,
      exp: claims.exp,
      jti: claims.jti,
    });
    expect(verified.clientId).toBe(claims.client_id);
    expect(verified.claims).toEqual(claims);
    expect(route.requests).toBe(1);

    await verifier.verify(token);
    await verifier.verify(await loginToken());
    expect(route.requests).toBe(1);
  });

  it("shares one JWKS request among concurrent first verifications", async () => {
    const route = jwksRoute();
    const verifier = verifierFor(route);
    const token = await loginToken();
    const results = await Promise.all(Array.from({ length: 10 }, () => verifier.verify(token)));
    expect(results.map((r) => r.sub)).toEqual(Array(10).fill(user.id));
    expect(route.requests).toBe(1);
  });
});

// ---- caching -------------------------------------------------------------------------------------

describe("JWKS caching", () => {
  it("keeps the JWKS for the response's max-age (JWKS_MAX_AGE, 300 s), then revalidates it with If-None-Match (304)", async () => {
    const route = jwksRoute();
    const c = clock();
    const verifier = verifierFor(route, c);
    const token = await loginToken();
    await verifier.verify(token);
    c.advance(290);
    await verifier.verify(token);
    expect(route.requests).toBe(1);
    c.advance(20);
    await verifier.verify(token);
    expect(route.requests).toBe(2);
    expect(route.log[1].ifNoneMatch).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect(route.log[1].status).toBe(304);
    // The 304 renewed the freshness: no request for another max-age.
    c.advance(290);
    await verifier.verify(token);
    expect(route.requests).toBe(2);
  });

  it("honours a shorter max-age, and bounds a long one at an hour", async () => {
    const longLived = await mint({ exp: Math.floor(Date.now() / 1000) + 7 * 86_400 });

    const short = jwksRoute();
    short.bindings = { JWKS_MAX_AGE: "60" };
    const c1 = clock();
    const v1 = verifierFor(short, c1);
    await v1.verify(longLived);
    c1.advance(55);
    await v1.verify(longLived);
    expect(short.requests).toBe(1);
    c1.advance(10);
    await v1.verify(longLived);
    expect(short.requests).toBe(2);

    const long = jwksRoute();
    long.bindings = { JWKS_MAX_AGE: "86400" };
    const c2 = clock();
    const v2 = verifierFor(long, c2);
    await v2.verify(longLived);
    c2.advance(3590);
    await v2.verify(longLived);
    expect(long.requests).toBe(1);
    c2.advance(20);
    await v2.verify(longLived);
    expect(long.requests).toBe(2);
  });

  it("keeps using the cached keys past their max-age while the JWKS endpoint is down, up to staleIfErrorSeconds", async () => {
    const route = jwksRoute();
    const c = clock();
    const verifier = verifierFor(route, c, { staleIfErrorSeconds: 600 });
    const longLived = await mint({ exp: Math.floor(Date.now() / 1000) + 86_400 });
    await verifier.verify(longLived);
    route.down = true;
    c.advance(301);
    expect((await verifier.verify(longLived)).sub).toBe("svc_reports");
    expect(route.log.map((l) => l.status)).toEqual([200, "threw"]);
    c.advance(600);
    await expectCode(verifier.verify(longLived), "jwks_unavailable");
    // Back up: the next attempt (a cooldown later) restores service.
    route.down = false;
    c.advance(31);
    expect((await verifier.verify(longLived)).sub).toBe("svc_reports");
  });
});

// ---- rotation ------------------------------------------------------------------------------------

describe("signing-key rotation", () => {
  it("before promotion the JWKS holds the current and the next key; a verifier that cached it verifies the promoted key's tokens with no further request", async () => {
    const route = jwksRoute();
    route.bindings = prePromotion();
    const verifier = verifierFor(route);
    const before = await loginToken();
    expect(decodeProtectedHeader(before).kid).toBe(KID);
    await verifier.verify(before);
    const published = await json(await callWithEnv(prePromotion(), "/.well-known/jwks.json"));
    expect(published.keys.map((k: { kid: string }) => k.kid)).toEqual([KID, NEXT_KID]);

    route.bindings = postPromotion();
    const after = await loginToken(postPromotion());
    expect(decodeProtectedHeader(after).kid).toBe(NEXT_KID);
    expect((await verifier.verify(after)).sub).toBe(user.id);
    expect((await verifier.verify(before)).sub).toBe(user.id);
    expect(route.requests).toBe(1);
  });

  it("a verifier that cached only the old key refetches on the new kid (once the cooldown since its last request has passed) and verifies", async () => {
    const route = jwksRoute();
    const c = clock();
    const verifier = verifierFor(route, c);
    const before = await loginToken();
    await verifier.verify(before);
    expect(route.requests).toBe(1);

    route.bindings = postPromotion();
    const after = await loginToken(postPromotion());
    // Within the cooldown of the request just made, an unknown kid is refused without a request.
    await expectCode(verifier.verify(after), "invalid_token");
    expect(route.requests).toBe(1);

    c.advance(31);
    const verified = await verifier.verify(after);
    expect(verified.sub).toBe(user.id);
    expect(route.requests).toBe(2);
    expect(route.log[1]).toMatchObject({ status: 200 });
    // The token from before the promotion still verifies against the refreshed set (old key retired).
    expect((await verifier.verify(before)).sub).toBe(user.id);
    expect(route.requests).toBe(2);
  });

  it("a token from before the promotion still verifies after it, while the retired key is published, and not after its date", async () => {
    const before = await loginToken();
    const route = jwksRoute();
    route.bindings = postPromotion();
    const published = await json(await callWithEnv(postPromotion(), "/.well-known/jwks.json"));
    expect(published.keys.map((k: { kid: string }) => k.kid)).toEqual([NEXT_KID, KID]);
    expect((await verifierFor(route).verify(before)).sub).toBe(user.id);

    const expired = jwksRoute();
    expired.bindings = postPromotion(new Date(Date.now() - 1000).toISOString());
    const verifier = verifierFor(expired);
    await expectCode(verifier.verify(before), "invalid_token");
    expect((await verifier.verify(await loginToken(postPromotion()))).sub).toBe(user.id);
  });
});

// ---- unknown kids --------------------------------------------------------------------------------

describe("unknown key ids", () => {
  it("cause at most one JWKS request per cooldown window, however many arrive, concurrently or not", async () => {
    const route = jwksRoute();
    const c = clock();
    const verifier = verifierFor(route, c);
    await verifier.verify(await mint());
    expect(route.requests).toBe(1);
    c.advance(31);

    const unknown = await Promise.all(Array.from({ length: 10 }, (_, i) => mint({}, { kid: `unknown-${i}` }, stranger)));
    const errors = await Promise.all(unknown.map((t) => rejection(verifier.verify(t))));
    expect(errors.map((e) => e.code)).toEqual(Array(10).fill("invalid_token"));
    expect(route.requests).toBe(2);
    for (const t of unknown) await expectCode(verifier.verify(t), "invalid_token");
    c.advance(29);
    await expectCode(verifier.verify(unknown[0]), "invalid_token");
    expect(route.requests).toBe(2);
    // Known kids keep verifying meanwhile, without a request.
    await verifier.verify(await mint());
    expect(route.requests).toBe(2);

    c.advance(2);
    await expectCode(verifier.verify(unknown[0]), "invalid_token");
    expect(route.requests).toBe(3);
  });

  it("honour unknownKidCooldownSeconds", async () => {
    const route = jwksRoute();
    const c = clock();
    const verifier = verifierFor(route, c, { unknownKidCooldownSeconds: 5 });
    await verifier.verify(await mint());
    c.advance(6);
    await expectCode(verifier.verify(await mint({}, { kid: "unknown" }, stranger)), "invalid_token");
    expect(route.requests).toBe(2);
  });
});

// ---- rejections ----------------------------------------------------------------------------------

describe("rejected tokens", () => {
  let route: ReturnType<typeof jwksRoute>;
  let verifier: Verifier;
  beforeAll(async () => {
    route = jwksRoute();
    verifier = verifierFor(route);
    // Control: the helper's tokens are accepted, so every rejection below is about the one change.
    expect((await verifier.verify(await mint())).sub).toBe("svc_reports");
  });

  it("alg none, in any spelling, and without a key id", async () => {
    const claims = decodeJwt(await mint());
    for (const alg of ["none", "None", "NONE"]) {
      await expectCode(verifier.verify(await forge({ alg, typ: "at+jwt", kid: KID }, claims, null)), "invalid_token");
    }
    await expectCode(verifier.verify(await forge({ alg: "none", typ: "at+jwt" }, claims, null)), "invalid_token");
  });

  it("HS256 keyed with our public key (alg confusion), and RS512/PS256 by our own key", async () => {
    const claims = decodeJwt(await mint());
    const { n } = await exportJWK(await importPKCS8(testKeys().pkcs8, "RS256", { extractable: true }));
    for (const secret of [enc.encode(oursSpki), base64url.decode(n!), enc.encode(n!)]) {
      const hmac = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const token = await forge({ alg: "HS256", typ: "at+jwt", kid: KID }, claims, async (d) => new Uint8Array(await crypto.subtle.sign("HMAC", hmac, d)));
      await expectCode(verifier.verify(token), "invalid_token");
    }
    await expectCode(verifier.verify(await mint({}, { alg: "RS512" }, await importPKCS8(testKeys().pkcs8, "RS512"))), "invalid_token");
    await expectCode(verifier.verify(await mint({}, { alg: "PS256" }, await importPKCS8(testKeys().pkcs8, "PS256"))), "invalid_token");
  });

  it("wrong iss, wrong aud, no aud; an aud array must contain ours", async () => {
    await expectCode(verifier.verify(await mint({ iss: "https://evil.test" })), "invalid_token");
    await expectCode(verifier.verify(await mint({ iss: undefined })), "invalid_token");
    await expectCode(verifier.verify(await mint({ aud: "other-apps" })), "invalid_token");
    await expectCode(verifier.verify(await mint({ aud: undefined })), "invalid_token");
    await expectCode(verifier.verify(await mint({ aud: ["a", "b"] })), "invalid_token");
    expect((await verifier.verify(await mint({ aud: ["other-apps", AUDIENCE] }))).sub).toBe("svc_reports");
  });

  it("expired beyond the 30 s tolerance: token_expired; within it: accepted; not yet valid or issued in the future: invalid", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectCode(verifier.verify(await mint({ iat: now - 1000, nbf: now - 1000, exp: now - 60 })), "token_expired");
    expect((await verifier.verify(await mint({ iat: now - 1000, nbf: now - 1000, exp: now - 10 }))).exp).toBe(now - 10);
    await expectCode(verifier.verify(await mint({ nbf: now + 120 })), "invalid_token");
    await expectCode(verifier.verify(await mint({ iat: now + 120, nbf: undefined })), "invalid_token");
    await expectCode(verifier.verify(await mint({ exp: undefined })), "invalid_token");
  });

  it("a real token past its exp is token_expired (the verifier's clock moved 15 min on)", async () => {
    const c = clock();
    const v = verifierFor(route, c);
    const token = await loginToken();
    await v.verify(token);
    c.advance(15 * 60 + 31);
    await expectCode(v.verify(token), "token_expired");
  });

  it("typ JWT (an ID token's), no typ, or another typ; application/at+jwt is accepted", async () => {
    await expectCode(verifier.verify(await mint({}, { typ: "JWT" })), "invalid_token");
    await expectCode(verifier.verify(await mint({}, { typ: undefined })), "invalid_token");
    await expectCode(verifier.verify(await mint({}, { typ: "at+jwt+x" })), "invalid_token");
    expect((await verifier.verify(await mint({}, { typ: "application/at+jwt" }))).sub).toBe("svc_reports");
    // An ID-token-shaped token from the same key: right iss, aud, sub, exp; wrong typ.
    const idToken = await new SignJWT({ email: user.email, nonce: "n" })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: KID })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(user.id)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(ours);
    await expectCode(verifier.verify(idToken), "invalid_token");
  });

  it("tampered payload or signature, garbage, and token_use other than user/service", async () => {
    const real = await loginToken();
    const [h, p, s] = real.split(".");
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p)));
    const swapped = `${h}.${base64url.encode(JSON.stringify({ ...claims, globalRole: "PLATFORM_SUPERADMIN" }))}.${s}`;
    await expectCode(verifier.verify(swapped), "invalid_token");
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.endsWith("AA") ? "BA" : "AA"}`;
    await expectCode(verifier.verify(flipped), "invalid_token");
    for (const junk of ["", "abc", "a.b", "a.b.c.d", `${h}.${p}`, "x".repeat(20_000), `${h}.!!.${s}`]) {
      await expectCode(verifier.verify(junk), "invalid_token");
    }
    await expectCode(verifier.verify(await mint({ token_use: "id" })), "invalid_token");
    await expectCode(verifier.verify(await mint({ scope: ["a"] as unknown as string })), "invalid_token");
  });

  it("a token signed by another key under our kid, with that key embedded (jwk) or linked (jku, x5u): invalid, and nothing is fetched", async () => {
    const before = route.requests;
    await expectCode(verifier.verify(await mint({}, { jwk: strangerJwk }, stranger)), "invalid_token");
    await expectCode(verifier.verify(await mint({}, { jku: "https://evil.test/jwks.json" }, stranger)), "invalid_token");
    await expectCode(verifier.verify(await mint({}, { x5u: "https://evil.test/cert.pem" }, stranger)), "invalid_token");
    // Our key with a jku: the header is ignored, the token verifies against our JWKS.
    expect((await verifier.verify(await mint({}, { jku: "https://evil.test/jwks.json" }))).sub).toBe("svc_reports");
    expect(route.log.slice(before).every((l) => l.url === JWKS_URL)).toBe(true);
  });

  it("a token refused on its header causes no JWKS request at all", async () => {
    const fresh = jwksRoute();
    const v = verifierFor(fresh);
    await expectCode(v.verify(await mint({}, { typ: "JWT" })), "invalid_token");
    await expectCode(v.verify(await mint({}, { kid: undefined })), "invalid_token");
    await expectCode(v.verify("garbage"), "invalid_token");
    expect(fresh.requests).toBe(0);
  });

  it("a token signed by the next key while it is only published verifies (it is in the JWKS); one by a stranger's key under the next kid does not", async () => {
    const pre = jwksRoute();
    pre.bindings = prePromotion();
    const v = verifierFor(pre);
    expect((await v.verify(await mint({}, { kid: NEXT_KID }, nextKey))).sub).toBe("svc_reports");
    await expectCode(v.verify(await mint({}, { kid: NEXT_KID }, stranger)), "invalid_token");
  });
});

// ---- scopes and token use ------------------------------------------------------------------------

describe("scopes and token use", () => {
  let verifier: Verifier;
  beforeAll(() => {
    verifier = verifierFor(jwksRoute());
  });

  it("a service token exposes its client, scopes and token use; requiredScopes must all be present", async () => {
    const token = await mint(serviceClaims("a b"));
    expect(await verifier.verify(token, { requiredScopes: ["a"] })).toMatchObject({
      sub: "svc_reports",
      clientId: "app_reports",
      scopes: ["a", "b"],
      tokenUse: "service",
    });
    await verifier.verify(token, { requiredScopes: ["b", "a"] });
    await verifier.verify(token, { requiredScopes: [] });
    const err = await rejection(verifier.verify(token, { requiredScopes: ["a", "c"] }));
    expect(err.code).toBe("insufficient_scope");
    expect(err.status).toBe(403);
    expect(err.requiredScopes).toEqual(["a", "c"]);
    // Whole scopes only: "ab" does not grant "a".
    await expectCode(verifier.verify(await mint(serviceClaims("ab")), { requiredScopes: ["a"] }), "insufficient_scope");
    await expectCode(verifier.verify(await mint(serviceClaims("")), { requiredScopes: ["a"] }), "insufficient_scope");
  });

  it("a scope check runs only on a valid token: an expired one is token_expired, not insufficient_scope", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectCode(verifier.verify(await mint({ ...serviceClaims("a"), iat: now - 999, nbf: now - 999, exp: now - 60 }), { requiredScopes: ["z"] }), "token_expired");
  });

  it("tokenUse restricts to user or service tokens; a user token has no scopes", async () => {
    const service = await mint(serviceClaims("a"));
    const userToken = await loginToken();
    await expectCode(verifier.verify(service, { tokenUse: "user" }), "invalid_token");
    expect((await verifier.verify(service, { tokenUse: "service" })).tokenUse).toBe("service");
    await expectCode(verifier.verify(userToken, { tokenUse: "service" }), "invalid_token");
    expect((await verifier.verify(userToken, { tokenUse: "user" })).tokenUse).toBe("user");
    await expectCode(verifier.verify(userToken, { requiredScopes: ["a"] }), "insufficient_scope");
  });
});

// ---- JWKS unavailable ----------------------------------------------------------------------------

describe("JWKS unavailable", () => {
  it("a JWKS URL nobody listens on: jwks_unavailable, not a crash", async () => {
    const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: "http://127.0.0.1:9/.well-known/jwks.json" });
    const err = await rejection(verifier.verify(await mint()));
    expect(err.code).toBe("jwks_unavailable");
    expect(err.status).toBe(503);
  });

  it("fetch throws: jwks_unavailable; retried once the cooldown has passed, then verifies", async () => {
    const route = jwksRoute();
    route.down = true;
    const c = clock();
    const verifier = verifierFor(route, c);
    const token = await mint();
    await expectCode(verifier.verify(token), "jwks_unavailable");
    await expectCode(verifier.verify(token), "jwks_unavailable");
    expect(route.requests).toBe(1);
    route.down = false;
    c.advance(31);
    expect((await verifier.verify(token)).sub).toBe("svc_reports");
    expect(route.requests).toBe(2);
  });

  it("an error status, a body that is not JSON or not a key set: jwks_unavailable", async () => {
    for (const res of [
      () => new Response("upstream down", { status: 502 }),
      () => new Response("<html>", { status: 200, headers: { "content-type": "text/html" } }),
      () => Response.json({ keys: "nope" }),
      () => Response.json({}),
    ]) {
      const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUrl: JWKS_URL, fetch: async () => res() });
      await expectCode(verifier.verify(await mint()), "jwks_unavailable");
    }
  });
});

// ---- the Hono middleware -------------------------------------------------------------------------

describe("requireAuth (Hono)", () => {
  function app(verifier: Verifier) {
    return new Hono<AuthEnv>()
      .get("/me", requireAuth(verifier), (c) => {
        const auth = c.get("auth");
        return c.json({ data: { sub: auth.sub, email: auth.email, tokenUse: auth.tokenUse, scopes: auth.scopes } });
      })
      .get("/reports", requireAuth(verifier, { requiredScopes: ["reports:read"], tokenUse: "service" }), (c) =>
        c.json({ data: { client: c.get("auth").clientId } }),
      );
  }

  let api: ReturnType<typeof app>;
  beforeAll(() => {
    api = app(verifierFor(jwksRoute()));
  });
  const get = (path: string, authorization?: string) => api.request(path, { headers: authorization ? { authorization } : {} });

  it("200 with the verified claims on the context", async () => {
    const res = await get("/me", `Bearer ${await loginToken()}`);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ data: { sub: user.id, email: user.email, tokenUse: "user", scopes: [] } });

    const service = await get("/reports", `Bearer ${await mint(serviceClaims("reports:read reports:write"))}`);
    expect(service.status).toBe(200);
    expect(await json(service)).toEqual({ data: { client: "app_reports" } });
  });

  it("401 with a bare Bearer challenge when no token is sent", async () => {
    for (const authorization of [undefined, "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b"]) {
      const res = await get("/me", authorization);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
      expect(await json(res)).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
    }
  });

  it('401 invalid_token with WWW-Authenticate: Bearer error="invalid_token"; expired says so', async () => {
    const bad = await get("/me", `Bearer ${await mint({ aud: "other-apps" })}`);
    expect(bad.status).toBe(401);
    expect(bad.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    expect(await json(bad)).toEqual({ error: { code: "invalid_token", message: expect.any(String) } });

    const now = Math.floor(Date.now() / 1000);
    const expired = await get("/me", `Bearer ${await mint({ iat: now - 999, nbf: now - 999, exp: now - 60 })}`);
    expect(expired.status).toBe(401);
    expect(expired.headers.get("www-authenticate")).toBe('Bearer error="invalid_token", error_description="expired"');
    expect((await json(expired)).error.code).toBe("token_expired");

    // A user token on a service-only route.
    const wrongUse = await get("/reports", `Bearer ${await loginToken()}`);
    expect(wrongUse.status).toBe(401);
    expect((await json(wrongUse)).error.code).toBe("invalid_token");
  });

  it("403 insufficient_scope naming the required scope", async () => {
    const res = await get("/reports", `Bearer ${await mint(serviceClaims("reports:write"))}`);
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="insufficient_scope", scope="reports:read"');
    expect(await json(res)).toEqual({ error: { code: "insufficient_scope", message: expect.any(String) } });
  });

  it("503 jwks_unavailable when the keys cannot be had (no challenge: the token is not at fault)", async () => {
    const down = jwksRoute();
    down.down = true;
    const res = await app(verifierFor(down)).request("/me", { headers: { authorization: `Bearer ${await mint()}` } });
    expect(res.status).toBe(503);
    expect(res.headers.get("www-authenticate")).toBeNull();
    expect((await json(res)).error.code).toBe("jwks_unavailable");
  });
});

// The suite's own bindings are what the rotation cases change: make sure they are what we think.
it("the suite signs with test-key-1 under the issuer and audience used here", () => {
  const e = env as unknown as Record<string, string>;
  expect([e.JWT_KID, e.JWT_ISSUER, e.JWT_AUDIENCE]).toEqual([KID, ISSUER, AUDIENCE]);
});
