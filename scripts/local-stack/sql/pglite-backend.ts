// SqlBackend on embedded PGlite (Postgres compiled to wasm, one single-user session).
//
// PGlite's query()/exec() parse results into JS values and serialize parameters by their
// inferred type (e.g. JSON.stringify for a jsonb parameter, which would double-encode the
// JSON text the Neon driver sends). A real server does neither for the Neon driver: it gets
// untyped text parameters and answers in the text format. So this backend speaks the
// extended query protocol to PGlite directly (Parse with no parameter types, Bind with text
// values, Describe, Execute, Sync) and hands back the raw RowDescription, DataRow text and
// CommandComplete tag.
//
// PGlite has one session, so every operation (a single query, a whole batch from BEGIN to
// COMMIT, truncateAll) runs while holding both of PGlite's own mutexes, the transaction
// mutex and then the query mutex, exactly as PGlite's describeQuery() does. Its public
// query()/exec()/transaction() (used by drizzle's migrator) take the same mutexes, so nothing
// can interleave with a batch, and concurrent callers wait in FIFO order (async-mutex) rather
// than being dropped.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { PGlite, protocol } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate as drizzleMigrate } from "drizzle-orm/pglite/migrator";
import {
  SqlError,
  beginStatement,
  countMigrations,
  parseCommandTag,
  rowsAsObjects,
  toSqlError,
  TRUNCATE_PUBLIC_SQL,
} from "./backend.ts";
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

export interface PgliteBackendOptions {
  /** Folder holding the database; undefined = in memory (lost on close). */
  dataDir?: string;
}

const ser = protocol.serialize;

type BackendMessage = Awaited<ReturnType<PGlite["execProtocolStream"]>>[number];

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

interface Outcome {
  result: QueryResult;
  error?: SqlError;
  /** Transaction status from ReadyForQuery: I idle, T in a transaction, E failed transaction. */
  status: string;
}

type RawMessage = BackendMessage & {
  fields?: unknown;
  text?: string;
  status?: string;
};

function collect(messages: BackendMessage[]): Outcome {
  let fields: FieldInfo[] = [];
  const rows: TextValue[][] = [];
  let tag = "";
  let error: SqlError | undefined;
  let status = "I";
  for (const m of messages as RawMessage[]) {
    if (m instanceof Error) {
      // ErrorResponse (pg-protocol DatabaseError); notices are not Errors and are skipped.
      if (m.name === "error" && !error) error = toSqlError(m) ?? new SqlError(m.message, { code: "XX000" });
      continue;
    }
    switch (m.name) {
      case "rowDescription":
        fields = (m.fields as FieldInfo[]).map((f) => ({
          name: f.name,
          dataTypeID: f.dataTypeID,
          tableID: f.tableID,
          columnID: f.columnID,
          dataTypeSize: f.dataTypeSize,
          dataTypeModifier: f.dataTypeModifier,
          format: "text",
        }));
        break;
      case "dataRow":
        rows.push(m.fields as TextValue[]);
        break;
      case "commandComplete":
        tag = m.text ?? "";
        break;
      case "readyForQuery":
        status = m.status ?? "I";
        break;
    }
  }
  const { command, rowCount } = parseCommandTag(tag);
  return { result: { command, rowCount, fields, rows }, error, status };
}

export class PgliteBackend implements SqlBackend {
  readonly kind = "pglite" as const;
  readonly name: string;
  readonly db: PGlite;
  #closed = false;

  private constructor(db: PGlite, name: string) {
    this.db = db;
    this.name = name;
  }

  static async open(options: PgliteBackendOptions = {}): Promise<PgliteBackend> {
    const dataDir = options.dataDir ? path.resolve(options.dataDir) : undefined;
    // PGlite creates only the last level of its folder; make the parents (e.g. .local/).
    if (dataDir) mkdirSync(path.dirname(dataDir), { recursive: true });
    const db = await PGlite.create(dataDir ? { dataDir } : {});
    const backend = new PgliteBackend(db, dataDir ? `pglite:${dataDir}` : "pglite:memory");
    // Same session settings a Neon compute answers with (and the Postgres backend forces).
    await backend.#exclusive(async () => {
      const o = await backend.#simple("SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, MDY'; SET IntervalStyle TO 'postgres'");
      if (o.error) throw o.error;
    });
    return backend;
  }

  /** Runs fn holding PGlite's transaction mutex and query mutex: nothing else touches the session meanwhile. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`${this.name} is closed`));
    return this.db._runExclusiveTransaction(() => this.db._runExclusiveQuery(fn));
  }

  async #send(message: Uint8Array): Promise<Outcome> {
    const messages = await this.db.execProtocolStream(message, { throwOnError: false, syncToFs: false });
    return collect(messages);
  }

  /** Simple query protocol (for BEGIN/COMMIT/ROLLBACK and session settings). */
  #simple(text: string): Promise<Outcome> {
    return this.#send(ser.query(text));
  }

  /** Extended query protocol with untyped text parameters, like a driver sending text params. */
  #extended(text: string, params: TextValue[]): Promise<Outcome> {
    return this.#send(
      concat([
        ser.parse({ text, types: [] }),
        ser.bind({ values: params }),
        ser.describe({ type: "P" }),
        ser.execute({}),
        ser.sync(),
      ]),
    );
  }

  query(text: string, params?: TextValue[], options?: { arrayMode?: true }): Promise<QueryResult>;
  query(text: string, params: TextValue[] | undefined, options: { arrayMode: false }): Promise<QueryResult<Record<string, TextValue>>>;
  query(text: string, params?: TextValue[], options?: QueryOptions): Promise<QueryResult<TextValue[]> | QueryResult<Record<string, TextValue>>>;
  async query(text: string, params: TextValue[] = [], options: QueryOptions = {}) {
    const outcome = await this.#exclusive(async () => {
      const o = await this.#extended(text, params);
      // A lone statement must not leave the session inside a transaction (e.g. "BEGIN" sent
      // as a single query): Neon discards such a connection, which rolls it back.
      if (o.status !== "I") await this.#simple("ROLLBACK");
      await this.db.syncToFs();
      return o;
    });
    if (outcome.error) throw outcome.error;
    const r = outcome.result;
    return options.arrayMode === false ? { ...r, rows: rowsAsObjects(r.fields, r.rows) } : r;
  }

  async transaction(statements: SqlStatement[], options: TransactionOptions = {}): Promise<QueryResult[]> {
    const begin = beginStatement(options);
    return this.#exclusive(async () => {
      const results: QueryResult[] = [];
      let failure: SqlError | undefined;
      const b = await this.#simple(begin);
      if (b.error) {
        if (b.status !== "I") await this.#simple("ROLLBACK");
        throw b.error;
      }
      for (const st of statements) {
        const o = await this.#extended(st.text, st.params ?? []);
        if (o.error) {
          failure = o.error;
          break;
        }
        results.push(o.result);
      }
      if (!failure) {
        const c = await this.#simple("COMMIT");
        if (c.error) failure = c.error;
        else if (c.result.command === "ROLLBACK") failure = new SqlError("Transaction was rolled back instead of committed", { code: "25P02" });
        else if (c.status !== "I") failure = new SqlError("transaction still open after COMMIT", { code: "25000" });
      }
      if (failure) {
        // Nothing of the batch may stay: roll back whatever is open (a statement of the
        // batch may itself have ended the transaction, e.g. COMMIT; ROLLBACK is then a no-op warning).
        await this.#simple("ROLLBACK");
        await this.db.syncToFs();
        throw failure;
      }
      await this.db.syncToFs();
      return results;
    });
  }

  async truncateAll(): Promise<void> {
    await this.query(TRUNCATE_PUBLIC_SQL);
  }

  async migrate(migrationsFolder: string, options: MigrateOptions = {}): Promise<{ applied: number }> {
    const before = await countMigrations(this, options);
    // drizzle's PGlite migrator goes through PGlite's query()/transaction(), which take the same mutexes.
    await drizzleMigrate(drizzle({ client: this.db }), { migrationsFolder: path.resolve(migrationsFolder), ...options });
    const after = await countMigrations(this, options);
    return { applied: after - before };
  }

  async ping(): Promise<void> {
    await this.query("select 1");
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // PGlite.close() waits for queued queries and transactions to finish first.
    this.#closed = true;
    await this.db.close();
  }
}

export function createPgliteBackend(options: PgliteBackendOptions = {}): Promise<PgliteBackend> {
  return PgliteBackend.open(options);
}
