// The one statement behind client authentication, introspection and ValidateToken: the calling
// client (a service account with its live secret hashes, or an application API key) and, when a
// token is being checked, whether that token is live now. Postgres is the source of truth for
// liveness: session, token version, user, application, service account, secret, revoked jti.
// Also the writes of /oauth/revoke and the deferred bookkeeping of a client_credentials grant.
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import type { AuditEvent } from "./audit";
import { jsonb, rows, ts } from "./sql";

export type CallerQuery =
  /** clientId null: not a uuid, so no account can match (the statement still runs, at the same cost). */
  | { kind: "service_account"; clientId: string | null }
  | { kind: "api_key"; keyHash: string };

export type TokenQuery =
  | { kind: "user"; userId: string; sessionId: string; tokenVersion: number; jti: string; clientId: string | null }
  | { kind: "service"; serviceAccountId: string; applicationId: string; secretId: string; jti: string };

export interface ClientRecord {
  serviceAccountId: string;
  applicationId: string;
  allowedScopes: string[];
  /** The application's own audience (null: JWT_AUDIENCE) and the further ones a client may ask for. */
  audience: string | null;
  allowedAudiences: string[];
  /** Live (unexpired) secrets. */
  secrets: { id: string; hash: string }[];
}

export interface ApiKeyRecord {
  keyId: string;
  applicationId: string;
  keyHash: string;
}

export interface TokenState {
  live: boolean;
  /** The application the token belongs to (a user token: its session's), null when unknown. */
  applicationId: string | null;
  email: string | null;
}

function parseJson<T>(v: unknown): T | null {
  if (v === null || v === undefined) return null;
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
}

function clientPart(caller: CallerQuery | null, now: Date): SQL {
  if (!caller || caller.kind !== "service_account" || caller.clientId === null) return sql`null::json`;
  return sql`(select json_build_object(
        'serviceAccountId', sa.id, 'applicationId', sa.application_id, 'allowedScopes', sa.allowed_scopes,
        'audience', a.audience, 'allowedAudiences', a.allowed_audiences,
        'secrets', coalesce((select json_agg(json_build_object('id', s.id, 'hash', s.secret_hash) order by s.created_at, s.id)
                             from service_account_secrets s
                             where s.service_account_id = sa.id and (s.expires_at is null or s.expires_at > ${ts(now)})), '[]'::json))
      from service_accounts sa join applications a on a.id = sa.application_id
      where sa.id = ${caller.clientId}::uuid and sa.status = 'active' and a.status = 'active')`;
}

function apiKeyPart(caller: CallerQuery | null): SQL {
  if (!caller || caller.kind !== "api_key") return sql`null::json`;
  return sql`(select json_build_object('keyId', k.id, 'applicationId', k.application_id, 'keyHash', k.key_hash)
      from application_api_keys k join applications a on a.id = k.application_id
      where k.key_hash = ${caller.keyHash} and k.revoked_at is null and a.status = 'active')`;
}

const notRevoked = (jti: string) => sql`not exists (select 1 from revoked_access_tokens r where r.jti = ${jti})`;

function tokenPart(token: TokenQuery | null, now: Date): SQL {
  if (!token) return sql`null::json`;
  if (token.kind === "user") {
    return sql`json_build_object(
        'live', exists (
          select 1 from sessions s join users u on u.id = s.user_id join applications a on a.id = s.application_id
          where s.id = ${token.sessionId}::uuid and s.user_id = ${token.userId}::uuid
            and s.revoked_at is null and s.expires_at > ${ts(now)}
            and s.token_version = u.token_version and u.token_version = ${token.tokenVersion}::int
            and u.is_active and u.approval_status = 'APPROVED' and a.status = 'active'
            ${token.clientId ? sql`and s.application_id = ${token.clientId}::uuid` : sql``}
        ) and ${notRevoked(token.jti)},
        'applicationId', (select s.application_id from sessions s where s.id = ${token.sessionId}::uuid and s.user_id = ${token.userId}::uuid),
        'email', (select u.email from users u where u.id = ${token.userId}::uuid))`;
  }
  return sql`json_build_object(
      'live', exists (
        select 1 from service_accounts sa join applications a on a.id = sa.application_id
          join service_account_secrets sec on sec.service_account_id = sa.id
        where sa.id = ${token.serviceAccountId}::uuid and sa.application_id = ${token.applicationId}::uuid
          and sa.status = 'active' and a.status = 'active'
          and sec.id = ${token.secretId}::uuid and (sec.expires_at is null or sec.expires_at > ${ts(now)})
      ) and ${notRevoked(token.jti)},
      'applicationId', ${token.applicationId}::uuid,
      'email', null)`;
}

/** One round trip: the caller's credentials record (if any) and the token's state (if asked). */
export async function loadCallerAndToken(
  db: Database,
  input: { caller: CallerQuery | null; token: TokenQuery | null; now: Date },
): Promise<{ client: ClientRecord | null; apiKey: ApiKeyRecord | null; token: TokenState | null }> {
  const found = await rows<Record<string, unknown>>(
    db,
    sql`select ${clientPart(input.caller, input.now)} as client, ${apiKeyPart(input.caller)} as "apiKey", ${tokenPart(input.token, input.now)} as token`,
  );
  const r = found[0] ?? {};
  const client = parseJson<ClientRecord>(r.client);
  const token = parseJson<TokenState>(r.token);
  return {
    client: client
      ? {
          ...client,
          allowedScopes: (client.allowedScopes ?? []).map(String),
          allowedAudiences: (client.allowedAudiences ?? []).map(String),
          secrets: client.secrets ?? [],
        }
      : null,
    apiKey: parseJson<ApiKeyRecord>(r.apiKey),
    token: token ? { live: token.live === true, applicationId: token.applicationId ?? null, email: token.email ?? null } : null,
  };
}

/**
 * After a client_credentials grant (deferred, best-effort): the secret's last_used_at and the
 * oauth.token_issued audit row, in one statement.
 */
export async function recordServiceTokenIssued(db: Database, input: { secretId: string; now: Date; audit: AuditEvent }): Promise<void> {
  const a = input.audit;
  await db.execute(
    sql`with touched as (
          update service_account_secrets set last_used_at = ${ts(input.now)} where id = ${input.secretId}::uuid returning id
        )
        insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
        values (${a.type}, null, ${a.actorLabel ?? null}, null, ${a.ip ?? null}, ${a.userAgent ?? null}, ${jsonb(a.metadata)}, ${ts(a.at)})`,
  );
}

/**
 * RFC 7009 for a refresh token: ends the session when the presented hash is its current refresh
 * hash and it belongs to the caller's application, with its audit row. Of concurrent calls, one
 * revokes (and audits); the others find it revoked. Returns the user whose session ended.
 */
export async function revokeSessionByRefresh(
  db: Database,
  input: { sessionId: string; presentedHash: string; applicationId: string; now: Date; audit: AuditEvent },
): Promise<{ revoked: boolean; userId: string | null }> {
  const a = input.audit;
  const found = await rows<{ userId: string }>(
    db,
    sql`with revoked as (
          update sessions set revoked_at = ${ts(input.now)}, revoked_reason = 'oauth_revoke'
          where id = ${input.sessionId}::uuid and revoked_at is null and refresh_hash = ${input.presentedHash}
            and application_id = ${input.applicationId}::uuid
          returning id, user_id
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
          select ${a.type}, null, ${a.actorLabel ?? null}, revoked.user_id, ${a.ip ?? null}, ${a.userAgent ?? null},
                 ${jsonb(a.metadata)} || jsonb_build_object('sessionId', revoked.id, 'reason', 'oauth_revoke'), ${ts(a.at)}
          from revoked
        )
        select user_id as "userId" from revoked`,
  );
  return { revoked: found.length === 1, userId: found[0]?.userId ?? null };
}

/**
 * RFC 7009 for an access token: records its jti until it expires, with the audit row, when it
 * belongs to the caller's application (a user token: its session's application). Idempotent.
 */
export async function revokeAccessTokenJti(
  db: Database,
  input: {
    jti: string;
    expiresAt: Date;
    applicationId: string;
    /** A user token's session (its application is checked); absent for a service token (checked by the caller). */
    sessionId: string | null;
    targetUserId: string | null;
    now: Date;
    audit: AuditEvent;
  },
): Promise<boolean> {
  const a = input.audit;
  const owned = input.sessionId
    ? sql`exists (select 1 from sessions s where s.id = ${input.sessionId}::uuid and s.application_id = ${input.applicationId}::uuid)`
    : sql`true`;
  const found = await rows<{ jti: string }>(
    db,
    sql`with inserted as (
          insert into revoked_access_tokens (jti, expires_at, revoked_at)
          select ${input.jti}, ${ts(input.expiresAt)}, ${ts(input.now)} where ${owned}
          on conflict (jti) do nothing
          returning jti
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
          select ${a.type}, null, ${a.actorLabel ?? null}, ${input.targetUserId}::uuid, ${a.ip ?? null}, ${a.userAgent ?? null},
                 ${jsonb(a.metadata)}, ${ts(a.at)}
          from inserted
        )
        select jti from inserted`,
  );
  return found.length === 1;
}

