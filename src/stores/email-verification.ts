// Email verification tokens (email_verification_tokens): single use, only the SHA-256 of the token
// stored, bound to the address they were sent to, with an expiry. Issuing and confirming are one
// statement each; the confirm is a conditional UPDATE ... RETURNING, so of N concurrent confirms
// of one token exactly one marks it used (the others re-check `used_at` after it commits).
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { jsonb, rows, ts, type AuditContext } from "./sql";

/** What issuing a token for a user found. */
export type VerificationIssue =
  | { outcome: "issued"; email: string; fullName: string | null }
  | { outcome: "already_verified"; email: string }
  | { outcome: "no_user" };

/**
 * Stores a token for the user's current address, unless it is already verified; one statement.
 * Earlier unused tokens of the user stay valid until they expire (each names the address it was sent to).
 */
export async function issueVerificationToken(
  db: Database,
  t: { userId: string; tokenHash: string; expiresAt: Date; now: Date },
): Promise<VerificationIssue> {
  const found = await rows<{ email: string; fullName: string | null; emailVerified: boolean; issued: boolean }>(
    db,
    sql`with target as (
          select id, email, full_name, email_verified from users where id = ${t.userId}::uuid
        ), issued as (
          insert into email_verification_tokens (token_hash, user_id, email, expires_at, created_at)
          select ${t.tokenHash}, target.id, target.email, ${ts(t.expiresAt)}, ${ts(t.now)} from target where not target.email_verified
          returning token_hash
        )
        select target.email, target.full_name as "fullName", target.email_verified as "emailVerified", exists(select 1 from issued) as issued
        from target`,
  );
  const r = found[0];
  if (!r) return { outcome: "no_user" };
  if (r.issued) return { outcome: "issued", email: r.email, fullName: r.fullName };
  return { outcome: "already_verified", email: r.email };
}

/** What a confirm did. */
export type VerificationConfirm =
  /** The token was good and the user still has the address: verified now (or already). */
  | { outcome: "verified"; userId: string; email: string; wasVerified: boolean }
  /** Unknown, expired or already used: nothing changed. */
  | { outcome: "invalid" }
  /** The token was good but the user's address has changed since: the token is spent, nothing verified. */
  | { outcome: "address_changed"; userId: string };

/**
 * Marks the token used (only if unused and unexpired) and, when its user still has the address it
 * was sent to (case-insensitively), the email verified; the audit event in the same statement.
 */
export async function confirmVerificationToken(
  db: Database,
  c: AuditContext & { tokenHash: string; now: Date },
): Promise<VerificationConfirm> {
  const found = await rows<{ userId: string | null; email: string | null; verified: boolean; wasVerified: boolean | null }>(
    db,
    sql`with used as (
          update email_verification_tokens set used_at = ${ts(c.now)}
          where token_hash = ${c.tokenHash} and used_at is null and expires_at > ${ts(c.now)}
          returning user_id, email
        ), target as (
          select u.id, u.email, u.email_verified from users u join used on u.id = used.user_id and lower(u.email) = lower(used.email)
          for no key update of u
        ), verified as (
          update users set email_verified = true, email_verified_at = coalesce(users.email_verified_at, ${ts(c.now)})
          from target where users.id = target.id
          returning users.id
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
          select 'email.verified', target.id, target.id, ${c.ip ?? null}, ${c.userAgent ?? null},
                 ${jsonb({ method: "link" })} || jsonb_build_object('alreadyVerified', target.email_verified), ${ts(c.now)}
          from target
        )
        select used.user_id as "userId", (select email from target) as email, exists(select 1 from verified) as verified,
               (select email_verified from target) as "wasVerified"
        from used`,
  );
  const r = found[0];
  if (!r || !r.userId) return { outcome: "invalid" };
  if (!r.verified || !r.email) return { outcome: "address_changed", userId: r.userId };
  return { outcome: "verified", userId: r.userId, email: r.email, wasVerified: r.wasVerified === true };
}
