// `npm run db:migrate`: applies the checked-in migrations (drizzle/) to the Postgres named by
// DATABASE_URL (Neon or any Postgres), with drizzle-orm's migrator over a TCP connection.
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { MIGRATIONS_FOLDER } from "./local-stack/index.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("db:migrate: set DATABASE_URL to the Postgres to migrate (e.g. your Neon connection string).");
  process.exit(1);
}
const pool = new pg.Pool({ connectionString: url, max: 1 });
try {
  const db = drizzle({ client: pool });
  await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  const applied = await pool.query("select count(*)::int as n from drizzle.__drizzle_migrations");
  console.log(`db:migrate: up to date (${applied.rows[0].n} migration(s) recorded) on ${new URL(url).host}`);
} catch (err) {
  console.error(`db:migrate: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await pool.end();
}
