// The bench's yardstick for login (DESIGN.md section 7: login within 1.1x of one bare Argon2id
// hash with the same parameters in the same runtime). A second Worker, run by `npm run bench` in
// the same runtime as the service (bundled by wrangler and served by Miniflare, or under
// `wrangler dev` with --runtime wrangler) with the service's wrangler.toml (same compatibility
// date and flags, same CompiledWasm rule), that does nothing but the password check of a sign-in: the service's own
// verifyPassword, over the same precompiled hash-wasm module. The bench sends it the very PHC string
// login verifies against, so the parameters are those of the stored hash, and times it from the
// client like login (inside workerd the clock does not advance during CPU work).
//
//   POST /verify  {"password": "...", "hash": "$argon2id$..."}  ->  {"data": {"ok": true}}
//   GET  /health                                                ->  {"data": {"ok": true}}
import { verifyPassword } from "../../src/crypto/password";

const json = (body: unknown, status = 200) => Response.json(body, { status, headers: { "cache-control": "no-store" } });

export default {
  async fetch(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/health" && request.method === "GET") return json({ data: { ok: true } });
    if (pathname !== "/verify" || request.method !== "POST") return json({ error: { code: "not_found", message: "POST /verify or GET /health" } }, 404);
    let body: { password?: unknown; hash?: unknown };
    try {
      body = await request.json();
    } catch {
      return json({ error: { code: "malformed_json", message: "expected a JSON body" } }, 400);
    }
    if (typeof body.password !== "string" || typeof body.hash !== "string") {
      return json({ error: { code: "validation_error", message: "password and hash must be strings" } }, 400);
    }
    return json({ data: { ok: await verifyPassword(body.password, body.hash) } });
  },
};
