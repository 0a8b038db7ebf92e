// A user's own sessions: list them (marking the current one) and end one of them. Both check the
// caller's own session against Postgres in the statement they run anyway: the Bearer check's Redis
// markers may be missing (not written, or not readable), and a revoked token must not act.
import { writeMarkers } from "../../cache/revocation";
import type { Deps } from "../../deps";
import { errors } from "../../http/errors";
import { listActiveSessions, revokeSession, type SessionView } from "../../stores/sessions";
import { loadProfile } from "../../stores/users";
import { assertCurrent, tokenRevoked, type Principal } from "./bearer";
import type { RequestMeta } from "./common";

export async function listSessions(deps: Deps, principal: Principal): Promise<(SessionView & { current: boolean })[]> {
  const [, sessions] = await Promise.all([principal.markers, listActiveSessions(deps.db, principal.userId, deps.clock.now())]);
  // The caller's session is among the live ones exactly when it is current: not revoked, not
  // expired, of the user's token version (which its tokens carry), and the user active.
  if (!sessions.some((s) => s.id === principal.sessionId)) throw tokenRevoked();
  return sessions.map((s) => ({ ...s, current: s.id === principal.sessionId }));
}

/** Ends one of the caller's own sessions; another user's (or an unknown or ended) session is 404. */
export async function endSession(deps: Deps, principal: Principal, sessionId: string, meta: RequestMeta): Promise<void> {
  const now = deps.clock.now();
  const result = await revokeSession(deps.db, {
    sessionId,
    userId: principal.userId,
    reason: "user_revoked",
    now,
    audit: { type: "session.revoked", actorUserId: principal.userId, ip: meta.ip, userAgent: meta.userAgent, metadata: {}, at: now },
    actingSession: principal.acting,
  });
  if (!result.revoked) {
    // Nothing ended: no such session of the caller's (404), or the caller's own token is revoked (401).
    assertCurrent(principal, await loadProfile(deps.db, principal.userId, principal.acting, now));
    throw errors.notFound("No such session");
  }
  await writeMarkers(deps.redis, deps.config.jwt.accessTokenTtlMs, { revokedSessionIds: [sessionId] });
}
