// The local stack (DESIGN.md section 4): a Neon-protocol SQL endpoint and an Upstash-protocol
// Redis endpoint on loopback, each backed by a real server when one is named (DATABASE_URL,
// REDIS_URL) or by an embedded one otherwise (PGlite, in-memory Redis). The Worker reaches both
// with its production drivers; only URLs and tokens differ from production.
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { EndpointServer } from "./endpoint-server.ts";
import { applyFinanceFixture, FINANCE_FIXTURE_DATABASE, financeWorkerUrl } from "./finance-fixture.ts";
import { createRedisBackend, startRedisEndpoint } from "./redis/index.ts";
import { createSqlBackend, startSqlEndpoint } from "./sql/index.ts";

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const MIGRATIONS_FOLDER = join(PROJECT_ROOT, "drizzle");
/** Where the embedded databases persist (git-ignored); LOCAL_DATA_DIR moves it. */
export const LOCAL_DATA_DIR = process.env.LOCAL_DATA_DIR || join(PROJECT_ROOT, ".local");

export interface LocalStackOptions {
  /** Real Postgres to serve (else PGlite). */
  databaseUrl?: string;
  /** PGlite data folder; undefined keeps PGlite in memory. Ignored with databaseUrl. */
  dataDir?: string;
  /** Real Redis to serve (else the embedded in-memory Redis). */
  redisUrl?: string;
  /** Bearer token the Redis endpoint requires (random when omitted). */
  redisToken?: string;
  sqlPort?: number;
  redisPort?: number;
  /** Edge simulation: fixed delay added to every SQL / Redis round trip, in ms. */
  sqlLatencyMs?: number;
  redisLatencyMs?: number;
  /** Apply drizzle/ migrations before serving (default true). */
  migrate?: boolean;
  /** The Finance database served beside the Auth one (default: the fixture, in memory); false for none. */
  finance?: FinanceStackOptions | false;
}

export interface FinanceStackOptions {
  /** A real Postgres to serve as Finance (else PGlite). */
  databaseUrl?: string;
  /** PGlite data folder for Finance; undefined keeps it in memory. Ignored with databaseUrl. */
  dataDir?: string;
  /** The name requests must use (default: databaseUrl's database name, else "finance"). */
  database?: string;
  /**
   * Apply the Finance fixture schema (scripts/local-stack/finance-fixture.sql) and let
   * /__stack/reset empty it. Default: true for PGlite, false for a real database, which is
   * then only ever read through (never altered, never wiped).
   */
  fixture?: boolean;
}

export interface LocalStack {
  sql: EndpointServer;
  redis: EndpointServer;
  /** What the Worker needs: LOCAL_SQL_ENDPOINT, UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN. */
  workerVars: { LOCAL_SQL_ENDPOINT: string; UPSTASH_REDIS_REST_URL: string; UPSTASH_REDIS_REST_TOKEN: string };
  migrationsApplied: number;
  /** The Finance database: its name on the endpoint and a FINANCE_DATABASE_URL for the Worker that reaches it. */
  finance?: { database: string; workerUrl: string; backendName: string };
  describe(): string;
  close(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const sqlBackend = await createSqlBackend({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
  let migrationsApplied = 0;
  try {
    if (options.migrate !== false) migrationsApplied = (await sqlBackend.migrate(MIGRATIONS_FOLDER)).applied;
  } catch (err) {
    await sqlBackend.close();
    throw err;
  }
  let finance: Awaited<ReturnType<typeof openFinance>>;
  try {
    finance = await openFinance(options.finance);
  } catch (err) {
    await sqlBackend.close();
    throw err;
  }
  const redisBackend = await createRedisBackend({ redisUrl: options.redisUrl });
  const token = options.redisToken ?? randomBytes(24).toString("base64url");

  const sql = await startSqlEndpoint({
    backend: sqlBackend,
    port: options.sqlPort,
    latencyMs: options.sqlLatencyMs,
    databases: finance ? { [finance.database]: { backend: finance.backend, wipeOnReset: finance.fixture } } : undefined,
  });
  let redis: EndpointServer;
  try {
    redis = await startRedisEndpoint({ backend: redisBackend, token, port: options.redisPort, latencyMs: options.redisLatencyMs });
  } catch (err) {
    await sql.close();
    await redisBackend.close();
    throw err;
  }

  return {
    sql,
    redis,
    workerVars: {
      LOCAL_SQL_ENDPOINT: `${sql.url}/sql`,
      UPSTASH_REDIS_REST_URL: redis.url,
      UPSTASH_REDIS_REST_TOKEN: token,
    },
    migrationsApplied,
    finance: finance ? { database: finance.database, workerUrl: financeWorkerUrl(finance.database), backendName: finance.backend.name } : undefined,
    describe: () =>
      `SQL ${sql.url} (${sql.handler.backendName}), Redis ${redis.url} (${redis.handler.backendName})` +
      (migrationsApplied ? `, ${migrationsApplied} migration(s) applied` : ""),
    close: async () => {
      await Promise.allSettled([sql.close(), redis.close()]);
    },
  };
}

/** Opens (and, for the fixture, prepares) the Finance backend the SQL endpoint serves beside the Auth one. */
async function openFinance(options: FinanceStackOptions | false = {}) {
  if (options === false) return undefined;
  const databaseUrl = options.databaseUrl;
  const database = options.database ?? (databaseUrl ? decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) : FINANCE_FIXTURE_DATABASE);
  if (!database || database === "auth") {
    throw new Error(`the Finance database needs its own name on the SQL endpoint (got "${database}"); "auth" is what the Worker's DATABASE_URL names`);
  }
  const fixture = options.fixture ?? !databaseUrl;
  const backend = await createSqlBackend(databaseUrl ? { databaseUrl } : { dataDir: options.dataDir });
  try {
    if (fixture) await applyFinanceFixture(backend);
    else await backend.ping();
  } catch (err) {
    await backend.close();
    throw err;
  }
  return { database, backend, fixture };
}
