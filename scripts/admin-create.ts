// `npm run admin:create -- --email E --password P [--role PLATFORM_SUPERADMIN] [--name N]`
// Creates an approved, active user: the bootstrap path for a new deployment (and for local dev).
// Where it writes, first match wins:
//   1. DATABASE_URL set: that Postgres (Neon or any);
//   2. a running `npm run dev` stack: through its SQL endpoint (LOCAL_SQL_PORT, default 8790),
//      since the embedded database belongs to that process while it runs;
//   3. otherwise the embedded database in .local/pglite (LOCAL_DATA_DIR; migrated first).
import { join } from "node:path";
import { parseArgs } from "node:util";
import { argon2id } from "hash-wasm";
import { randomBytes } from "node:crypto";
import { GLOBAL_ROLES } from "../src/db/schema.ts";
import { LOCAL_DATA_DIR, MIGRATIONS_FOLDER } from "./local-stack/index.ts";
import { createSqlBackend, type SqlBackend } from "./local-stack/sql/index.ts";

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

type Query = (text: string, params: (string | null)[]) => Promise<{ rows: unknown[][] }>;

async function viaDevEndpoint(): Promise<{ query: Query; close(): Promise<void>; where: string } | null> {
  const base = `http://127.0.0.1:${process.env.LOCAL_SQL_PORT ?? 8790}`;
  try {
    const health = await fetch(`${base}/__stack/health`, { signal: AbortSignal.timeout(1000) });
    if (!health.ok) return null;
  } catch {
    return null;
  }
  const query: Query = async (text, params) => {
    const res = await fetch(`${base}/sql`, {
      method: "POST",
      headers: { "content-type": "application/json", "neon-array-mode": "true", "neon-raw-text-output": "true" },
      body: JSON.stringify({ query: text, params }),
    });
    const body = (await res.json()) as { rows?: unknown[][]; message?: string; code?: string };
    if (!res.ok) throw Object.assign(new Error(body.message ?? `HTTP ${res.status}`), { code: body.code });
    return { rows: body.rows ?? [] };
  };
  return { query, close: async () => {}, where: `the running dev stack (${base})` };
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

const target = (!process.env.DATABASE_URL && (await viaDevEndpoint())) || (await viaBackend());
try {
  // The same PHC string the Worker writes (hash-wasm runs natively in Node); the Worker re-hashes
  // on sign-in if its ARGON2_* parameters differ from these.
  const hash = await argon2id({
    password: password.normalize("NFC"),
    salt: randomBytes(16),
    memorySize: Number(process.env.ARGON2_MEMORY ?? 19456),
    iterations: Number(process.env.ARGON2_TIME ?? 2),
    parallelism: Number(process.env.ARGON2_THREADS ?? 1),
    hashLength: Number(process.env.ARGON2_KEYLEN ?? 32),
    outputType: "encoded",
  });
  const { rows } = await target.query(
    `insert into users (email, password_hash, full_name, global_role, approval_status, is_active)
     values ($1, $2, $3, $4::global_role, 'APPROVED', true)
     on conflict ((lower(email))) do nothing returning id`,
    [email, hash, values.name ?? null, role],
  );
  if (rows.length === 0) fail(`an account for ${email} already exists (409 email_taken)`);
  const id = String(rows[0][0]);
  await target.query(
    `insert into auth_audit_logs (event_type, actor_label, target_user_id, metadata) values ('user.created', 'cli:admin:create', $1::uuid, $2::jsonb)`,
    [id, JSON.stringify({ globalRole: role, via: "admin:create" })],
  );
  console.log(`admin:create: created ${role} ${email} (id ${id}) in ${target.where}; approved and active`);
} finally {
  await target.close();
}
