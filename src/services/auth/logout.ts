// Logout (one session, by refresh token; idempotent) and logout-all (every session, and every
// outstanding access token through the token version and Redis markers).
import { writeMarkers } from "../../cache/revocation";
import { parseRefreshToken } from "../../crypto/refresh-token";
import { sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { revokeAllSessions, revokeByRefresh } from "../../stores/sessions";
import { tokenRevoked, type Principal } from "./bearer";
import type { RequestMeta } from "./common";

/** Always succeeds: an unknown, malformed or already revoked token is simply already logged out. */
export async function logout(deps: Deps, presented: string | null, meta: RequestMeta): Promise<{ revoked: boolean }> {
  const token = presented ? parseRefreshToken(presented) : null;
  if (!token) return { revoked: false };
  const now = deps.clock.now();
  const result = await revokeByRefresh(deps.db, {
    sessionId: token.sessionId,
    presentedHash: await sha256(token.secret),
    now,
    audit: { type: "logout", ip: meta.ip, userAgent: meta.userAgent, metadata: {}, at: now },
  });
  if (result.revoked) await writeMarkers(deps.redis, deps.config.jwt.accessTokenTtlMs, { revokedSessionIds: [token.sessionId] });
  return { revoked: result.revoked };
}

/**
 * Ends every session of the user and makes every outstanding access token fail at once. Only from
 * a session that is still live (checked in the same statement, Postgres being the source of truth
 * whatever the Redis markers said): a revoked token gets 401 token_revoked and changes nothing.
 */
export async function logoutAll(deps: Deps, principal: Principal, meta: RequestMeta, reason = "logout_all"): Promise<{ revokedSessions: number }> {
  const now = deps.clock.now();
  const result = await revokeAllSessions(deps.db, {
    userId: principal.userId,
    reason,
    now,
    audit: { type: "logout.all", actorUserId: principal.userId, targetUserId: principal.userId, ip: meta.ip, userAgent: meta.userAgent, metadata: {}, at: now },
    actingSession: { sessionId: principal.sessionId, tokenVersion: principal.tokenVersion },
  });
  if (!result) throw tokenRevoked();
  await writeMarkers(deps.redis, deps.config.jwt.accessTokenTtlMs, {
    revokedSessionIds: result.revokedSessionIds,
    tokenVersion: { userId: principal.userId, minimum: result.tokenVersion },
  });
  return { revokedSessions: result.revokedSessionIds.length };
}
