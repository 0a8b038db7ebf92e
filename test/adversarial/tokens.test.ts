// Adversarial access tokens (DESIGN.md §6, §8): forged algorithms (alg none, HS256 keyed with our
// own public key), keys the service must not trust (unknown kid, embedded jwk, jku/x5u URLs it must
// never fetch), wrong iss/aud/typ, time claims around CLOCK_SKEW_SECONDS, tampered payloads,
// malformed Authorization headers and swapped access/refresh tokens. Every forged token is built
// from the claims of a real session, so only the attacked property differs; each describe has a
// positive control (the same claims, correctly signed, are accepted) so every 401 means something.
import { env } from "cloudflare:workers";
import { base64url, decodeJwt, exportJWK, generateKeyPair, importPKCS8, SignJWT, type JWTPayload } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { CLOCK_SKEW_SECONDS } from "../../src/crypto/access-token";
import { call, json, testKeys } from "../helpers/http";
import { bearer, createUser, login, type Session } from "../helpers/users";

const KID = "test-key-1";
const ISSUER = "https://auth.test";
const AUDIENCE = "test-apps";
const HEADER = { alg: "RS256", typ: "at+jwt", kid: KID } as const;
const enc = new TextEncoder();

// ---- token forging -------------------------------------------------------------------------------

type Signer = (input: Uint8Array) => Promise<Uint8Array>;

const b64 = (value: unknown) => base64url.encode(typeof value === "string" ? value : JSON.stringify(value));

/** A compact JWS from any header and payload, signed by `signer` (null: an empty signature). */
async function forge(header: Record<string, unknown>, payload: Record<string, unknown>, signer: Signer | null): Promise<string> {
  const input = `${b64(header)}.${b64(payload)}`;
  return signer ? `${input}.${base64url.encode(await signer(enc.encode(input)))}` : `${input}.`;
}

const rsaSigner =
  (key: CryptoKey): Signer =>
  async (data) =>
    new Uint8Array(await crypto.subtle.sign(key.algorithm.name === "RSA-PSS" ? { name: "RSA-PSS", saltLength: 32 } : key.algorithm.name, key, data));

const hmacSigner =
  (hash: "SHA-256" | "SHA-384" | "SHA-512", secret: Uint8Array): Signer =>
  async (data) => {
    const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash }, false, ["sign"]);
    return new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
  };

function pem(label: string, der: Uint8Array, eol = "\n"): string {
  const b = btoa(String.fromCharCode(...der));
  const lines = b.match(/.{1,64}/g)!;
  return `-----BEGIN ${label}-----${eol}${lines.join(eol)}${eol}-----END ${label}-----${eol}`;
}

function derLength(len: number): number[] {
  if (len < 0x80) return [len];
  const bytes: number[] = [];
  for (let l = len; l > 0; l >>= 8) bytes.unshift(l & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

const derTlv = (tag: number, body: Uint8Array) => Uint8Array.from([tag, ...derLength(body.length), ...body]);
const derInteger = (bytes: Uint8Array) => derTlv(0x02, bytes[0] & 0x80 ? Uint8Array.from([0, ...bytes]) : bytes);

/** RSAPublicKey (PKCS#1) DER from a JWK's n and e. */
function pkcs1Public(n: Uint8Array, e: Uint8Array): Uint8Array {
  return derTlv(0x30, Uint8Array.from([...derInteger(n), ...derInteger(e)]));
}

// ---- fixtures ------------------------------------------------------------------------------------

interface Keys {
  /** Our signing key, as RS256 / RS512 / PS256 signing keys. */
  ours: CryptoKey;
  oursRs512: CryptoKey;
  oursPs256: CryptoKey;
  /** A key the service has never seen. */
  attacker: CryptoKey;
  attackerJwk: Record<string, unknown>;
  /** The public key as the JWKS publishes it, and encodings an HMAC secret could be made of. */
  jwk: { n: string; e: string };
  spkiDer: Uint8Array;
  spkiPem: string;
  pkcs1Pem: string;
}

let keys: Keys;
let user: Session;
let admin: Session;
let ipCounter = 0;
const nextIp = () => ({ "cf-connecting-ip": `198.51.100.${++ipCounter}` });

beforeAll(async () => {
  const test = testKeys();
  const published = (await json(await call("/.well-known/jwks.json"))).keys.find((k: { kid: string }) => k.kid === KID);
  const pub = await crypto.subtle.importKey("jwk", { kty: "RSA", n: published.n, e: published.e, ext: true }, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]);
  const spkiDer = new Uint8Array((await crypto.subtle.exportKey("spki", pub)) as ArrayBuffer);
  const pkcs1Der = pkcs1Public(base64url.decode(published.n), base64url.decode(published.e));
  // The PKCS#1 structure is the tail of the SPKI one: the DER built here is the real thing.
  expect(spkiDer.slice(spkiDer.length - pkcs1Der.length)).toEqual(pkcs1Der);

  const attacker = await generateKeyPair("RS256", { extractable: true });
  keys = {
    ours: await importPKCS8(test.pkcs8, "RS256"),
    oursRs512: await importPKCS8(test.pkcs8, "RS512"),
    oursPs256: await importPKCS8(test.pkcs8, "PS256"),
    attacker: attacker.privateKey,
    attackerJwk: { ...(await exportJWK(attacker.publicKey)), kid: "attacker-1", alg: "RS256", use: "sig" },
    jwk: { n: published.n, e: published.e },
    spkiDer,
    spkiPem: pem("PUBLIC KEY", spkiDer),
    pkcs1Pem: pem("RSA PUBLIC KEY", pkcs1Der),
  };
  // Sanity: the published key is the test signing key (its PKCS#8 derives the same modulus).
  const fromPrivate = (await crypto.subtle.exportKey("jwk", await importPKCS8(test.pkcs8, "RS256", { extractable: true }))) as JsonWebKey;
  expect(fromPrivate.n).toBe(published.n);

  user = await login(await createUser(), nextIp());
  admin = await login(await createUser({ globalRole: "PLATFORM_ADMIN" }), nextIp());
});

interface Target {
  name: string;
  path: string;
  session: () => Session;
}

const TARGETS: Target[] = [
  { name: "GET /auth/me", path: "/auth/me", session: () => user },
  { name: "GET /internal/users (platform admin)", path: "/internal/users", session: () => admin },
];

/** The real claims of the target's session, re-dated to now and with a fresh jti. */
function claims(t: Target, over: Record<string, unknown> = {}): Record<string, unknown> {
  const real = decodeJwt(t.session().accessToken);
  const now = Math.floor(Date.now() / 1000);
  const ttl = real.exp! - real.iat!;
  const out: Record<string, unknown> = { ...real, iat: now, nbf: now, exp: now + ttl, jti: crypto.randomUUID(), ...over };
  for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
  return out;
}

const withHeader = (over: Record<string, unknown>) => {
  const h: Record<string, unknown> = { ...HEADER, ...over };
  for (const [k, v] of Object.entries(h)) if (v === undefined) delete h[k];
  return h;
};

/** Our key, our header, the session's claims: what the service itself would have issued. */
const genuine = (t: Target, over: Record<string, unknown> = {}) => forge({ ...HEADER }, claims(t, over), rsaSigner(keys.ours));

const send = (t: Target, authorization: string) => call(t.path, { headers: { authorization } });
const sendToken = (t: Target, token: string) => send(t, `Bearer ${token}`);

async function expectAccepted(res: Response): Promise<void> {
  if (res.status !== 200) throw new Error(`expected 200, got ${res.status} ${await res.text()}`);
  expect((await json(res)).data).toBeDefined();
}

/** 401 in the error envelope (exactly { error: { code, message } }), with a Bearer challenge. */
async function expectRejected(res: Response, codes: string[] = ["invalid_token"]): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(401);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(res.headers.get("www-authenticate")).toMatch(/^Bearer\b/);
  expect(res.headers.get("x-request-id")).toBeTruthy();
  const body = JSON.parse(text);
  expect(body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
  expect(codes).toContain(body.error.code);
}

describe.each(TARGETS)("forged access tokens on $name", (t) => {
  describe("algorithm", () => {
    it("control: the session's claims signed with our key (RS256, our kid, at+jwt) are accepted, also via jose's SignJWT", async () => {
      await expectAccepted(await sendToken(t, await genuine(t)));
      const viaJose = await new SignJWT(claims(t) as JWTPayload).setProtectedHeader({ ...HEADER }).sign(keys.ours);
      await expectAccepted(await sendToken(t, viaJose));
      await expectAccepted(await sendToken(t, t.session().accessToken));
    });

    it("rejects alg none (unsigned), in any spelling, with or without a signature segment", async () => {
      for (const alg of ["none", "None", "NONE", "nOnE"]) {
        const unsigned = await forge(withHeader({ alg }), claims(t), null);
        await expectRejected(await sendToken(t, unsigned));
        await expectRejected(await sendToken(t, unsigned.slice(0, -1))); // no trailing dot: two segments
        // With a (genuine) signature of something else attached.
        await expectRejected(await sendToken(t, unsigned + t.session().accessToken.split(".")[2]));
      }
      await expectRejected(await sendToken(t, await forge(withHeader({ alg: "none", kid: undefined }), claims(t), null)));
    });

    it("rejects HS256/HS384/HS512 keyed with our public key (SPKI PEM, PKCS#1 PEM, DER, JWK n, JWK JSON): alg confusion", async () => {
      const secrets: [string, Uint8Array][] = [
        ["SPKI PEM", enc.encode(keys.spkiPem)],
        ["SPKI PEM without final newline", enc.encode(keys.spkiPem.trimEnd())],
        ["SPKI PEM with CRLF", enc.encode(pem("PUBLIC KEY", keys.spkiDer, "\r\n"))],
        ["PKCS#1 PEM", enc.encode(keys.pkcs1Pem)],
        ["PKCS#1 PEM without final newline", enc.encode(keys.pkcs1Pem.trimEnd())],
        ["SPKI DER", keys.spkiDer],
        ["JWK n bytes", base64url.decode(keys.jwk.n)],
        ["JWK n text", enc.encode(keys.jwk.n)],
        ["JWK JSON", enc.encode(JSON.stringify({ kty: "RSA", n: keys.jwk.n, e: keys.jwk.e }))],
      ];
      for (const [, secret] of secrets) {
        for (const [alg, hash] of [["HS256", "SHA-256"], ["HS384", "SHA-384"], ["HS512", "SHA-512"]] as const) {
          const token = await forge(withHeader({ alg }), claims(t), hmacSigner(hash, secret));
          await expectRejected(await sendToken(t, token));
        }
        // Without a kid too (a verifier that falls back to "the" key).
        await expectRejected(await sendToken(t, await forge(withHeader({ alg: "HS256", kid: undefined }), claims(t), hmacSigner("SHA-256", secret))));
      }
    });

    it("rejects other RSA algorithms (RS512, PS256) even with a valid signature by our own key: RS256 is pinned", async () => {
      await expectRejected(await sendToken(t, await forge(withHeader({ alg: "RS512" }), claims(t), rsaSigner(keys.oursRs512))));
      await expectRejected(await sendToken(t, await forge(withHeader({ alg: "PS256" }), claims(t), rsaSigner(keys.oursPs256))));
      // An RS256 signature labelled as another algorithm.
      await expectRejected(await sendToken(t, await forge(withHeader({ alg: "RS384" }), claims(t), rsaSigner(keys.ours))));
    });

    it("rejects a critical header extension it does not understand", async () => {
      await expectRejected(await sendToken(t, await forge(withHeader({ crit: ["x-bypass"], "x-bypass": true }), claims(t), rsaSigner(keys.ours))));
      await expectRejected(await sendToken(t, await forge(withHeader({ b64: false, crit: ["b64"] }), claims(t), rsaSigner(keys.ours))));
    });
  });

  describe("key selection: kid, jwk, jku, x5u", () => {
    const origin = () => new URL((env as unknown as Record<string, string>).TEST_CF_ACCESS_CERTS_URL).origin;
    const hits = async (path: string) => (await json(await fetch(`${origin()}/__hits?path=${encodeURIComponent(path)}`))).hits as number;

    it("control: our key under our kid is accepted", async () => {
      await expectAccepted(await sendToken(t, await genuine(t)));
    });

    it("rejects a valid RS256 signature by a key we do not have, under an unknown kid, our kid, or no kid", async () => {
      for (const kid of ["attacker-1", KID, undefined]) {
        await expectRejected(await sendToken(t, await forge(withHeader({ kid }), claims(t), rsaSigner(keys.attacker))));
      }
    });

    it("rejects our own key under a kid that is not ours, or with no kid (the key is looked up by exact kid only)", async () => {
      for (const kid of ["test-key-2", "TEST-KEY-1", "test-key-1 ", " test-key-1", "test-key-1\u0000", "../test-key-1", "__proto__", "constructor", "", undefined, 1, ["test-key-1"], { kid: KID }, null]) {
        await expectRejected(await sendToken(t, await forge(withHeader({ kid }), claims(t), rsaSigner(keys.ours))));
      }
    });

    it("ignores an embedded jwk header: a token signed by the key it carries is rejected (unknown kid, our kid, no kid)", async () => {
      for (const kid of ["attacker-1", KID, undefined]) {
        const jwk = kid === undefined ? { ...keys.attackerJwk, kid: undefined } : { ...keys.attackerJwk, kid };
        await expectRejected(await sendToken(t, await forge(withHeader({ kid, jwk }), claims(t), rsaSigner(keys.attacker))));
      }
    });

    it("ignores jku and x5u headers and never fetches them, though the URL serves the signing key", async () => {
      // A loopback JWKS that really serves the key the tokens below are signed with.
      const path = `/adversarial-${crypto.randomUUID()}/certs`;
      const url = `${origin()}${path}`;
      const served = await json(await fetch(url));
      expect(served.keys).toHaveLength(1);
      const servedKid = served.keys[0].kid as string;
      const signer = rsaSigner(await importPKCS8((env as unknown as Record<string, string>).TEST_CF_ACCESS_PRIVATE_KEY, "RS256"));
      // The counter works (our own fetch is one hit).
      expect(await hits(path)).toBe(1);

      for (const kid of [servedKid, KID, undefined]) {
        for (const extra of [{ jku: url }, { x5u: url }, { jku: url, x5u: url }, { jku: url, jwk: served.keys[0] }]) {
          await expectRejected(await sendToken(t, await forge(withHeader({ kid, ...extra }), claims(t), signer)));
        }
      }
      // Our key with jku/x5u/jwk set is still just our key: the headers change nothing.
      await expectAccepted(await sendToken(t, await forge(withHeader({ jku: url, x5u: url, jwk: served.keys[0] }), claims(t), rsaSigner(keys.ours))));
      expect(await hits(path)).toBe(1);
    });
  });

  describe("claims: iss, aud, typ and required claims", () => {
    it("control: the genuine claims are accepted, and typ is matched per RFC 9068 (application/at+jwt)", async () => {
      await expectAccepted(await sendToken(t, await genuine(t)));
      await expectAccepted(await sendToken(t, await forge(withHeader({ typ: "application/at+jwt" }), claims(t), rsaSigner(keys.ours))));
      await expectAccepted(await sendToken(t, await genuine(t, { aud: [AUDIENCE] })));
    });

    it("rejects a wrong or missing issuer", async () => {
      for (const iss of ["https://evil.test", "https://auth.test/", "http://auth.test", "https://AUTH.test", "", undefined, [ISSUER]]) {
        await expectRejected(await sendToken(t, await genuine(t, { iss })));
      }
    });

    it("rejects a wrong or missing audience", async () => {
      for (const aud of ["other-apps", "test-apps ", ["other-apps"], [], "", undefined]) {
        await expectRejected(await sendToken(t, await genuine(t, { aud })));
      }
    });

    it("rejects a wrong or missing typ (JWT, refresh tokens, ID tokens)", async () => {
      for (const typ of ["JWT", "jwt", "refresh+jwt", "id+jwt", "at+jwt2", "", undefined]) {
        await expectRejected(await sendToken(t, await forge(withHeader({ typ }), claims(t), rsaSigner(keys.ours))));
      }
    });

    it("rejects a token without sub, sid, jti or tv, or with claims of the wrong type", async () => {
      for (const over of [{ sub: undefined }, { sid: undefined }, { jti: undefined }, { tv: undefined }, { tv: "0" }, { tv: 0.5 }, { email: undefined }, { globalRole: undefined }, { sub: 42 }]) {
        await expectRejected(await sendToken(t, await genuine(t, over)));
      }
    });
  });

  describe(`time: exp, nbf and iat with ${CLOCK_SKEW_SECONDS} s of skew`, () => {
    const now = () => Math.floor(Date.now() / 1000);
    const ttl = () => {
      const real = decodeJwt(t.session().accessToken);
      return real.exp! - real.iat!;
    };

    it("control: expired, not-yet-valid and issued-in-the-future within the skew are accepted", async () => {
      const n = now();
      const within = CLOCK_SKEW_SECONDS - 10;
      await expectAccepted(await sendToken(t, await genuine(t, { exp: n - within, iat: n - within - ttl(), nbf: n - within - ttl() })));
      await expectAccepted(await sendToken(t, await genuine(t, { nbf: n + within })));
      await expectAccepted(await sendToken(t, await genuine(t, { iat: n + within, nbf: n, exp: n + within + ttl() })));
    });

    it("rejects a token expired beyond the skew as token_expired", async () => {
      const n = now();
      for (const by of [CLOCK_SKEW_SECONDS + 15, 3600, 86_400 * 365]) {
        const res = await sendToken(t, await genuine(t, { exp: n - by, iat: n - by - ttl(), nbf: n - by - ttl() }));
        expect(res.headers.get("www-authenticate")).toContain('error_description="expired"');
        await expectRejected(res, ["token_expired"]);
      }
      // The session's own token, re-dated: same result.
      await expectRejected(await sendToken(t, await genuine(t, { exp: 0, iat: 0, nbf: 0 })), ["token_expired", "invalid_token"]);
    });

    it("rejects a token not yet valid (nbf) or issued in the future (iat) beyond the skew", async () => {
      const n = now();
      const beyond = CLOCK_SKEW_SECONDS + 15;
      await expectRejected(await sendToken(t, await genuine(t, { nbf: n + beyond })));
      await expectRejected(await sendToken(t, await genuine(t, { iat: n + beyond, nbf: n, exp: n + beyond + ttl() })));
      await expectRejected(await sendToken(t, await genuine(t, { iat: n + 86_400, nbf: n + 86_400, exp: n + 86_400 + ttl() })));
    });

    it("rejects a token without exp or iat, or living longer than the service issues (iat long ago, exp still ahead)", async () => {
      await expectRejected(await sendToken(t, await genuine(t, { exp: undefined })));
      await expectRejected(await sendToken(t, await genuine(t, { iat: undefined })));
      await expectRejected(await sendToken(t, await genuine(t, { exp: "9999999999" })));
      const n = now();
      await expectRejected(await sendToken(t, await genuine(t, { iat: n - ttl() - CLOCK_SKEW_SECONDS - 60, nbf: n - 3600, exp: n + 60 })), ["invalid_token", "token_expired"]);
      // exp far in the future on an otherwise fresh token is bounded by the same maximum age once iat ages.
      await expectRejected(await sendToken(t, await genuine(t, { iat: n - 7 * 86_400, nbf: n - 7 * 86_400, exp: n + 365 * 86_400 })), ["invalid_token", "token_expired"]);
    });
  });

  describe("tampering with a genuine token", () => {
    /** Replaces the payload of the session's real token, keeping its header and signature. */
    function tamper(over: Record<string, unknown>): string {
      const [h, p, s] = t.session().accessToken.split(".");
      const changed = b64({ ...decodeJwt(t.session().accessToken), ...over });
      expect(changed).not.toBe(p); // a real change, or the test proves nothing
      return `${h}.${changed}.${s}`;
    }

    it("control: the untouched token, and its payload re-encoded unchanged, are accepted", async () => {
      await expectAccepted(await sendToken(t, t.session().accessToken));
      // Re-encoding the same JSON gives the same bytes, so the signature still matches.
      const [h, p, s] = t.session().accessToken.split(".");
      expect(b64(JSON.parse(new TextDecoder().decode(base64url.decode(p))))).toBe(p);
      await expectAccepted(await sendToken(t, `${h}.${p}.${s}`));
    });

    it("rejects a changed globalRole, sub, sid, tv, email, exp or aud under the original signature", async () => {
      const real = decodeJwt(t.session().accessToken);
      const other = decodeJwt((t.session() === user ? admin : user).accessToken);
      const otherRoles = ["NONE", "PLATFORM_MODERATOR", "PLATFORM_ADMIN", "PLATFORM_SUPERADMIN"].filter((r) => r !== real.globalRole);
      expect(otherRoles).toHaveLength(3);
      for (const over of [
        ...otherRoles.map((globalRole) => ({ globalRole })),
        { sub: other.sub },
        { sid: other.sid },
        { sub: other.sub, sid: other.sid, email: other.email, globalRole: other.globalRole, tv: other.tv },
        { tv: (real.tv as number) + 1 },
        { email: "root@example.com" },
        { exp: (real.exp as number) + 86_400 },
        { aud: [AUDIENCE, "elsewhere"] },
      ]) {
        await expectRejected(await sendToken(t, tamper(over)));
      }
    });

    it("rejects a changed header, a flipped signature bit, and a signature taken from another token", async () => {
      const [h, p, s] = t.session().accessToken.split(".");
      await expectRejected(await sendToken(t, `${b64({ ...HEADER, jku: "https://evil.test/jwks" })}.${p}.${s}`));
      await expectRejected(await sendToken(t, `${b64({ ...HEADER, typ: "AT+JWT" })}.${p}.${s}`));
      const sig = base64url.decode(s);
      sig[sig.length >> 1] ^= 0x01;
      await expectRejected(await sendToken(t, `${h}.${p}.${base64url.encode(sig)}`));
      const otherSig = (t.session() === user ? admin : user).accessToken.split(".")[2];
      await expectRejected(await sendToken(t, `${h}.${p}.${otherSig}`));
      // Same payload bytes, differently encoded (whitespace in the JSON): the signature covers the bytes.
      const spaced = base64url.encode(JSON.stringify(decodeJwt(t.session().accessToken), null, 1));
      await expectRejected(await sendToken(t, `${h}.${spaced}.${s}`));
    });
  });

  describe("malformed tokens and Authorization headers", () => {
    it("control: the genuine token is accepted, also with a lower-case scheme", async () => {
      await expectAccepted(await send(t, `Bearer ${t.session().accessToken}`));
      await expectAccepted(await send(t, `bearer ${t.session().accessToken}`));
    });

    it("rejects truncated tokens", async () => {
      const token = t.session().accessToken;
      const [h, p, s] = token.split(".");
      for (const cut of [token.slice(0, -1), token.slice(0, -4), `${h}.${p}.`, `${h}.${p}`, `${h}.`, h, `${h}.${p.slice(0, 10)}.${s}`, token.slice(1), `.${p}.${s}`, `${h}..${s}`]) {
        await expectRejected(await send(t, `Bearer ${cut}`), ["invalid_token", "unauthorized"]);
      }
    });

    it("rejects garbage, empty and wrongly-schemed credentials, extra segments and non-base64url", async () => {
      const token = t.session().accessToken;
      const [h, p, s] = token.split(".");
      const attempts = [
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer ...",
        "Bearer x",
        "Bearer ",
        "Bearer",
        "",
        " ",
        token,
        `Basic ${token}`,
        `Token ${token}`,
        `JWT ${token}`,
        `Bearer: ${token}`,
        `Bearer\t${token}`,
        `Bearer ${token} ${token}`,
        `Bearer ${token}, Bearer ${token}`,
        `Bearer "${token}"`,
        `Bearer ${token}.`,
        `Bearer ${token}.${s}`,
        `Bearer ${token}.x.y`,
        `Bearer ${h}.${p}.${s}.${s}.${s}`,
        `Bearer ${h}.${p}.${s}=`,
        `Bearer ${h.replace(/[a-z]/, "*")}.${p}.${s}`,
        `Bearer ${h}.${p}.${s.replace(/[a-z]/, "%")}`,
        `Bearer ${h}.${p.replace(/-/g, "+").replace(/_/g, "/")}.${s.replace(/-/g, "+").replace(/_/g, "/")}x`,
        `Bearer ${b64("not json")}.${p}.${s}`,
        `Bearer ${b64([HEADER])}.${p}.${s}`,
        `Bearer ${h}.${b64("not json")}.${s}`,
        `Bearer ${h}.${b64([1, 2])}.${s}`,
        `Bearer ${h}.${b64("null")}.${s}`,
        `Bearer ${btoa(JSON.stringify(HEADER))}.${p}.${s}`,
      ];
      for (const authorization of attempts) {
        await expectRejected(await send(t, authorization), ["invalid_token", "unauthorized"]);
      }
      // No Authorization header at all.
      await expectRejected(await call(t.path), ["unauthorized"]);
    });

    it("rejects a huge token (100 KB) with 401, not a 5xx", async () => {
      const garbage = "A".repeat(100_000);
      await expectRejected(await send(t, `Bearer ${garbage}`), ["invalid_token", "unauthorized"]);
      const [h, , s] = t.session().accessToken.split(".");
      const hugePayload = b64({ ...decodeJwt(t.session().accessToken), padding: "x".repeat(75_000) });
      expect(hugePayload.length).toBeGreaterThan(100_000);
      await expectRejected(await send(t, `Bearer ${h}.${hugePayload}.${s}`), ["invalid_token", "unauthorized"]);
      const hugeHeader = b64({ ...HEADER, padding: "x".repeat(75_000) });
      await expectRejected(await send(t, `Bearer ${hugeHeader}.${t.session().accessToken.split(".")[1]}.${s}`), ["invalid_token", "unauthorized"]);
    });
  });
});

describe("privilege escalation on an admin route", () => {
  it("control: a NONE user's genuine token reaches the route and is refused by role (403), an admin's passes", async () => {
    const res = await call("/internal/users", { headers: bearer(user.accessToken) });
    expect(res.status).toBe(403);
    expect((await json(res)).error.code).toBe("forbidden");
    await expectAccepted(await call("/internal/users", { headers: bearer(admin.accessToken) }));
  });

  it("a NONE user's token with globalRole raised to PLATFORM_SUPERADMIN (original signature) is 401, not 403 or 200", async () => {
    const [h, , s] = user.accessToken.split(".");
    const raised = `${h}.${b64({ ...decodeJwt(user.accessToken), globalRole: "PLATFORM_SUPERADMIN" })}.${s}`;
    await expectRejected(await call("/internal/users", { headers: bearer(raised) }));
  });

  it("the role comes from Postgres, not the token: a genuinely signed token claiming PLATFORM_SUPERADMIN for a NONE user is still 403", async () => {
    // Not a forgery the service could detect (it is signed with our key), but the claim grants nothing.
    const target = TARGETS[0];
    const res = await call("/internal/users", { headers: bearer(await genuine(target, { globalRole: "PLATFORM_SUPERADMIN" })) });
    expect(res.status).toBe(403);
  });
});

describe("access and refresh tokens swapped", () => {
  const refreshJson = (refreshToken: string) => call("/auth/refresh", { json: { refreshToken } });
  const refreshCookie = (value: string) => call("/auth/refresh", { method: "POST", headers: { cookie: `auth_refresh=${value}` } });

  async function expectRefreshRefused(res: Response, codes = ["invalid_refresh_token"]): Promise<void> {
    const text = await res.text();
    expect(res.status, text).toBe(401);
    const body = JSON.parse(text);
    expect(body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
    expect(codes).toContain(body.error.code);
  }

  it("control: a refresh token is accepted on /auth/refresh in the body and in the cookie", async () => {
    const s = await login(await createUser(), nextIp());
    const viaBody = await refreshJson(s.refreshToken);
    expect(viaBody.status).toBe(200);
    const next = (await json(viaBody)).data.refreshToken as string;
    const viaCookie = await refreshCookie(next);
    expect(viaCookie.status).toBe(200);
    expect((await json(viaCookie)).data.tokenTransport).toBe("cookie");
    expect(viaCookie.headers.get("set-cookie")).toMatch(/^auth_refresh=[0-9a-f-]{36}\.[A-Za-z0-9_-]{43};/);
  });

  it("refuses a refresh token used as an access token (user and admin routes)", async () => {
    const s = await login(await createUser(), nextIp());
    await expectRejected(await call("/auth/me", { headers: bearer(s.refreshToken) }));
    await expectRejected(await call("/internal/users", { headers: bearer(admin.refreshToken) }));
    await expectRejected(await call("/auth/logout-all", { method: "POST", headers: bearer(s.refreshToken) }));
    // Refused, not consumed: the refresh token still rotates.
    expect((await refreshJson(s.refreshToken)).status).toBe(200);
    // Nor is the refresh secret alone, or a JWT-looking wrapper around it, an access token.
    const [sid, secret] = s.refreshToken.split(".");
    await expectRejected(await call("/auth/me", { headers: bearer(secret) }), ["invalid_token", "unauthorized"]);
    await expectRejected(await call("/auth/me", { headers: bearer(`${b64(HEADER)}.${b64({ sid })}.${secret}`) }));
  });

  it("refuses an access token used as a refresh token, in the body and in the cookie (401)", async () => {
    const s = await login(await createUser(), nextIp());
    // An access token in the body is judged as a token, not as malformed input: 401, nothing echoed.
    const viaBody = await refreshJson(s.accessToken);
    await expectRefreshRefused(viaBody);

    const viaCookie = await refreshCookie(s.accessToken);
    await expectRefreshRefused(viaCookie);
    // The dead cookie is cleared.
    expect(viaCookie.headers.get("set-cookie")).toMatch(/^auth_refresh=;/);

    // Shaped like a refresh token: the real session id with 43 characters of the access token's signature.
    const forged = `${s.refreshToken.split(".")[0]}.${s.accessToken.split(".")[2].slice(0, 43)}`;
    await expectRefreshRefused(await refreshJson(forged));
    await expectRefreshRefused(await refreshCookie(forged));
    // A guess does not end the session: the genuine refresh and access tokens still work.
    expect((await call("/auth/me", { headers: bearer(s.accessToken) })).status).toBe(200);
    expect((await refreshJson(s.refreshToken)).status).toBe(200);
  });

  it("logout with an access token instead of the refresh token ends nothing", async () => {
    const s = await login(await createUser(), nextIp());
    const res = await call("/auth/logout", { method: "POST", headers: { cookie: `auth_refresh=${s.accessToken}` } });
    expect(res.status).toBe(200);
    expect((await call("/auth/me", { headers: bearer(s.accessToken) })).status).toBe(200);
    expect((await refreshJson(s.refreshToken)).status).toBe(200);
  });
});
