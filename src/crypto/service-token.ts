// Service access tokens (OAuth client_credentials): RS256, typ at+jwt, signed with the service's
// current key like user access tokens, with `token_use: "service"`, `scope`, `client_id` (the
// application) and `secret_id` (the client secret that authenticated, so deleting that secret makes
// its tokens inactive). Also the signature-and-claims check that introspection, ValidateToken and
// revocation share: any access token this service issues (user or service), whatever its `aud`.
import type { JWTPayload } from "jose";
import { AccessTokenError, signToken, verifySignedToken } from "./access-token";
import type { KeySet } from "./keys";

export const SERVICE_TOKEN_USE = "service";

export interface ServiceTokenSubject {
  serviceAccountId: string;
  applicationId: string;
  secretId: string;
  scopes: string[];
  audience: string;
}

export async function signServiceToken(
  keys: KeySet,
  settings: { issuer: string; ttlMs: number },
  subject: ServiceTokenSubject,
  now: Date,
): Promise<{ token: string; expiresIn: number; jti: string; expiresAt: Date }> {
  return signToken(
    keys,
    { issuer: settings.issuer, audience: subject.audience, subject: subject.serviceAccountId, ttlMs: settings.ttlMs },
    { client_id: subject.applicationId, scope: subject.scopes.join(" "), token_use: SERVICE_TOKEN_USE, secret_id: subject.secretId },
    now,
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Common {
  jti: string;
  sub: string;
  iss: string;
  aud: string | string[];
  iat: number;
  exp: number;
  /** The application (null on user tokens issued before client_id was added). */
  clientId: string | null;
}

/** A user access token (no token_use): sub is the user, sid the session, tv the token version. */
export interface UserTokenClaims extends Common {
  kind: "user";
  sid: string;
  tv: number;
  email: string | null;
  scopes: string[];
}

/** A service access token (token_use "service"). */
export interface ServiceTokenClaims extends Common {
  kind: "service";
  clientId: string;
  secretId: string;
  scopes: string[];
}

export type IssuedTokenClaims = UserTokenClaims | ServiceTokenClaims;

/** Why a token is not valid before any state is looked at: expired, or anything else. */
export type TokenCheckFailure = "token_expired" | "invalid_token";

export class IssuedTokenError extends Error {
  constructor(readonly reason: TokenCheckFailure) {
    super(reason);
  }
}

function scopesOf(p: JWTPayload): string[] | null {
  if (p.scope === undefined) return [];
  if (typeof p.scope !== "string") return null;
  return p.scope.split(" ").filter(Boolean);
}

function classify(p: JWTPayload): IssuedTokenClaims | null {
  if (typeof p.sub !== "string" || !UUID.test(p.sub) || typeof p.jti !== "string" || p.jti.length > 200) return null;
  if (typeof p.iss !== "string" || typeof p.iat !== "number" || typeof p.exp !== "number") return null;
  if (!(typeof p.aud === "string" || (Array.isArray(p.aud) && p.aud.every((a) => typeof a === "string")))) return null;
  const clientId = p.client_id === undefined ? null : typeof p.client_id === "string" && UUID.test(p.client_id) ? p.client_id : undefined;
  if (clientId === undefined) return null;
  const scopes = scopesOf(p);
  if (scopes === null) return null;
  const common = { jti: p.jti, sub: p.sub, iss: p.iss, aud: p.aud as string | string[], iat: p.iat, exp: p.exp };
  if (p.token_use === SERVICE_TOKEN_USE) {
    if (clientId === null || typeof p.secret_id !== "string" || !UUID.test(p.secret_id)) return null;
    return { kind: "service", ...common, clientId, secretId: p.secret_id, scopes };
  }
  if (p.token_use !== undefined) return null;
  if (typeof p.sid !== "string" || !UUID.test(p.sid) || typeof p.tv !== "number" || !Number.isInteger(p.tv)) return null;
  return { kind: "user", ...common, clientId, sid: p.sid, tv: p.tv, email: typeof p.email === "string" ? p.email : null, scopes };
}

/**
 * Verifies an access token this service issued, user or service: RS256 pinned, typ at+jwt, our
 * issuer, a kid of our own key set, exp/nbf/iat with the usual skew and an age no older than the
 * longer of the two lifetimes. Any audience is accepted (applications have their own `aud`).
 */
export async function verifyIssuedToken(
  keys: KeySet,
  settings: { issuer: string; maxTtlMs: number },
  token: string,
  now: Date,
): Promise<IssuedTokenClaims> {
  let payload: JWTPayload;
  try {
    payload = await verifySignedToken(keys, { issuer: settings.issuer, maxAgeMs: settings.maxTtlMs }, token, now, ["sub", "jti", "iat", "exp", "aud"]);
  } catch (err) {
    if (err instanceof AccessTokenError) throw new IssuedTokenError(err.reason);
    throw err;
  }
  const claims = classify(payload);
  if (!claims) throw new IssuedTokenError("invalid_token");
  return claims;
}
