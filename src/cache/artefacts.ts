// Short-lived single-use artefacts in Redis (DESIGN.md section 10): MFA challenges, magic links,
// email codes, redirect codes, step-up tokens, OAuth state, passkey challenges. Each is named by
// a random secret the client holds; Redis holds only its SHA-256 (key `auth:artefact:{kind}:{hash}`)
// as a hash with the JSON value `v`, an attempt counter `a` and, for codes, the code's digest `c`.
// Every consume is one atomic round trip (a Lua script), so N concurrent consumers get exactly one
// value; the attempt counter lives with the artefact and deletes it when spent.
import type { Redis } from "@upstash/redis/cloudflare";
import { randomSecret, sha256 } from "../crypto/random";

/** The kinds of artefact (one key space each, so one kind's secret never opens another's). */
export type ArtefactKind =
  | "mfa-challenge"
  | "magic-link"
  | "email-otp"
  | "redirect-code"
  | "step-up"
  | "oauth-state"
  | "passkey-challenge";

// Values are stored as "j:" + JSON: not itself JSON, so the Upstash client's automatic
// deserialisation of replies hands the string back untouched.
const encode = (value: unknown) => `j:${JSON.stringify(value)}`;
const decode = <T>(stored: unknown): T => JSON.parse(String(stored).slice(2)) as T;

const keyOf = async (kind: ArtefactKind, secret: string) => `auth:artefact:${kind}:${await sha256(`${kind}:${secret}`)}`;

/** A new random secret for an artefact: 256 bits, base64url. */
export const newArtefactSecret = () => randomSecret(32);

/**
 * Stores `value` under `secret` for `ttlSeconds`. `codeDigest` (optional) is what
 * consumeWithCode compares against. `replace: false` refuses to overwrite an existing artefact.
 */
export async function putArtefact(
  redis: Redis,
  kind: ArtefactKind,
  secret: string,
  value: unknown,
  ttlSeconds: number,
  options: { codeDigest?: string } = {},
): Promise<void> {
  const key = await keyOf(kind, secret);
  const fields: string[] = ["v", encode(value), "a", "0"];
  if (options.codeDigest) fields.push("c", options.codeDigest);
  await redis.eval(PUT, [key], [String(Math.max(1, Math.ceil(ttlSeconds))), ...fields]);
}

const PUT = `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1`;

export interface ArtefactRead<T> {
  value: T;
  /** Failed attempts so far. */
  attempts: number;
  /** Seconds it has left. */
  ttl: number;
}

/** Reads an artefact without consuming it (null: none, expired or used). One round trip. */
export async function readArtefact<T>(redis: Redis, kind: ArtefactKind, secret: string): Promise<ArtefactRead<T> | null> {
  const key = await keyOf(kind, secret);
  const reply = (await redis.eval(READ, [key], [])) as [string, string, number] | null;
  if (!reply) return null;
  return { value: decode<T>(reply[0]), attempts: Number(reply[1]), ttl: Number(reply[2]) };
}

const READ = `
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return nil end
return {v, redis.call('HGET', KEYS[1], 'a') or '0', redis.call('TTL', KEYS[1])}`;

/**
 * Consumes an artefact: its value once, then nothing. With `maxAttempts`, an artefact that has
 * already had that many failed attempts is deleted and not given out (a spent challenge stays
 * dead even for the right answer).
 */
export async function consumeArtefact<T>(redis: Redis, kind: ArtefactKind, secret: string, maxAttempts = 0): Promise<T | null> {
  const key = await keyOf(kind, secret);
  const reply = (await redis.eval(CONSUME, [key], [String(maxAttempts)])) as string | null;
  return reply === null ? null : decode<T>(reply);
}

const CONSUME = `
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return nil end
local max = tonumber(ARGV[1])
local a = tonumber(redis.call('HGET', KEYS[1], 'a') or '0')
redis.call('DEL', KEYS[1])
if max > 0 and a >= max then return nil end
return v`;

/**
 * Counts a failed attempt; at `maxAttempts` the artefact is deleted. Returns the attempts left
 * (0: dead), or null when there was no artefact.
 */
export async function failArtefactAttempt(redis: Redis, kind: ArtefactKind, secret: string, maxAttempts: number): Promise<number | null> {
  const key = await keyOf(kind, secret);
  const reply = (await redis.eval(FAIL, [key], [String(maxAttempts)])) as number | null;
  return reply === null ? null : Number(reply);
}

const FAIL = `
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
local a = redis.call('HINCRBY', KEYS[1], 'a', 1)
local max = tonumber(ARGV[1])
if a >= max then redis.call('DEL', KEYS[1]) return 0 end
return max - a`;

export type CodeOutcome<T> = { ok: true; value: T } | { ok: false; reason: "not_found" | "wrong_code" | "spent"; attemptsLeft: number };

/**
 * One atomic round trip for artefacts proven by a short code (email one-time codes): when the
 * digest matches and fewer than `maxAttempts` failures happened, the artefact is consumed and its
 * value returned; otherwise a failure is counted and, at `maxAttempts`, the artefact deleted.
 */
export async function consumeWithCode<T>(redis: Redis, kind: ArtefactKind, secret: string, codeDigest: string, maxAttempts: number): Promise<CodeOutcome<T>> {
  const key = await keyOf(kind, secret);
  const reply = (await redis.eval(CONSUME_CODE, [key], [codeDigest, String(maxAttempts)])) as [string, string] | null;
  if (!reply) return { ok: false, reason: "not_found", attemptsLeft: 0 };
  const [status, payload] = reply;
  if (status === "ok") return { ok: true, value: decode<T>(payload) };
  return { ok: false, reason: status === "spent" ? "spent" : "wrong_code", attemptsLeft: Number(payload) };
}

const CONSUME_CODE = `
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return nil end
local max = tonumber(ARGV[2])
local a = tonumber(redis.call('HGET', KEYS[1], 'a') or '0')
if a >= max then redis.call('DEL', KEYS[1]) return {'spent', '0'} end
if redis.call('HGET', KEYS[1], 'c') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return {'ok', v}
end
a = redis.call('HINCRBY', KEYS[1], 'a', 1)
if a >= max then redis.call('DEL', KEYS[1]) return {'spent', '0'} end
return {'wrong', tostring(max - a)}`;
