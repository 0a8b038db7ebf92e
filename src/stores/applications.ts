// Applications and their API keys. Every change writes its audit event in the same statement.
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import type { ApplicationStatus, ApplicationType } from "../db/schema";
import type { AuditEvent } from "./audit";
import { jsonb, rows, toDate, ts } from "./sql";

export interface ApplicationRecord {
  id: string;
  slug: string;
  name: string;
  type: ApplicationType;
  status: ApplicationStatus;
  builtin: boolean;
  allowedOrigins: string[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  audience: string | null;
  allowedAudiences: string[];
  settings: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export interface ApiKeyRecord {
  id: string;
  applicationId: string;
  name: string | null;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const APPLICATION_COLUMNS = sql`a.id, a.slug, a.name, a.type, a.status, a.builtin, a.allowed_origins as "allowedOrigins",
  a.redirect_uris as "redirectUris", a.post_logout_redirect_uris as "postLogoutRedirectUris", a.audience,
  a.allowed_audiences as "allowedAudiences", a.settings, a.created_at as "createdAt", a.updated_at as "updatedAt"`;

/** The audit row for a change, written only when the CTE `from` returned a row; `extra` adds to its metadata. */
function auditFrom(audit: AuditEvent, from: SQL, extra: SQL): SQL {
  return sql`insert into auth_audit_logs (event_type, actor_user_id, actor_label, ip, user_agent, metadata, created_at)
    select ${audit.type}, ${audit.actorUserId ?? null}::uuid, ${audit.actorLabel ?? null}, ${audit.ip ?? null}, ${audit.userAgent ?? null},
           ${jsonb(audit.metadata)} || ${extra}, ${ts(audit.at)}
    from ${from}`;
}

function parseJson<T>(v: unknown): T {
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
}

function toApplication(r: Record<string, unknown>): ApplicationRecord {
  return {
    ...(r as unknown as ApplicationRecord),
    builtin: r.builtin === true || r.builtin === "t",
    allowedOrigins: parseJson<string[]>(r.allowedOrigins),
    redirectUris: parseJson<string[]>(r.redirectUris),
    postLogoutRedirectUris: parseJson<string[]>(r.postLogoutRedirectUris),
    allowedAudiences: parseJson<string[]>(r.allowedAudiences),
    settings: parseJson<Record<string, unknown>>(r.settings),
    createdAt: toDate(r.createdAt)!,
    updatedAt: toDate(r.updatedAt)!,
  };
}

function toApiKey(r: Record<string, unknown>): ApiKeyRecord {
  return {
    id: String(r.id),
    applicationId: String(r.applicationId),
    name: (r.name as string | null) ?? null,
    prefix: String(r.prefix),
    createdAt: toDate(r.createdAt)!,
    lastUsedAt: toDate(r.lastUsedAt),
    revokedAt: toDate(r.revokedAt),
  };
}

export async function listApplications(db: Database): Promise<ApplicationRecord[]> {
  const found = await rows<Record<string, unknown>>(db, sql`select ${APPLICATION_COLUMNS} from applications a order by a.builtin desc, a.created_at, a.id`);
  return found.map(toApplication);
}

/** One application with its API keys (newest first), in one statement. */
export async function findApplication(db: Database, id: string): Promise<(ApplicationRecord & { apiKeys: ApiKeyRecord[] }) | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select ${APPLICATION_COLUMNS},
          coalesce((select json_agg(json_build_object('id', k.id, 'applicationId', k.application_id, 'name', k.name, 'prefix', k.prefix,
                      'createdAt', k.created_at, 'lastUsedAt', k.last_used_at, 'revokedAt', k.revoked_at) order by k.created_at desc, k.id)
                    from application_api_keys k where k.application_id = a.id), '[]'::json) as "apiKeys"
        from applications a where a.id = ${id}::uuid`,
  );
  const r = found[0];
  if (!r) return null;
  return { ...toApplication(r), apiKeys: parseJson<Record<string, unknown>[]>(r.apiKeys).map(toApiKey) };
}

export interface ApplicationFields {
  slug: string;
  name: string;
  type: ApplicationType;
  status: ApplicationStatus;
  allowedOrigins: string[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  audience: string | null;
  allowedAudiences: string[];
  settings: Record<string, unknown>;
}

/** Inserts an application; null when the slug is taken. */
export async function insertApplication(db: Database, f: ApplicationFields, audit: AuditEvent): Promise<ApplicationRecord | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with a as (
          insert into applications (slug, name, type, status, allowed_origins, redirect_uris, post_logout_redirect_uris, audience, allowed_audiences, settings, created_at, updated_at)
          values (${f.slug}, ${f.name}, ${f.type}, ${f.status}, ${jsonb(f.allowedOrigins)}, ${jsonb(f.redirectUris)}, ${jsonb(f.postLogoutRedirectUris)},
                  ${f.audience}, ${jsonb(f.allowedAudiences)}, ${jsonb(f.settings)}, ${ts(audit.at)}, ${ts(audit.at)})
          on conflict (slug) do nothing
          returning *
        ), audited as (
          ${auditFrom(audit, sql`a`, sql`jsonb_build_object('applicationId', a.id)`)}
        )
        select ${APPLICATION_COLUMNS} from a`,
  );
  return found[0] ? toApplication(found[0]) : null;
}

/**
 * Writes the full new state of an application (the service merged the change), in one statement.
 * Null when nothing was written: the slug is another application's (or the id is unknown).
 */
export async function updateApplication(db: Database, id: string, f: ApplicationFields, audit: AuditEvent): Promise<ApplicationRecord | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with a as (
          update applications set slug = ${f.slug}, name = ${f.name}, type = ${f.type}, status = ${f.status},
            allowed_origins = ${jsonb(f.allowedOrigins)}, redirect_uris = ${jsonb(f.redirectUris)},
            post_logout_redirect_uris = ${jsonb(f.postLogoutRedirectUris)}, audience = ${f.audience},
            allowed_audiences = ${jsonb(f.allowedAudiences)}, settings = ${jsonb(f.settings)}, updated_at = ${ts(audit.at)}
          where id = ${id}::uuid and not exists (select 1 from applications other where other.slug = ${f.slug} and other.id <> ${id}::uuid)
          returning *
        ), audited as (
          ${auditFrom(audit, sql`a`, sql`jsonb_build_object('applicationId', a.id)`)}
        )
        select ${APPLICATION_COLUMNS} from a`,
  );
  return found[0] ? toApplication(found[0]) : null;
}

/** Stores a new API key (hash and display prefix only); null when the application does not exist. */
export async function insertApiKey(
  db: Database,
  input: { applicationId: string; name: string | null; keyHash: string; prefix: string },
  audit: AuditEvent,
): Promise<ApiKeyRecord | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with k as (
          insert into application_api_keys (application_id, name, key_hash, prefix, created_at)
          select id, ${input.name}, ${input.keyHash}, ${input.prefix}, ${ts(audit.at)} from applications where id = ${input.applicationId}::uuid
          returning id, application_id as "applicationId", name, prefix, created_at as "createdAt", last_used_at as "lastUsedAt", revoked_at as "revokedAt"
        ), audited as (
          ${auditFrom(audit, sql`k`, sql`jsonb_build_object('applicationId', k."applicationId", 'apiKeyId', k.id, 'prefix', k.prefix)`)}
        )
        select * from k`,
  );
  return found[0] ? toApiKey(found[0]) : null;
}

/** Revokes a key of an application (idempotent: an already revoked key keeps its first revocation time). */
export async function revokeApiKey(db: Database, applicationId: string, keyId: string, audit: AuditEvent): Promise<ApiKeyRecord | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with k as (
          update application_api_keys set revoked_at = coalesce(revoked_at, ${ts(audit.at)})
          where id = ${keyId}::uuid and application_id = ${applicationId}::uuid
          returning id, application_id as "applicationId", name, prefix, created_at as "createdAt", last_used_at as "lastUsedAt", revoked_at as "revokedAt"
        ), audited as (
          ${auditFrom(audit, sql`k`, sql`jsonb_build_object('applicationId', k."applicationId", 'apiKeyId', k.id, 'prefix', k.prefix)`)}
        )
        select * from k`,
  );
  return found[0] ? toApiKey(found[0]) : null;
}

/** What an API key resolves to: its application (whatever its status) and whether the key is revoked. */
export interface KeyResolution {
  apiKeyId: string;
  keyRevoked: boolean;
  application: ApplicationRecord;
}

export async function findApplicationByKeyHash(db: Database, keyHash: string): Promise<KeyResolution | null> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select ${APPLICATION_COLUMNS}, k.id as "apiKeyId", (k.revoked_at is not null) as "keyRevoked"
        from application_api_keys k join applications a on a.id = k.application_id
        where k.key_hash = ${keyHash}`,
  );
  const r = found[0];
  if (!r) return null;
  return { apiKeyId: String(r.apiKeyId), keyRevoked: r.keyRevoked === true, application: toApplication(r) };
}

/** Records that a key was used (after the response; at most about once a minute per key). */
export async function touchApiKey(db: Database, keyId: string, now: Date): Promise<void> {
  await db.execute(
    sql`update application_api_keys set last_used_at = ${ts(now)}
        where id = ${keyId}::uuid and (last_used_at is null or last_used_at < ${ts(new Date(now.getTime() - 60_000))})`,
  );
}

/** Every active application's allowed origins (for CORS preflights, which carry no API key). */
export async function activeApplicationOrigins(db: Database): Promise<string[]> {
  const found = await rows<{ origin: string }>(
    db,
    sql`select distinct jsonb_array_elements_text(allowed_origins) as origin from applications where status = 'active'`,
  );
  return found.map((r) => r.origin);
}

/** An application's audience and status, by id (Bearer checks of tokens issued under it). */
export async function findApplicationAudience(db: Database, id: string): Promise<{ audience: string | null; status: ApplicationStatus } | null> {
  const found = await rows<{ audience: string | null; status: ApplicationStatus }>(
    db,
    sql`select audience, status from applications where id = ${id}::uuid`,
  );
  return found[0] ?? null;
}
