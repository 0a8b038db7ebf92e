// Bearer access tokens on this service's own routes: the signature and claims first (no I/O),
// then the Redis revocation markers (one round trip), which go out at once and are awaited
// alongside the route's own SQL statement (`principal.markers`), so the check adds no sequential
// wait. Routes read current state from Postgres, which stays the source of truth; when Redis
// cannot be reached the markers are skipped (logged), and every route checks the session in SQL.
import { AccessTokenError, audienceMatches, verifyAccessToken, type AccessClaims } from "../../crypto/access-token";
import { PLATFORM_APPLICATION_ID } from "../../db/schema";
import { applicationAudience } from "../applications/resolve";
import { readMarkers } from "../../cache/revocation";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { describeError, log } from "../../runtime/log";
import type { ActingSession } from "../../stores/sessions";

export interface Principal {
  userId: string;
  sessionId: string;
  email: string;
  globalRole: AccessClaims["globalRole"];
  tokenVersion: number;
  /** The application the token's session belongs to. */
  clientId: string;
  /** The session, token version and token id, for statements that act only while they are live. */
  acting: ActingSession;
  claims: AccessClaims;
  /**
   * The revocation markers' verdict: rejects with 401 token_revoked when a marker says so,
   * resolves otherwise (also when Redis is unreachable). Await it together with the route's SQL.
   */
  markers: Promise<void>;
}

/** The markers for these claims, read once; a Redis failure resolves (Postgres decides then). */
function checkMarkers(deps: Deps, claims: AccessClaims): Promise<void> {
  return readMarkers(deps.redis, claims.sid, claims.sub, claims.jti).then(
    (m) => {
      if (m.sessionRevoked || m.tokenRevoked || (m.minTokenVersion !== null && claims.tv < m.minTokenVersion)) throw tokenRevoked();
    },
    (err) => {
      log({ level: "warn", msg: "revocation markers unavailable; relying on Postgres", ...describeError(err, { stack: false }) });
    },
  );
}

export function invalidToken(message = "The access token is invalid"): AppError {
  return new AppError(401, "invalid_token", message, { headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' } });
}

export function tokenRevoked(): AppError {
  return new AppError(401, "token_revoked", "The access token has been revoked", {
    headers: { "WWW-Authenticate": 'Bearer error="invalid_token", error_description="revoked"' },
  });
}

export function parseBearer(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  return m ? m[1] : null;
}

export async function authenticateBearer(deps: Deps, authorization: string | undefined): Promise<Principal> {
  const token = parseBearer(authorization);
  if (!token) {
    throw new AppError(401, "unauthorized", "Send an access token as Authorization: Bearer <token>", {
      headers: { "WWW-Authenticate": "Bearer" },
    });
  }
  let claims: AccessClaims;
  try {
    claims = await verifyAccessToken(
      await deps.keys(),
      { issuer: deps.config.jwt.issuer, ttlMs: deps.config.jwt.accessTokenTtlMs },
      token,
      deps.clock.now(),
    );
  } catch (err) {
    if (err instanceof AccessTokenError && err.reason === "token_expired") {
      throw new AppError(401, "token_expired", "The access token has expired", {
        headers: { "WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"' },
      });
    }
    throw invalidToken();
  }
  // The audience is the one of the application the token was issued under (the platform's is
  // JWT_AUDIENCE); a disabled application's tokens are refused.
  const clientId = claims.client_id ?? PLATFORM_APPLICATION_ID;
  const application = await applicationAudience(deps, clientId);
  if (!application || !application.active || !audienceMatches(claims.aud, application.audience)) throw invalidToken();
  const markers = checkMarkers(deps, claims);
  // Awaited by the route (and again by the bearer middleware); never an unhandled rejection.
  markers.catch(() => undefined);
  return {
    userId: claims.sub,
    sessionId: claims.sid,
    email: claims.email,
    globalRole: claims.globalRole,
    tokenVersion: claims.tv,
    clientId,
    acting: { sessionId: claims.sid, tokenVersion: claims.tv, jti: claims.jti },
    claims,
    markers,
  };
}

/** A principal's session and token version checked against Postgres (the source of truth). */
export function assertCurrent(principal: Principal, state: { sessionActive: boolean; tokenVersion: number; isActive: boolean } | null): void {
  if (!state || !state.sessionActive || state.tokenVersion !== principal.tokenVersion || !state.isActive) throw tokenRevoked();
}
