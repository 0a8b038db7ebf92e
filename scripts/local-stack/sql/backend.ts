// The storage side of the local SQL endpoint: one interface, two implementations
// (embedded PGlite, or a real Postgres server through `pg`). Both answer with what a
// Postgres server sends in the text format: field descriptions plus every value as its
// Postgres text output (or null), never parsed into JS values. The Neon HTTP protocol
// layer (neon-http.ts) turns that into Neon's JSON answers.

/** Postgres text output of one value (null = SQL NULL). */
export type TextValue = string | null;

/** One result column, as in a RowDescription message (and in Neon's `fields`). */
export interface FieldInfo {
  name: string;
  dataTypeID: number;
  tableID: number;
  columnID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: "text";
}

export interface QueryResult<Row = TextValue[]> {
  /** First word of the command tag ("SELECT", "INSERT", "CREATE", ...; "" for an empty query). */
  command: string;
  /** Row count from the command tag (affected rows for INSERT/UPDATE/DELETE); null when the tag has none. */
  rowCount: number | null;
  fields: FieldInfo[];
  rows: Row[];
}

export interface QueryOptions {
  /** true (default): rows as arrays of text values; false: rows as objects keyed by field name. */
  arrayMode?: boolean;
}

export interface SqlStatement {
  text: string;
  /** Parameter values as text (null = NULL); sent untyped so the server infers their types. */
  params?: TextValue[];
}

/** The isolation levels Neon accepts in its Neon-Batch-Isolation-Level header. */
export type IsolationLevel = "ReadUncommitted" | "ReadCommitted" | "RepeatableRead" | "Serializable";

export interface TransactionOptions {
  isolationLevel?: IsolationLevel;
  readOnly?: boolean;
  deferrable?: boolean;
}

export interface MigrateOptions {
  /** Defaults to drizzle's "__drizzle_migrations". */
  migrationsTable?: string;
  /** Defaults to drizzle's "drizzle". */
  migrationsSchema?: string;
}

export interface SqlBackend {
  /** e.g. "pglite:memory", "pglite:/path/to/dir", "postgres:127.0.0.1:5432/app". */
  readonly name: string;
  readonly kind: "pglite" | "postgres";
  /** Runs one statement on its own (autocommit). Throws SqlError on a Postgres error. */
  query(text: string, params?: TextValue[], options?: { arrayMode?: true }): Promise<QueryResult>;
  query(text: string, params: TextValue[] | undefined, options: { arrayMode: false }): Promise<QueryResult<Record<string, TextValue>>>;
  query(text: string, params?: TextValue[], options?: QueryOptions): Promise<QueryResult<TextValue[]> | QueryResult<Record<string, TextValue>>>;
  /**
   * Runs the statements in one transaction, all or nothing: on the first error everything is
   * rolled back and that error is thrown (as SqlError), as is an error raised by COMMIT
   * (e.g. a serialization failure, 40001). Rows always come back as arrays.
   */
  transaction(statements: SqlStatement[], options?: TransactionOptions): Promise<QueryResult[]>;
  /**
   * Empties every table of schema `public` (TRUNCATE ... RESTART IDENTITY CASCADE) in one
   * statement; the schema itself and drizzle's migration journal (schema `drizzle`) stay.
   */
  truncateAll(): Promise<void>;
  /** Applies drizzle-kit migrations from the folder with drizzle-orm's own migrator; returns how many were applied. */
  migrate(migrationsFolder: string, options?: MigrateOptions): Promise<{ applied: number }>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Error fields of a Postgres ErrorResponse, named as in pg / the Neon driver. */
export const ERROR_FIELDS = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

export type ErrorField = (typeof ERROR_FIELDS)[number];
export type ErrorFields = Partial<Record<ErrorField, string>>;

/** A Postgres error (ErrorResponse), carrying its SQLSTATE and the other error fields. */
export class SqlError extends Error {
  severity: string;
  code: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: string;
  routine?: string;

  constructor(message: string, fields: ErrorFields = {}) {
    super(message);
    this.name = "SqlError";
    this.severity = fields.severity ?? "ERROR";
    this.code = fields.code ?? "";
    for (const f of ERROR_FIELDS) {
      if (f === "severity" || f === "code") continue;
      const v = fields[f];
      if (v !== undefined && v !== null) this[f] = String(v);
    }
  }

  fields(): ErrorFields {
    const out: ErrorFields = {};
    for (const f of ERROR_FIELDS) {
      const v = this[f];
      if (v !== undefined) out[f] = v;
    }
    return out;
  }
}

/**
 * The SqlError for a Postgres error object from `pg` or PGlite (both use pg-protocol's
 * DatabaseError: message plus severity, code, ...); undefined for anything else
 * (network errors, bugs), which callers report as a connection failure instead.
 */
export function toSqlError(err: unknown): SqlError | undefined {
  if (err instanceof SqlError) return err;
  if (!(err instanceof Error)) return undefined;
  const e = err as Error & Record<string, unknown>;
  if (typeof e.code !== "string" || !/^[0-9A-Z]{5}$/.test(e.code) || typeof e.severity !== "string") {
    // drizzle wraps driver errors (DrizzleQueryError) with the Postgres error as `cause`.
    return e.cause !== undefined && e.cause !== err ? toSqlError(e.cause) : undefined;
  }
  const fields: ErrorFields = {};
  for (const f of ERROR_FIELDS) {
    const v = e[f];
    if (typeof v === "string" || typeof v === "number") fields[f] = String(v);
  }
  return new SqlError(e.message, fields);
}

/**
 * Command name and row count from a command tag, as Neon's proxy reads them:
 * "INSERT 0 5" -> INSERT/5, "UPDATE 2" -> UPDATE/2, "CREATE TABLE" -> CREATE/null, "" -> ""/null.
 */
export function parseCommandTag(tag: string): { command: string; rowCount: number | null } {
  const sp = tag.indexOf(" ");
  if (sp < 0) return { command: tag, rowCount: null };
  const command = tag.slice(0, sp);
  let rest = tag.slice(sp + 1);
  if (command === "INSERT") {
    const sp2 = rest.indexOf(" ");
    if (sp2 < 0) return { command, rowCount: null };
    rest = rest.slice(sp2 + 1);
  }
  return { command, rowCount: /^\d+$/.test(rest) ? Number(rest) : null };
}

/** Rows as objects keyed by field name (a later duplicate name wins, as in a parsed JSON object). */
export function rowsAsObjects(fields: FieldInfo[], rows: TextValue[][]): Record<string, TextValue>[] {
  return rows.map((row) => {
    const obj: Record<string, TextValue> = {};
    fields.forEach((f, i) => {
      obj[f.name] = row[i] ?? null;
    });
    return obj;
  });
}

/** The SQL that starts a transaction with the given options ("BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY"). */
export function beginStatement(options: TransactionOptions = {}): string {
  const modes: string[] = [];
  switch (options.isolationLevel) {
    case undefined:
      break;
    case "ReadUncommitted":
      modes.push("ISOLATION LEVEL READ UNCOMMITTED");
      break;
    case "ReadCommitted":
      modes.push("ISOLATION LEVEL READ COMMITTED");
      break;
    case "RepeatableRead":
      modes.push("ISOLATION LEVEL REPEATABLE READ");
      break;
    case "Serializable":
      modes.push("ISOLATION LEVEL SERIALIZABLE");
      break;
    default:
      throw new SqlError(`invalid isolation level ${String(options.isolationLevel)}`, { code: "22023" });
  }
  if (options.readOnly) modes.push("READ ONLY");
  if (options.deferrable) modes.push("DEFERRABLE");
  return modes.length ? `BEGIN ${modes.join(", ")}` : "BEGIN";
}

/**
 * One statement that empties every table of schema `public`, keeping the schema (and
 * everything outside `public`, such as drizzle's migration journal) and the rows the migrations
 * seed: a table with a boolean `builtin` column keeps its builtin rows (the platform
 * application), so a reset database looks like a freshly migrated one.
 */
export const TRUNCATE_PUBLIC_SQL = `DO $truncate_all$
DECLARE stmt text; seeded record;
BEGIN
  SELECT 'TRUNCATE TABLE ' || string_agg(format('%I.%I', t.schemaname, t.tablename), ', ' ORDER BY t.tablename) || ' RESTART IDENTITY CASCADE'
    INTO stmt
    FROM pg_catalog.pg_tables t
   WHERE t.schemaname = 'public'
     AND NOT EXISTS (SELECT 1 FROM information_schema.columns c
                      WHERE c.table_schema = 'public' AND c.table_name = t.tablename AND c.column_name = 'builtin');
  IF stmt IS NOT NULL THEN
    EXECUTE stmt;
  END IF;
  FOR seeded IN SELECT c.table_name FROM information_schema.columns c
                 WHERE c.table_schema = 'public' AND c.column_name = 'builtin' LOOP
    EXECUTE format('DELETE FROM public.%I WHERE NOT builtin', seeded.table_name);
  END LOOP;
END
$truncate_all$`;

/** Counts the rows of drizzle's migration journal (0 when it does not exist yet). */
export async function countMigrations(backend: Pick<SqlBackend, "query">, options: MigrateOptions = {}): Promise<number> {
  const schema = options.migrationsSchema ?? "drizzle";
  const table = options.migrationsTable ?? "__drizzle_migrations";
  const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const reg = await backend.query("select to_regclass($1) is not null", [`${ident(schema)}.${ident(table)}`]);
  if (reg.rows[0]?.[0] !== "t") return 0;
  const n = await backend.query(`select count(*) from ${ident(schema)}.${ident(table)}`);
  return Number(n.rows[0]?.[0] ?? 0);
}
