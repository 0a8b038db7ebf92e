// Node side of the test run: starts the local stack once (embedded PGlite and in-memory Redis by
// default; real servers when DATABASE_URL / REDIS_URL name them), applies migrations, makes test
// signing keys, and provides it all to the Worker's bindings (vitest.config.ts).
import { generateKeyPairSync } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { startLocalStack } from "../scripts/local-stack/index.ts";
import { startFakeOAuthProvider, type FakeOAuthProvided } from "./helpers/fake-oauth-provider.ts";

declare module "vitest" {
  export interface ProvidedContext {
    stack: { sqlControl: string; redisControl: string; workerVars: Record<string, string>; backends: string };
    keys: { pkcs8: string; pkcs1: string; nextPkcs8: string; nextSpki: string; retiredPkcs1Public: string };
    finance: { databaseUrl: string };
    cfAccess: { certsUrl: string; privateKey: string; unknownPrivateKey: string };
    oauthFake: FakeOAuthProvided;
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

/** Kids of the fake Cloudflare Access team keys (test/routes/internal/cf-access.test.ts signs with them). */
const CF_ACCESS_KID = "cf-access-test-1";
const CF_ACCESS_ROTATED_KID = "cf-access-test-unknown";

/**
 * A stand-in for https://<team>/cdn-cgi/access/certs on loopback. Any path ending in /certs serves
 * {keys: [...]}: the Access key; under /rotating/ the "unknown" key is added from the second fetch
 * on (Access rotating its keys); under /fail/ it answers 500. GET /__hits?path=P counts fetches.
 */
async function startCfAccessCerts() {
  const access = rsaKey();
  const unknown = rsaKey();
  const jwk = (key: ReturnType<typeof rsaKey>, kid: string) => ({ ...key.publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" });
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/__hits") return send(200, { hits: hits.get(url.searchParams.get("path") ?? "") ?? 0 });
    if (!url.pathname.endsWith("/certs")) return send(404, { error: "not found" });
    const n = (hits.get(url.pathname) ?? 0) + 1;
    hits.set(url.pathname, n);
    if (url.pathname.startsWith("/fail/")) return send(500, { error: "injected failure" });
    const keys = [jwk(access, CF_ACCESS_KID)];
    if (url.pathname.startsWith("/rotating/") && n > 1) keys.push(jwk(unknown, CF_ACCESS_ROTATED_KID));
    send(200, { keys, public_cert: { kid: CF_ACCESS_KID, cert: "(not used)" } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    provided: {
      certsUrl: `http://127.0.0.1:${port}/cdn-cgi/access/certs`,
      privateKey: access.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      unknownPrivateKey: unknown.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export default async function setup(project: TestProject) {
  const databaseUrl = process.env.DATABASE_URL || undefined;
  const redisUrl = process.env.REDIS_URL || undefined;
  if (databaseUrl) await ensureTestDatabase(databaseUrl);
  // Finance: the fixture (scripts/local-stack/finance-fixture.sql) in PGlite, or in the test database FINANCE_DATABASE_URL names.
  const financeDatabaseUrl = process.env.FINANCE_DATABASE_URL || undefined;
  if (financeDatabaseUrl) await ensureTestDatabase(financeDatabaseUrl);

  const stack = await startLocalStack({ databaseUrl, redisUrl, finance: { databaseUrl: financeDatabaseUrl, fixture: true } });
  const cfAccess = await startCfAccessCerts();
  // Google, Microsoft, Apple and GitHub on loopback (test/routes/social/).
  const oauthFake = await startFakeOAuthProvider();
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
  // Not among the Worker's bindings (Finance stays unconfigured); tests opt in with callWithEnv.
  project.provide("finance", { databaseUrl: stack.finance!.workerUrl });
  project.provide("keys", {
    pkcs8: current.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    pkcs1: current.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    nextPkcs8: next.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    nextSpki: next.publicKey.export({ type: "spki", format: "pem" }).toString(),
    retiredPkcs1Public: retired.publicKey.export({ type: "pkcs1", format: "pem" }).toString(),
  });
  project.provide("cfAccess", cfAccess.provided);
  project.provide("oauthFake", oauthFake.provided);

  return async () => {
    await Promise.all([stack.close(), cfAccess.close(), oauthFake.close()]);
  };
}
