// Small helpers shared by the stores for raw statements (CTE chains that must be one round trip).
import type { SQL } from "drizzle-orm";
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";

/** A timestamptz parameter (ISO string, cast explicitly so Postgres never has to guess). */
export function ts(date: Date): SQL {
  return sql`${date.toISOString()}::timestamptz`;
}

export function jsonb(value: unknown): SQL {
  return sql`${JSON.stringify(value ?? {})}::jsonb`;
}

/** Runs a raw statement and returns its rows as objects (column aliases as written). */
export async function rows<T>(db: Database, query: SQL): Promise<T[]> {
  const result = await db.execute(query);
  return result.rows as T[];
}

/** The Neon driver parses timestamptz into Date; accept a string too (other drivers, nulls). */
export function toDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v : new Date(String(v));
}

/** Audit row context shared by every event written inside a statement. */
export interface AuditContext {
  ip?: string | null;
  userAgent?: string | null;
}
