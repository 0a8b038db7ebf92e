// Which application a request comes from. App-initiated routes (sign-in, sign-up, refresh,
// logout, reset requests) name it with X-API-Key; a request without one is the built-in platform
// application (unless REQUIRE_APPLICATION). What a key resolves to is cached per isolate by the
// key's hash for APPLICATION_CACHE_TTL, so only an isolate's first request with a key pays a SQL
// round trip; a revoked key or a disabled application therefore stops working everywhere within
// that TTL (at once in the isolate that made the change). Sessions and tokens of a disabled
// application are refused at once regardless: those checks read the application's status in SQL.
import { sha256 } from "../../crypto/random";
import { PLATFORM_APPLICATION_ID, type ApplicationStatus } from "../../db/schema";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import {
  activeApplicationOrigins,
  findApplication,
  findApplicationAudience,
  findApplicationByKeyHash,
  touchApiKey,
  type ApplicationRecord,
} from "../../stores/applications";
import { ApplicationSettingsSchema, type ApplicationSettings } from "./fields";

/** What the routes and services need to know about the calling application. */
export interface CallingApplication {
  id: string;
  slug: string;
  builtin: boolean;
  /** The `aud` of tokens issued under it (JWT_AUDIENCE for the platform and when unset). */
  audience: string;
  /** Origins a browser may call from (the platform: CORS_ALLOWED_ORIGINS). */
  allowedOrigins: string[];
  apiKeyId: string | null;
  /** Its display name (branding falls back to it). */
  name: string;
  /** Registered redirect URIs (exact match: redirectUriAllowed). */
  redirectUris: string[];
  /** Its validated settings (the platform: the defaults). */
  settings: ApplicationSettings;
}

export const invalidApiKey = () =>
  new AppError(401, "invalid_api_key", "The X-API-Key is not a valid key of an active application");
export const applicationRequired = () =>
  new AppError(401, "application_required", "Name the calling application with an X-API-Key header");
export const originNotAllowed = () => new AppError(403, "origin_not_allowed", "This origin is not allowed for this application");

const MAX_ENTRIES = 1_000;

interface Cached<T> {
  value: T;
  expires: number;
}

/** A small per-isolate cache with a TTL and a size bound (oldest entry evicted first). */
class TtlCache<T> {
  private entries = new Map<string, Cached<T>>();
  get(key: string, now: number): T | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.expires <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.value;
  }
  set(key: string, value: T, ttlMs: number, now: number): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expires: now + ttlMs });
  }
  clear(): void {
    this.entries.clear();
  }
}

/** null: the key is unknown, revoked, or its application is disabled. */
const byKeyHash = new TtlCache<CallingApplication | null>();
const audiences = new TtlCache<{ audience: string | null; status: ApplicationStatus } | null>();
const preflightOrigins = new TtlCache<Promise<Set<string>>>();
const touched = new TtlCache<true>();

/** After a change made in this isolate: forget what was resolved, so the change applies here at once. */
export function forgetApplicationCaches(): void {
  byKeyHash.clear();
  byId.clear();
  audiences.clear();
  preflightOrigins.clear();
}

export function platformApplication(deps: Deps): CallingApplication {
  return {
    id: PLATFORM_APPLICATION_ID,
    slug: "platform",
    builtin: true,
    audience: deps.config.jwt.audience,
    allowedOrigins: deps.config.http.corsAllowedOrigins,
    apiKeyId: null,
    name: "Platform",
    redirectUris: [],
    settings: {},
  };
}

/** The calling-application view of an application record. */
function toCalling(deps: Deps, application: ApplicationRecord, apiKeyId: string | null): CallingApplication {
  const settings = ApplicationSettingsSchema.safeParse(application.settings);
  return {
    id: application.id,
    slug: application.slug,
    builtin: application.builtin,
    audience: application.audience ?? deps.config.jwt.audience,
    allowedOrigins: application.builtin ? deps.config.http.corsAllowedOrigins : application.allowedOrigins,
    apiKeyId,
    name: application.name,
    redirectUris: application.redirectUris,
    settings: settings.success ? settings.data : {},
  };
}

const byId = new TtlCache<CallingApplication | null>();

/**
 * An active application by its id (`client_id` of browser flows: social sign-in, hosted pages).
 * The platform without a lookup; cached like keys. 400 `invalid_client` when unknown or disabled.
 */
export async function resolveApplicationById(deps: Deps, clientId: string): Promise<CallingApplication> {
  if (clientId === PLATFORM_APPLICATION_ID) return platformApplication(deps);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(clientId)) throw invalidClient();
  const now = deps.clock.now().getTime();
  let app = byId.get(clientId, now);
  if (app === undefined) {
    const found = await findApplication(deps.db, clientId);
    app = found && found.status === "active" ? toCalling(deps, found, null) : null;
    byId.set(clientId, app, deps.config.applications.cacheTtlMs, now);
  }
  if (!app) throw invalidClient();
  return app;
}

export const invalidClient = () => new AppError(400, "invalid_client", "client_id does not name an active application");

/** Whether `uri` is one of the application's registered redirect URIs, compared exactly. */
export function redirectUriAllowed(app: CallingApplication, uri: string): boolean {
  return app.redirectUris.includes(uri);
}

/** The application named by `apiKey` (X-API-Key), the platform when none is sent; 401 when the key is not good. */
export async function resolveApplication(deps: Deps, apiKey: string | undefined): Promise<CallingApplication> {
  if (apiKey === undefined || apiKey === "") {
    if (deps.config.applications.required) throw applicationRequired();
    return platformApplication(deps);
  }
  if (apiKey.length > 256) throw invalidApiKey();
  const now = deps.clock.now().getTime();
  const keyHash = await sha256(apiKey);
  let app = byKeyHash.get(keyHash, now);
  if (app === undefined) {
    const found = await findApplicationByKeyHash(deps.db, keyHash);
    app = found && !found.keyRevoked && found.application.status === "active" ? toCalling(deps, found.application, found.apiKeyId) : null;
    byKeyHash.set(keyHash, app, deps.config.applications.cacheTtlMs, now);
  }
  if (!app) throw invalidApiKey();
  const keyId = app.apiKeyId;
  if (keyId && touched.get(keyId, now) === undefined) {
    touched.set(keyId, true, 60_000, now);
    deps.defer(() => touchApiKey(deps.db, keyId, new Date(now)));
  }
  return app;
}

/** A browser request from `origin` under `app`: refused unless the origin is one of the application's. */
export function assertOriginAllowed(app: CallingApplication, origin: string | undefined): void {
  // The platform keeps the seed-000 behaviour: CORS decides what a browser may read.
  if (app.builtin || origin === undefined) return;
  if (!app.allowedOrigins.includes(origin)) throw originNotAllowed();
}

/**
 * Whether a CORS preflight from `origin` may go ahead: preflights carry no API key, so any active
 * application's origin (or CORS_ALLOWED_ORIGINS) passes; the request itself is then checked
 * against its own application.
 */
export async function preflightOriginAllowed(deps: Deps, origin: string): Promise<boolean> {
  if (deps.config.http.corsAllowedOrigins.includes(origin)) return true;
  const now = deps.clock.now().getTime();
  let origins = preflightOrigins.get("all", now);
  if (!origins) {
    origins = activeApplicationOrigins(deps.db).then((list) => new Set(list));
    origins.catch(() => preflightOrigins.clear());
    preflightOrigins.set("all", origins, deps.config.applications.cacheTtlMs, now);
  }
  return (await origins).has(origin);
}

/**
 * The audience tokens issued under application `clientId` carry, and whether it is active (cached
 * like keys). The platform needs no lookup.
 */
export async function applicationAudience(deps: Deps, clientId: string): Promise<{ audience: string; active: boolean } | null> {
  if (clientId === PLATFORM_APPLICATION_ID) return { audience: deps.config.jwt.audience, active: true };
  const now = deps.clock.now().getTime();
  let found = audiences.get(clientId, now);
  if (found === undefined) {
    found = /^[0-9a-f-]{36}$/i.test(clientId) ? await findApplicationAudience(deps.db, clientId) : null;
    audiences.set(clientId, found, deps.config.applications.cacheTtlMs, now);
  }
  return found ? { audience: found.audience ?? deps.config.jwt.audience, active: found.status === "active" } : null;
}
