// The Finance database (FINANCE_DATABASE_URL): read-only, a separate Drizzle client over Neon HTTP.
// Finance owns this schema (a Prisma app: "Company" with camelCase columns); this service only
// reads the few columns below and never writes. With LOCAL_SQL_ENDPOINT set, the Neon driver's
// endpoint is the local stack's (a global driver setting made in db/client.ts, which buildDeps
// always runs first); the endpoint routes each request by the database its connection string names.
import { neon } from "@neondatabase/serverless";
import { sql } from "drizzle-orm";
import { drizzle, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import { ConfigError, type Config } from "../config";

export type FinanceDatabase = NeonHttpDatabase<Record<string, never>>;

const clients = new Map<string, FinanceDatabase>();

/** The Finance client, or undefined when FINANCE_DATABASE_URL is unset. A malformed URL is a ConfigError. */
export function getFinanceDatabase(config: Config): FinanceDatabase | undefined {
  const url = config.finance.databaseUrl;
  if (!url) return undefined;
  let db = clients.get(url);
  if (!db) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new ConfigError([{ variable: "FINANCE_DATABASE_URL", message: "expected a postgres:// or postgresql:// connection string" }]);
    }
    try {
      db = drizzle({ client: neon(url) });
    } catch {
      throw new ConfigError([{ variable: "FINANCE_DATABASE_URL", message: "is not a connection string the Neon driver accepts" }]);
    }
    clients.set(url, db);
  }
  return db;
}

export interface FinanceCompany {
  id: string;
  code: string;
  name: string;
}

/** A company a lookup found, and how it matched (Postgres decides, with its own lower()). */
export interface CompanyCandidate extends FinanceCompany {
  byId: boolean;
  byCode: boolean;
  byName: boolean;
  /** Code or name equal to the input as typed (case included): the tie-break between case variants. */
  exactCode: boolean;
  exactName: boolean;
}

/** Most rows one lookup reads: enough to tell a unique match from an ambiguous one, and to list a few candidates. */
export const COMPANY_CANDIDATES_MAX = 10;

/**
 * Companies whose id equals `id` (when given: callers pass it only for a well-formed UUID, since
 * the column may be uuid-typed), or whose code or name equals `raw` case-insensitively. One
 * round trip; at most COMPANY_CANDIDATES_MAX rows, id and code matches first.
 */
export async function findCompanyCandidates(db: FinanceDatabase, raw: string, id: string | null): Promise<CompanyCandidate[]> {
  const byId = id === null ? sql`false` : sql`"id" = ${id}`;
  const result = await db.execute(
    sql`select "id"::text as "id", "code", "name",
               ${byId} as "byId",
               coalesce(lower("code") = lower(${raw}), false) as "byCode",
               coalesce(lower("name") = lower(${raw}), false) as "byName",
               coalesce("code" = ${raw}, false) as "exactCode",
               coalesce("name" = ${raw}, false) as "exactName"
        from "Company"
        where ${byId} or lower("code") = lower(${raw}) or lower("name") = lower(${raw})
        order by 4 desc, 5 desc, "code"
        limit ${COMPANY_CANDIDATES_MAX}`,
  );
  type Row = { id: string; code: string | null; name: string | null; byId: boolean; byCode: boolean; byName: boolean; exactCode: boolean; exactName: boolean };
  return (result.rows as Row[]).map((r) => ({
    id: String(r.id),
    code: r.code ?? "",
    name: r.name ?? "",
    byId: r.byId === true,
    byCode: r.byCode === true,
    byName: r.byName === true,
    exactCode: r.exactCode === true,
    exactName: r.exactName === true,
  }));
}

/** Readiness: the Finance database answers. */
export async function pingFinance(db: FinanceDatabase): Promise<void> {
  await db.execute(sql`select 1`);
}
