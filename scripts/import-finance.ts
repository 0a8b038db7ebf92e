// `npm run import:finance -- [--dry-run]`
// Copies Finance's users and their company / business-unit memberships into the Auth database
// (the seed's finance-migrate). Finance is a Prisma app: tables "User", "CompanyMembership",
// "BusinessUnitMembership" with camelCase columns. Finance is only read (in one read-only,
// repeatable-read transaction); Auth is written in one transaction, so a run applies fully or
// not at all. Re-running is safe: everything is an upsert keyed by Finance's ids.
//
// Where it reads Finance, first match wins:
//   1. FINANCE_DATABASE_URL: that Postgres (a `?schema=` parameter, Prisma style, picks the schema);
//   2. a running `npm run dev` stack: its Finance database through the SQL endpoint (LOCAL_SQL_PORT,
//      default 8790), the fixture in scripts/local-stack/finance-fixture.sql;
//   3. the embedded fixture database in .local/pglite-finance (LOCAL_DATA_DIR).
// Where it writes Auth, as admin:create: DATABASE_URL, else the running dev stack, else .local/pglite
// (migrated first; a dry run migrates nothing).
//
// What it does, per Finance user (emails compared case-insensitively):
//   - the Auth user keeps Finance's UUID as users.id and in legacy_finance_user_id; APPROVED;
//     is_active, email and full_name from Finance (re-runs re-sync these three; a deactivation
//     bumps token_version so outstanding access tokens stop working);
//   - password: Finance's hash when it is an Argon2id PHC string (what Auth verifies); otherwise
//     (none, or another scheme such as bcrypt) a placeholder Argon2id hash of a random secret that
//     nobody knows, so the user must use password reset. A re-run never replaces a password hash
//     Auth already holds (the user may have reset it since);
//   - an Auth user with the same email (or this legacy_finance_user_id) under another id is
//     replaced, as the seed says: the Finance UUID must own the address. The replaced row is
//     deleted (its sessions and reset tokens go with it), but nothing Auth-owned is lost silently:
//     its platform role (global_role) carries over, its password hash is used when Finance has no
//     usable one, its company / business-unit memberships move to the Finance id (Finance's own
//     rows win on conflict), and each replacement is audited as user.replaced. --dry-run lists them;
//   - memberships: duplicate Finance rows for the same (user, company) or (user, business unit) merge
//     into one Auth row with the strongest role (OWNER > ADMIN > MANAGER > MEMBER > VIEWER). Finance
//     role names map onto Auth's (synonyms below; MIGRATE_ROLE_MAP="CFO=ADMIN,..." adds more; anything
//     else becomes MIGRATE_DEFAULT_ROLE, default MEMBER, and is listed). A business-unit membership
//     does not create a company membership. Auth memberships Finance does not have are kept, and a
//     re-run leaves is_active of existing memberships alone (Auth may have deactivated one).
// Skipped and reported: users whose id is not a UUID or whose email is not an address, all but one
// of several Finance users sharing an email case-insensitively (active first, then lowest id), and
// memberships of skipped users or with ids that are not UUIDs.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { argon2id } from "hash-wasm";
import { MEMBERSHIP_ROLES, type MembershipRole } from "../src/db/schema.ts";
import { FINANCE_FIXTURE_DATABASE } from "./local-stack/finance-fixture.ts";
import { LOCAL_DATA_DIR, MIGRATIONS_FOLDER } from "./local-stack/index.ts";
import { rowsAsObjects } from "./local-stack/sql/backend.ts";
import { createSqlBackend, type SqlBackend } from "./local-stack/sql/index.ts";

const USAGE = "usage: npm run import:finance -- [--dry-run]";
const ACTOR = "cli:import:finance";

function fail(message: string): never {
  console.error(`import:finance: ${message}`);
  process.exit(1);
}

// ---- databases ---------------------------------------------------------------------------------

type Row = Record<string, string | null>;
interface Statement {
  text: string;
  params?: (string | null)[];
}

/** A database as this command uses it: statements in one transaction, rows as objects of Postgres text. */
interface Db {
  where: string;
  batch(statements: Statement[], options?: { readOnly?: boolean }): Promise<Row[][]>;
  close(): Promise<void>;
}

function viaBackend(backend: SqlBackend, where: string): Db {
  return {
    where,
    batch: async (statements, options = {}) => {
      const results = await backend.transaction(statements, options.readOnly ? { isolationLevel: "RepeatableRead", readOnly: true } : {});
      return results.map((r) => rowsAsObjects(r.fields, r.rows));
    },
    close: () => backend.close(),
  };
}

const DEV_BASE = `http://127.0.0.1:${process.env.LOCAL_SQL_PORT ?? 8790}`;

async function devStackRunning(): Promise<boolean> {
  try {
    return (await fetch(`${DEV_BASE}/__stack/health`, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

/** The running dev stack's SQL endpoint; `database` picks the backend (see scripts/local-stack/sql/router.ts). */
function viaDevEndpoint(database: string | undefined, where: string): Db {
  return {
    where,
    batch: async (statements, options = {}) => {
      const headers: Record<string, string> = { "content-type": "application/json", "neon-array-mode": "false", "neon-raw-text-output": "true" };
      if (database) headers["neon-connection-string"] = `postgresql://local:local@127.0.0.1/${encodeURIComponent(database)}`;
      if (options.readOnly) Object.assign(headers, { "neon-batch-read-only": "true", "neon-batch-isolation-level": "RepeatableRead" });
      const res = await fetch(`${DEV_BASE}/sql`, {
        method: "POST",
        headers,
        body: JSON.stringify({ queries: statements.map((s) => ({ query: s.text, params: s.params ?? [] })) }),
      });
      const body = (await res.json()) as { results?: { rows: Row[] }[]; message?: string; code?: string };
      if (!res.ok) throw Object.assign(new Error(body.message ?? `HTTP ${res.status}`), { code: body.code });
      return (body.results ?? []).map((r) => r.rows);
    },
    close: async () => {},
  };
}

function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return "(unparsable URL)";
  }
}

/** Finance's schema: MIGRATE_FINANCE_SCHEMA, else the URL's Prisma-style ?schema=, else public. */
let financeSchema = process.env.MIGRATE_FINANCE_SCHEMA || "public";

async function openFinance(devRunning: boolean): Promise<Db> {
  const url = process.env.FINANCE_DATABASE_URL;
  if (url) {
    let connection = url;
    try {
      const u = new URL(url);
      const schema = u.searchParams.get("schema");
      if (schema) {
        if (!process.env.MIGRATE_FINANCE_SCHEMA) financeSchema = schema;
        u.searchParams.delete("schema");
        connection = u.toString();
      }
    } catch {
      fail("FINANCE_DATABASE_URL is not a connection string");
    }
    return viaBackend(await createSqlBackend({ databaseUrl: connection, poolSize: 1 }), `Finance ${hostOf(url)}`);
  }
  if (devRunning) return viaDevEndpoint(FINANCE_FIXTURE_DATABASE, `the running dev stack's Finance fixture (${DEV_BASE})`);
  const dir = join(LOCAL_DATA_DIR, "pglite-finance");
  if (!existsSync(dir)) {
    fail(`no Finance to read: set FINANCE_DATABASE_URL, or run \`npm run dev\` (it serves the local Finance fixture), or create ${dir} with it`);
  }
  return viaBackend(await createSqlBackend({ dataDir: dir }), `the local Finance fixture (${dir})`);
}

/** null: a dry run against an embedded database that does not exist yet (Auth is empty). */
async function openAuth(devRunning: boolean, dryRun: boolean): Promise<Db | null> {
  const url = process.env.DATABASE_URL;
  if (!url && devRunning) return viaDevEndpoint(undefined, `the running dev stack (${DEV_BASE})`);
  const dir = join(LOCAL_DATA_DIR, "pglite");
  if (!url && dryRun && !existsSync(dir)) return null;
  const backend = await createSqlBackend(url ? { databaseUrl: url, poolSize: 1 } : { dataDir: dir });
  if (!dryRun) await backend.migrate(MIGRATIONS_FOLDER);
  return viaBackend(backend, url ? `Auth ${hostOf(url)}` : dir);
}

// ---- Finance data ------------------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** What Auth verifies (src/crypto/password.ts): Argon2id v19 PHC strings. */
const ARGON2ID_PHC = /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

const ROLE_RANK: Record<MembershipRole, number> = { VIEWER: 1, MEMBER: 2, MANAGER: 3, ADMIN: 4, OWNER: 5 };

const ROLE_SYNONYMS: Record<string, MembershipRole> = {
  OWNER: "OWNER",
  ADMIN: "ADMIN",
  ADMINISTRATOR: "ADMIN",
  COMPANY_ADMIN: "ADMIN",
  BU_ADMIN: "ADMIN",
  BUSINESS_UNIT_ADMIN: "ADMIN",
  MANAGER: "MANAGER",
  APPROVER: "MANAGER",
  FINANCE_MANAGER: "MANAGER",
  MEMBER: "MEMBER",
  USER: "MEMBER",
  STAFF: "MEMBER",
  EMPLOYEE: "MEMBER",
  EDITOR: "MEMBER",
  ACCOUNTANT: "MEMBER",
  CONTRIBUTOR: "MEMBER",
  VIEWER: "VIEWER",
  READER: "VIEWER",
  READ_ONLY: "VIEWER",
  READONLY: "VIEWER",
  AUDITOR: "VIEWER",
  GUEST: "VIEWER",
};

const normalizeRoleName = (role: string) => role.trim().toUpperCase().replace(/[\s-]+/g, "_");

function isMembershipRole(v: string): v is MembershipRole {
  return (MEMBERSHIP_ROLES as readonly string[]).includes(v);
}

function roleMapper() {
  const defaultRole = (process.env.MIGRATE_DEFAULT_ROLE || "MEMBER").toUpperCase();
  if (!isMembershipRole(defaultRole)) fail(`MIGRATE_DEFAULT_ROLE must be one of ${MEMBERSHIP_ROLES.join(", ")}`);
  const map: Record<string, MembershipRole> = { ...ROLE_SYNONYMS };
  for (const pair of (process.env.MIGRATE_ROLE_MAP ?? "").split(",").filter((p) => p.trim())) {
    const [from, to] = pair.split("=").map((s) => s?.trim() ?? "");
    const target = to.toUpperCase();
    if (!from || !isMembershipRole(target)) fail(`MIGRATE_ROLE_MAP: "${pair}" is not FINANCE_ROLE=${MEMBERSHIP_ROLES.join("|")}`);
    map[normalizeRoleName(from)] = target;
  }
  const unmapped = new Map<string, number>();
  return {
    unmapped,
    map(role: string | null): MembershipRole {
      const known = map[normalizeRoleName(role ?? "")];
      if (known) return known;
      const label = role ?? "(null)";
      unmapped.set(label, (unmapped.get(label) ?? 0) + 1);
      return defaultRole;
    },
  };
}

interface FinanceUser {
  id: string;
  email: string;
  fullName: string | null;
  passwordHash: string | null;
  isActive: boolean;
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

async function readFinance(db: Db) {
  const t = (name: string) => `${ident(financeSchema)}.${ident(name)}`;
  const [users, companyMemberships, unitMemberships] = await db.batch(
    [
      { text: `select "id"::text as id, "email" as email, "fullName" as full_name, "passwordHash" as password_hash, "isActive" as is_active from ${t("User")} order by "id"` },
      { text: `select "userId"::text as user_id, "companyId"::text as company_id, "role"::text as role from ${t("CompanyMembership")}` },
      {
        text: `select "userId"::text as user_id, "companyId"::text as company_id, "businessUnitId"::text as business_unit_id, "role"::text as role from ${t("BusinessUnitMembership")}`,
      },
    ],
    { readOnly: true },
  );
  return { users, companyMemberships, unitMemberships };
}

// ---- the plan ----------------------------------------------------------------------------------

interface AuthUser {
  id: string;
  email: string;
  passwordHash: string | null;
  globalRole: string;
  isActive: boolean;
  fullName: string | null;
  legacyFinanceUserId: string | null;
}

interface Replacement {
  oldId: string;
  newId: string;
  email: string;
  reason: "email" | "legacy_finance_user_id";
  globalRole: string;
}

const jsonList = (values: unknown[]) => JSON.stringify(values);

async function readAuth(db: Db | null, ids: string[], emails: string[]) {
  if (!db) return { users: [] as AuthUser[], migrated: false };
  const [[reg]] = await db.batch([{ text: "select to_regclass('public.users') is not null as present" }], { readOnly: true });
  if (reg.present !== "t") return { users: [] as AuthUser[], migrated: false };
  const [rows] = await db.batch(
    [
      {
        text: `select id::text as id, email, password_hash, global_role::text as global_role, is_active, full_name, legacy_finance_user_id
               from users
               where id in (select (jsonb_array_elements_text($1::jsonb))::uuid)
                  or legacy_finance_user_id in (select jsonb_array_elements_text($1::jsonb))
                  or lower(email) in (select lower(jsonb_array_elements_text($2::jsonb)))`,
        params: [jsonList(ids), jsonList(emails)],
      },
    ],
    { readOnly: true },
  );
  return {
    migrated: true,
    users: rows.map(
      (r): AuthUser => ({
        id: r.id!,
        email: r.email!,
        passwordHash: r.password_hash,
        globalRole: r.global_role ?? "NONE",
        isActive: r.is_active === "t",
        fullName: r.full_name,
        legacyFinanceUserId: r.legacy_finance_user_id,
      }),
    ),
  };
}

async function readAuthMemberships(db: Db | null, migrated: boolean, userIds: string[]) {
  if (!db || !migrated || userIds.length === 0) return { company: [] as Row[], unit: [] as Row[] };
  const [company, unit] = await db.batch(
    [
      {
        text: `select user_id::text as user_id, company_id::text as company_id, role::text as role from company_memberships
               where user_id in (select (jsonb_array_elements_text($1::jsonb))::uuid)`,
        params: [jsonList(userIds)],
      },
      {
        text: `select user_id::text as user_id, company_id::text as company_id, business_unit_id::text as business_unit_id, role::text as role
               from business_unit_memberships where user_id in (select (jsonb_array_elements_text($1::jsonb))::uuid)`,
        params: [jsonList(userIds)],
      },
    ],
    { readOnly: true },
  );
  return { company, unit };
}

async function placeholderHash(): Promise<string> {
  // The secret is thrown away: no password verifies against this hash. Same parameters as admin:create.
  return argon2id({
    password: randomBytes(32).toString("base64url"),
    salt: randomBytes(16),
    memorySize: Number(process.env.ARGON2_MEMORY ?? 19456),
    iterations: Number(process.env.ARGON2_TIME ?? 2),
    parallelism: Number(process.env.ARGON2_THREADS ?? 1),
    hashLength: Number(process.env.ARGON2_KEYLEN ?? 32),
    outputType: "encoded",
  });
}

// ---- main --------------------------------------------------------------------------------------

const { values } = (() => {
  try {
    return parseArgs({ options: { "dry-run": { type: "boolean", default: false }, help: { type: "boolean", default: false } }, strict: true });
  } catch (err) {
    fail(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const dryRun = values["dry-run"] === true;
const roles = roleMapper();

const devRunning = !process.env.FINANCE_DATABASE_URL || !process.env.DATABASE_URL ? await devStackRunning() : false;
const financeDb = await openFinance(devRunning);
let authDb: Db | null = null;
try {
  authDb = await openAuth(devRunning, dryRun);
  console.log(`import:finance: ${dryRun ? "dry run, " : ""}reading ${financeDb.where} (schema ${financeSchema}), writing ${authDb?.where ?? "an Auth database that does not exist yet"}`);

  const finance = await readFinance(financeDb);

  // Users: validate, then one per email (case-insensitive).
  const skipped = { badId: 0, badEmail: 0, duplicateEmail: 0 };
  const candidates: FinanceUser[] = [];
  for (const r of finance.users) {
    const id = (r.id ?? "").toLowerCase();
    const email = (r.email ?? "").trim().normalize("NFC");
    if (!UUID.test(id)) {
      skipped.badId += 1;
      continue;
    }
    if (!EMAIL.test(email)) {
      skipped.badEmail += 1;
      continue;
    }
    candidates.push({ id, email, fullName: r.full_name?.trim() || null, passwordHash: r.password_hash, isActive: r.is_active !== "f" });
  }
  const byEmail = new Map<string, FinanceUser>();
  for (const u of [...candidates].sort((a, b) => Number(b.isActive) - Number(a.isActive) || a.id.localeCompare(b.id))) {
    const key = u.email.toLowerCase();
    if (byEmail.has(key)) skipped.duplicateEmail += 1;
    else byEmail.set(key, u);
  }
  const imported = [...byEmail.values()].sort((a, b) => a.id.localeCompare(b.id));
  const importedIds = new Set(imported.map((u) => u.id));

  const auth = await readAuth(
    authDb,
    imported.map((u) => u.id),
    imported.map((u) => u.email),
  );
  const authById = new Map(auth.users.map((u) => [u.id, u]));

  // Rows under another id that hold a Finance user's email or legacy id: replaced by that user.
  const replacements = new Map<string, Replacement>();
  const financeByEmail = new Map(imported.map((u) => [u.email.toLowerCase(), u]));
  const financeById = new Map(imported.map((u) => [u.id, u]));
  for (const a of auth.users) {
    if (importedIds.has(a.id)) continue; // becomes that Finance user itself
    const f = financeByEmail.get(a.email.toLowerCase());
    if (f) {
      replacements.set(a.id, { oldId: a.id, newId: f.id, email: a.email, reason: "email", globalRole: a.globalRole });
      continue;
    }
    const g = a.legacyFinanceUserId ? financeById.get(a.legacyFinanceUserId.toLowerCase()) : undefined;
    if (g) replacements.set(a.id, { oldId: a.id, newId: g.id, email: a.email, reason: "legacy_finance_user_id", globalRole: a.globalRole });
  }
  const replacedFor = new Map<string, Replacement[]>();
  for (const r of replacements.values()) replacedFor.set(r.newId, [...(replacedFor.get(r.newId) ?? []), r]);

  const GLOBAL_RANK: Record<string, number> = { NONE: 0, PLATFORM_MODERATOR: 1, PLATFORM_ADMIN: 2, PLATFORM_SUPERADMIN: 3 };
  const needsPlaceholder = imported.some((u) => !authById.has(u.id) && !(u.passwordHash && ARGON2ID_PHC.test(u.passwordHash)));
  const placeholder = needsPlaceholder ? await placeholderHash() : "";

  const counts = { created: 0, replaced: 0, updated: 0, unchanged: 0, keptFinanceHash: 0, placeholder: 0, unsupportedHash: 0, deactivated: 0 };
  // password_hash null: keep Auth's (only existing users; a new one always gets a hash).
  const upserts: { id: string; email: string; full_name: string | null; password_hash: string | null; global_role: string; is_active: boolean }[] = [];
  const tempIds: string[] = [...replacements.keys()];
  for (const f of imported) {
    const usable = f.passwordHash && ARGON2ID_PHC.test(f.passwordHash) ? f.passwordHash : null;
    const existing = authById.get(f.id);
    if (existing) {
      const emailChanges = existing.email !== f.email;
      const legacyChanges = existing.legacyFinanceUserId !== f.id;
      const changed =
        emailChanges || legacyChanges || existing.fullName !== f.fullName || existing.isActive !== f.isActive || (existing.passwordHash === null && usable !== null);
      if (emailChanges || legacyChanges) tempIds.push(f.id);
      if (existing.isActive && !f.isActive) counts.deactivated += 1;
      counts[changed ? "updated" : "unchanged"] += 1;
      if (changed) upserts.push({ id: f.id, email: f.email, full_name: f.fullName, password_hash: usable, global_role: existing.globalRole, is_active: f.isActive });
      continue;
    }
    const olds = replacedFor.get(f.id) ?? [];
    const oldHash = olds.map((r) => authById.get(r.oldId)).find((u) => u?.passwordHash)?.passwordHash ?? null;
    const globalRole = olds.map((r) => r.globalRole).sort((a, b) => (GLOBAL_RANK[b] ?? 0) - (GLOBAL_RANK[a] ?? 0))[0] ?? "NONE";
    const hash = usable ?? oldHash ?? placeholder;
    if (usable) counts.keptFinanceHash += 1;
    else if (!oldHash) {
      counts.placeholder += 1;
      if (f.passwordHash) counts.unsupportedHash += 1;
    }
    counts[olds.length ? "replaced" : "created"] += 1;
    upserts.push({ id: f.id, email: f.email, full_name: f.fullName, password_hash: hash, global_role: globalRole, is_active: f.isActive });
  }

  // Memberships: Finance's merged, compared with Auth's (including those moving over from replaced rows).
  const existingMemberships = await readAuthMemberships(authDb, auth.migrated, [...importedIds, ...replacements.keys()]);
  const moveTarget = (userId: string) => replacements.get(userId)?.newId ?? userId;
  const authCompany = new Map<string, string>();
  const authUnit = new Map<string, { role: string; companyId: string }>();
  // Own rows first, so they win over rows moving in (the move does nothing on conflict).
  for (const own of [true, false]) {
    for (const m of existingMemberships.company) {
      if (replacements.has(m.user_id!) === own) continue;
      const key = `${moveTarget(m.user_id!)}|${m.company_id}`;
      if (!authCompany.has(key)) authCompany.set(key, m.role!);
    }
    for (const m of existingMemberships.unit) {
      if (replacements.has(m.user_id!) === own) continue;
      const key = `${moveTarget(m.user_id!)}|${m.business_unit_id}`;
      if (!authUnit.has(key)) authUnit.set(key, { role: m.role!, companyId: m.company_id! });
    }
  }
  const moved = {
    company: existingMemberships.company.filter((m) => replacements.has(m.user_id!)).length,
    unit: existingMemberships.unit.filter((m) => replacements.has(m.user_id!)).length,
  };

  const strongest = (a: MembershipRole | undefined, b: MembershipRole) => (a && ROLE_RANK[a] >= ROLE_RANK[b] ? a : b);
  const mCounts = {
    company: { read: finance.companyMemberships.length, merged: 0, created: 0, updated: 0, unchanged: 0, skippedUser: 0, skippedId: 0 },
    unit: { read: finance.unitMemberships.length, merged: 0, created: 0, updated: 0, unchanged: 0, skippedUser: 0, skippedId: 0 },
  };
  const companyMerged = new Map<string, { user_id: string; company_id: string; role: MembershipRole }>();
  for (const m of finance.companyMemberships) {
    const userId = (m.user_id ?? "").toLowerCase();
    const companyId = (m.company_id ?? "").toLowerCase();
    if (!UUID.test(companyId) || !UUID.test(userId)) {
      mCounts.company.skippedId += 1;
      continue;
    }
    if (!importedIds.has(userId)) {
      mCounts.company.skippedUser += 1;
      continue;
    }
    const key = `${userId}|${companyId}`;
    companyMerged.set(key, { user_id: userId, company_id: companyId, role: strongest(companyMerged.get(key)?.role, roles.map(m.role)) });
  }
  const unitMerged = new Map<string, { user_id: string; company_id: string; business_unit_id: string; role: MembershipRole }>();
  for (const m of finance.unitMemberships) {
    const userId = (m.user_id ?? "").toLowerCase();
    const companyId = (m.company_id ?? "").toLowerCase();
    const unitId = (m.business_unit_id ?? "").toLowerCase();
    if (!UUID.test(companyId) || !UUID.test(userId) || !UUID.test(unitId)) {
      mCounts.unit.skippedId += 1;
      continue;
    }
    if (!importedIds.has(userId)) {
      mCounts.unit.skippedUser += 1;
      continue;
    }
    const key = `${userId}|${unitId}`;
    unitMerged.set(key, { user_id: userId, company_id: companyId, business_unit_id: unitId, role: strongest(unitMerged.get(key)?.role, roles.map(m.role)) });
  }
  const companyWrites = [...companyMerged.entries()].filter(([key, m]) => {
    const have = authCompany.get(key);
    mCounts.company[have === undefined ? "created" : have === m.role ? "unchanged" : "updated"] += 1;
    return have !== m.role;
  });
  const unitWrites = [...unitMerged.entries()].filter(([key, m]) => {
    const have = authUnit.get(key);
    const same = have !== undefined && have.role === m.role && have.companyId === m.company_id;
    mCounts.unit[have === undefined ? "created" : same ? "unchanged" : "updated"] += 1;
    return !same;
  });
  mCounts.company.merged = companyMerged.size;
  mCounts.unit.merged = unitMerged.size;

  // ---- write (one transaction) ----
  if (!dryRun && authDb) {
    const replaced = [...replacements.values()].map((r) => ({ old_id: r.oldId, new_id: r.newId, reason: r.reason }));
    const createdIds = upserts.filter((u) => !authById.has(u.id)).map((u) => ({ id: u.id, replaced: replacedFor.has(u.id) }));
    const statements: Statement[] = [];
    if (tempIds.length) {
      // Frees the unique email / legacy id of rows about to be replaced or renamed, so that the
      // upsert below never meets a value that is only moving.
      statements.push({
        text: `update users set email = '~finance-import~' || id::text, legacy_finance_user_id = null
               where id in (select (jsonb_array_elements_text($1::jsonb))::uuid)`,
        params: [jsonList(tempIds)],
      });
    }
    if (upserts.length) {
      statements.push({
        text: `insert into users (id, email, password_hash, full_name, global_role, approval_status, is_active, legacy_finance_user_id, auth_provider)
               select f.id, f.email, f.password_hash, f.full_name, f.global_role::global_role, 'APPROVED', f.is_active, f.id::text, 'password'
               from jsonb_to_recordset($1::jsonb) as f(id uuid, email text, password_hash text, full_name text, global_role text, is_active boolean)
               on conflict (id) do update set
                 email = excluded.email,
                 full_name = excluded.full_name,
                 is_active = excluded.is_active,
                 legacy_finance_user_id = excluded.legacy_finance_user_id,
                 password_hash = coalesce(users.password_hash, excluded.password_hash),
                 token_version = users.token_version + case when users.is_active and not excluded.is_active then 1 else 0 end,
                 updated_at = now()`,
        params: [JSON.stringify(upserts)],
      });
    }
    if (replaced.length) {
      const map = `jsonb_to_recordset($1::jsonb) as m(old_id uuid, new_id uuid, reason text)`;
      statements.push(
        {
          text: `insert into company_memberships (user_id, company_id, role, is_active, created_at)
                 select m.new_id, cm.company_id, cm.role, cm.is_active, cm.created_at from company_memberships cm join ${map} on cm.user_id = m.old_id
                 on conflict (user_id, company_id) do nothing`,
          params: [JSON.stringify(replaced)],
        },
        {
          text: `insert into business_unit_memberships (user_id, company_id, business_unit_id, role, is_active, created_at)
                 select m.new_id, bm.company_id, bm.business_unit_id, bm.role, bm.is_active, bm.created_at from business_unit_memberships bm join ${map} on bm.user_id = m.old_id
                 on conflict (user_id, business_unit_id) do nothing`,
          params: [JSON.stringify(replaced)],
        },
        {
          text: `insert into auth_audit_logs (event_type, actor_label, target_user_id, metadata)
                 select 'user.replaced', '${ACTOR}', m.new_id, jsonb_build_object('replacedUserId', m.old_id, 'matchedBy', m.reason, 'via', 'import:finance') from ${map}`,
          params: [JSON.stringify(replaced)],
        },
        { text: `delete from users where id in (select (jsonb_array_elements_text($1::jsonb))::uuid)`, params: [jsonList(replaced.map((r) => r.old_id))] },
      );
    }
    if (createdIds.length) {
      statements.push({
        text: `insert into auth_audit_logs (event_type, actor_label, target_user_id, metadata)
               select 'user.created', '${ACTOR}', c.id, jsonb_build_object('via', 'import:finance', 'legacyFinanceUserId', c.id::text, 'replacedExisting', c.replaced)
               from jsonb_to_recordset($1::jsonb) as c(id uuid, replaced boolean)`,
        params: [JSON.stringify(createdIds)],
      });
    }
    if (companyWrites.length) {
      statements.push({
        text: `insert into company_memberships (user_id, company_id, role)
               select m.user_id, m.company_id, m.role::membership_role from jsonb_to_recordset($1::jsonb) as m(user_id uuid, company_id uuid, role text)
               on conflict (user_id, company_id) do update set role = excluded.role, updated_at = now()`,
        params: [JSON.stringify(companyWrites.map(([, m]) => m))],
      });
    }
    if (unitWrites.length) {
      statements.push({
        text: `insert into business_unit_memberships (user_id, company_id, business_unit_id, role)
               select m.user_id, m.company_id, m.business_unit_id, m.role::membership_role
               from jsonb_to_recordset($1::jsonb) as m(user_id uuid, company_id uuid, business_unit_id uuid, role text)
               on conflict (user_id, business_unit_id) do update set role = excluded.role, company_id = excluded.company_id, updated_at = now()`,
        params: [JSON.stringify(unitWrites.map(([, m]) => m))],
      });
    }
    const changedAnything = statements.length > 0;
    statements.push({
      text: `insert into auth_audit_logs (event_type, actor_label, metadata) values ('finance.imported', '${ACTOR}', $1::jsonb)`,
      params: [JSON.stringify({ users: counts, skipped, companyMemberships: mCounts.company, businessUnitMemberships: mCounts.unit, changedAnything })],
    });
    await authDb.batch(statements);
  }

  // ---- summary ----
  const verb = dryRun ? "would be " : "";
  const lines = [
    `users: ${finance.users.length} in Finance; ${counts.created} ${verb}created, ${counts.replaced} ${verb}created replacing another Auth id, ${counts.updated} ${verb}updated, ${counts.unchanged} unchanged`,
    `  passwords (new users): ${counts.keptFinanceHash} Argon2id hash(es) kept, ${counts.placeholder} placeholder(s) (must reset${counts.unsupportedHash ? `; ${counts.unsupportedHash} had a non-Argon2id hash` : ""})`,
    `  skipped: ${skipped.badId} id not a UUID, ${skipped.badEmail} email not an address, ${skipped.duplicateEmail} duplicate email`,
    ...(counts.deactivated ? [`  ${counts.deactivated} ${verb}deactivated (inactive in Finance; their tokens stop working)`] : []),
    `company memberships: ${mCounts.company.read} in Finance -> ${mCounts.company.merged} merged; ${mCounts.company.created} ${verb}created, ${mCounts.company.updated} ${verb}updated, ${mCounts.company.unchanged} unchanged; skipped ${mCounts.company.skippedUser} (user not imported), ${mCounts.company.skippedId} (id not a UUID)`,
    `business-unit memberships: ${mCounts.unit.read} in Finance -> ${mCounts.unit.merged} merged; ${mCounts.unit.created} ${verb}created, ${mCounts.unit.updated} ${verb}updated, ${mCounts.unit.unchanged} unchanged; skipped ${mCounts.unit.skippedUser} (user not imported), ${mCounts.unit.skippedId} (id not a UUID)`,
  ];
  if (replacements.size) {
    lines.push(`replaced Auth users (${replacements.size}; their sessions end, memberships move: ${moved.company} company, ${moved.unit} business-unit):`);
    for (const r of [...replacements.values()].slice(0, 50)) {
      lines.push(`  ${r.email}: ${r.oldId} -> ${r.newId} (same ${r.reason === "email" ? "email" : "legacy_finance_user_id"}${r.globalRole !== "NONE" ? `; keeps ${r.globalRole}` : ""})`);
    }
    if (replacements.size > 50) lines.push(`  ... and ${replacements.size - 50} more`);
  }
  if (roles.unmapped.size) {
    lines.push(`Finance roles without an Auth equivalent, imported as ${(process.env.MIGRATE_DEFAULT_ROLE || "MEMBER").toUpperCase()} (MIGRATE_ROLE_MAP="ROLE=AUTH_ROLE,..." maps them):`);
    for (const [role, n] of roles.unmapped) lines.push(`  ${role}: ${n}`);
  }
  lines.push(dryRun ? "dry run: nothing written" : `done: written in one transaction to ${authDb?.where}`);
  console.log(lines.map((l) => `import:finance: ${l}`).join("\n"));
} catch (err) {
  const e = err as { message?: string; code?: string };
  console.error(`import:finance: failed${e.code ? ` (${e.code})` : ""}: ${e.message ?? String(err)}${dryRun ? "" : "; nothing was written"}`);
  process.exitCode = 1;
} finally {
  await financeDb.close();
  await authDb?.close();
}
