// SqlBackend on a real Postgres server through a `pg` Pool.
//
// Values stay raw Postgres text: every type parser is the identity, rows come back as
// arrays, and statements always go through the extended query protocol with untyped text
// parameters (queryMode "extended"), as Neon's proxy runs them; so a multi-statement string
// fails here exactly as it does on Neon. Sessions get Neon's defaults (TimeZone UTC,
// DateStyle ISO) so timestamptz text matches PGlite and Neon ("...+00").
import path from "node:path";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate as drizzleMigrate } from "drizzle-orm/node-postgres/migrator";
import { SqlError, beginStatement, countMigrations, rowsAsObjects, toSqlError, TRUNCATE_PUBLIC_SQL } from "./backend.ts";
import type {
  FieldInfo,
  MigrateOptions,
  QueryOptions,
  QueryResult,
  SqlBackend,
  SqlStatement,
  TextValue,
  TransactionOptions,
} from "./backend.ts";

export interface PostgresBackendOptions {
  /** postgres://user:password@host:port/database */
  databaseUrl: string;
  /** Pool size (default 10); further concurrent requests wait for a connection. */
  max?: number;
}

/** Every value stays the text the server sent. */
const rawText = (value: string) => value;
const RAW_TYPES = { getTypeParser: () => rawText } as unknown as pg.CustomTypesConfig;

/** Session defaults as on a Neon compute (startup parameters; a connection string's own `options` wins). */
const SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres";

function describe(databaseUrl: string): string {
  try {
    const u = new URL(databaseUrl);
    return `postgres:${u.hostname}:${u.port || "5432"}${u.pathname || "/"}`;
  } catch {
    return "postgres:?";
  }
}

function toResult(r: pg.QueryArrayResult): QueryResult {
  const fields: FieldInfo[] = (r.fields ?? []).map((f) => ({
    name: f.name,
    dataTypeID: f.dataTypeID,
    tableID: f.tableID,
    columnID: f.columnID,
    dataTypeSize: f.dataTypeSize,
    dataTypeModifier: f.dataTypeModifier,
    format: "text",
  }));
  return {
    command: r.command ?? "",
    rowCount: typeof r.rowCount === "number" ? r.rowCount : null,
    fields,
    rows: r.rows as TextValue[][],
  };
}

/** Rethrows a Postgres error as SqlError; anything else (connection loss, ...) unchanged. */
function rethrow(err: unknown): never {
  throw toSqlError(err) ?? err;
}

export class PostgresBackend implements SqlBackend {
  readonly kind = "postgres" as const;
  readonly name: string;
  readonly pool: pg.Pool;
  readonly #databaseUrl: string;
  #closed = false;

  constructor(options: PostgresBackendOptions) {
    this.#databaseUrl = options.databaseUrl;
    this.name = describe(options.databaseUrl);
    this.pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.max ?? 10,
      types: RAW_TYPES,
      options: SESSION_OPTIONS,
      application_name: "local-stack-sql-endpoint",
    });
    // An idle connection dropped by the server must not crash the process; the pool replaces it.
    this.pool.on("error", () => {});
  }

  #run(client: pg.PoolClient, st: SqlStatement): Promise<pg.QueryArrayResult> {
    return client.query({
      text: st.text,
      values: st.params ?? [],
      rowMode: "array",
      queryMode: "extended",
    } as pg.QueryArrayConfig);
  }

  /** Gives the connection back, or closes it when it is unusable or still inside a transaction (as Neon discards it). */
  #release(client: pg.PoolClient, broken: boolean) {
    const idle = !broken && client.getTransactionStatus() === "I";
    client.release(idle ? undefined : true);
  }

  query(text: string, params?: TextValue[], options?: { arrayMode?: true }): Promise<QueryResult>;
  query(text: string, params: TextValue[] | undefined, options: { arrayMode: false }): Promise<QueryResult<Record<string, TextValue>>>;
  query(text: string, params?: TextValue[], options?: QueryOptions): Promise<QueryResult<TextValue[]> | QueryResult<Record<string, TextValue>>>;
  async query(text: string, params: TextValue[] = [], options: QueryOptions = {}) {
    if (this.#closed) throw new Error(`${this.name} is closed`);
    const client = await this.pool.connect();
    let broken = false;
    let result: QueryResult;
    try {
      result = toResult(await this.#run(client, { text, params }));
    } catch (err) {
      broken = !toSqlError(err);
      rethrow(err);
    } finally {
      this.#release(client, broken);
    }
    return options.arrayMode === false ? { ...result, rows: rowsAsObjects(result.fields, result.rows) } : result;
  }

  async transaction(statements: SqlStatement[], options: TransactionOptions = {}): Promise<QueryResult[]> {
    if (this.#closed) throw new Error(`${this.name} is closed`);
    const begin = beginStatement(options);
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query(begin);
      const results: QueryResult[] = [];
      for (const st of statements) results.push(toResult(await this.#run(client, st)));
      const commit = await client.query("COMMIT");
      if (commit.command === "ROLLBACK") throw new SqlError("Transaction was rolled back instead of committed", { code: "25P02" });
      return results;
    } catch (err) {
      if (!toSqlError(err)) broken = true;
      else if (client.getTransactionStatus() !== "I") {
        try {
          await client.query("ROLLBACK");
        } catch {
          broken = true;
        }
      }
      rethrow(err);
    } finally {
      this.#release(client, broken);
    }
  }

  async truncateAll(): Promise<void> {
    await this.query(TRUNCATE_PUBLIC_SQL);
  }

  async migrate(migrationsFolder: string, options: MigrateOptions = {}): Promise<{ applied: number }> {
    const before = await countMigrations(this, options);
    // drizzle's migrator gets its own plain client (default type parsing, which it expects).
    const client = new pg.Client({ connectionString: this.#databaseUrl, options: SESSION_OPTIONS });
    await client.connect();
    try {
      await drizzleMigrate(drizzle({ client }), { migrationsFolder: path.resolve(migrationsFolder), ...options });
    } catch (err) {
      rethrow(err);
    } finally {
      await client.end().catch(() => {});
    }
    const after = await countMigrations(this, options);
    return { applied: after - before };
  }

  async ping(): Promise<void> {
    await this.query("select 1");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}

export async function createPostgresBackend(options: PostgresBackendOptions): Promise<PostgresBackend> {
  return new PostgresBackend(options);
}
