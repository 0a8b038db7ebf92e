// edge-auth/verifier in plain Node, as a downstream API gets it: the compiled ES modules of
// dist/verifier (npm run build:verifier, rebuilt here first so the source under test is the current
// one) loaded through the package's `exports` map, with no bundler, no tsx and no type stripping.
// A child `node` process imports the package by its name, in two layouts: from inside this project
// (the package's self-reference) and installed under an app's node_modules (package.json and dist
// only, jose and hono beside it), where Node would refuse to strip types even if it could. Each runs
// on the Node running the tests (22) and on a Node 20 binary when the machine has one
// (NODE20_PATH, else /usr/bin/node, /usr/local/bin/node or a `node` on PATH reporting v20; skipped
// with a message otherwise). The child verifies tokens against a JWKS served by node:http on
// loopback; the key is made and the tokens are signed with node:crypto alone, so jose is only on
// the verifying side.
import { execFile, execFileSync } from "node:child_process";
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const PROJECT_ROOT = new URL("../..", import.meta.url).pathname;
const ISSUER = "https://auth.example";
const AUDIENCE = "reports-api";
const KID = "node-key-1";

// What the child runs: only the package name, never a path into src/.
const CHILD = `
import { createVerifier, VerifierError } from "edge-auth/verifier";
import { requireAuth } from "edge-auth/verifier/hono";
import { Hono } from "hono";

const input = JSON.parse(process.env.VERIFIER_INPUT);
const verifier = createVerifier({ issuer: input.issuer, audience: input.audience, jwksUrl: input.jwksUrl });
const code = (p) => p.then(() => "accepted", (e) => (e instanceof VerifierError ? e.code : "crash: " + e));
const verified = await verifier.verify(input.tokens.service, { requiredScopes: ["reports:read"] });
const app = new Hono().get("/r", requireAuth(verifier, { requiredScopes: ["reports:read"] }), (c) => c.json({ sub: c.get("auth").sub }));
const viaHono = async (token) => { const r = await app.request("/r", { headers: token ? { authorization: "Bearer " + token } : {} }); return [r.status, r.headers.get("www-authenticate")]; };
console.log(JSON.stringify({
  node: process.version,
  workersApis: typeof globalThis.WebSocketPair !== "undefined" || typeof globalThis.HTMLRewriter !== "undefined",
  verified: { sub: verified.sub, clientId: verified.clientId, scopes: verified.scopes, tokenUse: verified.tokenUse },
  user: (await verifier.verify(input.tokens.user)).tokenUse,
  expired: await code(verifier.verify(input.tokens.expired)),
  wrongAudience: await code(verifier.verify(input.tokens.wrongAudience)),
  idToken: await code(verifier.verify(input.tokens.idToken)),
  unknownKid: await code(verifier.verify(input.tokens.unknownKid)),
  missingScope: await code(verifier.verify(input.tokens.service, { requiredScopes: ["reports:write"] })),
  hono: { ok: await viaHono(input.tokens.service), none: await viaHono(null), bad: await viaHono(input.tokens.wrongAudience), scope: await viaHono(input.tokens.user) },
}));
`;

/** The version a node binary reports, or null when it cannot be run. */
function nodeVersion(bin: string): string | null {
  try {
    return execFileSync(bin, ["-v"], { encoding: "utf8", timeout: 10_000 }).trim();
  } catch {
    return null;
  }
}

/** A Node 20 binary: NODE20_PATH (which must be one), else the first v20 among the usual places. */
function findNode20(): { path: string; version: string } | { missing: string } {
  const explicit = process.env.NODE20_PATH;
  if (explicit) {
    const version = nodeVersion(explicit);
    if (!version?.startsWith("v20.")) throw new Error(`NODE20_PATH=${explicit} is not a Node 20 binary (it reports ${version ?? "nothing"})`);
    return { path: explicit, version };
  }
  const onPath = (process.env.PATH ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, "node"));
  const candidates = [...new Set(["/usr/bin/node", "/usr/local/bin/node", ...onPath])].filter((p) => existsSync(p));
  for (const path of candidates) {
    const version = nodeVersion(path);
    if (version?.startsWith("v20.")) return { path, version };
  }
  return { missing: `no Node 20 binary (looked at ${candidates.join(", ") || "nothing"}); set NODE20_PATH to run this on Node 20` };
}

const node20 = findNode20();
if ("missing" in node20) console.warn(`[verifier-node] Node 20 runs skipped: ${node20.missing}`);

const RUNTIMES = [
  { label: `the test runner's Node (${process.version})`, path: process.execPath, version: new RegExp(`^${process.version.replace(/\./g, "\\.")}$`), missing: undefined },
  "missing" in node20
    ? { label: "Node 20", path: "", version: /^v20\./, missing: node20.missing }
    : { label: `Node 20 (${node20.path}, ${node20.version})`, path: node20.path, version: /^v20\./, missing: undefined },
];

const b64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");

function jws(key: KeyObject, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign("sha256", Buffer.from(input), key))}`;
}

let server: Server;
let jwksUrl: string;
let jwksRequests = 0;
let appDir: string;
let tokens: Record<string, string>;
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const other = generateKeyPairSync("rsa", { modulusLength: 2048 });

beforeAll(async () => {
  // What `prepare` does after npm install / npm ci, so the dist under test is the current source.
  execFileSync(process.execPath, [join(PROJECT_ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.verifier.json"], { cwd: PROJECT_ROOT, stdio: "pipe" });

  // A downstream app with edge-auth installed as a dependency would be: package.json and dist only.
  appDir = mkdtempSync(join(tmpdir(), "edge-auth-verifier-app-"));
  writeFileSync(join(appDir, "package.json"), JSON.stringify({ name: "reports-api", private: true, type: "module" }));
  const installed = join(appDir, "node_modules/edge-auth");
  mkdirSync(installed, { recursive: true });
  cpSync(join(PROJECT_ROOT, "package.json"), join(installed, "package.json"));
  cpSync(join(PROJECT_ROOT, "dist/verifier"), join(installed, "dist/verifier"), { recursive: true });
  for (const dep of ["jose", "hono"]) symlinkSync(join(PROJECT_ROOT, "node_modules", dep), join(appDir, "node_modules", dep), "dir");

  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: KID, alg: "RS256", use: "sig" }] });
  server = createServer((req, res) => {
    if (req.url !== "/.well-known/jwks.json") return void res.writeHead(404).end();
    jwksRequests += 1;
    res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=300" }).end(jwks);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;

  const now = Math.floor(Date.now() / 1000);
  const at = { alg: "RS256", typ: "at+jwt", kid: KID };
  const base = { iss: ISSUER, aud: AUDIENCE, iat: now, nbf: now, exp: now + 900, jti: "j1" };
  tokens = {
    service: jws(privateKey, at, { ...base, sub: "svc_1", client_id: "app_reports", scope: "reports:read audit:read", token_use: "service" }),
    user: jws(privateKey, at, { ...base, sub: "user_1", sid: "s1", email: "a@example.com", globalRole: "NONE", tv: 0 }),
    expired: jws(privateKey, at, { ...base, sub: "svc_1", iat: now - 2000, nbf: now - 2000, exp: now - 100 }),
    wrongAudience: jws(privateKey, at, { ...base, sub: "svc_1", aud: "other-api" }),
    idToken: jws(privateKey, { ...at, typ: "JWT" }, { ...base, sub: "user_1" }),
    unknownKid: jws(other.privateKey, { ...at, kid: "node-key-9" }, { ...base, sub: "svc_1" }),
  };
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (appDir) rmSync(appDir, { recursive: true, force: true });
});

describe.each(RUNTIMES)("edge-auth/verifier on $label", (runtime) => {
  const layouts = [
    { name: "inside this project (self-reference)", cwd: () => PROJECT_ROOT },
    { name: "installed under an app's node_modules", cwd: () => appDir },
  ];
  for (const layout of layouts) {
    const title = `imports by package name ${layout.name}, verifies, rejects and serves through the Hono middleware`;
    it.skipIf(runtime.missing !== undefined)(runtime.missing ? `${title} (skipped: ${runtime.missing})` : title, async () => {
      const before = jwksRequests;
      const { stdout } = await run(runtime.path, ["--input-type=module", "-e", CHILD], {
        cwd: layout.cwd(),
        env: { PATH: process.env.PATH, VERIFIER_INPUT: JSON.stringify({ issuer: ISSUER, audience: AUDIENCE, jwksUrl, tokens }) },
        timeout: 20_000,
      });
      const out = JSON.parse(stdout.trim().split("\n").pop()!);

      expect(out.node).toMatch(runtime.version);
      expect(out.workersApis).toBe(false);
      expect(out.verified).toEqual({ sub: "svc_1", clientId: "app_reports", scopes: ["reports:read", "audit:read"], tokenUse: "service" });
      expect(out.user).toBe("user");
      expect(out).toMatchObject({
        expired: "token_expired",
        wrongAudience: "invalid_token",
        idToken: "invalid_token",
        unknownKid: "invalid_token",
        missingScope: "insufficient_scope",
      });
      expect(out.hono).toEqual({
        ok: [200, null],
        none: [401, "Bearer"],
        bad: [401, 'Bearer error="invalid_token"'],
        scope: [403, 'Bearer error="insufficient_scope", scope="reports:read"'],
      });
      // One JWKS request for everything: cached, and the unknown kid came within the cooldown.
      expect(jwksRequests - before).toBe(1);
    });
  }
});
