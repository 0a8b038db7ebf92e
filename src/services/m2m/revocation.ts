// Token revocation (RFC 7009) for authenticated service accounts. A refresh token of a session of
// the caller's application ends that session (when it is the session's current refresh token); an
// access token of the caller's application is refused until it expires (its jti in
// revoked_access_tokens, plus a Redis marker for fast checks). Anything else, unknown, malformed,
// expired or another application's, changes nothing and is still 200 (RFC 7009 section 2.2).
import { writeMarkers, writeRevokedJti } from "../../cache/revocation";
import { sha256 } from "../../crypto/random";
import { parseRefreshToken } from "../../crypto/refresh-token";
import type { Deps } from "../../deps";
import { revokeAccessTokenJti, revokeSessionByRefresh } from "../../stores/token-state";
import type { RequestMeta } from "../auth/common";
import { authenticateCaller, type AuthenticatedCaller, type ClientCredentials } from "./client-auth";
import { oauthErrors } from "./errors";
import { verifyToken } from "./token-check";

export type TokenTypeHint = "access_token" | "refresh_token";

async function revokeRefresh(deps: Deps, caller: AuthenticatedCaller, token: string, meta: RequestMeta): Promise<boolean | null> {
  const parsed = parseRefreshToken(token);
  if (!parsed) return null;
  const now = deps.clock.now();
  const result = await revokeSessionByRefresh(deps.db, {
    sessionId: parsed.sessionId,
    presentedHash: await sha256(parsed.secret),
    applicationId: caller.applicationId,
    now,
    audit: {
      type: "oauth.token_revoked",
      actorLabel: caller.label,
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { tokenType: "refresh_token", applicationId: caller.applicationId },
      at: now,
    },
  });
  if (result.revoked) await writeMarkers(deps.redis, deps.config.jwt.accessTokenTtlMs, { revokedSessionIds: [parsed.sessionId] });
  return result.revoked;
}

async function revokeAccess(deps: Deps, caller: AuthenticatedCaller, token: string, meta: RequestMeta): Promise<boolean | null> {
  const verified = await verifyToken(deps, token);
  if (!("claims" in verified)) return null;
  const c = verified.claims;
  // A service token names its application; a user token's application is its session's (checked in SQL).
  if (c.kind === "service" && c.clientId !== caller.applicationId) return false;
  if (c.kind === "user" && c.clientId !== null && c.clientId !== caller.applicationId) return false;
  const now = deps.clock.now();
  const expiresAt = new Date(c.exp * 1000);
  const revoked = await revokeAccessTokenJti(deps.db, {
    jti: c.jti,
    expiresAt,
    applicationId: caller.applicationId,
    sessionId: c.kind === "user" ? c.sid : null,
    targetUserId: c.kind === "user" ? c.sub : null,
    now,
    audit: {
      type: "oauth.token_revoked",
      actorLabel: caller.label,
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { tokenType: "access_token", tokenUse: c.kind, jti: c.jti, sub: c.sub, applicationId: caller.applicationId },
      at: now,
    },
  });
  if (revoked) await writeRevokedJti(deps.redis, c.jti, expiresAt, now);
  return revoked;
}

/** Always resolves for an authenticated caller (an unknown token is simply not revoked). */
export async function revokeToken(
  deps: Deps,
  credentials: ClientCredentials,
  input: { token: string; hint?: TokenTypeHint },
  meta: RequestMeta,
): Promise<{ revoked: boolean }> {
  const { caller } = await authenticateCaller(deps, { kind: "client", credentials }, null, meta, {
    route: "/oauth/revoke",
    onFailure: oauthErrors.invalidClient,
  });
  // The hint only decides which kind is tried first (RFC 7009 section 2.1).
  const order = input.hint === "refresh_token" ? [revokeRefresh, revokeAccess] : [revokeAccess, revokeRefresh];
  for (const attempt of order) {
    const result = await attempt(deps, caller, input.token, meta);
    if (result !== null) return { revoked: result };
  }
  return { revoked: false };
}
