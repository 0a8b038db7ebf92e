// `npm run admin:create` against a local stack: through a running stack's SQL endpoint, and
// straight into an embedded database folder when no stack runs.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { argon2Verify } from "hash-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT, startLocalStack, type LocalStack } from "../../scripts/local-stack/index.ts";
import { createSqlBackend } from "../../scripts/local-stack/sql/index.ts";

const run = promisify(execFile);
const SCRIPT = join(PROJECT_ROOT, "scripts", "admin-create.ts");

async function adminCreate(args: string[], env: Record<string, string>) {
  const base = { ...process.env, ...env };
  delete (base as Record<string, string | undefined>).DATABASE_URL;
  try {
    const { stdout, stderr } = await run(process.execPath, [SCRIPT, ...args], { env: base, cwd: PROJECT_ROOT });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe("admin:create through a running stack", () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({});
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("creates an approved, active superadmin with an Argon2id hash, and refuses a duplicate", async () => {
    const env = { LOCAL_SQL_PORT: String(stack.sql.port), LOCAL_DATA_DIR: "/nonexistent-never-used" };
    const created = await adminCreate(["--email", "Root@Example.com", "--password", "plum-Tractor-61-orbit", "--name", "Root"], env);
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/created PLATFORM_SUPERADMIN Root@Example.com .* in the running dev stack/);

    const rows = (
      await stack.sql.handler.handle({
        method: "POST",
        path: "/sql",
        headers: { "neon-array-mode": "true", "neon-raw-text-output": "true" },
        body: Buffer.from(JSON.stringify({ query: "select email, global_role, approval_status, is_active, password_hash, full_name from users", params: [] })),
      })
    ).body as { rows: string[][] };
    expect(rows.rows).toHaveLength(1);
    const [email, role, approval, active, hash, name] = rows.rows[0];
    expect([email, role, approval, active, name]).toEqual(["Root@Example.com", "PLATFORM_SUPERADMIN", "APPROVED", "t", "Root"]);
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await argon2Verify({ password: "plum-Tractor-61-orbit", hash })).toBe(true);

    const duplicate = await adminCreate(["--email", "root@example.com", "--password", "plum-Tractor-61-orbit"], env);
    expect(duplicate.code).toBe(1);
    expect(duplicate.out).toMatch(/already exists/);
  });

  it("refuses bad arguments with a usage line", async () => {
    const env = { LOCAL_SQL_PORT: String(stack.sql.port) };
    expect((await adminCreate([], env)).out).toMatch(/usage: npm run admin:create/);
    expect((await adminCreate(["--email", "x@example.com", "--password", "short"], env)).out).toMatch(/8 to 128/);
    expect((await adminCreate(["--email", "x@example.com", "--password", "plum-Tractor-61-orbit", "--role", "GOD"], env)).out).toMatch(/--role must be one of/);
  });
});

describe("admin:create with no stack running", () => {
  it("writes to the embedded database in LOCAL_DATA_DIR, migrating it first", async () => {
    const dir = mkdtempSync(join(tmpdir(), "edge-auth-admin-"));
    try {
      const res = await adminCreate(["--email", "ops@example.com", "--password", "plum-Tractor-61-orbit", "--role", "PLATFORM_ADMIN"], {
        LOCAL_SQL_PORT: "1", // nothing listens there
        LOCAL_DATA_DIR: dir,
      });
      expect(res.code).toBe(0);
      expect(res.out).toContain(join(dir, "pglite"));
      const backend = await createSqlBackend({ dataDir: join(dir, "pglite") });
      try {
        const r = await backend.query("select global_role from users where email = $1", ["ops@example.com"]);
        expect(r.rows).toEqual([["PLATFORM_ADMIN"]]);
      } finally {
        await backend.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
