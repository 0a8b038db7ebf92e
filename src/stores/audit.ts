// The auth audit log. Events are usually written inside the statement that makes the change they
// record (so the change and its record land together); recordAudit is for events with no change.
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { jsonb, ts, type AuditContext } from "./sql";

export type AuditEventType =
  | "user.registered"
  | "login.attempt"
  | "login.success"
  | "login.failure"
  | "login.blocked"
  | "logout"
  | "logout.all"
  | "session.revoked"
  | "refresh.reuse_detected"
  | "password_reset.requested"
  | "password_reset.completed"
  | "password.changed";

export interface AuditEvent extends AuditContext {
  type: AuditEventType | (string & {});
  actorUserId?: string | null;
  actorLabel?: string | null;
  targetUserId?: string | null;
  metadata?: Record<string, unknown>;
  at: Date;
}

/** `insert ... values (...)` for one event, to embed as a CTE or run alone. */
export function auditInsert(e: AuditEvent): SQL {
  return sql`insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
    values (${e.type}, ${e.actorUserId ?? null}::uuid, ${e.actorLabel ?? null}, ${e.targetUserId ?? null}::uuid, ${e.ip ?? null}, ${e.userAgent ?? null}, ${jsonb(e.metadata)}, ${ts(e.at)})`;
}

export async function recordAudit(db: Database, e: AuditEvent): Promise<void> {
  await db.execute(auditInsert(e));
}
