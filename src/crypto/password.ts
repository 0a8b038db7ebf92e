// Argon2id password hashing (hash-wasm) in PHC string format:
//   $argon2id$v=19$m=<KiB>,t=<iterations>,p=<parallelism>$<salt b64>$<hash b64>
// Verification recomputes the hash with the stored parameters and compares the raw bytes in
// constant time (hash-wasm's own argon2Verify compares encoded strings with ===).
import { argon2id } from "hash-wasm";
import { constantTimeEqual } from "./constant-time";
import { installPrecompiledWasm } from "./wasm-modules";

export interface Argon2Params {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
  hashLength: number;
}

/** OWASP baseline for Argon2id. */
export const DEFAULT_ARGON2_PARAMS: Argon2Params = { memoryKiB: 19456, iterations: 2, parallelism: 1, hashLength: 32 };

const SALT_BYTES = 16;

export interface ParsedPhc {
  params: Argon2Params;
  salt: Uint8Array;
  hash: Uint8Array;
}

function b64Decode(s: string): Uint8Array {
  const padded = s + "=".repeat((4 - (s.length % 4)) % 4);
  const bin = atob(padded);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function b64Encode(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/=+$/, "");
}

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Parses an Argon2id v19 PHC string; null for anything else (including other variants). */
export function parsePhc(phc: string): ParsedPhc | null {
  const m = PHC.exec(phc);
  if (!m) return null;
  try {
    const salt = b64Decode(m[4]);
    const hash = b64Decode(m[5]);
    const params = { memoryKiB: Number(m[1]), iterations: Number(m[2]), parallelism: Number(m[3]), hashLength: hash.length };
    if (salt.length < 8 || hash.length < 4 || params.iterations < 1 || params.parallelism < 1 || params.memoryKiB < 8 * params.parallelism) return null;
    return { params, salt, hash };
  } catch {
    return null;
  }
}

async function derive(password: string, salt: Uint8Array, p: Argon2Params): Promise<Uint8Array> {
  installPrecompiledWasm();
  return argon2id({
    password: password.normalize("NFC"),
    salt,
    iterations: p.iterations,
    parallelism: p.parallelism,
    memorySize: p.memoryKiB,
    hashLength: p.hashLength,
    outputType: "binary",
  });
}

export async function hashPassword(password: string, params: Argon2Params = DEFAULT_ARGON2_PARAMS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, params);
  return `$argon2id$v=19$m=${params.memoryKiB},t=${params.iterations},p=${params.parallelism}$${b64Encode(salt)}$${b64Encode(hash)}`;
}

/**
 * True when the password matches. A malformed or foreign hash never matches, but still costs one
 * hash with `fallback` parameters, so callers cannot be told apart by timing.
 */
export async function verifyPassword(password: string, phc: string, fallback: Argon2Params = DEFAULT_ARGON2_PARAMS): Promise<boolean> {
  const parsed = parsePhc(phc);
  if (!parsed) {
    await derive(password, new Uint8Array(SALT_BYTES), fallback);
    return false;
  }
  const candidate = await derive(password, parsed.salt, parsed.params);
  return constantTimeEqual(candidate, parsed.hash);
}

/** True when the stored hash was made with other parameters than the current ones. */
export function needsRehash(phc: string, current: Argon2Params): boolean {
  const parsed = parsePhc(phc);
  if (!parsed) return true;
  const p = parsed.params;
  return p.memoryKiB !== current.memoryKiB || p.iterations !== current.iterations || p.parallelism !== current.parallelism || p.hashLength !== current.hashLength;
}

/**
 * SHA-256 (hex) of a stored password hash: what a second step keeps of the password its first
 * factor verified, compared in SQL (encode(sha256(convert_to(password_hash, 'UTF8')), 'hex')) so
 * a password change in between refuses the sign-in. The hash itself never leaves Postgres.
 */
export async function passwordHashDigest(phc: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(phc)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}
