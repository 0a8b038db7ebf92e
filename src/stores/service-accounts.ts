// Service accounts (machine identities under an application) and their client secrets. Every
// change is one statement with its audit row; a missing application or account is told apart by
// the same statement (null / "no_application" answers), never by a second round trip.
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import type { ApplicationStatus } from "../db/schema";
import type { AuditEvent } from "./audit";
import { jsonb, rows, toDate, ts } from "./sql";

export interface ServiceAccount {
  id: string;
  applicationId: string;
  name: string;
  allowedScopes: string[];
  status: ApplicationStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface ServiceAccountSecret {
  id: string;
  serviceAccountId: string;
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

/** What an audited change records besides its type (the store adds the ids it changed). */
export type AuditBase = Omit<AuditEvent, "type">;

const ACCOUNT_COLUMNS = (p: string) =>
  sql.raw(
    `${p}id, ${p}application_id as "applicationId", ${p}name, ${p}allowed_scopes as "allowedScopes", ${p}status, ${p}created_at as "createdAt", ${p}updated_at as "updatedAt"`,
  );

const SECRET_COLUMNS = (p: string) =>
  sql.raw(
    `${p}id, ${p}service_account_id as "serviceAccountId", ${p}prefix, ${p}created_at as "createdAt", ${p}expires_at as "expiresAt", ${p}last_used_at as "lastUsedAt"`,
  );

function jsonArray(v: unknown): string[] {
  const parsed = typeof v === "string" ? (JSON.parse(v) as unknown) : v;
  return Array.isArray(parsed) ? parsed.map(String) : [];
}

function toAccount(r: Record<string, unknown>): ServiceAccount {
  return {
    id: String(r.id),
    applicationId: String(r.applicationId),
    name: String(r.name),
    allowedScopes: jsonArray(r.allowedScopes),
    status: r.status as ApplicationStatus,
    createdAt: toDate(r.createdAt)!,
    updatedAt: toDate(r.updatedAt)!,
  };
}

function toSecret(r: Record<string, unknown>): ServiceAccountSecret {
  return {
    id: String(r.id),
    serviceAccountId: String(r.serviceAccountId),
    prefix: String(r.prefix),
    createdAt: toDate(r.createdAt)!,
    expiresAt: toDate(r.expiresAt),
    lastUsedAt: toDate(r.lastUsedAt),
  };
}

function auditFrom(type: string, a: AuditBase, source: string, metadata: SQL): SQL {
  return sql`insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
    select ${type}, ${a.actorUserId ?? null}::uuid, ${a.actorLabel ?? null}, null, ${a.ip ?? null}, ${a.userAgent ?? null},
           ${jsonb(a.metadata)} || ${metadata}, ${ts(a.at)}
    from ${sql.raw(source)}`;
}

/** The application's accounts, oldest first; null when the application does not exist. */
export async function listServiceAccounts(db: Database, applicationId: string): Promise<ServiceAccount[] | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select a.id as "app", ${ACCOUNT_COLUMNS("sa.")}
        from applications a left join service_accounts sa on sa.application_id = a.id
        where a.id = ${applicationId}::uuid
        order by sa.created_at, sa.id`,
  );
  if (found.length === 0) return null;
  return found.filter((r) => r.id !== null && r.id !== undefined).map(toAccount);
}

export async function getServiceAccount(db: Database, applicationId: string, id: string): Promise<ServiceAccount | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select ${ACCOUNT_COLUMNS("")} from service_accounts where id = ${id}::uuid and application_id = ${applicationId}::uuid`,
  );
  return found[0] ? toAccount(found[0]) : null;
}

/** Creates an account under an existing application; null when there is no such application. */
export async function createServiceAccount(
  db: Database,
  input: { applicationId: string; name: string; allowedScopes: string[]; status: ApplicationStatus; now: Date; audit: AuditBase },
): Promise<ServiceAccount | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with created as (
          insert into service_accounts (application_id, name, allowed_scopes, status, created_at, updated_at)
          select a.id, ${input.name}, ${jsonb(input.allowedScopes)}, ${input.status}::application_status, ${ts(input.now)}, ${ts(input.now)}
          from applications a where a.id = ${input.applicationId}::uuid
          returning *
        ), audited as (
          ${auditFrom(
            "service_account.created",
            input.audit,
            "created",
            sql`jsonb_build_object('applicationId', created.application_id, 'serviceAccountId', created.id, 'name', created.name,
                  'allowedScopes', created.allowed_scopes, 'status', created.status)`,
          )}
        )
        select ${ACCOUNT_COLUMNS("")} from created`,
  );
  return found[0] ? toAccount(found[0]) : null;
}

/** Changes the given fields; null when the account does not exist under the application. */
export async function updateServiceAccount(
  db: Database,
  input: {
    applicationId: string;
    id: string;
    changes: { name?: string; allowedScopes?: string[]; status?: ApplicationStatus };
    now: Date;
    audit: AuditBase;
  },
): Promise<ServiceAccount | null> {
  const c = input.changes;
  const sets: SQL[] = [sql`updated_at = ${ts(input.now)}`];
  if (c.name !== undefined) sets.push(sql`name = ${c.name}`);
  if (c.allowedScopes !== undefined) sets.push(sql`allowed_scopes = ${jsonb(c.allowedScopes)}`);
  if (c.status !== undefined) sets.push(sql`status = ${c.status}::application_status`);
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with before as (
          select id, name, allowed_scopes, status from service_accounts
          where id = ${input.id}::uuid and application_id = ${input.applicationId}::uuid
          for update
        ), updated as (
          update service_accounts set ${sql.join(sets, sql`, `)}
          from before where service_accounts.id = before.id
          returning service_accounts.*
        ), audited as (
          ${auditFrom(
            "service_account.updated",
            input.audit,
            "updated join before on before.id = updated.id",
            sql`jsonb_build_object('applicationId', updated.application_id, 'serviceAccountId', updated.id, 'changed', ${jsonb(Object.keys(c))},
                  'before', jsonb_build_object('name', before.name, 'allowedScopes', before.allowed_scopes, 'status', before.status),
                  'after', jsonb_build_object('name', updated.name, 'allowedScopes', updated.allowed_scopes, 'status', updated.status))`,
          )}
        )
        select ${ACCOUNT_COLUMNS("")} from updated`,
  );
  return found[0] ? toAccount(found[0]) : null;
}

/** Deletes the account and its secrets (their tokens become inactive); null when absent. */
export async function deleteServiceAccount(
  db: Database,
  input: { applicationId: string; id: string; audit: AuditBase },
): Promise<ServiceAccount | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with deleted as (
          delete from service_accounts where id = ${input.id}::uuid and application_id = ${input.applicationId}::uuid
          returning *
        ), audited as (
          ${auditFrom(
            "service_account.deleted",
            input.audit,
            "deleted",
            sql`jsonb_build_object('applicationId', deleted.application_id, 'serviceAccountId', deleted.id, 'name', deleted.name)`,
          )}
        )
        select ${ACCOUNT_COLUMNS("")} from deleted`,
  );
  return found[0] ? toAccount(found[0]) : null;
}

/** The account's secrets (metadata only, never a hash), newest first; null when the account is absent. */
export async function listSecrets(db: Database, applicationId: string, serviceAccountId: string): Promise<ServiceAccountSecret[] | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select sa.id as "account", ${SECRET_COLUMNS("s.")}
        from service_accounts sa left join service_account_secrets s on s.service_account_id = sa.id
        where sa.id = ${serviceAccountId}::uuid and sa.application_id = ${applicationId}::uuid
        order by s.created_at desc, s.id`,
  );
  if (found.length === 0) return null;
  return found.filter((r) => r.id !== null && r.id !== undefined).map(toSecret);
}

/** Stores a new secret's hash; null when the account does not exist under the application. */
export async function createSecret(
  db: Database,
  input: { applicationId: string; serviceAccountId: string; secretHash: string; prefix: string; expiresAt: Date | null; now: Date; audit: AuditBase },
): Promise<ServiceAccountSecret | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with created as (
          insert into service_account_secrets (service_account_id, secret_hash, prefix, created_at, expires_at)
          select sa.id, ${input.secretHash}, ${input.prefix}, ${ts(input.now)}, ${input.expiresAt ? ts(input.expiresAt) : sql`null`}
          from service_accounts sa where sa.id = ${input.serviceAccountId}::uuid and sa.application_id = ${input.applicationId}::uuid
          returning *
        ), audited as (
          ${auditFrom(
            "service_account.secret_created",
            input.audit,
            "created",
            sql`jsonb_build_object('applicationId', ${input.applicationId}::uuid, 'serviceAccountId', created.service_account_id,
                  'secretId', created.id, 'prefix', created.prefix, 'expiresAt', created.expires_at)`,
          )}
        )
        select ${SECRET_COLUMNS("")} from created`,
  );
  return found[0] ? toSecret(found[0]) : null;
}

/** Deletes one secret (tokens it authenticated become inactive). "no_account" / "no_secret" when absent. */
export async function deleteSecret(
  db: Database,
  input: { applicationId: string; serviceAccountId: string; secretId: string; audit: AuditBase },
): Promise<ServiceAccountSecret | "no_account" | "no_secret"> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with account as (
          select id from service_accounts where id = ${input.serviceAccountId}::uuid and application_id = ${input.applicationId}::uuid
        ), deleted as (
          delete from service_account_secrets s using account
          where s.id = ${input.secretId}::uuid and s.service_account_id = account.id
          returning s.*
        ), audited as (
          ${auditFrom(
            "service_account.secret_deleted",
            input.audit,
            "deleted",
            sql`jsonb_build_object('applicationId', ${input.applicationId}::uuid, 'serviceAccountId', deleted.service_account_id,
                  'secretId', deleted.id, 'prefix', deleted.prefix)`,
          )}
        )
        select exists(select 1 from account) as "accountFound", ${SECRET_COLUMNS("d.")}
        from (select 1) one left join deleted d on true`,
  );
  const r = found[0];
  if (!r?.accountFound) return "no_account";
  if (r.id === null || r.id === undefined) return "no_secret";
  return toSecret(r);
}
