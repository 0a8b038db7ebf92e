// A user's own sessions: list them (marking the current one) and end one of them.
import { writeMarkers } from "../../cache/revocation";
import type { Deps } from "../../deps";
import { errors } from "../../http/errors";
import { listActiveSessions, revokeSession, type SessionView } from "../../stores/sessions";
import type { Principal } from "./bearer";
import type { RequestMeta } from "./common";

export async function listSessions(deps: Deps, principal: Principal): Promise<(SessionView & { current: boolean })[]> {
  const sessions = await listActiveSessions(deps.db, principal.userId, deps.clock.now());
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
  });
  if (!result.revoked) throw errors.notFound("No such session");
  await writeMarkers(deps.redis, deps.config.jwt.accessTokenTtlMs, { revokedSessionIds: [sessionId] });
}
