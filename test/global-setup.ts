// Node side of the test run: starts the local stack once (embedded PGlite and in-memory Redis by
// default; real servers when DATABASE_URL / REDIS_URL name them), applies migrations, makes test
// signing keys, and provides it all to the Worker's bindings (vitest.config.ts).
import { generateKeyPairSync } from "node:crypto";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { startLocalStack } from "../scripts/local-stack/index.ts";

declare module "vitest" {
  export interface ProvidedContext {
    stack: { sqlControl: string; redisControl: string; workerVars: Record<string, string>; backends: string };
    keys: { pkcs8: string; pkcs1: string; nextPkcs8: string; nextSpki: string; retiredPkcs1Public: string };
  }
}

/** Tests wipe every table: refuse a real database whose name does not say it is for tests. */
async function ensureTestDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/test/i.test(name)) {
    throw new Error(
      `DATABASE_URL names database "${name}"; the test suite empties every table, so it only runs against a database whose name contains "test" (e.g. postgres://postgres@127.0.0.1:5432/edge_auth_test).`,
    );
  }
  const admin = new URL(databaseUrl);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (found.rowCount === 0) await client.query(`create database "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

function rsaKey() {
  return generateKeyPairSync("rsa", { modulusLength: 2048 });
}

export default async function setup(project: TestProject) {
  const databaseUrl = process.env.DATABASE_URL || undefined;
  const redisUrl = process.env.REDIS_URL || undefined;
  if (databaseUrl) await ensureTestDatabase(databaseUrl);

  const stack = await startLocalStack({ databaseUrl, redisUrl });
  console.log(`[test] local stack: ${stack.describe()}`);

  const current = rsaKey();
  const next = rsaKey();
  const retired = rsaKey();
  project.provide("stack", {
    sqlControl: stack.sql.url,
    redisControl: stack.redis.url,
    workerVars: stack.workerVars,
    backends: `${stack.sql.handler.backendName} + ${stack.redis.handler.backendName}`,
  });
  project.provide("keys", {
    pkcs8: current.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    pkcs1: current.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    nextPkcs8: next.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    nextSpki: next.publicKey.export({ type: "spki", format: "pem" }).toString(),
    retiredPkcs1Public: retired.publicKey.export({ type: "pkcs1", format: "pem" }).toString(),
  });

  return async () => {
    await stack.close();
  };
}
