// Users as platform staff administer them (/internal/users): list with filters and keyset
// pagination, read one with what the role rules need, create, and change. Every change is ONE
// statement: the user row, the token-version bump, the session revocations and the audit event
// land together or not at all.
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import type { ApprovalStatus, AuthProvider, GlobalRole } from "../db/schema";
import type { AuditEvent } from "./audit";
import type { UserProfile } from "./users";
import { parseUuidArray } from "./sessions";
import { jsonb, rows, toDate, ts } from "./sql";

/** A user as staff see it: the profile without the token version and memberships. */
export type AdminUserRow = Omit<UserProfile, "tokenVersion" | "companyMemberships" | "businessUnitMemberships">;

/** The profile columns, optionally qualified ("u."); constant text only. */
function columns(prefix = ""): SQL {
  const p = prefix;
  return sql.raw(
    `${p}id, ${p}email, ${p}full_name as "fullName", ${p}phone_number as "phoneNumber", ${p}profile_picture_url as "profilePictureUrl",
     ${p}auth_provider as "authProvider", ${p}global_role as "globalRole", ${p}approval_status as "approvalStatus", ${p}is_active as "isActive",
     ${p}email_verified as "emailVerified", ${p}last_login_at as "lastLoginAt", ${p}created_at as "createdAt", ${p}updated_at as "updatedAt"`,
  );
}

function toRow(r: Record<string, unknown>): AdminUserRow {
  return {
    id: String(r.id),
    email: String(r.email),
    fullName: (r.fullName as string | null) ?? null,
    phoneNumber: (r.phoneNumber as string | null) ?? null,
    profilePictureUrl: (r.profilePictureUrl as string | null) ?? null,
    authProvider: r.authProvider as AuthProvider,
    globalRole: r.globalRole as GlobalRole,
    approvalStatus: r.approvalStatus as ApprovalStatus,
    isActive: r.isActive === true || r.isActive === "t" || r.isActive === "true",
    emailVerified: r.emailVerified === true || r.emailVerified === "t" || r.emailVerified === "true",
    lastLoginAt: toDate(r.lastLoginAt),
    createdAt: toDate(r.createdAt)!,
    updatedAt: toDate(r.updatedAt)!,
  };
}

/** An active, approved superadmin: the accounts the "last superadmin" rule counts. */
function activeSuperadmin(prefix = ""): SQL {
  return sql.raw(`${prefix}global_role = 'PLATFORM_SUPERADMIN' and ${prefix}is_active and ${prefix}approval_status = 'APPROVED'`);
}

// ---- list ----------------------------------------------------------------------------------------

export interface UserListFilter {
  /** Case-insensitive substring of the email or the full name. */
  q?: string;
  globalRole?: GlobalRole;
  approvalStatus?: ApprovalStatus;
  isActive?: boolean;
  /** Users with an active membership in this company. */
  companyId?: string;
  /** Keyset position: rows strictly after (createdAt, id). createdAt is the exact text form from `cursorAt`. */
  after?: { createdAt: string; id: string };
  limit: number;
}

export interface UserListPage {
  users: AdminUserRow[];
  /** The position of the last row returned, when more rows follow. */
  next: { createdAt: string; id: string } | null;
}

/** One statement; ordered by (created_at, id), which is unique and stable. */
export async function listUsers(db: Database, f: UserListFilter): Promise<UserListPage> {
  const where: SQL[] = [];
  if (f.q) where.push(sql`(strpos(lower(u.email), lower(${f.q})) > 0 or strpos(lower(coalesce(u.full_name, '')), lower(${f.q})) > 0)`);
  if (f.globalRole) where.push(sql`u.global_role = ${f.globalRole}::global_role`);
  if (f.approvalStatus) where.push(sql`u.approval_status = ${f.approvalStatus}::approval_status`);
  if (f.isActive !== undefined) where.push(sql`u.is_active = ${f.isActive ? "true" : "false"}::boolean`);
  if (f.companyId) {
    where.push(sql`exists (select 1 from company_memberships cm where cm.user_id = u.id and cm.company_id = ${f.companyId}::uuid and cm.is_active)`);
  }
  if (f.after) where.push(sql`(u.created_at, u.id) > (${f.after.createdAt}::timestamptz, ${f.after.id}::uuid)`);
  const condition = where.length > 0 ? sql.join(where, sql` and `) : sql`true`;
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select ${columns("u.")},
          to_char(u.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "cursorAt"
        from users u
        where ${condition}
        order by u.created_at, u.id
        limit ${f.limit + 1}`,
  );
  const page = found.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    users: page.map(toRow),
    next: found.length > f.limit && last ? { createdAt: String(last.cursorAt), id: String(last.id) } : null,
  };
}

// ---- read ----------------------------------------------------------------------------------------

export interface AdminTarget extends AdminUserRow {
  /** Row version (xmin): a change applies only if the row is still as it was read. */
  version: string;
  /** Active, approved superadmins other than this user. */
  otherActiveSuperadmins: number;
  /** Whether `emailToCheck` belongs to another user (case-insensitively). */
  emailTaken: boolean;
}

/** The user with what the role rules need, in one statement. Null when there is no such user. */
export async function findAdminTarget(db: Database, id: string, emailToCheck?: string): Promise<AdminTarget | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select ${columns("u.")}, u.xmin::text as version,
          (select count(*)::int from users o where o.id <> u.id and ${activeSuperadmin("o.")}) as "otherActiveSuperadmins",
          ${emailToCheck === undefined ? sql`false` : sql`exists (select 1 from users o where lower(o.email) = lower(${emailToCheck}) and o.id <> u.id)`} as "emailTaken"
        from users u where u.id = ${id}::uuid`,
  );
  const r = found[0];
  if (!r) return null;
  return { ...toRow(r), version: String(r.version), otherActiveSuperadmins: Number(r.otherActiveSuperadmins), emailTaken: r.emailTaken === true };
}

// ---- create --------------------------------------------------------------------------------------

export interface NewAdminUser {
  email: string;
  passwordHash: string | null;
  fullName: string | null;
  phoneNumber: string | null;
  profilePictureUrl: string | null;
  authProvider: AuthProvider;
  globalRole: GlobalRole;
  approvalStatus: ApprovalStatus;
  isActive: boolean;
  passwordChangedAt: Date | null;
}

/**
 * Inserts the user unless the address is taken (case-insensitively) and writes the audit event
 * (its target is the new id) in the same statement. Null when the address was taken.
 */
export async function insertAdminUser(db: Database, u: NewAdminUser, audit: AuditEvent): Promise<AdminUserRow | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with inserted as (
          insert into users (email, password_hash, full_name, phone_number, profile_picture_url, auth_provider, global_role,
                             approval_status, is_active, password_changed_at, created_at, updated_at)
          values (${u.email}, ${u.passwordHash}, ${u.fullName}, ${u.phoneNumber}, ${u.profilePictureUrl}, ${u.authProvider}::auth_provider,
                  ${u.globalRole}::global_role, ${u.approvalStatus}::approval_status, ${u.isActive ? "true" : "false"}::boolean,
                  ${u.passwordChangedAt ? ts(u.passwordChangedAt) : sql`null`}, ${ts(audit.at)}, ${ts(audit.at)})
          on conflict ((lower(email))) do nothing
          returning ${columns()}
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
          select ${audit.type}, ${audit.actorUserId ?? null}::uuid, ${audit.actorLabel ?? null}, inserted.id, ${audit.ip ?? null},
                 ${audit.userAgent ?? null}, ${jsonb(audit.metadata)}, ${ts(audit.at)}
          from inserted
        )
        select * from inserted`,
  );
  return found[0] ? toRow(found[0]) : null;
}

// ---- change --------------------------------------------------------------------------------------

/** Column values to set; an absent key leaves the column as it is. */
export interface UserColumnChanges {
  email?: string;
  passwordHash?: string;
  fullName?: string | null;
  phoneNumber?: string | null;
  profilePictureUrl?: string | null;
  authProvider?: AuthProvider;
  globalRole?: GlobalRole;
  approvalStatus?: ApprovalStatus;
  isActive?: boolean;
  /** Sets email_verified; email_verified_at is set to now when true, cleared when false. */
  emailVerified?: boolean;
}

export interface ChangeUserInput {
  id: string;
  /** The row version the decision was made on (from findAdminTarget). */
  version: string;
  set: UserColumnChanges;
  /** Bump the token version and revoke every session, with this reason; null: leave sessions alone. */
  revokeReason: string | null;
  /**
   * The change takes an active superadmin away: lock the other active superadmins and apply only
   * if at least one remains (two superadmins demoting each other at once cannot both succeed).
   */
  guardLastSuperadmin: boolean;
  now: Date;
  /** Written with `sessionsRevoked` added to its metadata. */
  audit: AuditEvent;
}

export type ChangeUserResult =
  | { outcome: "changed"; user: AdminUserRow; tokenVersion: number; revokedSessionIds: string[] }
  /** The row is gone, or changed since it was read (version mismatch): nothing was written. */
  | { outcome: "stale" }
  /** guardLastSuperadmin and no other active superadmin remains: nothing was written. */
  | { outcome: "last_superadmin" };

export async function changeUser(db: Database, input: ChangeUserInput): Promise<ChangeUserResult> {
  const s = input.set;
  const assignments: SQL[] = [];
  if (s.email !== undefined) assignments.push(sql`email = ${s.email}`);
  if (s.passwordHash !== undefined) assignments.push(sql`password_hash = ${s.passwordHash}, password_changed_at = ${ts(input.now)}`);
  if (s.fullName !== undefined) assignments.push(sql`full_name = ${s.fullName}`);
  if (s.phoneNumber !== undefined) assignments.push(sql`phone_number = ${s.phoneNumber}`);
  if (s.profilePictureUrl !== undefined) assignments.push(sql`profile_picture_url = ${s.profilePictureUrl}`);
  if (s.authProvider !== undefined) assignments.push(sql`auth_provider = ${s.authProvider}::auth_provider`);
  if (s.globalRole !== undefined) assignments.push(sql`global_role = ${s.globalRole}::global_role`);
  if (s.approvalStatus !== undefined) assignments.push(sql`approval_status = ${s.approvalStatus}::approval_status`);
  if (s.isActive !== undefined) assignments.push(sql`is_active = ${s.isActive ? "true" : "false"}::boolean`);
  if (s.emailVerified !== undefined) {
    assignments.push(s.emailVerified ? sql`email_verified = true, email_verified_at = ${ts(input.now)}` : sql`email_verified = false, email_verified_at = null`);
  }
  if (input.revokeReason !== null) assignments.push(sql`token_version = token_version + 1`);
  assignments.push(sql`updated_at = ${ts(input.now)}`);

  const a = input.audit;
  const guard = input.guardLastSuperadmin
    ? sql`select count(*)::int as n from (select id from users where ${activeSuperadmin()} and id <> ${input.id}::uuid for update) others`
    : sql`select null::int as n`;
  const revoke =
    input.revokeReason === null
      ? sql`select null::uuid as id where false`
      : sql`update sessions set revoked_at = ${ts(input.now)}, revoked_reason = ${input.revokeReason}
            from updated where sessions.user_id = updated.id and sessions.revoked_at is null
            returning sessions.id`;

  const found = await rows<Record<string, unknown>>(
    db,
    sql`with guard as materialized (${guard}),
        updated as (
          update users set ${sql.join(assignments, sql`, `)}
          where id = ${input.id}::uuid and xmin = ${input.version}::xid
            ${input.guardLastSuperadmin ? sql`and (select n from guard) > 0` : sql``}
          returning ${columns()}, token_version as "tokenVersion"
        ), revoked as (
          ${revoke}
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
          select ${a.type}, ${a.actorUserId ?? null}::uuid, ${a.actorLabel ?? null}, updated.id, ${a.ip ?? null}, ${a.userAgent ?? null},
                 ${jsonb(a.metadata)} || jsonb_build_object('sessionsRevoked', (select count(*) from revoked)), ${ts(a.at)}
          from updated
        )
        select updated.*, guard.n as "otherActiveSuperadmins", (select array_agg(id) from revoked) as revoked
        from guard left join updated on true`,
  );
  const r = found[0];
  if (!r || r.id === null || r.id === undefined) {
    return input.guardLastSuperadmin && Number(r?.otherActiveSuperadmins ?? 0) === 0 ? { outcome: "last_superadmin" } : { outcome: "stale" };
  }
  return { outcome: "changed", user: toRow(r), tokenVersion: Number(r.tokenVersion), revokedSessionIds: parseUuidArray(r.revoked) };
}

/** A unique violation on the case-insensitive email index, wherever the driver put it in the cause chain. */
export function isEmailConflict(err: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e && typeof e === "object" && !seen.has(e)) {
    seen.add(e);
    const x = e as { code?: unknown; constraint?: unknown; message?: unknown; cause?: unknown; sourceError?: unknown };
    if (x.code === "23505" && (x.constraint === undefined || x.constraint === "users_email_lower_key" || /email/i.test(String(x.message)))) return true;
    e = x.sourceError ?? x.cause;
  }
  return false;
}
