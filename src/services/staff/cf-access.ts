// Cloudflare Access as a way in to /internal/*: the Cf-Access-Jwt-Assertion header Access adds to
// every request it lets through. The JWT is checked against the team's own certs (never against
// this service's key set): RS256 only, `iss` = https://<team domain>, `aud` contains CF_ACCESS_AUD,
// exp/nbf with a small skew. Its `email` maps to a user row, which must be active, approved and
// platform staff (Access admits people; this service decides what they may do).
//
// The certs ({keys: [JWK...]} at CF_ACCESS_CERTS_URL, by default
// https://<team>/cdn-cgi/access/certs) are cached per isolate for CERTS_TTL_MS and refetched early
// when an assertion names a kid they do not hold, at most once per REFETCH_INTERVAL_MS, so a flood
// of made-up kids costs one fetch per interval, not one per request. Only settled data is cached
// (no promise is shared between requests, which workerd does not allow for I/O).
import { decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify, type JWK } from "jose";
import { CLOCK_SKEW_SECONDS } from "../../crypto/access-token";
import type { Deps } from "../../deps";
import { AppError, errors } from "../../http/errors";
import { describeError, log } from "../../runtime/log";
import { loadStaffByEmail } from "../../stores/staff";
import { forbidden, isPlatformStaff, type StaffPrincipal } from "./principal";

export const CERTS_TTL_MS = 10 * 60_000;
/** How long stale certs may still be used when a refresh fails (Access keeps old keys for weeks). */
export const CERTS_STALE_IF_ERROR_MS = 60 * 60_000;
export const REFETCH_INTERVAL_MS = 30_000;
/** Assertions are a few hundred bytes to a couple of KB; anything far larger is not one. */
const MAX_ASSERTION_LENGTH = 16_384;
const MAX_CERTS_BYTES = 256 * 1024;

interface CertsEntry {
  keys: Map<string, CryptoKey>;
  fetchedAt: number;
  /** When a fetch was last started (successful or not): the refetch throttle. */
  lastAttempt: number;
}

const certsCache = new Map<string, CertsEntry>();

/** For tests: forget every cached key set. */
export function clearAccessCertsCache(): void {
  certsCache.clear();
}

export function invalidAccessToken(message = "The Cloudflare Access assertion is invalid"): AppError {
  return new AppError(401, "invalid_access_token", message);
}

function certsUnavailable(): AppError {
  return errors.dependencyUnavailable("cloudflare-access");
}

async function fetchCerts(url: string, timeoutMs: number): Promise<Map<string, CryptoKey>> {
  let body: unknown;
  try {
    const res = await fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`certs answered ${res.status}`);
    }
    const text = await res.text();
    if (text.length > MAX_CERTS_BYTES) throw new Error("certs document too large");
    body = JSON.parse(text);
  } catch (err) {
    log({ level: "warn", msg: "Cloudflare Access certs unavailable", ...describeError(err, { stack: false }) });
    throw certsUnavailable();
  }
  const jwks = (body as { keys?: unknown })?.keys;
  if (!Array.isArray(jwks)) {
    log({ level: "warn", msg: "Cloudflare Access certs document has no keys array" });
    throw certsUnavailable();
  }
  const keys = new Map<string, CryptoKey>();
  for (const jwk of jwks as JWK[]) {
    if (!jwk || typeof jwk !== "object" || jwk.kty !== "RSA" || typeof jwk.kid !== "string" || !jwk.kid) continue;
    if (jwk.alg !== undefined && jwk.alg !== "RS256") continue;
    if (jwk.use !== undefined && jwk.use !== "sig") continue;
    try {
      // Public members only: a certs document must never make us hold (or use) private parts.
      const key = await importJWK({ kty: "RSA", n: jwk.n, e: jwk.e }, "RS256");
      if (key instanceof Uint8Array) continue;
      keys.set(jwk.kid, key as CryptoKey);
    } catch {
      // A malformed entry is skipped; the others still count.
    }
  }
  return keys;
}

/** Usable: fetched once, and not older than the TTL plus the stale-if-error allowance. */
function usable(entry: CertsEntry | undefined, now: number): entry is CertsEntry {
  return entry !== undefined && entry.fetchedAt > 0 && now - entry.fetchedAt < CERTS_TTL_MS + CERTS_STALE_IF_ERROR_MS;
}

/**
 * Fetches the certs now. On failure a usable older set is kept (stale keys beat no keys: an outage
 * of the certs URL alone should not lock staff out); without one the failure stands (503). Either
 * way the attempt is recorded, which is what throttles the next one.
 */
async function refreshCerts(deps: Deps, certsUrl: string, now: number): Promise<CertsEntry> {
  const previous = certsCache.get(certsUrl);
  if (previous) previous.lastAttempt = now;
  else certsCache.set(certsUrl, { keys: new Map(), fetchedAt: 0, lastAttempt: now });
  try {
    const keys = await fetchCerts(certsUrl, deps.config.http.dependencyTimeoutMs);
    const fresh: CertsEntry = { keys, fetchedAt: now, lastAttempt: now };
    certsCache.set(certsUrl, fresh);
    return fresh;
  } catch (err) {
    if (usable(previous, now)) return previous;
    throw err;
  }
}

/** The team's key for `kid`, or null when the certs (fresh, or just refetched) do not hold it. */
async function accessKey(deps: Deps, certsUrl: string, kid: string): Promise<CryptoKey | null> {
  const now = Date.now();
  let entry = certsCache.get(certsUrl);
  const fresh = entry !== undefined && entry.fetchedAt > 0 && now - entry.fetchedAt < CERTS_TTL_MS;
  if (!fresh) {
    // An attempt this recent that left the set stale failed: do not retry yet.
    if (entry && now - entry.lastAttempt < REFETCH_INTERVAL_MS) {
      if (!usable(entry, now)) throw certsUnavailable();
    } else {
      entry = await refreshCerts(deps, certsUrl, now);
    }
  }
  const found = entry!.keys.get(kid);
  if (found) return found;
  // Unknown kid: Access may have rotated its keys. Refetch, at most once per interval.
  if (now - entry!.lastAttempt < REFETCH_INTERVAL_MS) return null;
  entry = await refreshCerts(deps, certsUrl, now);
  return entry.keys.get(kid) ?? null;
}

function emailClaim(payload: Record<string, unknown>): string | null {
  const email = payload.email;
  return typeof email === "string" && email.length > 0 && email.length <= 254 && email.includes("@") ? email : null;
}

/**
 * The staff principal of a Cloudflare Access request. 401 invalid_access_token for anything wrong
 * with the assertion; 403 forbidden when it is genuine but names no usable platform-staff account;
 * 503 dependency_unavailable when the team's certs cannot be had.
 */
export async function accessStaff(deps: Deps, assertion: string): Promise<StaffPrincipal> {
  const settings = deps.config.cfAccess;
  if (!settings) throw invalidAccessToken("Cloudflare Access is not configured");
  const token = assertion.trim();
  if (!token || token.length > MAX_ASSERTION_LENGTH) throw invalidAccessToken();

  // The header is read before any key lookup, so alg none / HS256 / kid-less tokens never cost a
  // certs fetch. jwtVerify checks the algorithm again.
  let kid: string;
  try {
    const header = decodeProtectedHeader(token);
    if (header.alg !== "RS256" || typeof header.kid !== "string" || header.kid.length === 0 || header.kid.length > 256) {
      throw invalidAccessToken();
    }
    kid = header.kid;
  } catch {
    throw invalidAccessToken();
  }

  const key = await accessKey(deps, settings.certsUrl, kid);
  if (!key) throw invalidAccessToken("The Cloudflare Access assertion is signed with an unknown key");

  let payload: Record<string, unknown>;
  try {
    const verified = await jwtVerify(token, key, {
      algorithms: ["RS256"],
      issuer: settings.issuer,
      audience: settings.audience,
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: deps.clock.now(),
      requiredClaims: ["exp"],
    });
    payload = verified.payload as Record<string, unknown>;
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw invalidAccessToken("The Cloudflare Access assertion has expired");
    throw invalidAccessToken();
  }

  // Service-token assertions carry a common_name and no email: they are not people, not staff.
  const email = emailClaim(payload);
  if (!email) throw forbidden("This Cloudflare Access identity has no email; only staff accounts may use /internal/*");

  const state = await loadStaffByEmail(deps.db, email);
  if (!state) throw forbidden("There is no account for this Access identity");
  if (!state.isActive || state.approvalStatus !== "APPROVED") throw forbidden("The account for this Access identity is not active");
  if (!isPlatformStaff(state.globalRole)) throw forbidden("Cloudflare Access is for platform staff; this account has no platform role");
  return { via: "cloudflare-access", userId: state.id, email: state.email, globalRole: state.globalRole, sessionId: null };
}
