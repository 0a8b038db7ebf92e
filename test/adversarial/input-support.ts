// Shared pieces of the input fuzzing suite (test/adversarial/input-*.test.ts): the operations as
// the served OpenAPI document lists them, the two binding sets requests are sent with, the
// response invariants (never a 5xx, always the envelope), and a cheap snapshot of every table in
// the public schema so "nothing is written for a rejected request" is checked row by row.
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import app from "../../src/index";
import { hashPassword } from "../../src/crypto/password";
import { BASE, call, json, workerFetch } from "../helpers/http";
import { settle } from "../helpers/stack";
import { createUser, deps, GOOD_PASSWORD, login, type TestUser } from "../helpers/users";

/**
 * fast-check runs are reproducible: every property in these files uses this seed (change it, or
 * paste the seed and path fast-check prints on a failure, to replay one case).
 */
export const SEED = 0x5eed_1f5;

export const MACHINE_KEY = "fuzz-internal-key-0123456789abcdef0123";
const bindings = env as unknown as Record<string, unknown>;

/**
 * "configured": the same Worker with every optional route present and the limits out of the way,
 * so fuzzed requests reach validation and the handlers: the machine routes (INTERNAL_API_KEY),
 * Finance (the local fixture), registration, a 1 MiB body limit (large and deeply nested bodies
 * are parsed, not refused by size) and rate limits raised (a fuzzed login is judged on its input,
 * not on how many came before it).
 */
export const CONFIGURED_OVERRIDES: Record<string, string> = {
  INTERNAL_API_KEY: MACHINE_KEY,
  FINANCE_DATABASE_URL: bindings.TEST_FINANCE_DATABASE_URL as string,
  PUBLIC_REGISTRATION_ENABLED: "true",
  MAX_BODY_BYTES: "1048576",
  RATE_LIMIT_LOGIN_PER_IP: "1000000/1m",
  RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL: "1000000/1m",
  RATE_LIMIT_PASSWORD_RESET_PER_EMAIL: "1000000/1m",
  RATE_LIMIT_PASSWORD_RESET_PER_IP: "1000000/1m",
  RATE_LIMIT_REGISTER_PER_IP: "1000000/1m",
};

// One binding object for every configured call, so the config is parsed once (as in an isolate).
const configured: Record<string, unknown> = { ...bindings, ...CONFIGURED_OVERRIDES };

export type Mode = "default" | "configured";

/** A request into the Worker: "default" through workerd's fetch handler, "configured" through app.fetch with CONFIGURED_OVERRIDES. */
export async function send(mode: Mode, req: Request): Promise<Response> {
  return mode === "default" ? workerFetch(req) : app.fetch(req, configured);
}

export function request(path: string, init: RequestInit = {}): Request {
  return new Request(BASE + path, init);
}

// ---- the operations --------------------------------------------------------------------------

export interface Param {
  name: string;
  schema: any;
}

export interface Operation {
  method: string;
  /** OpenAPI path, e.g. /internal/users/{id} */
  path: string;
  pathParams: string[];
  query: Param[];
  /** Top-level fields of the JSON body, or null when the operation takes no body. */
  body: Param[] | null;
  security: "none" | "bearer" | "machine";
  /** Documented response statuses. */
  responses: string[];
  /** Media types its request body is documented to take (e.g. a form post from a page besides JSON). */
  mediaTypes: string[];
  label: string;
}

function resolveRef(doc: any, schema: any): any {
  let s = schema;
  for (let i = 0; s && s.$ref && i < 10; i++) {
    const name = String(s.$ref).replace("#/components/schemas/", "");
    s = doc.components?.schemas?.[name];
  }
  return s ?? {};
}

/** Every operation of the served OpenAPI document (what clients are told exists). */
/**
 * Routes that answer in another protocol's shape (RFC 6749, 7662 and 7009 at /oauth/*, Connect at
 * /auth.v1.*), not the envelope: left out here. Their own tests (test/routes/oauth/,
 * test/routes/token-service.test.ts) cover malformed, oversize and unknown input in those shapes.
 */
export const OTHER_PROTOCOL_PATHS = /^\/(oauth\/|auth\.v1\.)/;

/**
 * Documented operations that answer an HTML page, not the envelope (the page a magic link opens):
 * left out here; test/routes/passwordless/ covers their input and answers.
 */
export const HTML_OPERATIONS = new Set(["GET /auth/magic-link/verify"]);

export async function loadOperations(): Promise<Operation[]> {
  const res = await call("/openapi.json");
  expect(res.status).toBe(200);
  const doc = await json(res);
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths ?? {})) {
    if (OTHER_PROTOCOL_PATHS.test(path)) continue;
    for (const [method, op] of Object.entries<any>(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      if (HTML_OPERATIONS.has(`${method.toUpperCase()} ${path}`)) continue;
      const params: any[] = op.parameters ?? [];
      const bodySchema = op.requestBody?.content?.["application/json"]?.schema;
      const resolved = bodySchema ? resolveRef(doc, bodySchema) : null;
      const security = JSON.stringify(op.security ?? []);
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === "path").map((p) => p.name),
        query: params.filter((p) => p.in === "query").map((p) => ({ name: p.name, schema: resolveRef(doc, p.schema) })),
        body: resolved ? Object.entries<any>(resolved.properties ?? {}).map(([name, schema]) => ({ name, schema: resolveRef(doc, schema) })) : null,
        security: security.includes("InternalApiKey") ? "machine" : security.includes("Bearer") ? "bearer" : "none",
        responses: Object.keys(op.responses ?? {}),
        mediaTypes: Object.keys(op.requestBody?.content ?? {}),
        label: `${method.toUpperCase()} ${path}`,
      });
    }
  }
  return ops;
}

// ---- response invariants ---------------------------------------------------------------------

export interface Answer {
  status: number;
  code: string | null;
  body: any;
}

/**
 * Every answer: below 500 and with X-Request-Id; an error (>= 400) is JSON with the envelope
 * { error: { code, message, fields?, details? } } and a snake_case code; a success with a body is
 * JSON. HEAD answers and 204/304 carry no body.
 */
export async function checkAnswer(res: Response, method: string, context: () => string, deliberate?: { status: number; code: string }): Promise<Answer> {
  const text = method === "HEAD" ? "" : await res.text();
  const where = () => `${context()}\n-> ${res.status} ${text.slice(0, 600)}`;
  if (res.status >= 500 && !(deliberate && res.status === deliberate.status && text.includes(`"code":"${deliberate.code}"`))) throw new Error(`5xx answer: ${where()}`);
  if (!res.headers.get("x-request-id")) throw new Error(`no X-Request-Id: ${where()}`);
  if (method === "HEAD" || res.status === 204 || res.status === 304) return { status: res.status, code: null, body: null };
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`answer is not JSON: ${where()}`);
  }
  if (!/^application\/json/i.test(res.headers.get("content-type") ?? "")) throw new Error(`answer is not application/json: ${where()}`);
  if (res.status >= 400) {
    const e = body?.error;
    const keys = e && typeof e === "object" ? Object.keys(e).filter((k) => !["code", "message", "fields", "details"].includes(k)) : ["(missing)"];
    if (
      !e ||
      typeof e.code !== "string" ||
      !/^[a-z][a-z0-9_]*$/.test(e.code) ||
      typeof e.message !== "string" ||
      keys.length > 0 ||
      Object.keys(body).length !== 1 ||
      (e.fields !== undefined && !(Array.isArray(e.fields) && e.fields.every((f: any) => typeof f?.field === "string" && typeof f?.message === "string")))
    ) {
      throw new Error(`not the error envelope: ${where()}`);
    }
    // Validation messages name the client's own fields (which may look like anything); other messages are the service's.
    if (e.code !== "validation_error" && /\n\s+at\s|node_modules|\.ts:\d+/.test(text)) throw new Error(`stack trace in an answer: ${where()}`);
    return { status: res.status, code: e.code, body };
  }
  // Success: the { data } envelope, or the JWK Set (a standard document, documented as not enveloped).
  const keys = body && typeof body === "object" ? Object.keys(body) : [];
  if (!(keys.length === 1 && (keys[0] === "data" || keys[0] === "keys"))) throw new Error(`success without the { data } envelope: ${where()}`);
  return { status: res.status, code: null, body };
}

// ---- database snapshots --------------------------------------------------------------------------

export interface Snapshot {
  /** table -> "rows:md5" */
  tables: Record<string, string>;
  /** auth_audit_logs without the rows a failed sign-in legitimately writes. */
  auditOtherThanLogin: string;
  auditRows: number;
  loginAuditRows: number;
}

let tableNames: string[] | null = null;

/** The base tables of the public schema (information_schema), read once. */
export async function publicTables(): Promise<string[]> {
  const r = await deps().db.execute(
    sql`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`,
  );
  return (r.rows as { name: string }[]).map((x) => x.name);
}

/** The login audit events a rejected sign-in writes on purpose (see input-fuzz.test.ts). */
export const LOGIN_AUDIT_TYPES = ["login.failure", "login.blocked", "login.refused"];

/**
 * Row count and an md5 of the ordered rows of every table, in one statement: cheap enough to
 * take around every fuzzed request.
 */
export async function snapshot(options: { settle?: boolean } = {}): Promise<Snapshot> {
  // Work deferred past earlier answers (a sign-in's audit row, a refused sign-in's cleanup) lands first.
  if (options.settle !== false) await settle(30);
  tableNames ??= await publicTables();
  expect(tableNames).toContain("users");
  expect(tableNames).toContain("auth_audit_logs");
  const parts = tableNames.map(
    (t) => `select '${t}' as t, count(*)::int as n, md5(coalesce(string_agg(x::text, ',' order by x::text), '')) as h from "${t}" x`,
  );
  const types = LOGIN_AUDIT_TYPES.map((t) => `'${t}'`).join(", ");
  parts.push(
    `select '~audit-other' as t, count(*)::int as n, md5(coalesce(string_agg(x::text, ',' order by x::text), '')) as h from auth_audit_logs x where x.event_type not in (${types})`,
  );
  const r = await deps().db.execute(sql.raw(parts.join(" union all ")));
  const tables: Record<string, string> = {};
  let auditOtherThanLogin = "";
  let auditRows = 0;
  let otherRows = 0;
  for (const row of r.rows as { t: string; n: number; h: string }[]) {
    if (row.t === "~audit-other") {
      auditOtherThanLogin = `${row.n}:${row.h}`;
      otherRows = Number(row.n);
    } else {
      tables[row.t] = `${row.n}:${row.h}`;
      if (row.t === "auth_audit_logs") auditRows = Number(row.n);
    }
  }
  return { tables, auditOtherThanLogin, auditRows, loginAuditRows: auditRows - otherRows };
}

/** Tables whose content differs between two snapshots. */
export function changedTables(a: Snapshot, b: Snapshot): string[] {
  const names = new Set([...Object.keys(a.tables), ...Object.keys(b.tables)]);
  return [...names].filter((t) => a.tables[t] !== b.tables[t]).sort();
}

/**
 * The one rejection that writes on purpose: a sign-in refused for its credentials (401
 * invalid_credentials) or for the account's state after a correct password (403
 * pending_approval / registration_rejected / account_inactive) records one login.failure or
 * login.blocked audit event (DESIGN.md §8: failed sign-ins are audited; their counting toward the
 * per-account limit lives in Redis, which is not snapshotted). Everything else, and every
 * validation or transport error (400, 405, 413, 415, 422) on any route, writes nothing at all.
 */
export function allowedWrites(op: { method: string; path: string }, answer: Answer): "login-audit" | "none" {
  if (op.method === "POST" && op.path === "/auth/login") {
    if (answer.status === 401 && answer.code === "invalid_credentials") return "login-audit";
    if (answer.status === 403 && ["pending_approval", "registration_rejected", "account_inactive"].includes(answer.code ?? "")) return "login-audit";
  }
  return "none";
}

/** Throws unless `after` is `before` plus what the rejection may write. */
export function assertNothingWritten(before: Snapshot, after: Snapshot, allowed: "login-audit" | "none", context: () => string): void {
  const changed = changedTables(before, after);
  if (allowed === "login-audit") {
    const others = changed.filter((t) => t !== "auth_audit_logs");
    const ok =
      others.length === 0 &&
      before.auditOtherThanLogin === after.auditOtherThanLogin &&
      after.auditRows === before.auditRows + 1 &&
      after.loginAuditRows === before.loginAuditRows + 1;
    if (!ok) throw new Error(`a rejected sign-in wrote more than one login audit row (changed: ${changed.join(", ")}; audit ${before.auditRows} -> ${after.auditRows}): ${context()}`);
    return;
  }
  if (changed.length > 0) throw new Error(`a rejected request wrote to ${changed.join(", ")}: ${context()}`);
}

// ---- actors --------------------------------------------------------------------------------------

export interface Actors {
  staff: TestUser & { accessToken: string };
  victim: TestUser & { sessionId: string };
}

function sidOf(accessToken: string): string {
  return JSON.parse(atob(accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sid;
}

let ipCounter = 0;
/** A fresh client address per call: per-IP limits never decide a fuzzed request by accident. */
export function freshIp(): string {
  ipCounter += 1;
  return `198.51.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

/** A PLATFORM_SUPERADMIN (the top platform role) and a plain user with a live session to aim at. */
export async function createActors(): Promise<Actors> {
  const staff = await createUser({ globalRole: "PLATFORM_SUPERADMIN", fullName: "Fuzz Staff" });
  const victim = await createUser({ fullName: "Fuzz Target" });
  const s = await login(staff, { "cf-connecting-ip": freshIp() });
  const v = await login(victim, { "cf-connecting-ip": freshIp() });
  return { staff: { ...staff, accessToken: s.accessToken }, victim: { ...victim, sessionId: sidOf(v.accessToken) } };
}

/**
 * Keeps the staff credential usable: a fuzzed request may legitimately end its sessions
 * (POST /auth/logout-all) or change its password (POST /auth/change-password with the right
 * current one). Returns true when it had to sign in again (the caller re-takes its snapshot).
 */
export async function ensureStaff(actors: Actors): Promise<boolean> {
  const me = await call("/auth/me", { headers: { authorization: `Bearer ${actors.staff.accessToken}` } });
  await me.arrayBuffer();
  if (me.status === 200) return false;
  const d = deps();
  await d.db.execute(
    sql`update users set password_hash = ${await hashPassword(GOOD_PASSWORD, d.config.argon2)}, is_active = true, approval_status = 'APPROVED',
          global_role = 'PLATFORM_SUPERADMIN' where id = ${actors.staff.id}::uuid`,
  );
  actors.staff.password = GOOD_PASSWORD;
  const s = await login(actors.staff, { "cf-connecting-ip": freshIp() });
  actors.staff.accessToken = s.accessToken;
  return true;
}

// ---- strings that must not reach Postgres as they are -----------------------------------------------

/** A lone (unpaired) UTF-16 surrogate: not Unicode text, cannot be encoded as UTF-8. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Percent-encodes a string; lone surrogates become the (invalid UTF-8) bytes of their code unit. */
export function encodeComponent(s: string): string {
  let out = "";
  for (const ch of s.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]|[\s\S]/g) ?? []) {
    if (LONE_SURROGATE.test(ch)) {
      const c = ch.charCodeAt(0);
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => "%" + b.toString(16).toUpperCase()).join("");
    } else {
      out += encodeURIComponent(ch);
    }
  }
  return out;
}
