// Password reset tokens and password changes. The token is consumed in the same statement that
// changes the password, bumps the token version and revokes the sessions, so of concurrent confirms
// with one token exactly one succeeds and a failure leaves the token unused and the password as it was.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { AuditEvent } from "./audit";
import { parseUuidArray } from "./sessions";
import { jsonb, rows, transactionRows, ts } from "./sql";

/** Issues a reset token for a user, retiring any earlier unused one, and records the request. */
export async function createResetToken(
  db: Database,
  input: { userId: string; tokenHash: string; expiresAt: Date; now: Date; audit: AuditEvent },
): Promise<void> {
  const a = input.audit;
  await db.execute(
    sql`with retired as (
          update password_reset_tokens set used_at = ${ts(input.now)}
          where user_id = ${input.userId}::uuid and used_at is null
        ), created as (
          insert into password_reset_tokens (user_id, token_hash, expires_at, requested_ip, created_at)
          values (${input.userId}::uuid, ${input.tokenHash}, ${ts(input.expiresAt)}, ${a.ip ?? null}, ${ts(input.now)})
        )
        insert into auth_audit_logs (event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
        values (${a.type}, ${input.userId}::uuid, ${input.userId}::uuid, ${a.ip ?? null}, ${a.userAgent ?? null}, ${jsonb(a.metadata)}, ${ts(a.at)})`,
  );
}

export interface ResetTokenState {
  userId: string;
  email: string;
  usable: boolean;
}

export async function findResetToken(db: Database, tokenHash: string, now: Date): Promise<ResetTokenState | null> {
  const found = await rows<{ userId: string; email: string; usable: boolean }>(
    db,
    sql`select t.user_id as "userId", u.email, (t.used_at is null and t.expires_at > ${ts(now)}) as usable
        from password_reset_tokens t join users u on u.id = t.user_id
        where t.token_hash = ${tokenHash}`,
  );
  return found[0] ?? null;
}

export interface PasswordChangeResult {
  userId: string;
  tokenVersion: number;
  revokedSessionIds: string[];
}

/**
 * Consumes the token (if still unused and unexpired), sets the new hash, bumps the token version,
 * revokes every session and records the reset, all in one statement. Null when the token was not
 * usable (already used by a concurrent confirm, expired, unknown): then nothing changed.
 */
export async function consumeResetToken(
  db: Database,
  input: { tokenHash: string; passwordHash: string; now: Date; audit: AuditEvent },
): Promise<PasswordChangeResult | null> {
  const a = input.audit;
  const found = await rows<{ userId: string; tokenVersion: number; revoked: unknown }>(
    db,
    sql`with consumed as (
          update password_reset_tokens set used_at = ${ts(input.now)}
          where token_hash = ${input.tokenHash} and used_at is null and expires_at > ${ts(input.now)}
          returning user_id
        ), changed as (
          update users set password_hash = ${input.passwordHash}, token_version = token_version + 1,
                 password_changed_at = ${ts(input.now)}, updated_at = ${ts(input.now)}
          from consumed where users.id = consumed.user_id
          returning users.id, users.token_version
        ), revoked as (
          update sessions set revoked_at = ${ts(input.now)}, revoked_reason = 'password_reset'
          from changed where sessions.user_id = changed.id and sessions.revoked_at is null
          returning sessions.id
        ), forgotten as (
          -- A reset forgets every remembered device (MFA, issue 10): the second factor is asked again.
          delete from remembered_devices using changed where remembered_devices.user_id = changed.id
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
          select ${a.type}, changed.id, changed.id, ${a.ip ?? null}, ${a.userAgent ?? null}, ${jsonb(a.metadata)}, ${ts(a.at)} from changed
        )
        select changed.id as "userId", changed.token_version as "tokenVersion", (select array_agg(id) from revoked) as revoked from changed`,
  );
  const r = found[0];
  return r ? { userId: r.userId, tokenVersion: Number(r.tokenVersion), revokedSessionIds: parseUuidArray(r.revoked) } : null;
}

/**
 * Sets a new hash for a signed-in user (only if the stored hash is still the one the caller
 * verified) and revokes their other sessions (the current one stays), as one transaction in one
 * round trip. The revocation is a second statement so that it sees every session committed
 * before the hash changed: a sign-in that held the user row while this change waited for it has
 * committed its session by then, and a single statement's snapshot would miss that session.
 * A sign-in that comes after the change finds another hash and starts nothing (startSession).
 */
export async function changePassword(
  db: Database,
  input: { userId: string; keepSessionId: string; expectedHash: string; passwordHash: string; now: Date; audit: AuditEvent },
): Promise<{ revokedSessionIds: string[] } | null> {
  const a = input.audit;
  const [changed, revoked] = await transactionRows(db, [
    sql`with changed as (
          update users set password_hash = ${input.passwordHash}, password_changed_at = ${ts(input.now)}, updated_at = ${ts(input.now)}
          where id = ${input.userId}::uuid and password_hash = ${input.expectedHash}
          returning id
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
          select ${a.type}, changed.id, changed.id, ${a.ip ?? null}, ${a.userAgent ?? null}, ${jsonb(a.metadata)}, ${ts(a.at)} from changed
        )
        select id from changed`,
    // The new hash (with its fresh salt) is stored only if the first statement changed the password.
    sql`update sessions set revoked_at = ${ts(input.now)}, revoked_reason = 'password_changed'
        from users u
        where u.id = ${input.userId}::uuid and u.password_hash = ${input.passwordHash}
          and sessions.user_id = u.id and sessions.id <> ${input.keepSessionId}::uuid and sessions.revoked_at is null
        returning sessions.id`,
  ]);
  if (changed.length === 0) return null;
  return { revokedSessionIds: revoked.map((r) => String(r.id)) };
}
