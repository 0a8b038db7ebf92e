// Sessions (refresh families). Every change here is one SQL statement (one round trip), with the
// audit event in the same statement: rotation, revocation, logout-all.
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import type { ApprovalStatus, GlobalRole } from "../db/schema";
import type { AuditEvent } from "./audit";
import { organizationScopeSql, recordOrganizationTokenSql } from "./organizations";
import type { Credentials } from "./users";
import { jsonb, rows, toDate, ts, type AuditContext } from "./sql";

export interface SignInStart extends AuditContext {
  email: string;
  sessionId: string;
  /** The application the sign-in came through. */
  applicationId: string;
  /** SHA-256 of the refresh secret, chosen before the statement; the secret is only disclosed once the password is verified. */
  refreshHash: string;
  expiresAt: Date;
  now: Date;
  /**
   * When the Worker stops waiting for this statement (DEPENDENCY_TIMEOUT_MS from now): a statement
   * that only runs after that (held in the network, a slow database) starts no session, so a
   * sign-in that already answered 503 leaves nothing behind.
   */
  deadline: Date;
  /** SHA-256 of a remembered-device token the client sent (MFA): whether it is live comes back as `deviceRemembered`. */
  deviceTokenHash?: string | null;
  /**
   * The id of this sign-in's audit row. The statement records the attempt (`login.attempt`: when,
   * from where, which application and account); the work after the answer turns it into the
   * outcome (finishSignIn, abandonSignIn). If that work never runs, the attempt is still recorded.
   */
  auditId: string;
}

/** The user's enabled TOTP as a sign-in statement reads it (for the MFA challenge), or null. */
export interface SignInTotp {
  ciphertext: string;
  keyId: string;
}

/** What sign-in read about the account, and whether its statement started the session. */
export type SignInRead = Credentials & {
  sessionStarted: boolean;
  emailVerified: boolean;
  /** Second factors (issue 10): the enabled TOTP, and whether the client's remembered-device token is live. */
  totp?: SignInTotp | null;
  deviceRemembered?: boolean;
  /** The user has a passkey: a challenge offers it as a factor. */
  hasPasskey?: boolean;
};

/** SQL: the enabled TOTP of the user `userId` as json, or null; whether `deviceTokenHash` is a live remembered device of theirs. */
function secondFactorColumns(userId: SQL, deviceTokenHash: string | null | undefined, now: Date): SQL {
  return sql`(select json_build_object('ciphertext', t.secret_ciphertext, 'keyId', t.key_id) from mfa_totp t where t.user_id = ${userId} and t.enabled_at is not null) as totp,
             ${deviceTokenHash ? sql`exists(select 1 from remembered_devices d where d.user_id = ${userId} and d.token_hash = ${deviceTokenHash} and d.expires_at > ${ts(now)})` : sql`false`} as "deviceRemembered",
             exists(select 1 from passkeys pk where pk.user_id = ${userId}) as "hasPasskey"`;
}

function parseSecondFactors<T extends { totp?: unknown; deviceRemembered?: unknown; hasPasskey?: unknown }>(r: T): T {
  return {
    ...r,
    totp: typeof r.totp === "string" ? JSON.parse(r.totp) : (r.totp ?? null),
    deviceRemembered: r.deviceRemembered === true || r.deviceRemembered === "t",
    hasPasskey: r.hasPasskey === true || r.hasPasskey === "t",
  };
}

/**
 * Sign-in's one statement on the critical path: finds the account by email (the row locked and
 * read as last committed, so a password change that commits meanwhile is seen) and, for an active,
 * approved account with a password, starts the session with the refresh hash chosen beforehand.
 * The password is verified after the statement: a refused sign-in removes its session with
 * abandonSignIn, after the response; its refresh secret was never disclosed. A password change
 * that commits after this statement ends the session (it revokes every session it can see), so a
 * session proven only by an old password does not outlive the change.
 */
export async function startSignIn(db: Database, s: SignInStart): Promise<SignInRead | null> {
  const found = await rows<SignInRead>(
    db,
    sql`with found as (
          select id, email, password_hash, global_role, token_version, approval_status, is_active, full_name, phone_number,
                 profile_picture_url, auth_provider, email_verified
          from users where lower(email) = lower(${s.email}) limit 1
          for no key update
        ), created as (
          insert into sessions (id, application_id, user_id, refresh_hash, token_version, user_agent, ip, created_at, last_used_at, expires_at, amr, auth_time)
          select ${s.sessionId}::uuid, ${s.applicationId}::uuid, found.id, ${s.refreshHash}, found.token_version, ${s.userAgent ?? null}, ${s.ip ?? null},
                 ${ts(s.now)}, ${ts(s.now)}, ${ts(s.expiresAt)}, '["pwd"]'::jsonb, ${ts(s.now)}
          from found
          where found.password_hash is not null and found.is_active and found.approval_status = 'APPROVED'
            and clock_timestamp() < ${ts(s.deadline)}
          returning id
        ), attempted as (
          insert into auth_audit_logs (id, event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
          select ${s.auditId}::uuid, 'login.attempt', null, (select found.id from found), ${s.ip ?? null}, ${s.userAgent ?? null},
                 jsonb_build_object('applicationId', ${s.applicationId}::text, 'sessionId', (select created.id::text from created)), ${ts(s.now)}
          on conflict (id) do nothing
        )
        select found.id, found.email, found.password_hash as "passwordHash", found.global_role as "globalRole",
               found.token_version as "tokenVersion", found.approval_status as "approvalStatus", found.is_active as "isActive",
               found.full_name as "fullName", found.phone_number as "phoneNumber", found.profile_picture_url as "profilePictureUrl",
               found.auth_provider as "authProvider", found.email_verified as "emailVerified", exists(select 1 from created) as "sessionStarted",
               ${secondFactorColumns(sql`found.id`, s.deviceTokenHash, s.now)}
        from found`,
  );
  return found[0] ? parseSecondFactors(found[0]) : null;
}

/**
 * A session for a user already proven by another first factor (magic link, email code, social,
 * passkey) or by a completed second factor, in one statement: the user row is locked and read as
 * last committed, the session starts only for an active, approved account whose token version is
 * still `expectTokenVersion` (when given: a reset or logout-all since the proof wins), and the
 * audit event and last sign-in time are written with it. Returns the user, whether the session
 * started, or null for no such user.
 */
export async function startProvenSession(
  db: Database,
  s: {
    userId: string;
    sessionId: string;
    applicationId: string;
    refreshHash: string;
    expiresAt: Date;
    now: Date;
    amr: string[];
    expectTokenVersion?: number | null;
    /** SHA-256 (hex) of the password hash a first factor verified: the session starts only while that hash is still stored. */
    expectPasswordDigest?: string | null;
    ip: string | null;
    userAgent: string | null;
    audit: { type: string; metadata: Record<string, unknown> };
    /**
     * The second-factor gate (issue 10): with it, no session starts when the user has an enabled
     * TOTP (unless `deviceTokenHash` is a live remembered device) or, with `required`, has none;
     * the TOTP and the device's state come back either way. "off" never asks.
     */
    secondFactor?: { policy: "off" | "optional" | "required"; deviceTokenHash: string | null };
  },
): Promise<SignInRead | null> {
  const gate = s.secondFactor;
  const hasTotp = sql`exists(select 1 from mfa_totp t where t.user_id = found.id and t.enabled_at is not null)`;
  const remembered = gate?.deviceTokenHash
    ? sql`exists(select 1 from remembered_devices d where d.user_id = found.id and d.token_hash = ${gate.deviceTokenHash} and d.expires_at > ${ts(s.now)})`
    : sql`false`;
  const needsSecondFactor =
    !gate || gate.policy === "off" ? sql`false` : sql`(not ${remembered} and (${hasTotp} or ${gate.policy === "required"}::boolean))`;
  const found = await rows<SignInRead>(
    db,
    sql`with found as (
          select id, email, password_hash, global_role, token_version, approval_status, is_active, full_name, phone_number,
                 profile_picture_url, auth_provider, email_verified
          from users where id = ${s.userId}::uuid
          for no key update
        ), created as (
          insert into sessions (id, application_id, user_id, refresh_hash, token_version, user_agent, ip, created_at, last_used_at, expires_at, amr, auth_time)
          select ${s.sessionId}::uuid, ${s.applicationId}::uuid, found.id, ${s.refreshHash}, found.token_version, ${s.userAgent ?? null}, ${s.ip ?? null},
                 ${ts(s.now)}, ${ts(s.now)}, ${ts(s.expiresAt)}, ${jsonb(s.amr)}, ${ts(s.now)}
          from found
          where found.is_active and found.approval_status = 'APPROVED'
            and (${s.expectTokenVersion ?? null}::int is null or found.token_version = ${s.expectTokenVersion ?? null}::int)
            and (${s.expectPasswordDigest ?? null}::text is null
                 or encode(sha256(convert_to(coalesce(found.password_hash, ''), 'UTF8')), 'hex') = ${s.expectPasswordDigest ?? null}::text)
            and not ${needsSecondFactor}
          returning id
        ), touched as (
          update users set last_login_at = ${ts(s.now)} where id = (select found.id from found) and exists(select 1 from created)
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
          select ${s.audit.type}, found.id, found.id, ${s.ip ?? null}, ${s.userAgent ?? null},
                 ${jsonb({ ...s.audit.metadata, sessionId: s.sessionId, applicationId: s.applicationId, amr: s.amr })}, ${ts(s.now)}
          from found where exists(select 1 from created)
        )
        select found.id, found.email, found.password_hash as "passwordHash", found.global_role as "globalRole",
               found.token_version as "tokenVersion", found.approval_status as "approvalStatus", found.is_active as "isActive",
               found.full_name as "fullName", found.phone_number as "phoneNumber", found.profile_picture_url as "profilePictureUrl",
               found.auth_provider as "authProvider", found.email_verified as "emailVerified", exists(select 1 from created) as "sessionStarted",
               ${secondFactorColumns(sql`found.id`, gate?.deviceTokenHash, s.now)}
        from found`,
  );
  return found[0] ? parseSecondFactors(found[0]) : null;
}

/**
 * After a successful sign-in's response: the last sign-in time, the re-hashed password when the
 * parameters changed (only if the hash that was verified is still the stored one: a password
 * changed meanwhile is never overwritten with a hash of the old one), and the audit event.
 */
export async function finishSignIn(
  db: Database,
  f: AuditContext & {
    userId: string;
    sessionId: string;
    verifiedPasswordHash: string;
    rehashedPassword: string | null;
    now: Date;
    metadata: Record<string, unknown>;
    /** The sign-in's audit row (its `login.attempt` becomes `login.success`). */
    auditId: string;
  },
): Promise<void> {
  await db.execute(
    sql`with touched as (
          update users set last_login_at = ${ts(f.now)},
            password_hash = case when ${f.rehashedPassword}::text is not null and password_hash = ${f.verifiedPasswordHash}
                                 then ${f.rehashedPassword}::text else password_hash end
          where id = ${f.userId}::uuid
          returning id, (${f.rehashedPassword}::text is not null and password_hash = ${f.rehashedPassword}::text) as rehashed
        )
        insert into auth_audit_logs (id, event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
        select ${f.auditId}::uuid, 'login.success', touched.id, touched.id, ${f.ip ?? null}, ${f.userAgent ?? null},
               ${jsonb({ ...f.metadata, sessionId: f.sessionId })} || jsonb_build_object('rehashed', touched.rehashed), ${ts(f.now)}
        from touched
        on conflict (id) do update set event_type = excluded.event_type, actor_user_id = excluded.actor_user_id,
          target_user_id = excluded.target_user_id, metadata = excluded.metadata`,
  );
}

/**
 * After a refused sign-in's response: removes the session its statement started (never rotated,
 * its secret never disclosed) and records why, in one statement. With `auditId`, the sign-in's
 * `login.attempt` row becomes this outcome (or is written, if the attempt's statement never ran).
 */
export async function abandonSignIn(db: Database, a: { sessionId: string | null; refreshHash: string; audit: AuditEvent; auditId?: string }): Promise<void> {
  const e = a.audit;
  await db.execute(
    sql`with removed as (
          delete from sessions where id = ${a.sessionId}::uuid and refresh_hash = ${a.refreshHash} and generation = 0
        )
        insert into auth_audit_logs (id, event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
        values (coalesce(${a.auditId ?? null}::uuid, gen_random_uuid()), ${e.type}, ${e.actorUserId ?? null}::uuid, ${e.targetUserId ?? null}::uuid,
                ${e.ip ?? null}, ${e.userAgent ?? null}, ${jsonb(e.metadata)}, ${ts(e.at)})
        on conflict (id) do update set event_type = excluded.event_type, actor_user_id = excluded.actor_user_id,
          target_user_id = excluded.target_user_id, metadata = excluded.metadata`,
  );
}

/** The state of a session and its user as the rotation statement saw them. */
export interface RotationOutcome {
  sessionId: string;
  /** The application the session belongs to, and whether that application is active. */
  applicationId: string;
  applicationActive: boolean;
  userId: string;
  rotated: boolean;
  refreshHash: string;
  previousRefreshHash: string | null;
  rotatedAt: Date | null;
  revokedAt: Date | null;
  expiresAt: Date;
  sessionTokenVersion: number;
  /** Rotations so far (before this statement). */
  generation: number;
  /** The session's organization scope when it has one and the membership still holds (json), else null. */
  organizationScope: unknown;
  email: string;
  emailVerified: boolean;
  amr: string[];
  authTime: Date;
  globalRole: GlobalRole;
  tokenVersion: number;
  isActive: boolean;
  approvalStatus: ApprovalStatus;
}

/**
 * Rotates the refresh secret atomically: the row changes only if the presented hash is the current
 * one and the session and user are still valid. Whatever happens, the statement also returns the
 * session and user as they were, so the caller can tell a lost race, a retry within the grace
 * window and a reuse apart without another round trip. Of concurrent rotations with one token,
 * exactly one updates the row (the others re-check `refresh_hash` after the winner commits).
 */
export async function rotateRefresh(
  db: Database,
  input: {
    sessionId: string;
    applicationId: string;
    presentedHash: string;
    nextHash: string;
    now: Date;
    /** The id and expiry of the access token this refresh will sign: recorded when the session is organization-scoped. */
    accessToken: { jti: string; expiresAt: Date };
  },
): Promise<RotationOutcome | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with target as (
          select s.id as "sessionId", s.application_id as "applicationId", (a.status = 'active') as "applicationActive", s.user_id as "userId", s.refresh_hash as "refreshHash", s.previous_refresh_hash as "previousRefreshHash",
                 s.rotated_at as "rotatedAt", s.revoked_at as "revokedAt", s.expires_at as "expiresAt", s.token_version as "sessionTokenVersion",
                 s.generation, s.amr, s.auth_time as "authTime", u.email_verified as "emailVerified",
                 u.email, u.global_role as "globalRole", u.token_version as "tokenVersion", u.is_active as "isActive", u.approval_status as "approvalStatus"
          from sessions s join users u on u.id = s.user_id join applications a on a.id = s.application_id
          where s.id = ${input.sessionId}::uuid
        ), rotated as (
          update sessions set refresh_hash = ${input.nextHash}, previous_refresh_hash = ${input.presentedHash},
                 rotated_at = ${ts(input.now)}, last_used_at = ${ts(input.now)}, generation = generation + 1
          from users u, applications a
          where sessions.id = ${input.sessionId}::uuid and sessions.refresh_hash = ${input.presentedHash}
            and sessions.revoked_at is null and sessions.expires_at > ${ts(input.now)}
            and u.id = sessions.user_id and u.is_active and u.approval_status = 'APPROVED' and u.token_version = sessions.token_version
            and sessions.application_id = ${input.applicationId}::uuid and a.id = sessions.application_id and a.status = 'active'
          returning sessions.id
        ), recorded as (
          ${recordOrganizationTokenSql({ jti: input.accessToken.jti, sessionId: sql`${input.sessionId}::uuid`, userId: sql`(select "userId" from target)`, expiresAt: input.accessToken.expiresAt })}
        )
        select target.*, exists(select 1 from rotated) as rotated,
               ${organizationScopeSql(sql`target."sessionId"`, sql`target."userId"`, sql`target."applicationId"`)} as "organizationScope"
        from target`,
  );
  const r = found[0];
  if (!r) return null;
  return {
    ...(r as unknown as RotationOutcome),
    rotatedAt: toDate(r.rotatedAt),
    revokedAt: toDate(r.revokedAt),
    expiresAt: toDate(r.expiresAt)!,
    emailVerified: r.emailVerified === true || r.emailVerified === "t",
    amr: (typeof r.amr === "string" ? JSON.parse(r.amr) : r.amr) as string[],
    authTime: toDate(r.authTime)!,
  };
}

/**
 * The session a user's own request acts from (its Bearer token's session and token version). A
 * change made on the strength of that token is made only while the session is still live, the
 * token version current and the user active, checked in the statement that makes the change: the
 * Redis revocation markers are a fast path that may be missing (Redis down when they were to be
 * written, or when they are read), and Postgres is the source of truth.
 */
export interface ActingSession {
  sessionId: string;
  tokenVersion: number;
  /** The access token's id: a token revoked on its own (RFC 7009, /oauth/revoke) does not act. */
  jti?: string;
}

/**
 * SQL condition: `actor` is a live session of the user `userId` (an SQL expression), as above:
 * not revoked or expired, of the user's current token version, the user active, the session's
 * application active, and (with `jti`) the access token not revoked on its own.
 */
export function liveActingSession(actor: ActingSession, userId: SQL, now: Date): SQL {
  return sql`exists (select 1 from sessions acting join users acting_user on acting_user.id = acting.user_id
        join applications acting_application on acting_application.id = acting.application_id and acting_application.status = 'active'
      where acting.id = ${actor.sessionId}::uuid and acting.user_id = ${userId}
        and acting.revoked_at is null and acting.expires_at > ${ts(now)}
        and acting.token_version = acting_user.token_version and acting_user.token_version = ${actor.tokenVersion}::int
        and acting_user.is_active
        ${actor.jti === undefined ? sql`` : sql`and not exists (select 1 from revoked_access_tokens r where r.jti = ${actor.jti})`})`;
}

/**
 * Revokes a session (if not already revoked) and writes the event, in one statement. With
 * `onlyLive`, an expired session or one of an outdated token version counts as already ended.
 * With `actingSession`, nothing happens unless that session is live (see ActingSession).
 */
export async function revokeSession(
  db: Database,
  input: {
    sessionId: string;
    userId?: string;
    reason: string;
    now: Date;
    audit: AuditEvent;
    onlyLive?: boolean;
    actingSession?: ActingSession;
  },
): Promise<{ revoked: boolean; userId: string | null }> {
  const found = await rows<{ userId: string }>(
    db,
    sql`with revoked as (
          update sessions set revoked_at = ${ts(input.now)}, revoked_reason = ${input.reason}
          where id = ${input.sessionId}::uuid and revoked_at is null
            ${input.userId ? sql`and user_id = ${input.userId}::uuid` : sql``}
            ${
              input.onlyLive
                ? sql`and expires_at > ${ts(input.now)} and token_version = (select u.token_version from users u where u.id = sessions.user_id)`
                : sql``
            }
            ${input.actingSession ? sql`and ${liveActingSession(input.actingSession, sql`sessions.user_id`, input.now)}` : sql``}
          returning id, user_id
        ), audited as (
          ${auditInsertFromRevoked(input.audit, input.reason)}
        )
        select user_id as "userId" from revoked`,
  );
  return { revoked: found.length === 1, userId: found[0]?.userId ?? null };
}

/**
 * The audit row for a revoked session. When the event names no actor at all (neither a user nor
 * a label, as for logout), the session's own user is the actor.
 */
function auditInsertFromRevoked(e: AuditEvent, reason: string) {
  const actor = !e.actorUserId && !e.actorLabel ? sql`revoked.user_id` : sql`${e.actorUserId ?? null}::uuid`;
  return sql`insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
    select ${e.type}, ${actor}, ${e.actorLabel ?? null}, revoked.user_id, ${e.ip ?? null}, ${e.userAgent ?? null},
           ${jsonb(e.metadata)} || jsonb_build_object('sessionId', revoked.id, 'reason', ${reason}::text), ${ts(e.at)}
    from revoked`;
}

/**
 * Logout by refresh token: revokes the session when the presented hash is its current one, or the
 * one just rotated away (a client that lost the rotation answer still logs out). Idempotent.
 */
export async function revokeByRefresh(
  db: Database,
  input: { sessionId: string; applicationId: string; presentedHash: string; now: Date; audit: AuditEvent },
): Promise<{ revoked: boolean; userId: string | null; otherApplication: boolean }> {
  const found = await rows<{ userId: string | null; otherApplication: boolean }>(
    db,
    sql`with revoked as (
          update sessions set revoked_at = ${ts(input.now)}, revoked_reason = 'logout'
          where id = ${input.sessionId}::uuid and revoked_at is null and application_id = ${input.applicationId}::uuid
            and (refresh_hash = ${input.presentedHash} or previous_refresh_hash = ${input.presentedHash})
          returning id, user_id
        ), audited as (
          ${auditInsertFromRevoked(input.audit, "logout")}
        )
        select user_id as "userId", false as "otherApplication" from revoked
        union all
        select null, true from sessions
        where id = ${input.sessionId}::uuid and application_id <> ${input.applicationId}::uuid`,
  );
  const revoked = found.find((r) => !r.otherApplication);
  return { revoked: revoked !== undefined, userId: revoked?.userId ?? null, otherApplication: found.some((r) => r.otherApplication) };
}

/**
 * Ends every session of a user and bumps the token version, so every outstanding access token is
 * refused at the next check. Returns the new token version and the sessions it revoked; null (and
 * nothing written, not even the audit row) when the user does not exist or, with `actingSession`,
 * when that session is no longer live (see ActingSession).
 */
export async function revokeAllSessions(
  db: Database,
  input: { userId: string; reason: string; now: Date; audit: AuditEvent; actingSession?: ActingSession },
): Promise<{ tokenVersion: number; revokedSessionIds: string[] } | null> {
  const found = await rows<{ tokenVersion: number; revoked: string[] | null }>(
    db,
    sql`with bumped as (
          update users set token_version = token_version + 1, updated_at = ${ts(input.now)}
          where id = ${input.userId}::uuid
            ${input.actingSession ? sql`and ${liveActingSession(input.actingSession, sql`users.id`, input.now)}` : sql``}
          returning id, token_version
        ), revoked as (
          update sessions set revoked_at = ${ts(input.now)}, revoked_reason = ${input.reason}
          from bumped where sessions.user_id = bumped.id and sessions.revoked_at is null
          returning sessions.id
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
          select ${input.audit.type}, ${input.audit.actorUserId ?? null}::uuid, ${input.audit.actorLabel ?? null}, bumped.id,
                 ${input.audit.ip ?? null}, ${input.audit.userAgent ?? null},
                 ${jsonb(input.audit.metadata)} || jsonb_build_object('reason', ${input.reason}::text,
                   'revokedSessions', (select count(*) from revoked), 'tokenVersion', bumped.token_version),
                 ${ts(input.audit.at)}
          from bumped
        )
        select bumped.token_version as "tokenVersion", (select array_agg(id) from revoked) as revoked from bumped`,
  );
  const r = found[0];
  if (!r) return null;
  return { tokenVersion: Number(r.tokenVersion), revokedSessionIds: parseUuidArray(r.revoked) };
}

/** Postgres uuid[] comes back parsed or as its text form "{a,b}" depending on the driver. */
export function parseUuidArray(v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.map(String);
  const text = String(v);
  return text.length <= 2 ? [] : text.slice(1, -1).split(",");
}

export interface SessionView {
  id: string;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  /** The application the session was started under. */
  application: { id: string; slug: string; name: string };
  userAgent: string | null;
  ip: string | null;
}

/** The user's live sessions (none while the user is inactive), most recently used first. */
export async function listActiveSessions(db: Database, userId: string, now: Date): Promise<SessionView[]> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select s.id, s.created_at as "createdAt", s.last_used_at as "lastUsedAt", s.expires_at as "expiresAt", s.user_agent as "userAgent", s.ip,
          a.id as "applicationId", a.slug as "applicationSlug", a.name as "applicationName"
        from sessions s join users u on u.id = s.user_id join applications a on a.id = s.application_id
        where s.user_id = ${userId}::uuid and s.revoked_at is null and s.expires_at > ${ts(now)} and s.token_version = u.token_version
          and u.is_active
        order by s.last_used_at desc`,
  );
  return found.map((r) => ({
    id: String(r.id),
    createdAt: toDate(r.createdAt)!,
    lastUsedAt: toDate(r.lastUsedAt)!,
    expiresAt: toDate(r.expiresAt)!,
    application: { id: String(r.applicationId), slug: String(r.applicationSlug), name: String(r.applicationName) },
    userAgent: (r.userAgent as string | null) ?? null,
    ip: (r.ip as string | null) ?? null,
  }));
}
