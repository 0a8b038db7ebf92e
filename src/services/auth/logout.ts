// Logout (one session, by refresh token; idempotent) and logout-all (every session, and every
// outstanding access token through the token version and Redis markers).
import { writeMarkers } from "../../cache/revocation";
import { parseRefreshToken } from "../../crypto/refresh-token";
import { sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { revokeAllSessions, revokeByRefresh } from "../../stores/sessions";
import type { CallingApplication } from "../applications/resolve";
import { tokenRevoked, type Principal } from "./bearer";
import type { RequestMeta } from "./common";
import { OtherApplicationSession } from "./refresh";

/**
 * Succeeds for an unknown, malformed or already revoked token (it is simply already logged out);
 * a session of another application than the caller's is refused (401) and left as it is.
 */
export async function logout(deps: Deps, application: CallingApplication, presented: string | null, meta: RequestMeta): Promise<{ revoked: boolean }> {
  const token = presented ? parseRefreshToken(presented) : null;
  if (!token) return { revoked: false };
  const now = deps.clock.now();
  const result = await revokeByRefresh(deps.db, {
    sessionId: token.sessionId,
    applicationId: application.id,
    presentedHash: await sha256(token.secret),
    now,
    audit: { type: "logout", ip: meta.ip, userAgent: meta.userAgent, metadata: {}, at: now },
  });
  if (result.otherApplication) throw new OtherApplicationSession();
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
    actingSession: principal.acting,
  });
  if (!result) throw tokenRevoked();
  await writeMarkers(deps.redis, deps.config.jwt.accessTokenTtlMs, {
    revokedSessionIds: result.revokedSessionIds,
    tokenVersion: { userId: principal.userId, minimum: result.tokenVersion },
  });
  return { revokedSessions: result.revokedSessionIds.length };
}
