// WebAuthn credentials (table passkeys). Every change is one statement with its audit event; a
// change made by a signed-in user (add, rename, remove) happens only while the acting session is
// live. The signature counter moves by compare-and-set on the counter read before the assertion
// was verified, so of concurrent assertions carrying the same counter exactly one is accepted.
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import type { AuditEvent } from "./audit";
import { liveActingSession, type ActingSession } from "./sessions";
import { jsonb, rows, toDate, ts } from "./sql";

export interface PasskeyRow {
  id: string;
  userId: string;
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  rpId: string;
  aaguid: string | null;
  attestationFormat: string | null;
  backupEligible: boolean;
  backedUp: boolean;
  name: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

const COLUMNS = sql`p.id, p.user_id as "userId", p.credential_id as "credentialId", p.public_key as "publicKey", p.counter,
  p.transports, p.rp_id as "rpId", p.aaguid, p.attestation_format as "attestationFormat", p.backup_eligible as "backupEligible",
  p.backed_up as "backedUp", p.name, p.created_at as "createdAt", p.last_used_at as "lastUsedAt"`;

function toRow(r: Record<string, unknown>): PasskeyRow {
  const transports = typeof r.transports === "string" ? JSON.parse(r.transports) : r.transports;
  return {
    id: String(r.id),
    userId: String(r.userId),
    credentialId: String(r.credentialId),
    publicKey: String(r.publicKey),
    counter: Number(r.counter),
    transports: Array.isArray(transports) ? transports.map(String) : [],
    rpId: String(r.rpId),
    aaguid: (r.aaguid as string | null) ?? null,
    attestationFormat: (r.attestationFormat as string | null) ?? null,
    backupEligible: r.backupEligible === true || r.backupEligible === "t",
    backedUp: r.backedUp === true || r.backedUp === "t",
    name: (r.name as string | null) ?? null,
    createdAt: toDate(r.createdAt)!,
    lastUsedAt: toDate(r.lastUsedAt),
  };
}

/** The event's row, for the rows of `from` (with `extra`, an SQL jsonb merged into the metadata). */
function auditSql(e: AuditEvent, targetUserId: SQL, from: SQL, extra: SQL = sql`'{}'::jsonb`): SQL {
  return sql`insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
    select ${e.type}, ${e.actorUserId ?? null}::uuid, ${e.actorLabel ?? null}, ${targetUserId}, ${e.ip ?? null}, ${e.userAgent ?? null}, ${jsonb(e.metadata)} || ${extra}, ${ts(e.at)}
    ${from}`;
}

/** A user's passkeys, newest first (optionally only those of one RP id). */
export async function passkeysOf(db: Database, userId: string, rpId?: string): Promise<PasskeyRow[]> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select ${COLUMNS} from passkeys p where p.user_id = ${userId}::uuid ${rpId ? sql`and p.rp_id = ${rpId}` : sql``}
        order by p.created_at desc, p.id`,
  );
  return found.map(toRow);
}

/** The user with this (normalised) email and their passkeys for `rpId`: for sign-in options with an email. */
export async function passkeysByEmail(db: Database, email: string, rpId: string): Promise<{ userId: string; passkeys: PasskeyRow[] } | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select u.id as "ownerId", ${COLUMNS}
        from users u left join passkeys p on p.user_id = u.id and p.rp_id = ${rpId}
        where lower(u.email) = lower(${email})
        order by p.created_at desc nulls last`,
  );
  if (found.length === 0) return null;
  return { userId: String(found[0].ownerId), passkeys: found.filter((r) => r.id !== null && r.id !== undefined).map(toRow) };
}

/** One credential by its id (base64url), with its owner's email. */
export async function passkeyByCredentialId(db: Database, credentialId: string): Promise<(PasskeyRow & { email: string }) | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select ${COLUMNS}, u.email from passkeys p join users u on u.id = p.user_id where p.credential_id = ${credentialId}`,
  );
  return found[0] ? { ...toRow(found[0]), email: String(found[0].email) } : null;
}

export interface NewPasskey {
  userId: string;
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  rpId: string;
  aaguid: string | null;
  attestationFormat: string | null;
  backupEligible: boolean;
  backedUp: boolean;
  name: string | null;
  now: Date;
  actor: ActingSession;
  audit: AuditEvent;
}

/**
 * Stores a new passkey with its passkey.added event, while the acting session is live.
 * "duplicate": the credential id is already registered (to anyone); "revoked": the session is not live.
 */
export async function insertPasskey(db: Database, p: NewPasskey): Promise<PasskeyRow | "duplicate" | "revoked"> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with live as (
          select ${liveActingSession(p.actor, sql`${p.userId}::uuid`, p.now)} as ok
        ), added as (
          insert into passkeys (user_id, credential_id, public_key, counter, transports, rp_id, aaguid, attestation_format,
                                backup_eligible, backed_up, name, created_at)
          select ${p.userId}::uuid, ${p.credentialId}, ${p.publicKey}, ${p.counter}::bigint, ${jsonb(p.transports)}, ${p.rpId}, ${p.aaguid},
                 ${p.attestationFormat}, ${p.backupEligible}, ${p.backedUp}, ${p.name}, ${ts(p.now)}
          from live where live.ok
          on conflict (credential_id) do nothing
          returning *
        ), audited as (
          ${auditSql(p.audit, sql`added.user_id`, sql`from added`, sql`jsonb_build_object('passkeyId', added.id)`)}
        )
        select (select ok from live) as live, a.id, a.user_id as "userId", a.credential_id as "credentialId", a.public_key as "publicKey",
               a.counter, a.transports, a.rp_id as "rpId", a.aaguid, a.attestation_format as "attestationFormat",
               a.backup_eligible as "backupEligible", a.backed_up as "backedUp", a.name, a.created_at as "createdAt", a.last_used_at as "lastUsedAt"
        from (select 1) one left join added a on true`,
  );
  const r = found[0];
  if (!r || !(r.live === true || r.live === "t")) return "revoked";
  if (r.id === null || r.id === undefined) return "duplicate";
  return toRow(r);
}

/**
 * Records a verified assertion: the counter moves from `oldCounter` to `newCounter` (compare-and-set:
 * of concurrent assertions read at the same counter, one), last_used_at and backed_up are updated,
 * and passkey.used is written. False when the counter moved meanwhile (or the passkey is gone).
 */
export async function usePasskey(
  db: Database,
  u: { id: string; oldCounter: number; newCounter: number; backedUp: boolean; now: Date; audit: AuditEvent },
): Promise<boolean> {
  const found = await rows<{ id: string }>(
    db,
    sql`with used as (
          update passkeys set counter = ${u.newCounter}::bigint, last_used_at = ${ts(u.now)}, backed_up = ${u.backedUp}
          where id = ${u.id}::uuid and counter = ${u.oldCounter}::bigint
          returning id, user_id
        ), audited as (
          ${auditSql(u.audit, sql`used.user_id`, sql`from used`)}
        )
        select id from used`,
  );
  return found.length === 1;
}

/** Renames one of the user's passkeys (passkey.renamed), while the acting session is live. */
export async function renamePasskey(
  db: Database,
  r: { userId: string; id: string; name: string; now: Date; actor: ActingSession; audit: AuditEvent },
): Promise<PasskeyRow | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with renamed as (
          update passkeys p set name = ${r.name}
          where p.id = ${r.id}::uuid and p.user_id = ${r.userId}::uuid and ${liveActingSession(r.actor, sql`${r.userId}::uuid`, r.now)}
          returning p.*
        ), audited as (
          ${auditSql(r.audit, sql`renamed.user_id`, sql`from renamed`)}
        )
        select ${COLUMNS} from renamed p`,
  );
  return found[0] ? toRow(found[0]) : null;
}

/** Removes one of the user's passkeys (passkey.removed), while the acting session is live. */
export async function deletePasskey(db: Database, d: { userId: string; id: string; now: Date; actor: ActingSession; audit: AuditEvent }): Promise<boolean> {
  const found = await rows<{ id: string }>(
    db,
    sql`with removed as (
          delete from passkeys p
          where p.id = ${d.id}::uuid and p.user_id = ${d.userId}::uuid and ${liveActingSession(d.actor, sql`${d.userId}::uuid`, d.now)}
          returning p.id, p.user_id
        ), audited as (
          ${auditSql(d.audit, sql`removed.user_id`, sql`from removed`)}
        )
        select id from removed`,
  );
  return found.length === 1;
}
