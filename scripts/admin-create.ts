// `npm run admin:create -- --email E --password P [--role PLATFORM_SUPERADMIN] [--name N]`
// Creates an approved, active user: the bootstrap path for a new deployment (and for local dev).
// Where it writes, first match wins:
//   1. DATABASE_URL set: that Postgres (Neon or any);
//   2. a running `npm run dev` stack: through its SQL endpoint (LOCAL_SQL_PORT, default 8790),
//      since the embedded database belongs to that process while it runs;
//   3. otherwise the embedded database in .local/pglite (LOCAL_DATA_DIR; migrated first).
import { join } from "node:path";
import { parseArgs } from "node:util";
import { GLOBAL_ROLES } from "../src/db/schema.ts";
import { LOCAL_DATA_DIR, MIGRATIONS_FOLDER } from "./local-stack/index.ts";
import { createSqlBackend, type SqlBackend } from "./local-stack/sql/index.ts";
import { argon2ParamsFromEnv, hashPasswordPhc, insertApprovedUser, localEndpointAnswers, sqlEndpointQuery, type Query } from "./seed-users.ts";

const USAGE = "usage: npm run admin:create -- --email E --password P [--role PLATFORM_SUPERADMIN|PLATFORM_ADMIN|PLATFORM_MODERATOR|NONE] [--name N]";

function fail(message: string): never {
  console.error(`admin:create: ${message}`);
  process.exit(1);
}

const { values } = parseArgs({
  options: { email: { type: "string" }, password: { type: "string" }, role: { type: "string", default: "PLATFORM_SUPERADMIN" }, name: { type: "string" } },
  strict: true,
});
const email = values.email?.trim().normalize("NFC");
const password = values.password;
const role = values.role as (typeof GLOBAL_ROLES)[number];
if (!email || !password) fail(USAGE);
if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) fail(`"${email}" is not an email address`);
if ([...password].length < 8 || [...password].length > 128) fail("the password must be 8 to 128 characters");
if (!GLOBAL_ROLES.includes(role)) fail(`--role must be one of ${GLOBAL_ROLES.join(", ")}`);

async function viaDevEndpoint(): Promise<{ query: Query; close(): Promise<void>; where: string } | null> {
  const base = `http://127.0.0.1:${process.env.LOCAL_SQL_PORT ?? 8790}`;
  if (!(await localEndpointAnswers(base))) return null;
  return { query: sqlEndpointQuery(base), close: async () => {}, where: `the running dev stack (${base})` };
}

async function viaBackend(): Promise<{ query: Query; close(): Promise<void>; where: string }> {
  const databaseUrl = process.env.DATABASE_URL || undefined;
  const backend: SqlBackend = await createSqlBackend(databaseUrl ? { databaseUrl } : { dataDir: join(LOCAL_DATA_DIR, "pglite") });
  await backend.migrate(MIGRATIONS_FOLDER);
  return {
    query: async (text, params) => ({ rows: (await backend.query(text, params)).rows as unknown[][] }),
    close: () => backend.close(),
    where: databaseUrl ? new URL(databaseUrl).host : join(LOCAL_DATA_DIR, "pglite"),
  };
}

let argon2: ReturnType<typeof argon2ParamsFromEnv>;
try {
  argon2 = argon2ParamsFromEnv();
} catch (err) {
  fail(`bad ARGON2_* variable: ${err instanceof Error ? err.message : String(err)}`);
}
const target = (!process.env.DATABASE_URL && (await viaDevEndpoint())) || (await viaBackend());
try {
  const id = await insertApprovedUser(target.query, {
    email,
    passwordHash: await hashPasswordPhc(password, argon2),
    fullName: values.name ?? null,
    globalRole: role,
    createdBy: { actorLabel: "cli:admin:create", via: "admin:create" },
  });
  if (id === null) fail(`an account for ${email} already exists (409 email_taken)`);
  console.log(`admin:create: created ${role} ${email} (id ${id}) in ${target.where}; approved and active`);
} finally {
  await target.close();
}
