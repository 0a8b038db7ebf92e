// `npm run import:finance` against a local stack: Finance is the fixture the stack serves beside
// Auth (scripts/local-stack/finance-fixture.sql), reached, like Auth, through the running stack's
// SQL endpoint; and, with no stack running, the embedded fixture folder into the embedded Auth one.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { argon2id, argon2Verify } from "hash-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyFinanceFixture } from "../../scripts/local-stack/finance-fixture.ts";
import { MIGRATIONS_FOLDER, PROJECT_ROOT, startLocalStack, type LocalStack } from "../../scripts/local-stack/index.ts";
import { createSqlBackend } from "../../scripts/local-stack/sql/index.ts";

const run = promisify(execFile);
const SCRIPT = join(PROJECT_ROOT, "scripts", "import-finance.ts");

async function importFinance(args: string[], env: Record<string, string>) {
  const base: Record<string, string | undefined> = { ...process.env, ARGON2_MEMORY: "1024", ARGON2_TIME: "1", ...env };
  delete base.DATABASE_URL;
  delete base.FINANCE_DATABASE_URL;
  try {
    const { stdout, stderr } = await run(process.execPath, [SCRIPT, ...args], { env: base, cwd: PROJECT_ROOT });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

const id = () => crypto.randomUUID();
const C1 = id();
const C2 = id();
const B1 = id();
const B2 = id();
const ALICE = id();
const BOB = id();
const CAROL = id();
const ALICE_DUP = id();
const BROKEN = id();
const DAVE = id();
const OLD_DAVE = id();

describe("import:finance through a running stack", () => {
  let stack: LocalStack;
  let aliceHash: string;

  type Rows = Record<string, string | null>[];
  async function q(database: "auth" | "finance", query: string, params: (string | null)[] = []): Promise<Rows> {
    const answer = await stack.sql.handler.handle({
      method: "POST",
      path: "/sql",
      headers: {
        "neon-raw-text-output": "true",
        ...(database === "finance" ? { "neon-connection-string": stack.finance!.workerUrl } : {}),
      },
      body: Buffer.from(JSON.stringify({ query, params })),
    });
    if (answer.status !== 200) throw new Error(`${query}: ${JSON.stringify(answer.body)}`);
    return (answer.body as { rows: Rows }).rows;
  }
  const env = () => ({ LOCAL_SQL_PORT: String(stack.sql.port), LOCAL_DATA_DIR: "/nonexistent-never-used" });

  beforeAll(async () => {
    stack = await startLocalStack({});
    aliceHash = await argon2id({ password: "alice-Finance-pass-1", salt: new Uint8Array(16).fill(7), memorySize: 1024, iterations: 1, parallelism: 1, hashLength: 32, outputType: "encoded" });
    await q("finance", `insert into "Company" ("id", "code", "name") values ($1, 'ACME', 'Acme Ltd'), ($2, 'GLX', 'Globex')`, [C1, C2]);
    await q("finance", `insert into "BusinessUnit" ("id", "companyId", "code", "name") values ($1, $3, 'OPS', 'Operations'), ($2, $3, 'FIN', 'Finance')`, [B1, B2, C1]);
    await q(
      "finance",
      `insert into "User" ("id", "email", "fullName", "passwordHash", "isActive") values
        ($1, 'alice@example.com', 'Alice A', $7, true),
        ($2, 'bob@example.com', 'Bob B', null, true),
        ($3, 'carol@example.com', 'Carol C', '$2b$10$abcdefghijklmnopqrstuuJ2bN1l3v2C8m3ZcJ4YfW0q7l0m6b1Ge', false),
        ($4, 'ALICE@example.com', 'Alice Duplicate', null, false),
        ($5, 'not-an-email', 'Broken', null, true),
        ($6, 'Dave@Example.com', 'Dave D', null, true)`,
      [ALICE, BOB, CAROL, ALICE_DUP, BROKEN, DAVE, aliceHash],
    );
    await q("finance", `alter type "MembershipRole" add value if not exists 'CFO'`);
    await q(
      "finance",
      `insert into "CompanyMembership" ("userId", "companyId", "role") values
        ($1, $5, 'MEMBER'), ($1, $5, 'ADMIN'), ($2, $5, 'VIEWER'), ($3, $6, 'APPROVER'), ($4, $5, 'OWNER'), ($7, $6, 'CFO')`,
      [ALICE, BOB, CAROL, ALICE_DUP, C1, C2, DAVE],
    );
    await q(
      "finance",
      `insert into "BusinessUnitMembership" ("userId", "companyId", "businessUnitId", "role") values ($1, $3, $4, 'MANAGER'), ($2, $3, $5, 'MEMBER')`,
      [ALICE, DAVE, C1, B1, B2],
    );
    // Auth already has dave@example.com under another id: a platform admin with a password, a session and a membership.
    await q(
      "auth",
      `insert into users (id, email, password_hash, global_role, approval_status, is_active) values ($1, 'dave@example.com', '$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'PLATFORM_ADMIN', 'APPROVED', true)`,
      [OLD_DAVE],
    );
    await q("auth", `insert into sessions (user_id, refresh_hash, token_version, expires_at) values ($1, 'x', 0, now() + interval '1 day')`, [OLD_DAVE]);
    await q("auth", `insert into company_memberships (user_id, company_id, role) values ($1, $2, 'OWNER'), ($1, $3, 'VIEWER')`, [OLD_DAVE, C1, C2]);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("--dry-run reports what it would do and writes nothing", async () => {
    const res = await importFinance(["--dry-run"], env());
    expect(res.code).toBe(0);
    expect(res.out).toContain("dry run, reading the running dev stack's Finance fixture");
    expect(res.out).toContain("users: 6 in Finance; 3 would be created, 1 would be created replacing another Auth id, 0 would be updated, 0 unchanged");
    expect(res.out).toContain("1 Argon2id hash(es) kept, 2 placeholder(s) (must reset; 1 had a non-Argon2id hash)");
    expect(res.out).toContain("skipped: 0 id not a UUID, 1 email not an address, 1 duplicate email");
    expect(res.out).toContain("company memberships: 6 in Finance -> 4 merged; 3 would be created, 1 would be updated, 0 unchanged; skipped 1 (user not imported)");
    expect(res.out).toContain(`dave@example.com: ${OLD_DAVE} -> ${DAVE} (same email; keeps PLATFORM_ADMIN)`);
    expect(res.out).toContain("CFO: 1");
    expect(res.out).toContain("dry run: nothing written");
    expect(await q("auth", "select count(*) as n from users")).toEqual([{ n: "1" }]);
    expect(await q("auth", "select count(*) as n from auth_audit_logs")).toEqual([{ n: "0" }]);
  });

  it("imports users with their Finance ids, hashes and merged memberships, replacing a same-email Auth user", async () => {
    const res = await importFinance([], env());
    expect(res.code, res.out).toBe(0);
    expect(res.out).toContain("3 created, 1 created replacing another Auth id, 0 updated, 0 unchanged");
    expect(res.out).toContain("done: written in one transaction");

    const users = await q(
      "auth",
      `select id::text, email, full_name, global_role::text, approval_status::text, is_active, legacy_finance_user_id, password_hash from users order by lower(email)`,
    );
    expect(users.map((u) => [u.email, u.id, u.legacy_finance_user_id, u.global_role, u.approval_status, u.is_active])).toEqual([
      ["alice@example.com", ALICE, ALICE, "NONE", "APPROVED", "t"],
      ["bob@example.com", BOB, BOB, "NONE", "APPROVED", "t"],
      ["carol@example.com", CAROL, CAROL, "NONE", "APPROVED", "f"],
      ["Dave@Example.com", DAVE, DAVE, "PLATFORM_ADMIN", "APPROVED", "t"], // the replaced row's platform role carries over
    ]);
    const hash = Object.fromEntries(users.map((u) => [u.email, u.password_hash!]));
    expect(hash["alice@example.com"]).toBe(aliceHash);
    expect(await argon2Verify({ password: "alice-Finance-pass-1", hash: hash["alice@example.com"] })).toBe(true);
    expect(hash["bob@example.com"]).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/); // placeholder: nobody knows its secret
    expect(hash["carol@example.com"]).toMatch(/^\$argon2id\$/); // bcrypt replaced by a placeholder
    expect(hash["Dave@Example.com"]).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$AAAA/); // carried over from the replaced row

    expect(await q("auth", "select count(*) as n from sessions")).toEqual([{ n: "0" }]); // the replaced row's session went with it
    const companies = await q("auth", "select user_id::text, company_id::text, role::text from company_memberships order by user_id, company_id");
    expect(companies).toEqual(
      [
        { user_id: ALICE, company_id: C1, role: "ADMIN" },
        { user_id: BOB, company_id: C1, role: "VIEWER" },
        { user_id: CAROL, company_id: C2, role: "MANAGER" },
        { user_id: DAVE, company_id: C1, role: "OWNER" }, // moved from the replaced row
        { user_id: DAVE, company_id: C2, role: "MEMBER" }, // Finance's CFO (unmapped -> MEMBER) wins over the moved VIEWER
      ].sort((a, b) => (a.user_id + a.company_id < b.user_id + b.company_id ? -1 : 1)),
    );
    const units = await q("auth", "select user_id::text, company_id::text, business_unit_id::text, role::text from business_unit_memberships order by role");
    expect(units).toEqual([
      { user_id: ALICE, company_id: C1, business_unit_id: B1, role: "MANAGER" },
      { user_id: DAVE, company_id: C1, business_unit_id: B2, role: "MEMBER" },
    ]);
    const audit = await q("auth", "select event_type, actor_label, target_user_id::text, metadata::text from auth_audit_logs order by event_type, target_user_id");
    expect(audit.filter((a) => a.event_type === "user.created")).toHaveLength(4);
    const replaced = audit.find((a) => a.event_type === "user.replaced")!;
    expect(replaced.target_user_id).toBe(DAVE);
    expect(JSON.parse(replaced.metadata!)).toMatchObject({ replacedUserId: OLD_DAVE, matchedBy: "email" });
    expect(audit.filter((a) => a.event_type === "finance.imported")).toHaveLength(1);
    expect(new Set(audit.map((a) => a.actor_label))).toEqual(new Set(["cli:import:finance"]));
  });

  it("is idempotent: a re-run changes nothing", async () => {
    const before = await q("auth", "select id::text, email, password_hash, token_version::text, updated_at::text from users order by id");
    const res = await importFinance([], env());
    expect(res.code, res.out).toBe(0);
    expect(res.out).toContain("0 created, 0 created replacing another Auth id, 0 updated, 4 unchanged");
    expect(res.out).toContain("0 created, 0 updated, 4 unchanged");
    expect(res.out).toContain("0 created, 0 updated, 2 unchanged");
    expect(res.out).not.toContain("replaced Auth users");
    expect(await q("auth", "select id::text, email, password_hash, token_version::text, updated_at::text from users order by id")).toEqual(before);
    expect(await q("auth", "select count(*) as n from company_memberships")).toEqual([{ n: "5" }]);
  });

  it("re-syncs Finance changes on a re-run, bumping the token version of a deactivated user, and keeps Auth's passwords", async () => {
    await q("finance", `delete from "User" where "id" = $1`, [ALICE_DUP]); // else it would no longer be a duplicate of Alice's address
    await q("finance", `update "User" set "isActive" = false where "id" = $1`, [BOB]);
    await q("finance", `update "User" set "fullName" = 'Alice Renamed', "email" = 'alice.new@example.com' where "id" = $1`, [ALICE]);
    await q("finance", `update "CompanyMembership" set "role" = 'OWNER' where "userId" = $1`, [BOB]);
    await q("auth", `update users set password_hash = $2 where id = $1`, [BOB, aliceHash]); // Bob reset his password in Auth
    const res = await importFinance([], env());
    expect(res.code, res.out).toBe(0);
    expect(res.out).toContain("0 created, 0 created replacing another Auth id, 2 updated, 2 unchanged");
    expect(res.out).toContain("1 deactivated");
    const rows = await q("auth", "select id::text, email, full_name, is_active, token_version::text, password_hash from users where id in ($1, $2) order by email", [ALICE, BOB]);
    expect(rows.map((r) => [r.id, r.email, r.full_name, r.is_active, r.token_version])).toEqual([
      [ALICE, "alice.new@example.com", "Alice Renamed", "t", "0"],
      [BOB, "bob@example.com", "Bob B", "f", "1"],
    ]);
    expect(rows[1].password_hash).toBe(aliceHash);
    expect(await q("auth", "select role::text from company_memberships where user_id = $1", [BOB])).toEqual([{ role: "OWNER" }]);
  });
});

describe("import:finance with no stack running", () => {
  it("reads the embedded Finance fixture folder and writes the embedded Auth one (migrating it first)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edge-auth-finance-"));
    try {
      const finance = await createSqlBackend({ dataDir: join(dir, "pglite-finance") });
      await applyFinanceFixture(finance);
      const userId = id();
      await finance.query(`insert into "User" ("id", "email", "fullName") values ($1, 'erin@example.com', 'Erin')`, [userId]);
      await finance.close();

      const env = { LOCAL_SQL_PORT: "1", LOCAL_DATA_DIR: dir }; // nothing listens on port 1
      const dry = await importFinance(["--dry-run"], env);
      expect(dry.code, dry.out).toBe(0);
      expect(dry.out).toContain("writing an Auth database that does not exist yet");
      expect(dry.out).toContain("1 would be created");

      const res = await importFinance([], env);
      expect(res.code, res.out).toBe(0);
      expect(res.out).toContain(join(dir, "pglite"));
      const auth = await createSqlBackend({ dataDir: join(dir, "pglite") });
      try {
        await auth.migrate(MIGRATIONS_FOLDER); // already up to date
        const r = await auth.query("select id::text, email, legacy_finance_user_id from users");
        expect(r.rows).toEqual([[userId, "erin@example.com", userId]]);
      } finally {
        await auth.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says where Finance can come from when there is none", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edge-auth-finance-"));
    try {
      const res = await importFinance(["--dry-run"], { LOCAL_SQL_PORT: "1", LOCAL_DATA_DIR: dir });
      expect(res.code).toBe(1);
      expect(res.out).toMatch(/no Finance to read: set FINANCE_DATABASE_URL, or run `npm run dev`/);
      expect((await importFinance(["--bogus"], { LOCAL_SQL_PORT: "1", LOCAL_DATA_DIR: dir })).out).toContain("usage: npm run import:finance");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
