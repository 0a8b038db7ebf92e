// Second factors: TOTP (mfa_totp), recovery codes (mfa_recovery_codes) and remembered devices
// (remembered_devices). Every change is one statement with its audit event; every single-use
// thing is used by a conditional UPDATE/DELETE ... RETURNING, so of concurrent uses one wins:
// a TOTP step is taken by a compare-and-set on last_used_step (only a later step than the last
// one used), a recovery code by setting used_at where it is still null.
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import type { AuditEvent } from "./audit";
import { liveActingSession, type ActingSession } from "./sessions";
import { jsonb, rows, toDate, ts } from "./sql";

export interface TotpRow {
  ciphertext: string;
  keyId: string;
  enabled: boolean;
  lastUsedStep: number | null;
}

/** What the MFA routes need about a user (and, with `actor`, whether the acting session is live). */
export interface MfaContext {
  userId: string;
  email: string;
  fullName: string | null;
  passwordHash: string | null;
  tokenVersion: number;
  /** The acting session is live (see liveActingSession); true without an actor. */
  live: boolean;
  /** When the acting session's user last proved who they are (sessions.auth_time); null without an actor. */
  authTime: Date | null;
  totp: TotpRow | null;
  recoveryCodesRemaining: number;
  passkeys: number;
}

function auditSql(e: AuditEvent, targetUserId: SQL, from: SQL): SQL {
  return sql`insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
    select ${e.type}, ${e.actorUserId ?? null}::uuid, ${e.actorLabel ?? null}, ${targetUserId}, ${e.ip ?? null}, ${e.userAgent ?? null}, ${jsonb(e.metadata)}, ${ts(e.at)}
    ${from}`;
}

export async function loadMfaContext(db: Database, userId: string, now: Date, actor?: ActingSession, sessionId?: string | null): Promise<MfaContext | null> {
  const authSession = actor?.sessionId ?? sessionId ?? null;
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select u.id as "userId", u.email, u.full_name as "fullName", u.password_hash as "passwordHash", u.token_version as "tokenVersion",
               ${actor ? liveActingSession(actor, sql`u.id`, now) : sql`true`} as live,
               ${authSession ? sql`(select s.auth_time from sessions s where s.id = ${authSession}::uuid and s.user_id = u.id)` : sql`null::timestamptz`} as "authTime",
               (select json_build_object('ciphertext', t.secret_ciphertext, 'keyId', t.key_id, 'enabled', t.enabled_at is not null, 'lastUsedStep', t.last_used_step)
                  from mfa_totp t where t.user_id = u.id) as totp,
               (select count(*)::int from mfa_recovery_codes r where r.user_id = u.id and r.used_at is null) as "recoveryCodesRemaining",
               (select count(*)::int from passkeys p where p.user_id = u.id) as passkeys
        from users u where u.id = ${userId}::uuid`,
  );
  const r = found[0];
  if (!r) return null;
  const totp = (typeof r.totp === "string" ? JSON.parse(r.totp) : r.totp) as TotpRow | null;
  return {
    userId: String(r.userId),
    email: String(r.email),
    fullName: (r.fullName as string | null) ?? null,
    passwordHash: (r.passwordHash as string | null) ?? null,
    tokenVersion: Number(r.tokenVersion),
    live: r.live === true || r.live === "t",
    authTime: toDate(r.authTime),
    totp: totp ? { ...totp, lastUsedStep: totp.lastUsedStep === null ? null : Number(totp.lastUsedStep) } : null,
    recoveryCodesRemaining: Number(r.recoveryCodesRemaining ?? 0),
    passkeys: Number(r.passkeys ?? 0),
  };
}

/**
 * Stores a new, not yet enabled TOTP secret (replacing an earlier unfinished setup). False when
 * TOTP is already enabled (or, with `actor`, the acting session is no longer live).
 */
export async function saveTotpSecret(
  db: Database,
  s: { userId: string; ciphertext: string; keyId: string; now: Date; actor?: ActingSession },
): Promise<boolean> {
  const found = await rows<{ userId: string }>(
    db,
    sql`insert into mfa_totp (user_id, secret_ciphertext, key_id, enabled_at, last_used_step, created_at)
        select ${s.userId}::uuid, ${s.ciphertext}, ${s.keyId}, null, null, ${ts(s.now)}
        where ${s.actor ? liveActingSession(s.actor, sql`${s.userId}::uuid`, s.now) : sql`true`}
        on conflict (user_id) do update set secret_ciphertext = excluded.secret_ciphertext, key_id = excluded.key_id,
               last_used_step = null, created_at = excluded.created_at
          where mfa_totp.enabled_at is null
        returning user_id as "userId"`,
  );
  return found.length === 1;
}

/**
 * Turns TOTP on with the step of a code just proven against `ciphertext` (the secret must still be
 * that one and not yet enabled), replaces the recovery codes, records the event. One statement.
 */
export async function enableTotp(
  db: Database,
  s: { userId: string; ciphertext: string; step: number; codeHashes: string[]; now: Date; audit: AuditEvent },
): Promise<boolean> {
  const found = await rows<{ userId: string }>(
    db,
    sql`with enabled as (
          update mfa_totp set enabled_at = ${ts(s.now)}, last_used_step = ${s.step}::int
          where user_id = ${s.userId}::uuid and enabled_at is null and secret_ciphertext = ${s.ciphertext}
          returning user_id
        ), cleared as (
          delete from mfa_recovery_codes where user_id in (select user_id from enabled)
        ), added as (
          insert into mfa_recovery_codes (user_id, code_hash, created_at)
          select enabled.user_id, h, ${ts(s.now)} from enabled, unnest(${`{${s.codeHashes.join(",")}}`}::text[]) as h
        ), audited as (
          ${auditSql(s.audit, sql`enabled.user_id`, sql`from enabled`)}
        )
        select user_id as "userId" from enabled`,
  );
  return found.length === 1;
}

/**
 * Turns TOTP off and removes the recovery codes and remembered devices, with the event. With
 * `afterStep` (disable by code) only while that step is later than the last one used.
 */
export async function disableTotp(db: Database, s: { userId: string; afterStep?: number; now: Date; audit: AuditEvent }): Promise<boolean> {
  const found = await rows<{ userId: string }>(
    db,
    sql`with removed as (
          delete from mfa_totp where user_id = ${s.userId}::uuid and enabled_at is not null
            ${s.afterStep === undefined ? sql`` : sql`and coalesce(last_used_step, -1) < ${s.afterStep}::int`}
          returning user_id
        ), codes as (
          delete from mfa_recovery_codes where user_id in (select user_id from removed)
        ), devices as (
          delete from remembered_devices where user_id in (select user_id from removed)
        ), audited as (
          ${auditSql(s.audit, sql`removed.user_id`, sql`from removed`)}
        )
        select user_id as "userId" from removed`,
  );
  return found.length === 1;
}

/** A device to remember with a completed second factor. */
export interface NewDevice {
  tokenHash: string;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
  /** The token version the challenge was made against: a reset since then remembers nothing. */
  tokenVersion: number;
}

function deviceInsert(userId: SQL, from: SQL, device: NewDevice | undefined, now: Date): SQL {
  if (!device) return sql`select null::uuid as id, null::uuid as user_id where false`;
  return sql`insert into remembered_devices (user_id, token_hash, user_agent, ip, created_at, last_used_at, expires_at)
    select ${userId}, ${device.tokenHash}, ${device.userAgent}, ${device.ip}, ${ts(now)}, ${ts(now)}, ${ts(device.expiresAt)}
    ${from} join users du on du.id = ${userId} and du.token_version = ${device.tokenVersion}::int
    returning id, user_id`;
}

/** The audit row of a device remembered in the same statement (CTE `device`). */
function deviceAudit(device: NewDevice | undefined, now: Date): SQL {
  if (!device) return sql`select 1`;
  return sql`insert into auth_audit_logs (event_type, actor_user_id, target_user_id, ip, user_agent, metadata, created_at)
    select 'mfa.device.remembered', device.user_id, device.user_id, ${device.ip}, ${device.userAgent},
           jsonb_build_object('deviceId', device.id, 'expiresAt', ${device.expiresAt.toISOString()}::text), ${ts(now)}
    from device`;
}

/**
 * Uses a TOTP step (compare-and-set: only a step later than the last one used, only while the
 * secret is still `ciphertext` and enabled), and remembers the device with it when asked.
 */
export async function useTotpStep(
  db: Database,
  s: { userId: string; ciphertext: string; step: number; now: Date; device?: NewDevice },
): Promise<{ used: boolean; deviceId: string | null }> {
  const found = await rows<{ used: boolean; deviceId: string | null }>(
    db,
    sql`with used as (
          update mfa_totp set last_used_step = ${s.step}::int
          where user_id = ${s.userId}::uuid and enabled_at is not null and secret_ciphertext = ${s.ciphertext}
            and coalesce(last_used_step, -1) < ${s.step}::int
          returning user_id
        ), device as (
          ${deviceInsert(sql`used.user_id`, sql`from used`, s.device, s.now)}
        ), device_audited as (
          ${deviceAudit(s.device, s.now)}
        )
        select exists(select 1 from used) as used, ${s.device ? sql`(select id from device limit 1)` : sql`null::uuid`} as "deviceId"`,
  );
  return { used: found[0]?.used === true, deviceId: found[0]?.deviceId ?? null };
}

/** Uses a recovery code once (of concurrent uses, one), remembering the device when asked. */
export async function useRecoveryCode(
  db: Database,
  s: { userId: string; codeHash: string; now: Date; device?: NewDevice },
): Promise<{ used: boolean; remaining: number; deviceId: string | null }> {
  const found = await rows<{ used: boolean; remaining: number; deviceId: string | null }>(
    db,
    sql`with used as (
          update mfa_recovery_codes set used_at = ${ts(s.now)}
          where user_id = ${s.userId}::uuid and code_hash = ${s.codeHash} and used_at is null
          returning user_id, id
        ), device as (
          ${deviceInsert(sql`used.user_id`, sql`from used`, s.device, s.now)}
        ), device_audited as (
          ${deviceAudit(s.device, s.now)}
        )
        select exists(select 1 from used) as used,
               (select count(*)::int from mfa_recovery_codes r where r.user_id = ${s.userId}::uuid and r.used_at is null
                  and r.id not in (select id from used)) as remaining,
               ${s.device ? sql`(select id from device limit 1)` : sql`null::uuid`} as "deviceId"`,
  );
  return { used: found[0]?.used === true, remaining: Number(found[0]?.remaining ?? 0), deviceId: found[0]?.deviceId ?? null };
}

/** A new set of recovery codes in place of the old (only while TOTP is enabled), with the event. */
export async function replaceRecoveryCodes(db: Database, s: { userId: string; codeHashes: string[]; now: Date; audit: AuditEvent }): Promise<boolean> {
  const found = await rows<{ userId: string }>(
    db,
    sql`with owner as (
          select user_id from mfa_totp where user_id = ${s.userId}::uuid and enabled_at is not null for update
        ), cleared as (
          delete from mfa_recovery_codes where user_id in (select user_id from owner)
        ), added as (
          insert into mfa_recovery_codes (user_id, code_hash, created_at)
          select owner.user_id, h, ${ts(s.now)} from owner, unnest(${`{${s.codeHashes.join(",")}}`}::text[]) as h
        ), audited as (
          ${auditSql(s.audit, sql`owner.user_id`, sql`from owner`)}
        )
        select user_id as "userId" from owner`,
  );
  return found.length === 1;
}

export interface DeviceView {
  id: string;
  userAgent: string | null;
  ip: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date;
}

export async function listDevices(db: Database, userId: string, now: Date, actor: ActingSession): Promise<{ live: boolean; devices: DeviceView[] }> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select ${liveActingSession(actor, sql`${userId}::uuid`, now)} as live, d.id, d.user_agent as "userAgent", d.ip,
               d.created_at as "createdAt", d.last_used_at as "lastUsedAt", d.expires_at as "expiresAt"
        from (select 1) one
        left join remembered_devices d on d.user_id = ${userId}::uuid and d.expires_at > ${ts(now)}
        order by d.created_at desc nulls last`,
  );
  const live = found[0]?.live === true || found[0]?.live === "t";
  return {
    live,
    devices: found
      .filter((r) => r.id)
      .map((r) => ({
        id: String(r.id),
        userAgent: (r.userAgent as string | null) ?? null,
        ip: (r.ip as string | null) ?? null,
        createdAt: toDate(r.createdAt)!,
        lastUsedAt: toDate(r.lastUsedAt),
        expiresAt: toDate(r.expiresAt)!,
      })),
  };
}

/** Forgets one of the user's devices (only while the acting session is live), with the event. */
export async function forgetDevice(db: Database, s: { userId: string; deviceId: string; now: Date; actor: ActingSession; audit: AuditEvent }): Promise<boolean> {
  const found = await rows<{ id: string }>(
    db,
    sql`with removed as (
          delete from remembered_devices where id = ${s.deviceId}::uuid and user_id = ${s.userId}::uuid
            and ${liveActingSession(s.actor, sql`${s.userId}::uuid`, s.now)}
          returning id, user_id
        ), audited as (
          ${auditSql({ ...s.audit, metadata: { ...s.audit.metadata, deviceId: s.deviceId } }, sql`removed.user_id`, sql`from removed`)}
        )
        select id from removed`,
  );
  return found.length === 1;
}

/** Staff reset: removes TOTP, recovery codes and remembered devices of a user, with the event. */
export async function removeAllFactors(
  db: Database,
  s: { userId: string; audit: AuditEvent },
): Promise<{ found: boolean; email: string | null; fullName: string | null; totp: boolean; recoveryCodes: number; devices: number }> {
  const found = await rows<{ found: boolean; email: string | null; fullName: string | null; totp: boolean; recoveryCodes: number; devices: number }>(
    db,
    sql`with target as (
          select id, email, full_name from users where id = ${s.userId}::uuid
        ), totp as (
          delete from mfa_totp where user_id in (select id from target) returning user_id
        ), codes as (
          delete from mfa_recovery_codes where user_id in (select id from target) returning id
        ), devices as (
          delete from remembered_devices where user_id in (select id from target) returning id
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
          select ${s.audit.type}, ${s.audit.actorUserId ?? null}::uuid, ${s.audit.actorLabel ?? null}, target.id, ${s.audit.ip ?? null}, ${s.audit.userAgent ?? null},
                 ${jsonb(s.audit.metadata)} || jsonb_build_object('totp', exists(select 1 from totp), 'recoveryCodes', (select count(*) from codes), 'devices', (select count(*) from devices)),
                 ${ts(s.audit.at)}
          from target
        )
        select exists(select 1 from target) as found, (select email from target) as email, (select full_name from target) as "fullName", exists(select 1 from totp) as totp,
               (select count(*)::int from codes) as "recoveryCodes", (select count(*)::int from devices) as devices`,
  );
  const r = found[0];
  return { found: r?.found === true, email: r?.email ?? null, fullName: r?.fullName ?? null, totp: r?.totp === true, recoveryCodes: Number(r?.recoveryCodes ?? 0), devices: Number(r?.devices ?? 0) };
}

/** SQL: the MFA summary of a user (for staff views): { totp, recoveryCodesRemaining, passkeys }. */
export function mfaSummarySql(userId: SQL): SQL {
  return sql`json_build_object(
      'totp', exists(select 1 from mfa_totp t where t.user_id = ${userId} and t.enabled_at is not null),
      'recoveryCodesRemaining', (select count(*)::int from mfa_recovery_codes r where r.user_id = ${userId} and r.used_at is null),
      'passkeys', (select count(*)::int from passkeys p where p.user_id = ${userId}))`;
}

export async function loadMfaSummary(db: Database, userId: string): Promise<{ totp: boolean; recoveryCodesRemaining: number; passkeys: number }> {
  const found = await rows<{ s: unknown }>(db, sql`select ${mfaSummarySql(sql`${userId}::uuid`)} as s`);
  const s = found[0]?.s;
  const v = (typeof s === "string" ? JSON.parse(s) : s) as { totp: boolean; recoveryCodesRemaining: number; passkeys: number };
  return { totp: v.totp === true, recoveryCodesRemaining: Number(v.recoveryCodesRemaining), passkeys: Number(v.passkeys) };
}

/** SQL for sign-in statements: the user's enabled TOTP as json ({ ciphertext, keyId }) or null. */
export function enabledTotpSql(userId: SQL): SQL {
  return sql`(select json_build_object('ciphertext', t.secret_ciphertext, 'keyId', t.key_id) from mfa_totp t where t.user_id = ${userId} and t.enabled_at is not null)`;
}

/** SQL for sign-in statements: whether `tokenHash` is a live remembered device of the user. */
export function rememberedDeviceSql(userId: SQL, tokenHash: string | null | undefined, now: Date): SQL {
  if (!tokenHash) return sql`false`;
  return sql`exists(select 1 from remembered_devices d where d.user_id = ${userId} and d.token_hash = ${tokenHash} and d.expires_at > ${ts(now)})`;
}
