// The service's RSA key set: the current signing key (JWT_SIGNING_KEY_PEM, PKCS#1 or PKCS#8),
// an optional next key published before it signs, and retired public keys that stay published
// until the tokens they signed have expired. Built once per isolate from config.
import type { Config } from "../config";
import { hkdf, importHmacKey } from "./random";

export interface PublicJwk {
  kty: "RSA";
  n: string;
  e: string;
  kid: string;
  alg: "RS256";
  use: "sig";
}

export interface KeySet {
  /** kid of the key that signs new tokens. */
  signingKid: string;
  signingKey: CryptoKey;
  /** Verification keys by kid: current, next and unexpired retired keys. Only these are trusted. */
  verificationKeys: Map<string, CryptoKey>;
  jwks: { keys: PublicJwk[] };
  /** JSON body of the JWKS and its strong ETag, computed once. */
  jwksBody: string;
  jwksEtag: string;
  /** True when the signing key was generated for this isolate (development without a key). */
  ephemeral: boolean;
  /** HMAC key that derives a refresh token's successor (REFRESH_TOKEN_SECRET, else derived from the signing key). */
  refreshKey: CryptoKey;
}

const RSA_IMPORT = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

interface PemBlock {
  label: string;
  der: Uint8Array;
}

function readPem(pem: string): PemBlock {
  // Accept PEMs pasted with literal "\n" sequences (common in single-line env files).
  const text = pem.includes("\\n") && !pem.includes("\n") ? pem.replace(/\\n/g, "\n") : pem;
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) throw new KeyError("not a PEM block (expected -----BEGIN ...-----)");
  const b64 = m[2].replace(/\s+/g, "");
  let der: Uint8Array;
  try {
    der = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    throw new KeyError("PEM body is not valid base64");
  }
  return { label: m[1], der };
}

export class KeyError extends Error {}

// DER helpers to wrap a PKCS#1 RSAPrivateKey / RSAPublicKey into PKCS#8 / SPKI, which WebCrypto imports.
function derLength(len: number): Uint8Array {
  if (len < 0x80) return Uint8Array.of(len);
  const bytes: number[] = [];
  for (let l = len; l > 0; l >>= 8) bytes.unshift(l & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function der(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = concat(...parts);
  return concat(Uint8Array.of(tag), derLength(body.length), body);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// AlgorithmIdentifier { rsaEncryption, NULL }
const RSA_ALGORITHM_ID = Uint8Array.of(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00);

function pkcs1PrivateToPkcs8(pkcs1: Uint8Array): Uint8Array {
  return der(0x30, Uint8Array.of(0x02, 0x01, 0x00), RSA_ALGORITHM_ID, der(0x04, pkcs1));
}

function pkcs1PublicToSpki(pkcs1: Uint8Array): Uint8Array {
  return der(0x30, RSA_ALGORITHM_ID, der(0x03, Uint8Array.of(0x00), pkcs1));
}

async function importPrivate(pem: string): Promise<CryptoKey> {
  const block = readPem(pem);
  const pkcs8 =
    block.label === "PRIVATE KEY" ? block.der : block.label === "RSA PRIVATE KEY" ? pkcs1PrivateToPkcs8(block.der) : null;
  if (!pkcs8) throw new KeyError(`expected an RSA private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY), got BEGIN ${block.label}`);
  try {
    // Extractable so the public half can be derived for the JWKS; the private key never leaves the isolate.
    return await crypto.subtle.importKey("pkcs8", pkcs8, RSA_IMPORT, true, ["sign"]);
  } catch {
    throw new KeyError("the private key could not be imported as an RSA key");
  }
}

async function importPublic(pem: string): Promise<CryptoKey> {
  const block = readPem(pem);
  if (block.label === "PRIVATE KEY" || block.label === "RSA PRIVATE KEY") return publicFromPrivate(await importPrivate(pem));
  const spki = block.label === "PUBLIC KEY" ? block.der : block.label === "RSA PUBLIC KEY" ? pkcs1PublicToSpki(block.der) : null;
  if (!spki) throw new KeyError(`expected an RSA key PEM, got BEGIN ${block.label}`);
  try {
    return await crypto.subtle.importKey("spki", spki, RSA_IMPORT, true, ["verify"]);
  } catch {
    throw new KeyError("the public key could not be imported as an RSA key");
  }
}

async function publicFromPrivate(privateKey: CryptoKey): Promise<CryptoKey> {
  const jwk = (await crypto.subtle.exportKey("jwk", privateKey)) as JsonWebKey;
  return crypto.subtle.importKey("jwk", { kty: "RSA", n: jwk.n, e: jwk.e, ext: true }, RSA_IMPORT, true, ["verify"]);
}

async function toPublicJwk(key: CryptoKey, kid: string): Promise<PublicJwk> {
  const jwk = (await crypto.subtle.exportKey("jwk", key)) as JsonWebKey;
  return { kty: "RSA", n: jwk.n!, e: jwk.e!, kid, alg: "RS256", use: "sig" };
}

async function generateSigningKey(): Promise<CryptoKey> {
  const pair = (await crypto.subtle.generateKey(
    { ...RSA_IMPORT, modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1) },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  return pair.privateKey;
}

async function sha256Base64Url(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  let bin = "";
  for (const b of digest) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Which config variable a key problem belongs to, so the config error can name it. */
export class KeyConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

async function attempt<T>(variable: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KeyError) throw new KeyConfigError(variable, err.message);
    throw err;
  }
}

async function refreshKeyFrom(secret: string | undefined, signingKey: CryptoKey): Promise<CryptoKey> {
  const material = secret
    ? new TextEncoder().encode(secret)
    : new Uint8Array((await crypto.subtle.exportKey("pkcs8", signingKey)) as ArrayBuffer);
  return importHmacKey(await hkdf(material, "refresh-successor"));
}

export async function buildKeySet(
  jwt: Config["jwt"],
  allowEphemeral: boolean,
  now: Date,
  refreshTokenSecret?: string,
): Promise<KeySet> {
  let signingKey: CryptoKey;
  let ephemeral = false;
  if (jwt.signingKeyPem) {
    signingKey = await attempt("JWT_SIGNING_KEY_PEM", () => importPrivate(jwt.signingKeyPem!));
  } else if (allowEphemeral) {
    signingKey = await generateSigningKey();
    ephemeral = true;
  } else {
    throw new KeyConfigError("JWT_SIGNING_KEY_PEM", "is required");
  }
  const currentPublic = jwt.publicKeyPem
    ? await attempt("JWT_PUBLIC_KEY_PEM", () => importPublic(jwt.publicKeyPem!))
    : await publicFromPrivate(signingKey);

  const entries: { kid: string; key: CryptoKey }[] = [{ kid: jwt.kid, key: currentPublic }];
  if (jwt.next) {
    const next = jwt.next;
    entries.push({ kid: next.kid, key: await attempt("JWT_NEXT_KEY_PEM", () => importPublic(next.pem)) });
  }
  for (const retired of jwt.retired) {
    if (retired.until && Date.parse(retired.until) <= now.getTime()) continue;
    if (entries.some((e) => e.kid === retired.kid)) throw new KeyConfigError("JWT_RETIRED_KEYS", `kid "${retired.kid}" is used twice`);
    entries.push({ kid: retired.kid, key: await attempt("JWT_RETIRED_KEYS", () => importPublic(retired.pem)) });
  }

  const verificationKeys = new Map(entries.map((e) => [e.kid, e.key]));
  const jwks = { keys: await Promise.all(entries.map((e) => toPublicJwk(e.key, e.kid))) };
  const jwksBody = JSON.stringify(jwks);
  return {
    signingKid: jwt.kid,
    signingKey,
    verificationKeys,
    jwks,
    jwksBody,
    jwksEtag: `"${await sha256Base64Url(jwksBody)}"`,
    ephemeral,
    refreshKey: await refreshKeyFrom(refreshTokenSecret, signingKey),
  };
}
