// Inserting approved, active users from Node, as the service stores them: the bootstrap command
// (`npm run admin:create`) and the benchmark's seed users. Passwords are hashed to the same
// Argon2id PHC string the Worker writes (hash-wasm runs natively in Node), with the Worker's
// ARGON2_* parameters read by the Worker's own schema; the Worker re-hashes on sign-in if its
// parameters differ.
import { randomBytes } from "node:crypto";
import { argon2id } from "hash-wasm";
import { argon2ParamsFrom, envSchema } from "../src/config.ts";
import type { Argon2Params } from "../src/crypto/password.ts";
import type { GlobalRole } from "../src/db/schema.ts";

/** One parameterized statement, answering rows in array mode with raw text values. */
export type Query = (text: string, params: (string | null)[]) => Promise<{ rows: unknown[][] }>;

/** ARGON2_* from the process environment, with the Worker's defaults and bounds (src/config.ts). */
export function argon2ParamsFromEnv(env: Record<string, string | undefined> = process.env): Argon2Params {
  const raw = envSchema.pick({ ARGON2_MEMORY: true, ARGON2_TIME: true, ARGON2_THREADS: true, ARGON2_KEYLEN: true }).parse({
    ARGON2_MEMORY: env.ARGON2_MEMORY,
    ARGON2_TIME: env.ARGON2_TIME,
    ARGON2_THREADS: env.ARGON2_THREADS,
    ARGON2_KEYLEN: env.ARGON2_KEYLEN,
  });
  return argon2ParamsFrom(raw);
}

export function hashPasswordPhc(password: string, params: Argon2Params): Promise<string> {
  return argon2id({
    password: password.normalize("NFC"),
    salt: randomBytes(16),
    memorySize: params.memoryKiB,
    iterations: params.iterations,
    parallelism: params.parallelism,
    hashLength: params.hashLength,
    outputType: "encoded",
  });
}

/** Neon-protocol queries against a local SQL endpoint (the local stack's, e.g. http://127.0.0.1:8790). */
export function sqlEndpointQuery(baseUrl: string): Query {
  return async (text, params) => {
    const res = await fetch(`${baseUrl}/sql`, {
      method: "POST",
      headers: { "content-type": "application/json", "neon-array-mode": "true", "neon-raw-text-output": "true" },
      body: JSON.stringify({ query: text, params }),
    });
    const body = (await res.json()) as { rows?: unknown[][]; message?: string; code?: string };
    if (!res.ok) throw Object.assign(new Error(body.message ?? `HTTP ${res.status}`), { code: body.code });
    return { rows: body.rows ?? [] };
  };
}

/** True when a local stack endpoint answers its health control route at baseUrl. */
export async function localEndpointAnswers(baseUrl: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(`${baseUrl}/__stack/health`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

export interface NewUser {
  email: string;
  passwordHash: string;
  fullName?: string | null;
  globalRole: GlobalRole;
  /** Who created it, for the user.created audit event: actor_label and metadata.via. */
  createdBy: { actorLabel: string; via: string };
}

/** Inserts an approved, active user and its user.created audit event; null when the email is taken. */
export async function insertApprovedUser(query: Query, user: NewUser): Promise<string | null> {
  const { rows } = await query(
    `insert into users (email, password_hash, full_name, global_role, approval_status, is_active)
     values ($1, $2, $3, $4::global_role, 'APPROVED', true)
     on conflict ((lower(email))) do nothing returning id`,
    [user.email, user.passwordHash, user.fullName ?? null, user.globalRole],
  );
  if (rows.length === 0) return null;
  const id = String(rows[0][0]);
  await query(`insert into auth_audit_logs (event_type, actor_label, target_user_id, metadata) values ('user.created', $1, $2::uuid, $3::jsonb)`, [
    user.createdBy.actorLabel,
    id,
    JSON.stringify({ globalRole: user.globalRole, via: user.createdBy.via }),
  ]);
  return id;
}
