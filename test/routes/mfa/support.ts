// MFA test support: a TOTP computed independently of the implementation (RFC 6238 with WebCrypto
// HMAC-SHA-1 and a base32 decoder of its own), users with TOTP enrolled (through HTTP, or inserted
// with the service's own secret box as the user fixtures insert password hashes), and sign-ins.
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import { seal } from "../../../src/crypto/secret-box";
import { sha256 } from "../../../src/crypto/random";
import { call, json } from "../../helpers/http";
import { bearer, createUser, deps, login, type TestUser } from "../../helpers/users";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function fromBase32(text: string): Uint8Array {
  const bits = [...text.replace(/=+$/, "").toUpperCase()].map((c) => ALPHABET.indexOf(c).toString(2).padStart(5, "0")).join("");
  const out = new Uint8Array(Math.floor(bits.length / 8));
  for (let i = 0; i < out.length; i++) out[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  return out;
}

/** RFC 6238 TOTP (SHA-1, 6 digits) of a base32 secret at step `step`: written here, not imported. */
export async function code(secret: string, step: number, digits = 6): Promise<string> {
  const key = await crypto.subtle.importKey("raw", fromBase32(secret), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const counter = new DataView(new ArrayBuffer(8));
  counter.setUint32(0, Math.floor(step / 2 ** 32));
  counter.setUint32(4, step >>> 0);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, counter.buffer));
  const o = mac[19] & 15;
  const n = ((mac[o] & 127) << 24) | (mac[o + 1] << 16) | (mac[o + 2] << 8) | mac[o + 3];
  return String(n % 10 ** digits).padStart(digits, "0");
}

export const stepNow = () => Math.floor(Date.now() / 30_000);

/** Waits, when needed, until at least `margin` ms remain in the current 30 s step (so ±1/±2 stay what they are). */
export async function freshStep(margin = 6000): Promise<number> {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < margin) await new Promise((r) => setTimeout(r, left + 250));
  return stepNow();
}

const ips = { n: 0 };
export function ip(): Record<string, string> {
  ips.n += 1;
  return { "cf-connecting-ip": `203.0.113.${(ips.n % 250) + 1}`, "x-test-ip-seq": String(ips.n) };
}

export interface MfaUser extends TestUser {
  secret: string;
  recoveryCodes: string[];
}

const RECOVERY = ["aaaaa-bbbbb", "ccccc-ddddd", "eeeee-fffff", "ggggg-hhhhh", "jjjjj-kkkkk"];

/**
 * A user with TOTP on, inserted directly: the secret sealed with the service's own key (as the
 * setup route does), last_used_step null, five known recovery codes stored hashed as the service
 * hashes them. Enrollment through HTTP has its own tests (totp.test.ts).
 */
export async function createMfaUser(opts: Parameters<typeof createUser>[0] = {}): Promise<MfaUser> {
  const user = await createUser(opts);
  const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
  const d = deps();
  const sealed = await seal(d.config.mfa.encryptionKey, secret, `totp:${user.id}`);
  await d.db.execute(
    sql`insert into mfa_totp (user_id, secret_ciphertext, key_id, enabled_at) values (${user.id}::uuid, ${sealed.ciphertext}, ${sealed.keyId}, now())`,
  );
  for (const c of RECOVERY) {
    const h = await sha256(`recovery:${user.id}:${c.replace("-", "")}`);
    await d.db.execute(sql`insert into mfa_recovery_codes (user_id, code_hash) values (${user.id}::uuid, ${h})`);
  }
  return { ...user, secret, recoveryCodes: [...RECOVERY] };
}

/** Password sign-in that must answer mfaRequired; returns the challenge token. */
export async function challenge(u: { email: string; password: string }, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call("/auth/login", { json: { email: u.email, password: u.password, ...extra }, headers: { ...ip(), ...headers } });
  const body = await json(res);
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body.data.mfaRequired, JSON.stringify(body)).toBe(true);
  expect(body.data.accessToken).toBeUndefined();
  return body.data.mfaToken;
}

export function verify(mfaToken: string, factor: "totp" | "recovery_code", c: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return call("/auth/mfa/verify", { json: { mfaToken, factor, code: c, ...extra }, headers });
}

/** A user signed in (no factor yet) with their access token. */
export async function signedIn(opts: Parameters<typeof createUser>[0] = {}): Promise<TestUser & { accessToken: string; refreshToken: string }> {
  const user = await createUser(opts);
  const s = await login(user, ip());
  return { ...user, accessToken: s.accessToken, refreshToken: s.refreshToken };
}

/** Completes an MFA sign-in with a TOTP code of the next step (a step not used yet); returns the access token. */
export async function mfaLogin(u: MfaUser, stepOffset = 0): Promise<{ accessToken: string; body: any }> {
  const token = await challenge(u);
  const res = await verify(token, "totp", await code(u.secret, stepNow() + stepOffset));
  const body = await json(res);
  expect(res.status, JSON.stringify(body)).toBe(200);
  return { accessToken: body.data.accessToken, body };
}

export { bearer };
