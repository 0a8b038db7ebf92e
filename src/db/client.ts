// Drizzle over Neon's HTTP driver. In development and tests LOCAL_SQL_ENDPOINT points the same
// driver at the local stack's Neon-protocol endpoint; production talks to Neon directly.
import { neon, neonConfig, type NeonQueryFunction } from "@neondatabase/serverless";
import { drizzle, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import type { Config } from "../config";
import { meteredFetch } from "../runtime/metrics";
import * as schema from "./schema";

/** Drizzle, plus the Neon client underneath for batched transactions (stores/sql.ts). */
export type Database = NeonHttpDatabase<typeof schema> & { $client: NeonQueryFunction<false, false> };

let dependencyTimeoutMs = 5000;
let configuredEndpoint: string | undefined;
neonConfig.fetchFunction = meteredFetch("sql", (input, init) => fetch(input, init), () => dependencyTimeoutMs);

const databases = new Map<string, Database>();

export function getDatabase(config: Config): Database {
  dependencyTimeoutMs = config.http.dependencyTimeoutMs;
  const local = config.database.localEndpoint;
  if (local && configuredEndpoint !== local) {
    // A global driver setting; only ever set when a local SQL endpoint is configured.
    neonConfig.fetchEndpoint = () => local;
    configuredEndpoint = local;
  }
  let db = databases.get(config.database.url);
  if (!db) {
    db = drizzle({ client: neon(config.database.url), schema });
    databases.set(config.database.url, db);
  }
  return db;
}
