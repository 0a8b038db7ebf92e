// The local Finance fixture (finance-fixture.sql): a stand-in for the external Finance database,
// applied to the local stack's Finance backend. Local use only; see the SQL file's header.
import { readFileSync } from "node:fs";
import type { SqlBackend } from "./sql/index.ts";

export const FINANCE_FIXTURE_SQL = new URL("./finance-fixture.sql", import.meta.url);

/** The database name the Worker's FINANCE_DATABASE_URL names when it means the local fixture. */
export const FINANCE_FIXTURE_DATABASE = "finance";

/** A FINANCE_DATABASE_URL for the Worker that the local SQL endpoint routes to the Finance backend. */
export function financeWorkerUrl(database: string = FINANCE_FIXTURE_DATABASE): string {
  return `postgresql://local:local@127.0.0.1/${encodeURIComponent(database)}`;
}

export function financeFixtureStatements(): string[] {
  return readFileSync(FINANCE_FIXTURE_SQL, "utf8")
    .split("--> statement-breakpoint")
    .map((s) => s.trim())
    .filter((s) => s.replace(/^--.*$/gm, "").trim() !== "");
}

/** Creates the fixture's types and tables where missing (idempotent), in one transaction. */
export async function applyFinanceFixture(backend: SqlBackend): Promise<void> {
  await backend.transaction(financeFixtureStatements().map((text) => ({ text })));
}
