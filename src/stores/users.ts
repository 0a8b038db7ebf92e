// Users: lookups for sign-in and the current-user read (/auth/me), and self-service writes.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { ApprovalStatus, AuthProvider, GlobalRole } from "../db/schema";
import type { AuditEvent } from "./audit";
import { userOrganizationsSql, type UserOrganization } from "./organizations";
import { liveActingSession, type ActingSession } from "./sessions";
import { rows, toDate, ts } from "./sql";

/** What sign-in needs to know about a user, and the profile it answers with. */
export interface Credentials {
  id: string;
  email: string;
  passwordHash: string | null;
  globalRole: GlobalRole;
  tokenVersion: number;
  approvalStatus: ApprovalStatus;
  isActive: boolean;
  fullName: string | null;
  phoneNumber: string | null;
  profilePictureUrl: string | null;
  authProvider: AuthProvider;
}

export async function findCredentialsByEmail(db: Database, email: string): Promise<Credentials | null> {
  const found = await rows<Credentials>(
    db,
    sql`select id, email, password_hash as "passwordHash", global_role as "globalRole", token_version as "tokenVersion",
          approval_status as "approvalStatus", is_active as "isActive", full_name as "fullName", phone_number as "phoneNumber",
          profile_picture_url as "profilePictureUrl", auth_provider as "authProvider"
        from users where lower(email) = lower(${email}) limit 1`,
  );
  return found[0] ?? null;
}

export interface NewPendingUser {
  email: string;
  passwordHash: string;
  fullName: string | null;
  phoneNumber: string | null;
  profilePictureUrl: string | null;
  authProvider: AuthProvider;
  /** An email verification token (its hash) to store for the new account in the same statement. */
  verification?: { tokenHash: string; expiresAt: Date };
}

/** What insertPendingUser did: created a user, or found the address taken (with the stored address, when visible). */
export type PendingUserInsert = { created: true; id: string } | { created: false; existingEmail: string | null };

/**
 * Inserts a PENDING, inactive user unless the address is taken (case-insensitively), and writes
 * the audit event only when a user was created. When the address already had an account, returns
 * that account's stored address (so its owner is written to there, not at the variant typed).
 * One statement, so a concurrent duplicate cannot slip in.
 */
export async function insertPendingUser(
  db: Database,
  u: NewPendingUser,
  audit: Omit<AuditEvent, "type" | "targetUserId">,
): Promise<PendingUserInsert> {
  const found = await rows<{ id: string; email: string; created: boolean }>(
    db,
    sql`with inserted as (
          insert into users (email, password_hash, full_name, phone_number, profile_picture_url, auth_provider, approval_status, is_active, created_at, updated_at)
          values (${u.email}, ${u.passwordHash}, ${u.fullName}, ${u.phoneNumber}, ${u.profilePictureUrl}, ${u.authProvider}, 'PENDING', false, ${ts(audit.at)}, ${ts(audit.at)})
          on conflict ((lower(email))) do nothing
          returning id, email
        ), verification as (
          insert into email_verification_tokens (token_hash, user_id, email, expires_at, created_at)
          select ${u.verification?.tokenHash ?? null}::text, inserted.id, inserted.email, ${u.verification ? ts(u.verification.expiresAt) : sql`null`}::timestamptz, ${ts(audit.at)}
          from inserted where ${u.verification ? sql`true` : sql`false`}
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
          select 'user.registered', inserted.id, inserted.id, ${audit.ip ?? null}, ${audit.userAgent ?? null}, ${JSON.stringify(audit.metadata ?? {})}::jsonb, ${ts(audit.at)}
          from inserted
        )
        select id, email, true as created from inserted
        union all
        select id, email, false as created from users
        where lower(email) = lower(${u.email}) and not exists (select 1 from inserted)
        limit 1`,
  );
  const r = found[0];
  if (r?.created) return { created: true, id: r.id };
  // Null only when a concurrent insert, not yet visible to this statement, took the address.
  return { created: false, existingEmail: r?.email ?? null };
}

export interface CompanyMembershipView {
  companyId: string;
  role: string;
  isActive: boolean;
}

export interface BusinessUnitMembershipView {
  companyId: string;
  businessUnitId: string;
  role: string;
  isActive: boolean;
}

export interface UserProfile {
  id: string;
  email: string;
  fullName: string | null;
  phoneNumber: string | null;
  profilePictureUrl: string | null;
  authProvider: AuthProvider;
  globalRole: GlobalRole;
  approvalStatus: ApprovalStatus;
  isActive: boolean;
  /** The address was proven by a link or code sent to it (claim `email_verified`). */
  emailVerified: boolean;
  tokenVersion: number;
  lastLoginAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  companyMemberships: CompanyMembershipView[];
  businessUnitMemberships: BusinessUnitMembershipView[];
  /** With `organizations: true` (/auth/me): the user's organizations and roles in each. */
  organizations?: UserOrganization[];
}

/** The user with active memberships, in one statement, plus whether the acting session is still live (see liveActingSession). */
export async function loadProfile(
  db: Database,
  userId: string,
  actor: ActingSession | null,
  now: Date,
  options: { organizations?: boolean } = {},
): Promise<(UserProfile & { sessionActive: boolean }) | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select u.id, u.email, u.full_name as "fullName", u.phone_number as "phoneNumber", u.profile_picture_url as "profilePictureUrl",
          u.auth_provider as "authProvider", u.global_role as "globalRole", u.approval_status as "approvalStatus", u.is_active as "isActive",
          u.email_verified as "emailVerified", u.token_version as "tokenVersion", u.last_login_at as "lastLoginAt", u.created_at as "createdAt", u.updated_at as "updatedAt",
          coalesce((select json_agg(json_build_object('companyId', cm.company_id, 'role', cm.role, 'isActive', cm.is_active) order by cm.company_id)
                    from company_memberships cm where cm.user_id = u.id and cm.is_active), '[]'::json) as "companyMemberships",
          coalesce((select json_agg(json_build_object('companyId', bm.company_id, 'businessUnitId', bm.business_unit_id, 'role', bm.role, 'isActive', bm.is_active)
                           order by bm.company_id, bm.business_unit_id)
                    from business_unit_memberships bm where bm.user_id = u.id and bm.is_active), '[]'::json) as "businessUnitMemberships",
          ${actor ? liveActingSession(actor, sql`u.id`, now) : sql`false`} as "sessionActive"
          ${options.organizations ? sql`, ${userOrganizationsSql(sql`u.id`)} as "organizations"` : sql``}
        from users u where u.id = ${userId}::uuid`,
  );
  const r = found[0];
  if (!r) return null;
  return {
    ...(r as unknown as UserProfile & { sessionActive: boolean }),
    emailVerified: r.emailVerified === true || r.emailVerified === "t",
    lastLoginAt: toDate(r.lastLoginAt),
    createdAt: toDate(r.createdAt)!,
    updatedAt: toDate(r.updatedAt)!,
    companyMemberships: parseJson(r.companyMemberships) as CompanyMembershipView[],
    businessUnitMemberships: parseJson(r.businessUnitMemberships) as BusinessUnitMembershipView[],
    ...(options.organizations ? { organizations: (parseJson(r.organizations) ?? []) as UserOrganization[] } : {}),
  };
}

function parseJson(v: unknown): unknown {
  return typeof v === "string" ? JSON.parse(v) : v;
}

/** Updates the stored hash when its parameters are outdated (after a successful sign-in). */
export async function updatePasswordHash(db: Database, userId: string, passwordHash: string): Promise<void> {
  await db.execute(sql`update users set password_hash = ${passwordHash} where id = ${userId}::uuid`);
}

