// Small helpers shared by the stores for raw statements (CTE chains that must be one round trip).
import type { SQL } from "drizzle-orm";
import { sql } from "drizzle-orm";
import type { PgDialect } from "drizzle-orm/pg-core";
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

/**
 * Runs statements in order as one READ COMMITTED transaction, in one round trip (Neon's batch).
 * Each statement takes a fresh snapshot, so it sees what the statements before it wrote and what
 * other transactions committed while it waited for a row lock: what a single statement, with its
 * one snapshot, cannot see. Returns each statement's rows as objects.
 */
export async function transactionRows(db: Database, statements: [SQL, ...SQL[]]): Promise<Record<string, unknown>[][]> {
  const client = db.$client;
  const dialect = (db as unknown as { dialect: PgDialect }).dialect;
  const queries = statements.map((s) => {
    const q = dialect.sqlToQuery(s);
    return client.query(q.sql, q.params);
  });
  return (await client.transaction(queries, { isolationLevel: "ReadCommitted" })) as Record<string, unknown>[][];
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
