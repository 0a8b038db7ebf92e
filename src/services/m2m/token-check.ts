// The check introspection and ValidateToken share: the signature and claims (no I/O), then, in the
// caller-authenticating statement, whether the token is live now. Only tokens of the caller's own
// application are reported (RFC 7662 section 4: a caller learns only about tokens it may); any
// other is "not active", never "belongs to someone else".
import { IssuedTokenError, verifyIssuedToken, type IssuedTokenClaims } from "../../crypto/service-token";
import type { Deps } from "../../deps";
import type { TokenQuery } from "../../stores/token-state";
import type { RequestMeta } from "../auth/common";
import { authenticateCaller, type AuthenticatedCaller, type CallerCredentials } from "./client-auth";

export type TokenVerdict =
  | { valid: true; claims: IssuedTokenClaims; email: string | null; applicationId: string }
  | { valid: false; error: "invalid_token" | "token_expired" | "token_revoked" };

export function maxAccessTtlMs(deps: Deps): number {
  return Math.max(deps.config.jwt.accessTokenTtlMs, deps.config.jwt.serviceTokenTtlMs);
}

/** Signature and claims of any access token this service issues; null with the reason when not valid. */
export async function verifyToken(deps: Deps, token: string): Promise<{ claims: IssuedTokenClaims } | { error: "invalid_token" | "token_expired" }> {
  if (token.length === 0 || token.length > 8192) return { error: "invalid_token" };
  try {
    const claims = await verifyIssuedToken(
      await deps.keys(),
      { issuer: deps.config.jwt.issuer, maxTtlMs: maxAccessTtlMs(deps) },
      token,
      deps.clock.now(),
    );
    return { claims };
  } catch (err) {
    if (err instanceof IssuedTokenError) return { error: err.reason };
    throw err;
  }
}

export function tokenQuery(claims: IssuedTokenClaims): TokenQuery {
  return claims.kind === "user"
    ? { kind: "user", userId: claims.sub, sessionId: claims.sid, tokenVersion: claims.tv, jti: claims.jti, clientId: claims.clientId }
    : { kind: "service", serviceAccountId: claims.sub, applicationId: claims.clientId, secretId: claims.secretId, jti: claims.jti };
}

/** Authenticates the caller and judges the token: one SQL statement, one Redis round trip (the limit peek). */
export async function checkTokenForCaller(
  deps: Deps,
  callerCredentials: CallerCredentials,
  token: string,
  meta: RequestMeta,
  options: { route: string; onFailure: () => Error },
): Promise<{ caller: AuthenticatedCaller; verdict: TokenVerdict }> {
  const verified = await verifyToken(deps, token);
  const claims = "claims" in verified ? verified.claims : null;
  const { caller, token: state } = await authenticateCaller(deps, callerCredentials, claims ? tokenQuery(claims) : null, meta, options);
  if (!claims) return { caller, verdict: { valid: false, error: "error" in verified ? verified.error : "invalid_token" } };
  // Another application's token: not reported, whatever its state.
  if (!state || state.applicationId !== caller.applicationId) return { caller, verdict: { valid: false, error: "invalid_token" } };
  if (!state.live) return { caller, verdict: { valid: false, error: "token_revoked" } };
  return { caller, verdict: { valid: true, claims, email: state.email, applicationId: state.applicationId } };
}
