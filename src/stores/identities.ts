// Linked identities at social providers (user_identities), keyed by provider + issuer + subject.
// Every change is one statement with its audit event; unlinking runs as one batched transaction
// (one round trip) so two concurrent unlinks cannot both remove the last ways to sign in.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { AuthProvider } from "../db/schema";
import { liveActingSession, type ActingSession } from "./sessions";
import { jsonb, rows, toDate, transactionRows, ts, type AuditContext } from "./sql";

export interface IdentityKey {
  provider: string;
  issuer: string;
  subject: string;
}

export interface IdentityClaims extends IdentityKey {
  email: string | null;
  emailVerified: boolean;
}

/** What a social sign-in found: the identity's user, or else the account holding the same email. */
export type IdentityLookup =
  | { kind: "identity"; userId: string; identityId: string }
  | { kind: "email"; userId: string; emailVerified: boolean }
  | { kind: "none" };

/**
 * One statement: the identity (its last use, email and email_verified refreshed from the
 * provider), or when there is none, the user whose email is the provider's (case-insensitively).
 */
export async function lookupIdentity(db: Database, c: IdentityClaims, now: Date): Promise<IdentityLookup> {
  const found = await rows<{ kind: "identity" | "email"; userId: string; identityId: string | null; emailVerified: boolean | null }>(
    db,
    sql`with hit as (
          update user_identities set last_used_at = ${ts(now)}, email = ${c.email}, email_verified = ${c.emailVerified}
          where provider = ${c.provider} and issuer = ${c.issuer} and subject = ${c.subject}
          returning id, user_id
        )
        select 'identity' as kind, hit.user_id as "userId", hit.id as "identityId", null::boolean as "emailVerified" from hit
        union all
        select 'email', u.id, null, u.email_verified from users u
        where ${c.email}::text is not null and lower(u.email) = lower(${c.email}::text) and not exists (select 1 from hit)
        limit 1`,
  );
  const r = found[0];
  if (!r) return { kind: "none" };
  if (r.kind === "identity") return { kind: "identity", userId: r.userId, identityId: r.identityId! };
  return { kind: "email", userId: r.userId, emailVerified: r.emailVerified === true };
}

export type LinkResult = { linked: true; identityId: string } | { linked: false; ownerUserId: string | null };

/**
 * Links the identity to `userId` (an active user; with `acting`, only while that session is live)
 * and writes `identity.linked`, in one statement. When the identity already exists, nothing
 * changes and its owner is returned (the same user: already linked).
 */
export async function linkIdentity(
  db: Database,
  input: IdentityClaims & { userId: string; now: Date; acting?: ActingSession; audit: AuditContext & { metadata: Record<string, unknown> } },
): Promise<LinkResult> {
  const found = await rows<{ linked: boolean; id: string | null; userId: string | null }>(
    db,
    sql`with target as (
          select u.id from users u where u.id = ${input.userId}::uuid and u.is_active
            ${input.acting ? sql`and ${liveActingSession(input.acting, sql`u.id`, input.now)}` : sql``}
        ), inserted as (
          insert into user_identities (user_id, provider, issuer, subject, email, email_verified, created_at, last_used_at)
          select target.id, ${input.provider}, ${input.issuer}, ${input.subject}, ${input.email}, ${input.emailVerified}, ${ts(input.now)}, ${ts(input.now)}
          from target
          on conflict (provider, issuer, subject) do nothing
          returning id, user_id
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
          select 'identity.linked', inserted.user_id, inserted.user_id, ${input.audit.ip ?? null}, ${input.audit.userAgent ?? null},
                 ${jsonb(input.audit.metadata)} || jsonb_build_object('identityId', inserted.id, 'provider', ${input.provider}::text), ${ts(input.now)}
          from inserted
        )
        select true as linked, id, user_id as "userId" from inserted
        union all
        select false, i.id, i.user_id from user_identities i
        where i.provider = ${input.provider} and i.issuer = ${input.issuer} and i.subject = ${input.subject} and not exists (select 1 from inserted)
        limit 1`,
  );
  const r = found[0];
  if (r?.linked) return { linked: true, identityId: r.id! };
  return { linked: false, ownerUserId: r?.userId ?? null };
}

/**
 * A new user from a social sign-in, with its identity, in one statement: APPROVED and active, or
 * PENDING and inactive (staff approve); no password; `email_verified` as the provider says. Writes
 * `user.registered` and `identity.linked`. Null when the email was taken meanwhile.
 */
export async function createSocialUser(
  db: Database,
  input: IdentityClaims & {
    email: string;
    fullName: string | null;
    authProvider: AuthProvider;
    approved: boolean;
    now: Date;
    audit: AuditContext & { metadata: Record<string, unknown> };
  },
): Promise<{ userId: string; identityId: string } | null> {
  const approval = input.approved ? "APPROVED" : "PENDING";
  const found = await rows<{ userId: string; identityId: string }>(
    db,
    sql`with created as (
          insert into users (email, password_hash, full_name, auth_provider, approval_status, is_active, email_verified, email_verified_at, created_at, updated_at)
          values (${input.email}, null, ${input.fullName}, ${input.authProvider}, ${approval}::approval_status, ${input.approved}, ${input.emailVerified},
                  ${input.emailVerified ? ts(input.now) : sql`null`}, ${ts(input.now)}, ${ts(input.now)})
          on conflict ((lower(email))) do nothing
          returning id
        ), identity as (
          insert into user_identities (user_id, provider, issuer, subject, email, email_verified, created_at, last_used_at)
          select created.id, ${input.provider}, ${input.issuer}, ${input.subject}, ${input.email}, ${input.emailVerified}, ${ts(input.now)}, ${ts(input.now)}
          from created
          returning id, user_id
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
          select e.type, identity.user_id, identity.user_id, ${input.audit.ip ?? null}, ${input.audit.userAgent ?? null},
                 ${jsonb(input.audit.metadata)} || jsonb_build_object('identityId', identity.id, 'provider', ${input.provider}::text, 'approvalStatus', ${approval}::text),
                 ${ts(input.now)}
          from identity cross join (values ('user.registered'), ('identity.linked')) as e(type)
        )
        select user_id as "userId", id as "identityId" from identity`,
  );
  return found[0] ?? null;
}

export interface IdentityView {
  id: string;
  provider: string;
  email: string | null;
  emailVerified: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** The user's identities, while the acting session is live (null: it is not). One statement. */
export async function listIdentities(db: Database, userId: string, acting: ActingSession, now: Date): Promise<IdentityView[] | null> {
  const found = await rows<{ live: boolean; list: IdentityView[] | null }>(
    db,
    sql`select ${liveActingSession(acting, sql`${userId}::uuid`, now)} as live,
          (select coalesce(json_agg(json_build_object('id', i.id, 'provider', i.provider, 'email', i.email, 'emailVerified', i.email_verified,
                    'createdAt', i.created_at, 'lastUsedAt', i.last_used_at) order by i.created_at, i.id), '[]'::json)
           from user_identities i where i.user_id = ${userId}::uuid) as list`,
  );
  const r = found[0];
  if (!r?.live) return null;
  return (r.list ?? []).map((i) => ({ ...i, createdAt: toDate(i.createdAt)!, lastUsedAt: toDate(i.lastUsedAt) }));
}

export type UnlinkResult = "unlinked" | "not_found" | "last_method" | "not_live";

/**
 * Removes one of the user's identities unless it is their last way to sign in (no password, no
 * passkey, no other identity), and writes `identity.unlinked`. The user row is locked first, in
 * the same one-round-trip transaction, so concurrent unlinks are decided one after the other.
 */
export async function unlinkIdentity(
  db: Database,
  input: { userId: string; identityId: string; acting: ActingSession; now: Date; audit: AuditContext },
): Promise<UnlinkResult> {
  const [, result] = await transactionRows(db, [
    sql`select id from users where id = ${input.userId}::uuid for update`,
    sql`with live as (
          select ${liveActingSession(input.acting, sql`${input.userId}::uuid`, input.now)} as ok
        ), target as (
          select i.id, i.provider from user_identities i where i.id = ${input.identityId}::uuid and i.user_id = ${input.userId}::uuid
        ), others as (
          select (select password_hash is not null from users where id = ${input.userId}::uuid)
              or exists (select 1 from passkeys p where p.user_id = ${input.userId}::uuid)
              or exists (select 1 from user_identities i where i.user_id = ${input.userId}::uuid and i.id <> ${input.identityId}::uuid) as ok
        ), removed as (
          delete from user_identities where id = (select id from target) and (select ok from live) and (select ok from others)
          returning id, provider
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
          select 'identity.unlinked', ${input.userId}::uuid, ${input.userId}::uuid, ${input.audit.ip ?? null}, ${input.audit.userAgent ?? null},
                 jsonb_build_object('identityId', removed.id, 'provider', removed.provider), ${ts(input.now)}
          from removed
        )
        select (select ok from live) as live, exists (select 1 from target) as found, (select ok from others) as others, exists (select 1 from removed) as removed`,
  ]);
  const r = result[0] as { live: boolean; found: boolean; others: boolean; removed: boolean };
  if (!r.live) return "not_live";
  if (r.removed) return "unlinked";
  if (!r.found) return "not_found";
  return "last_method";
}
