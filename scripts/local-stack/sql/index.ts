// Local SQL endpoint: Neon's HTTP SQL protocol on loopback, backed by embedded PGlite or a
// real Postgres server. The Worker reaches it with the production driver by setting
// neonConfig.fetchEndpoint = () => `${endpoint.url}/sql`.
import { startEndpointServer } from "../endpoint-server.ts";
import type { EndpointServer } from "../endpoint-server.ts";
import { classify, createNeonHttpHandler } from "./neon-http.ts";
import { createDatabaseRouter } from "./router.ts";
import type { SqlBackend } from "./backend.ts";

export type {
  ErrorFields,
  FieldInfo,
  IsolationLevel,
  MigrateOptions,
  QueryOptions,
  QueryResult,
  SqlBackend,
  SqlStatement,
  TextValue,
  TransactionOptions,
} from "./backend.ts";
export { SqlError, toSqlError } from "./backend.ts";
export { classify, createNeonHttpHandler, neonErrorBody } from "./neon-http.ts";
export { createDatabaseRouter, requestDatabase } from "./router.ts";

export interface SqlBackendOptions {
  /** A postgres:// URL: use that server. Takes precedence over dataDir. */
  databaseUrl?: string;
  /** PGlite data folder (created if missing); undefined = PGlite in memory. */
  dataDir?: string;
  /** Postgres pool size (default 10). */
  poolSize?: number;
}

/** Postgres when databaseUrl is given, else PGlite (persisted in dataDir, or in memory). */
export async function createSqlBackend(options: SqlBackendOptions = {}): Promise<SqlBackend> {
  if (options.databaseUrl) {
    const { createPostgresBackend } = await import("./postgres-backend.ts");
    return createPostgresBackend({ databaseUrl: options.databaseUrl, max: options.poolSize });
  }
  const { createPgliteBackend } = await import("./pglite-backend.ts");
  return createPgliteBackend({ dataDir: options.dataDir });
}

export interface SqlEndpointOptions {
  backend: SqlBackend;
  /** 0 / undefined = any free port. */
  port?: number;
  host?: string;
  latencyMs?: number;
  /**
   * Further databases on the same endpoint, by name: a request whose Neon-Connection-String names
   * one of them goes to its backend; every other request to `backend`. wipeOnReset: whether
   * /__stack/reset empties it too.
   */
  databases?: Record<string, { backend: SqlBackend; wipeOnReset: boolean }>;
}

/** Serves Neon's HTTP SQL protocol for the backend; the driver's endpoint is `${server.url}/sql`. */
export function startSqlEndpoint(options: SqlEndpointOptions): Promise<EndpointServer> {
  const main = createNeonHttpHandler(options.backend);
  const extra = Object.entries(options.databases ?? {});
  const handler =
    extra.length === 0
      ? main
      : createDatabaseRouter(
          main,
          Object.fromEntries(extra.map(([name, d]) => [name, { handler: createNeonHttpHandler(d.backend), wipeOnReset: d.wipeOnReset }])),
        );
  return startEndpointServer(handler, {
    name: "sql",
    port: options.port,
    host: options.host,
    latencyMs: options.latencyMs,
    classify,
  });
}
