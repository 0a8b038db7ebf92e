// The machine routes (X-Internal-API-Key): end one session, end every session of a user, and read
// a user's context for support and other backends. Every change is audited with the actor label
// "internal-api-key" and made visible at once through the Redis revocation markers.
import { writeMarkers } from "../../cache/revocation";
import type { Deps } from "../../deps";
import { errors } from "../../http/errors";
import { revokeAllSessions, revokeSession } from "../../stores/sessions";
import { loadProfile, type UserProfile } from "../../stores/users";
import type { RequestMeta } from "../auth/common";

export const INTERNAL_API_KEY_ACTOR = "internal-api-key";

/** Ends a live session; an unknown or already ended one is 404. */
export async function revokeSessionByKey(deps: Deps, sessionId: string, meta: RequestMeta): Promise<{ sessionId: string; userId: string }> {
  const now = deps.clock.now();
  const result = await revokeSession(deps.db, {
    sessionId,
    reason: "internal_revoke",
    now,
    onlyLive: true,
    audit: { type: "session.revoked", actorUserId: null, actorLabel: INTERNAL_API_KEY_ACTOR, ip: meta.ip, userAgent: meta.userAgent, at: now },
  });
  if (!result.revoked) throw errors.notFound("No such live session");
  await writeMarkers(deps.redis, deps.config.jwt.accessTokenTtlMs, { revokedSessionIds: [sessionId] });
  return { sessionId, userId: result.userId! };
}

/** Ends every session of the user and makes every outstanding access token fail at once. */
export async function revokeAllByKey(deps: Deps, userId: string, meta: RequestMeta): Promise<{ revokedSessions: number; tokenVersion: number }> {
  const now = deps.clock.now();
  const result = await revokeAllSessions(deps.db, {
    userId,
    reason: "internal_revoke_all",
    now,
    audit: { type: "sessions.revoked_all", actorUserId: null, actorLabel: INTERNAL_API_KEY_ACTOR, ip: meta.ip, userAgent: meta.userAgent, at: now },
  });
  if (!result) throw errors.notFound("No such user");
  await writeMarkers(deps.redis, deps.config.jwt.accessTokenTtlMs, {
    revokedSessionIds: result.revokedSessionIds,
    tokenVersion: { userId, minimum: result.tokenVersion },
  });
  return { revokedSessions: result.revokedSessionIds.length, tokenVersion: result.tokenVersion };
}

/** The user as /auth/me shows it (active memberships), plus the token version; 404 when unknown. */
export async function userContext(deps: Deps, userId: string): Promise<UserProfile> {
  const profile = await loadProfile(deps.db, userId, null, deps.clock.now());
  if (!profile) throw errors.notFound("No such user");
  const { sessionActive: _sa, ...context } = profile;
  return context;
}
