// A software WebAuthn authenticator for the workerd tests, written here rather than imported: a
// WebCrypto ES256 (P-256) key per credential, clientDataJSON, authenticatorData (rpIdHash, flags,
// signature counter, attested credential data with a COSE key) and a "none" attestation object in
// CBOR from a tiny encoder of its own. Every field can be bent (origin, RP id, challenge, counter,
// flags, user handle) to test what the server refuses.

// ---- CBOR (RFC 8949): just what attestation objects need --------------------------------------

type Cbor = number | string | Uint8Array | Cbor[] | Map<Cbor, Cbor> | { [k: string]: Cbor };

function head(major: number, n: number): number[] {
  if (n < 24) return [(major << 5) | n];
  if (n < 0x100) return [(major << 5) | 24, n];
  if (n < 0x10000) return [(major << 5) | 25, n >> 8, n & 0xff];
  return [(major << 5) | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

export function cbor(value: Cbor): Uint8Array {
  const out: number[] = [];
  const put = (v: Cbor): void => {
    if (typeof v === "number") {
      if (!Number.isInteger(v)) throw new Error("cbor: integers only");
      out.push(...(v >= 0 ? head(0, v) : head(1, -1 - v)));
    } else if (typeof v === "string") {
      const b = new TextEncoder().encode(v);
      out.push(...head(3, b.length), ...b);
    } else if (v instanceof Uint8Array) {
      out.push(...head(2, v.length), ...v);
    } else if (Array.isArray(v)) {
      out.push(...head(4, v.length));
      v.forEach(put);
    } else {
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
      out.push(...head(5, entries.length));
      for (const [k, x] of entries) {
        put(k);
        put(x);
      }
    }
  };
  put(value);
  return new Uint8Array(out);
}

// ---- encodings -------------------------------------------------------------------------------

export function b64url(bytes: Uint8Array | ArrayBuffer): string {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromB64url(s: string): Uint8Array {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

const sha256 = async (data: Uint8Array | string) =>
  new Uint8Array(await crypto.subtle.digest("SHA-256", typeof data === "string" ? new TextEncoder().encode(data) : data));

/** WebCrypto's ECDSA signature (r || s, 64 bytes) as the DER SEQUENCE WebAuthn carries. */
function derSignature(raw: Uint8Array): Uint8Array {
  const int = (x: Uint8Array) => {
    let i = 0;
    while (i < x.length - 1 && x[i] === 0) i++;
    let v = x.slice(i);
    if (v[0] & 0x80) v = concat(new Uint8Array([0]), v);
    return concat(new Uint8Array([0x02, v.length]), v);
  };
  const body = concat(int(raw.slice(0, 32)), int(raw.slice(32)));
  return concat(new Uint8Array([0x30, body.length]), body);
}

// ---- the authenticator -----------------------------------------------------------------------

export const FLAGS = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 };

export interface SoftCredential {
  id: Uint8Array;
  keys: CryptoKeyPair;
  rpId: string;
  userHandle: string;
  counter: number;
}

export interface Bend {
  origin?: string;
  rpId?: string;
  challenge?: string;
  type?: string;
  /** The counter to sign (default: one more than the last). */
  counter?: number;
  userVerified?: boolean;
  userPresent?: boolean;
  /** The credential to use (default: the first one allowed, else the newest of this RP). */
  credential?: SoftCredential;
  userHandle?: string | null;
  backupEligible?: boolean;
  backedUp?: boolean;
  /** create(): the credential id to use (default: 32 random bytes). */
  id?: Uint8Array;
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];
  /** AAGUID of this "model" (zeros: none). */
  aaguid = new Uint8Array(16);

  constructor(readonly defaults: { origin: string; userVerified?: boolean; backupEligible?: boolean; backedUp?: boolean }) {}

  private flags(b: Bend, extra = 0): number {
    let f = extra;
    if (b.userPresent ?? true) f |= FLAGS.UP;
    if (b.userVerified ?? this.defaults.userVerified ?? true) f |= FLAGS.UV;
    if (b.backupEligible ?? this.defaults.backupEligible ?? false) f |= FLAGS.BE;
    if (b.backedUp ?? this.defaults.backedUp ?? false) f |= FLAGS.BS;
    return f;
  }

  private clientData(type: string, challenge: string, b: Bend): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ type: b.type ?? type, challenge: b.challenge ?? challenge, origin: b.origin ?? this.defaults.origin, crossOrigin: false }));
  }

  /** navigator.credentials.create() for options JSON: a RegistrationResponseJSON. */
  async create(options: any, bend: Bend = {}): Promise<any> {
    const rpId: string = options.rp?.id;
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const id = bend.id ?? crypto.getRandomValues(new Uint8Array(32));
    const jwk = (await crypto.subtle.exportKey("jwk", keys.publicKey)) as JsonWebKey;
    const cose = cbor(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, fromB64url(jwk.x!)], [-3, fromB64url(jwk.y!)]]));
    const counter = bend.counter ?? 0;
    const sign = new Uint8Array(4);
    new DataView(sign.buffer).setUint32(0, counter);
    const credIdLen = new Uint8Array([id.length >> 8, id.length & 0xff]);
    const authData = concat(await sha256(bend.rpId ?? rpId), new Uint8Array([this.flags(bend, FLAGS.AT)]), sign, this.aaguid, credIdLen, id, cose);
    const attestationObject = cbor({ fmt: "none", attStmt: {}, authData });
    const credential: SoftCredential = { id, keys, rpId, userHandle: options.user?.id, counter };
    this.credentials.push(credential);
    return {
      id: b64url(id),
      rawId: b64url(id),
      type: "public-key",
      response: {
        clientDataJSON: b64url(this.clientData("webauthn.create", options.challenge, bend)),
        attestationObject: b64url(attestationObject),
        transports: ["internal"],
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
    };
  }

  /** navigator.credentials.get() for options JSON: an AuthenticationResponseJSON. */
  async get(options: any, bend: Bend = {}): Promise<any> {
    const rpId: string = options.rpId;
    const allowed: string[] = (options.allowCredentials ?? []).map((c: any) => c.id);
    const credential =
      bend.credential ??
      (allowed.length
        ? this.credentials.find((c) => allowed.includes(b64url(c.id)))
        : [...this.credentials].reverse().find((c) => c.rpId === rpId));
    if (!credential) throw new Error("soft authenticator: no credential for these options");
    const counter = bend.counter ?? credential.counter + 1;
    credential.counter = Math.max(credential.counter, counter);
    const sign = new Uint8Array(4);
    new DataView(sign.buffer).setUint32(0, counter);
    const authData = concat(await sha256(bend.rpId ?? rpId), new Uint8Array([this.flags(bend)]), sign);
    const clientDataJSON = this.clientData("webauthn.get", options.challenge, bend);
    const signed = concat(authData, await sha256(clientDataJSON));
    const raw = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, credential.keys.privateKey, signed));
    const userHandle = bend.userHandle === undefined ? credential.userHandle : bend.userHandle;
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: "public-key",
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(derSignature(raw)),
        ...(userHandle ? { userHandle } : {}),
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
    };
  }
}
