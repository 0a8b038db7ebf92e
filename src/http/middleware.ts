// Middleware every request passes through, in this order: request context (id, metering, log
// line), CORS, dependencies (config parsed, deps built), JSON body guard (content type, size,
// well-formed JSON). Routers after this only parse, call a service and respond.
import type { Context, MiddlewareHandler } from "hono";
import { ConfigError, type Bindings } from "../config";
import { buildDeps, type Deps } from "../deps";
import { newMetrics, runWithMetrics, serverTiming, type RequestMetrics } from "../runtime/metrics";
import { describeError, log } from "../runtime/log";
import { authenticateBearer, type Principal } from "../services/auth/bearer";
import { preflightOriginAllowed, type CallingApplication } from "../services/applications/resolve";
import type { StaffPrincipal } from "../services/staff/principal";
import { AppError, errors } from "./errors";

export interface AppEnv {
  Bindings: Bindings;
  Variables: { deps: Deps; requestId: string; metrics: RequestMetrics; errorCode?: string; principal: Principal; staff: StaffPrincipal; application?: CallingApplication };
}

/**
 * Route middleware: a valid Bearer access token (checked before the body is validated). The
 * revocation markers are read while the route runs its SQL (the route awaits `principal.markers`
 * alongside it); awaiting them here again after the route means no answer leaves without them.
 */
export const bearer: MiddlewareHandler<AppEnv> = async (c, next) => {
  const principal = await authenticateBearer(c.get("deps"), c.req.header("authorization"));
  c.set("principal", principal);
  await next();
  await principal.markers;
};

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function clientIp(c: Context): string | undefined {
  return c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? undefined;
}

/** Who is asking, for audit and rate limits. */
export function requestMeta(c: Context): { ip: string | null; userAgent: string | null } {
  return { ip: clientIp(c) ?? null, userAgent: c.req.header("user-agent")?.slice(0, 512) ?? null };
}

export const requestContext: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = performance.now();
  const sent = c.req.header("x-request-id");
  const requestId = sent && REQUEST_ID.test(sent) ? sent : crypto.randomUUID();
  const metrics = newMetrics();
  c.set("requestId", requestId);
  c.set("metrics", metrics);
  await runWithMetrics(metrics, () => next());
  const totalMs = performance.now() - started;
  c.header("X-Request-Id", requestId);
  c.header("Server-Timing", serverTiming(metrics, totalMs));
  const status = c.res.status;
  log({
    level: status >= 500 ? "error" : status >= 400 ? "warn" : "info",
    msg: "request",
    requestId,
    method: c.req.method,
    // The path only: query strings can carry tokens.
    path: new URL(c.req.url).pathname,
    route: c.req.routePath,
    status,
    durationMs: Math.round(totalMs * 10) / 10,
    sqlRoundTrips: metrics.sql.roundTrips,
    redisRoundTrips: metrics.redis.roundTrips,
    ip: clientIp(c),
    ...(c.get("errorCode") ? { errorCode: c.get("errorCode") } : {}),
  });
};

const EXPOSED_HEADERS = "X-Request-Id, Server-Timing, Retry-After";
const ALLOWED_HEADERS = "Content-Type, Authorization, X-Request-Id, X-Internal-API-Key, X-API-Key, X-Step-Up-Token";

/** Public documents that browser verifiers fetch: readable from any origin, never with credentials. */
const PUBLIC_DOCUMENTS = new Set(["/.well-known/jwks.json", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]);

/** What CORS grants an origin: to read with credentials (cookies), to read without, or nothing. */
type OriginGrant = "credentials" | "any" | null;

/**
 * CORS per application:
 *   - the public documents (PUBLIC_DOCUMENTS) answer "*" to any origin, without credentials;
 *   - a request that named an application (X-API-Key, see http/application.ts): that
 *     application's allowed origins (the platform application's are CORS_ALLOWED_ORIGINS);
 *   - preflights (they never carry the key) and routes that name no application (Bearer routes,
 *     /internal/*): CORS_ALLOWED_ORIGINS and every active application's origins; the request itself
 *     is then judged by its own application;
 *   - "*" in CORS_ALLOWED_ORIGINS lets any other origin read without credentials.
 * A granted origin is echoed with credentials allowed; anything else gets no CORS headers at all.
 */
async function originGrant(c: Context<AppEnv>, origin: string, publicDocument: boolean): Promise<OriginGrant> {
  if (publicDocument) return "any";
  let deps: Deps;
  try {
    deps = c.get("deps");
  } catch {
    return null;
  }
  if (!deps) return null;
  const configured = deps.config.http.corsAllowedOrigins;
  const application = c.get("application");
  if (application) return application.allowedOrigins.includes(origin) ? "credentials" : configured.includes("*") ? "any" : null;
  if (configured.includes(origin)) return "credentials";
  try {
    if (await preflightOriginAllowed(deps, origin)) return "credentials";
  } catch (err) {
    // The origins of applications could not be read: only the configured list applies.
    log({ level: "warn", msg: "application origins unavailable for CORS", ...describeError(err, { stack: false }) });
  }
  return configured.includes("*") ? "any" : null;
}

export const cors: MiddlewareHandler<AppEnv> = async (c, next) => {
  const origin = c.req.header("origin");
  const publicDocument = PUBLIC_DOCUMENTS.has(new URL(c.req.url).pathname);
  const preflight = c.req.method === "OPTIONS" && c.req.header("access-control-request-method") !== undefined;

  if (preflight) {
    const res = new Response(null, { status: 204 });
    const grant = origin === undefined ? null : await originGrant(c, origin, publicDocument);
    if (grant) {
      res.headers.set("Access-Control-Allow-Origin", grant === "credentials" ? origin! : "*");
      if (grant === "credentials") res.headers.set("Access-Control-Allow-Credentials", "true");
      res.headers.set("Access-Control-Allow-Methods", publicDocument ? "GET, HEAD, OPTIONS" : "GET, POST, PATCH, PUT, DELETE, OPTIONS");
      res.headers.set("Access-Control-Allow-Headers", ALLOWED_HEADERS);
      res.headers.set("Access-Control-Max-Age", "600");
    }
    res.headers.set("Vary", "Origin");
    c.res = res;
    return;
  }
  await next();
  c.header("Vary", "Origin", { append: true });
  const grant = origin === undefined ? null : await originGrant(c, origin, publicDocument);
  if (grant) {
    c.header("Access-Control-Allow-Origin", grant === "credentials" ? origin! : "*");
    if (grant === "credentials") c.header("Access-Control-Allow-Credentials", "true");
    c.header("Access-Control-Expose-Headers", EXPOSED_HEADERS);
  }
};

/** Parses config (once per isolate) and builds the request's deps; a bad config is a 500 config_error. */
export const dependencies: MiddlewareHandler<AppEnv> = async (c, next) => {
  try {
    let waitUntil: ((p: Promise<unknown>) => void) | undefined;
    try {
      const ctx = c.executionCtx;
      waitUntil = (p) => ctx.waitUntil(p);
    } catch {
      waitUntil = undefined; // no execution context (direct app.fetch calls)
    }
    c.set("deps", buildDeps(c.env ?? {}, { defer: waitUntil }));
  } catch (err) {
    if (err instanceof ConfigError) {
      log({ level: "error", msg: "configuration error", requestId: c.get("requestId"), variables: err.variables, problem: err.message });
      throw errors.config(err.variables);
    }
    throw err;
  }
  await next();
};

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Routes that answer in another protocol's shape and read their own bodies: /oauth/* (RFC 6749
 * form-encoded parameters, JSON too, RFC error bodies), the Connect token service, and the social
 * sign-in callback (Apple posts it as a form: response_mode=form_post). The guard only enforces
 * the size limit there.
 */
const OWN_BODY_PROTOCOL_PATHS = /^\/(oauth\/|auth\.v1\.TokenService\/|auth\/oauth\/[a-z]+\/callback$)/;

/**
 * The hosted pages and the staff portal (src/routes/pages/): HTML forms post
 * application/x-www-form-urlencoded there. Size and UTF-8 are checked here; the page routers parse
 * the form and check its CSRF token and origin.
 */
export const PAGE_FORM_PATHS = /^\/(login|signup|forgot-password|reset-password|verify-email|magic-link|invitations|account|logout|portal|auth\/magic-link\/verify)(\/|$)/;

function isForm(contentType: string | undefined): boolean {
  return contentType?.split(";")[0].trim().toLowerCase() === "application/x-www-form-urlencoded";
}

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(";")[0].trim().toLowerCase();
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

/**
 * Request bodies: JSON only, at most MAX_BODY_BYTES (checked while reading, whatever
 * Content-Length claims), well-formed. The parsed body is cached on the request, so the route
 * validators read it again for free.
 */
export const bodyGuard: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!BODY_METHODS.has(c.req.method)) return next();
  const limit = c.get("deps").config.http.maxBodyBytes;
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > limit) throw errors.payloadTooLarge(limit);
  const raw = c.req.raw;
  if (!raw.body) return next();

  // Read with a running limit: a missing or false Content-Length cannot smuggle a larger body.
  const reader = raw.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw errors.payloadTooLarge(limit);
    }
    chunks.push(value);
  }
  if (size === 0) {
    // An empty body is no body: the route's validator decides whether one was required.
    c.req.raw = new Request(raw.url, { method: raw.method, headers: raw.headers });
    return next();
  }
  const path = new URL(raw.url).pathname;
  const ownProtocol = OWN_BODY_PROTOCOL_PATHS.test(path) || (PAGE_FORM_PATHS.test(path) && isForm(c.req.header("content-type")));
  if (!ownProtocol && !isJson(c.req.header("content-type"))) throw errors.unsupportedMediaType();
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  if (ownProtocol) {
    // Size and UTF-8 checked here; content type and parsing are the route's, answered (as these
    // errors are, by the app's error handler) in its protocol's shape.
    try {
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      throw new AppError(400, "malformed_body", "The request body is not valid UTF-8");
    }
    c.req.raw = new Request(raw.url, { method: raw.method, headers: raw.headers, body: bytes });
    return next();
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new AppError(400, "malformed_json", "The request body is not valid UTF-8");
  }
  try {
    JSON.parse(text);
  } catch {
    throw errors.malformedJson();
  }
  c.req.raw = new Request(raw.url, { method: raw.method, headers: raw.headers, body: text });
  // c.req.json() and the route validators read the body through this cache.
  (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
  return next();
};
