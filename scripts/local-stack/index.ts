// The local stack (DESIGN.md section 4): a Neon-protocol SQL endpoint and an Upstash-protocol
// Redis endpoint on loopback, each backed by a real server when one is named (DATABASE_URL,
// REDIS_URL) or by an embedded one otherwise (PGlite, in-memory Redis). The Worker reaches both
// with its production drivers; only URLs and tokens differ from production.
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { EndpointServer } from "./endpoint-server.ts";
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
}

export interface LocalStack {
  sql: EndpointServer;
  redis: EndpointServer;
  /** What the Worker needs: LOCAL_SQL_ENDPOINT, UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN. */
  workerVars: { LOCAL_SQL_ENDPOINT: string; UPSTASH_REDIS_REST_URL: string; UPSTASH_REDIS_REST_TOKEN: string };
  migrationsApplied: number;
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
  const redisBackend = await createRedisBackend({ redisUrl: options.redisUrl });
  const token = options.redisToken ?? randomBytes(24).toString("base64url");

  const sql = await startSqlEndpoint({ backend: sqlBackend, port: options.sqlPort, latencyMs: options.sqlLatencyMs });
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
    describe: () =>
      `SQL ${sql.url} (${sql.handler.backendName}), Redis ${redis.url} (${redis.handler.backendName})` +
      (migrationsApplied ? `, ${migrationsApplied} migration(s) applied` : ""),
    close: async () => {
      await Promise.allSettled([sql.close(), redis.close()]);
    },
  };
}
