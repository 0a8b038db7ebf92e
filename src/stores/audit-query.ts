// Reading the auth audit log for staff: filtered, newest first, keyset-paginated on
// (created_at, id) so pages neither skip nor repeat rows while new events keep arriving.
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { rows, toDate, ts } from "./sql";

export interface AuditFilter {
  targetUserId?: string;
  actorUserId?: string;
  /** Exact event type, or every type starting with `prefix`. */
  eventType?: { exact: string } | { prefix: string };
  /** Inclusive lower bound on created_at. */
  from?: Date;
  /** Exclusive upper bound on created_at. */
  to?: Date;
}

/** A position in the (created_at desc, id desc) order: the exact timestamp (microseconds) and id. */
export interface AuditPosition {
  at: string;
  id: string;
}

export interface AuditRecord {
  id: string;
  eventType: string;
  actorUserId: string | null;
  actorLabel: string | null;
  targetUserId: string | null;
  ip: string | null;
  userAgent: string | null;
  metadata: Record<string, unknown>;
  createdAt: Date;
  position: AuditPosition;
}

/** LIKE pattern for a literal prefix (event types contain `_`, which LIKE would read as a wildcard). */
function likePrefix(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (ch) => `\\${ch}`) + "%";
}

/** Up to `limit` events after `after` (exclusive), newest first. One statement. */
export async function queryAuditEvents(db: Database, filter: AuditFilter, after: AuditPosition | null, limit: number): Promise<AuditRecord[]> {
  const where: SQL[] = [];
  if (filter.targetUserId) where.push(sql`target_user_id = ${filter.targetUserId}::uuid`);
  if (filter.actorUserId) where.push(sql`actor_user_id = ${filter.actorUserId}::uuid`);
  if (filter.eventType && "exact" in filter.eventType) where.push(sql`event_type = ${filter.eventType.exact}`);
  if (filter.eventType && "prefix" in filter.eventType) where.push(sql`event_type like ${likePrefix(filter.eventType.prefix)} escape '\\'`);
  if (filter.from) where.push(sql`created_at >= ${ts(filter.from)}`);
  if (filter.to) where.push(sql`created_at < ${ts(filter.to)}`);
  if (after) where.push(sql`(created_at, id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
  const condition = where.length ? sql`where ${sql.join(where, sql` and `)}` : sql``;

  const found = await rows<Omit<AuditRecord, "createdAt" | "position"> & { createdAt: unknown; positionAt: string }>(
    db,
    sql`select id, event_type as "eventType", actor_user_id as "actorUserId", actor_label as "actorLabel",
          target_user_id as "targetUserId", ip, user_agent as "userAgent", metadata, created_at as "createdAt",
          to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "positionAt"
        from auth_audit_logs ${condition}
        order by created_at desc, id desc
        limit ${limit}`,
  );
  return found.map(({ positionAt, createdAt, metadata, ...r }) => ({
    ...r,
    metadata: (typeof metadata === "string" ? JSON.parse(metadata) : metadata) ?? {},
    createdAt: toDate(createdAt)!,
    position: { at: positionAt, id: r.id },
  }));
}
