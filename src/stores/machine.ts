// Session revocation by the machine routes (X-Internal-API-Key). Like every change in the stores,
// one statement each with the audit event inside; the actor is a label, never a user.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { parseUuidArray } from "./sessions";
import { jsonb, rows, ts, type AuditContext } from "./sql";

export interface MachineAudit extends AuditContext {
  actorLabel: string;
  metadata?: Record<string, unknown>;
}

/**
 * Revokes one live session (not revoked, not expired, of the user's current token version) and
 * writes session.revoked. Returns the session's user, or null when there was no live session.
 */
export async function revokeLiveSession(
  db: Database,
  input: { sessionId: string; reason: string; now: Date; audit: MachineAudit },
): Promise<{ userId: string } | null> {
  const { audit, now } = input;
  const found = await rows<{ userId: string }>(
    db,
    sql`with revoked as (
          update sessions s set revoked_at = ${ts(now)}, revoked_reason = ${input.reason}
          from users u
          where s.id = ${input.sessionId}::uuid and s.revoked_at is null and s.expires_at > ${ts(now)}
            and u.id = s.user_id and s.token_version = u.token_version
          returning s.id, s.user_id
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
          select 'session.revoked', null, ${audit.actorLabel}, revoked.user_id, ${audit.ip ?? null}, ${audit.userAgent ?? null},
                 ${jsonb(audit.metadata)} || jsonb_build_object('sessionId', revoked.id, 'reason', ${input.reason}::text), ${ts(now)}
          from revoked
        )
        select user_id as "userId" from revoked`,
  );
  return found[0] ?? null;
}

/**
 * Bumps the user's token version and revokes every open session, writing sessions.revoked_all;
 * null (and nothing written) when the user does not exist.
 */
export async function revokeAllForUser(
  db: Database,
  input: { userId: string; reason: string; now: Date; audit: MachineAudit },
): Promise<{ tokenVersion: number; revokedSessionIds: string[] } | null> {
  const { audit, now } = input;
  const found = await rows<{ tokenVersion: number; revoked: unknown }>(
    db,
    sql`with bumped as (
          update users set token_version = token_version + 1, updated_at = ${ts(now)}
          where id = ${input.userId}::uuid
          returning id, token_version
        ), revoked as (
          update sessions set revoked_at = ${ts(now)}, revoked_reason = ${input.reason}
          from bumped where sessions.user_id = bumped.id and sessions.revoked_at is null
          returning sessions.id
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
          select 'sessions.revoked_all', null, ${audit.actorLabel}, bumped.id, ${audit.ip ?? null}, ${audit.userAgent ?? null},
                 ${jsonb(audit.metadata)} || jsonb_build_object('reason', ${input.reason}::text, 'revokedSessions', (select count(*) from revoked),
                                                               'tokenVersion', bumped.token_version),
                 ${ts(now)}
          from bumped
        )
        select bumped.token_version as "tokenVersion", (select array_agg(id) from revoked) as revoked from bumped`,
  );
  const r = found[0];
  if (!r) return null;
  return { tokenVersion: Number(r.tokenVersion), revokedSessionIds: parseUuidArray(r.revoked) };
}
