// Accounts for passwordless sign-in (magic links, email one-time codes): the lookup when a link or
// code is requested, and, when one is used, the one statement that records what it proved (the
// address is the user's) before the session starts: the email verified, and a password set before
// the address was ever verified cleared (pre-account-hijacking), or a new account for sign-up.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { parseUuidArray } from "./sessions";
import { jsonb, rows, ts, type AuditContext } from "./sql";

export interface PasswordlessAccount {
  id: string;
  email: string;
  emailVerified: boolean;
  fullName: string | null;
}

/** The account of an address (case-insensitively), or null. */
export async function findPasswordlessAccount(db: Database, email: string): Promise<PasswordlessAccount | null> {
  const found = await rows<PasswordlessAccount>(
    db,
    sql`select id, email, email_verified as "emailVerified", full_name as "fullName"
        from users where lower(email) = lower(${email}) limit 1`,
  );
  return found[0] ?? null;
}

export interface EmailProof {
  userId: string;
  /** The address was unverified until now. */
  newlyVerified: boolean;
  /** A password set while the address was unverified was cleared (sessions revoked, token version bumped). */
  passwordCleared: boolean;
  tokenVersion: number | null;
  revokedSessionIds: string[];
}

/**
 * The user `userId` (or, without it, the account of `email`) still has `email`: marks it verified
 * and, when it was not verified before, clears the password and, if there was one, bumps the token
 * version and revokes every session (whoever set that password never proved the address). Audited
 * in the same statement. Null when no user has that address (any more).
 */
export async function proveEmailOwnership(
  db: Database,
  p: AuditContext & { userId: string | null; email: string; method: string; now: Date },
): Promise<EmailProof | null> {
  const who = p.userId ? sql`id = ${p.userId}::uuid and lower(email) = lower(${p.email})` : sql`lower(email) = lower(${p.email})`;
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with target as (
          select id, email_verified, password_hash is not null as had_password from users where ${who} limit 1
          for no key update
        ), updated as (
          update users set email_verified = true, email_verified_at = ${ts(p.now)}, password_hash = null,
                 token_version = case when target.had_password then users.token_version + 1 else users.token_version end,
                 updated_at = ${ts(p.now)}
          from target where users.id = target.id and not target.email_verified
          returning users.id, users.token_version
        ), revoked as (
          update sessions set revoked_at = ${ts(p.now)}, revoked_reason = 'unverified_password_cleared'
          from target where sessions.user_id = target.id and target.had_password and not target.email_verified and sessions.revoked_at is null
          returning sessions.id
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
          select 'email.verified', target.id, target.id, ${p.ip ?? null}, ${p.userAgent ?? null},
                 ${jsonb({ method: p.method })} || jsonb_build_object('passwordCleared', target.had_password, 'sessionsRevoked', (select count(*) from revoked)),
                 ${ts(p.now)}
          from target where not target.email_verified
        )
        select target.id, not target.email_verified as "newlyVerified", (not target.email_verified and target.had_password) as "passwordCleared",
               (select token_version from updated) as "tokenVersion", (select array_agg(id) from revoked) as revoked
        from target`,
  );
  const r = found[0];
  if (!r) return null;
  return {
    userId: String(r.id),
    newlyVerified: r.newlyVerified === true,
    passwordCleared: r.passwordCleared === true,
    tokenVersion: r.tokenVersion === null || r.tokenVersion === undefined ? null : Number(r.tokenVersion),
    revokedSessionIds: parseUuidArray(r.revoked),
  };
}

/**
 * A new account for an address proven by a link or code (sign-up by magic link): verified, no
 * password; APPROVED and active with automatic approval, else PENDING and inactive until staff
 * approve. Null when the address was taken meanwhile (case-insensitively).
 */
export async function insertPasswordlessUser(
  db: Database,
  u: AuditContext & { email: string; approval: "automatic" | "staff"; method: string; applicationId: string; now: Date },
): Promise<{ id: string } | null> {
  const approved = u.approval === "automatic";
  const found = await rows<{ id: string }>(
    db,
    sql`with inserted as (
          insert into users (email, password_hash, auth_provider, approval_status, is_active, email_verified, email_verified_at, created_at, updated_at)
          values (${u.email}, null, 'other', ${approved ? "APPROVED" : "PENDING"}::approval_status, ${approved ? "true" : "false"}::boolean, true,
                  ${ts(u.now)}, ${ts(u.now)}, ${ts(u.now)})
          on conflict ((lower(email))) do nothing
          returning id
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
          select 'user.registered', inserted.id, inserted.id, ${u.ip ?? null}, ${u.userAgent ?? null},
                 ${jsonb({ method: u.method, approval: u.approval, applicationId: u.applicationId, emailVerified: true })}, ${ts(u.now)}
          from inserted
        )
        select id from inserted`,
  );
  return found[0] ?? null;
}
