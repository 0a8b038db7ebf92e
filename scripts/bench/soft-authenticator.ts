// A minimal software WebAuthn authenticator for `npm run bench`'s passkey_verify row: one ES256
// (P-256) key per credential, a "none" attestation, and assertions signed with node:crypto. The
// same shapes as test/helpers/webauthn-authenticator.ts (which is written for workerd tests and
// uses TypeScript that Node's type stripping does not run), with none of its bending.
// The signature counter stays 0 (an authenticator without one, as synced passkeys are), so
// assertions made ahead of time may be verified in any order.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";

type Cbor = number | string | Uint8Array | Map<Cbor, Cbor> | { [k: string]: Cbor };

function head(major: number, n: number): number[] {
  if (n < 24) return [(major << 5) | n];
  if (n < 0x100) return [(major << 5) | 24, n];
  if (n < 0x10000) return [(major << 5) | 25, n >> 8, n & 0xff];
  return [(major << 5) | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** CBOR (RFC 8949): integers, text, bytes and maps, what an attestation object needs. */
function cbor(value: Cbor): Buffer {
  if (typeof value === "number") return Buffer.from(value >= 0 ? head(0, value) : head(1, -1 - value));
  if (typeof value === "string") {
    const bytes = Buffer.from(value, "utf8");
    return Buffer.concat([Buffer.from(head(3, bytes.length)), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([Buffer.from(head(2, value.length)), value]);
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  return Buffer.concat([Buffer.from(head(5, entries.length)), ...entries.flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest();
const FLAGS = { UP: 0x01, UV: 0x04, AT: 0x40 };

interface Credential {
  id: Buffer;
  privateKey: KeyObject;
  rpId: string;
  userHandle: string;
}

export class BenchAuthenticator {
  private readonly credentials: Credential[] = [];
  private readonly origin: string;

  constructor(origin: string) {
    this.origin = origin;
  }

  private clientData(type: string, challenge: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin: this.origin, crossOrigin: false }));
  }

  /** navigator.credentials.create() for registration options JSON: a RegistrationResponseJSON. */
  create(options: any): any {
    const rpId: string = options.rp?.id;
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const id = randomBytes(32);
    const cose = cbor(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, "base64url")], [-3, Buffer.from(jwk.y!, "base64url")]]));
    const authData = Buffer.concat([sha256(rpId), Buffer.from([FLAGS.UP | FLAGS.UV | FLAGS.AT]), Buffer.alloc(4), Buffer.alloc(16), Buffer.from([0, id.length]), id, cose]);
    this.credentials.push({ id, privateKey, rpId, userHandle: options.user?.id });
    return {
      id: b64url(id),
      rawId: b64url(id),
      type: "public-key",
      response: {
        clientDataJSON: b64url(this.clientData("webauthn.create", options.challenge)),
        attestationObject: b64url(cbor({ fmt: "none", attStmt: {}, authData })),
        transports: ["internal"],
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
    };
  }

  /** navigator.credentials.get() for sign-in options JSON: an AuthenticationResponseJSON. */
  get(options: any): any {
    const rpId: string = options.rpId;
    const allowed: string[] = (options.allowCredentials ?? []).map((c: any) => c.id);
    const credential = allowed.length
      ? this.credentials.find((c) => allowed.includes(b64url(c.id)))
      : [...this.credentials].reverse().find((c) => c.rpId === rpId);
    if (!credential) throw new Error("bench authenticator: no credential for these options");
    const authData = Buffer.concat([sha256(rpId), Buffer.from([FLAGS.UP | FLAGS.UV]), Buffer.alloc(4)]);
    const clientDataJSON = this.clientData("webauthn.get", options.challenge);
    const signature = sign("sha256", Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey); // DER, as WebAuthn wants
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: "public-key",
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: credential.userHandle,
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
    };
  }
}
