// edge-auth/verifier in plain Node: a child `node` process imports the package by its name (the
// package's self-reference through the `exports` map, run by Node's own type stripping, with no
// bundler and no Workers APIs) and verifies tokens against a JWKS served by node:http on loopback.
// The key is made and the tokens are signed with node:crypto alone, so jose is only on the
// verifying side.
import { execFile } from "node:child_process";
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
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

const b64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");

function jws(key: KeyObject, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign("sha256", Buffer.from(input), key))}`;
}

let server: Server;
let jwksUrl: string;
let jwksRequests = 0;
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const other = generateKeyPairSync("rsa", { modulusLength: 2048 });

beforeAll(async () => {
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: KID, alg: "RS256", use: "sig" }] });
  server = createServer((req, res) => {
    if (req.url !== "/.well-known/jwks.json") return void res.writeHead(404).end();
    jwksRequests += 1;
    res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=300" }).end(jwks);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

describe("edge-auth/verifier on Node", () => {
  it("imports by package name in plain Node and verifies, rejects and serves through the Hono middleware", async () => {
    const now = Math.floor(Date.now() / 1000);
    const at = { alg: "RS256", typ: "at+jwt", kid: KID };
    const base = { iss: ISSUER, aud: AUDIENCE, iat: now, nbf: now, exp: now + 900, jti: "j1" };
    const tokens = {
      service: jws(privateKey, at, { ...base, sub: "svc_1", client_id: "app_reports", scope: "reports:read audit:read", token_use: "service" }),
      user: jws(privateKey, at, { ...base, sub: "user_1", sid: "s1", email: "a@example.com", globalRole: "NONE", tv: 0 }),
      expired: jws(privateKey, at, { ...base, sub: "svc_1", iat: now - 2000, nbf: now - 2000, exp: now - 100 }),
      wrongAudience: jws(privateKey, at, { ...base, sub: "svc_1", aud: "other-api" }),
      idToken: jws(privateKey, { ...at, typ: "JWT" }, { ...base, sub: "user_1" }),
      unknownKid: jws(other.privateKey, { ...at, kid: "node-key-9" }, { ...base, sub: "svc_1" }),
    };

    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", CHILD], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH, VERIFIER_INPUT: JSON.stringify({ issuer: ISSUER, audience: AUDIENCE, jwksUrl, tokens }) },
    });
    const out = JSON.parse(stdout.trim().split("\n").pop()!);

    expect(out.node).toMatch(/^v2[2-9]\./);
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
    expect(jwksRequests).toBe(1);
  });
});
