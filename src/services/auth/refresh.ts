// Refresh-token rotation. Budget: 1 SQL round trip, no Redis (reuse detection adds one of each;
// losing a race against a concurrent writer of the same session adds one SQL round trip).
//
// The presented secret S derives its successor S' = HMAC(server key, S); the rotation statement
// swaps hash(S) for hash(S') only if hash(S) is current. So:
//   - rotated: S' is the new refresh token;
//   - lost a concurrent race (hash(S) was current when the statement began, but a concurrent
//     writer changed the row first): the statement cannot tell a winning refresh with S (which
//     stored hash(S'), the same successor) from a revocation, so the state is read again with a
//     fresh statement and judged by the rules here; a winning refresh then makes it the next case;
//   - S is the secret rotated away last, within REFRESH_REUSE_GRACE, and hash(S') is still current:
//     a retry (another tab, a lost answer); answer S' with a fresh access token;
//   - S was rotated away earlier than that, or its successor has rotated since, or S is any
//     earlier generation of this family (provable by deriving forward S -> S' -> S'' ... until a
//     stored hash matches, which nobody without the server key can fake): reuse. The whole
//     session is revoked, `refresh.reuse_detected` is audited, 401 refresh_token_reused.
// A family never has two live refresh tokens, and nothing raw is stored.
import { writeMarkers } from "../../cache/revocation";
import { parseRefreshToken, successorSecret } from "../../crypto/refresh-token";
import { sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { revokeSession, rotateRefresh, type RotationOutcome } from "../../stores/sessions";
import type { CallingApplication } from "../applications/resolve";
import { organizationClaimsFromScope } from "../organizations/token";
import { issueTokens, type IssuedTokens, type RequestMeta } from "./common";

export const invalidRefreshToken = () => new AppError(401, "invalid_refresh_token", "The refresh token is invalid");

/**
 * A refresh token of a session of another application than the caller's: answered exactly like an
 * invalid token, but the refresh cookie (shared by every application a browser uses on this
 * service's domain) is kept, since the session is alive for its own application.
 */
export class OtherApplicationSession extends AppError {
  constructor() {
    super(401, "invalid_refresh_token", "The refresh token is invalid");
  }
}

/**
 * Rotates under `application`: a session of another application (or, without a key, a
 * non-platform session) is refused as invalid_refresh_token and nothing changes; a disabled
 * application's sessions stop refreshing.
 */
export async function refresh(deps: Deps, application: CallingApplication, presented: string, meta: RequestMeta): Promise<IssuedTokens> {
  const token = parseRefreshToken(presented);
  if (!token) throw invalidRefreshToken();
  const keys = await deps.keys();
  const successor = await successorSecret(keys.refreshKey, token);
  const [presentedHash, nextHash] = await Promise.all([sha256(token.secret), sha256(successor)]);
  const now = deps.clock.now();
  // The access token's id and expiry, known before the statement: an organization-scoped session
  // records the token it is about to get, so removing the member revokes it at once.
  const accessToken = {
    jti: crypto.randomUUID(),
    expiresAt: new Date((Math.floor(now.getTime() / 1000) + Math.floor(deps.config.jwt.accessTokenTtlMs / 1000)) * 1000),
  };

  let outcome: RotationOutcome | null = null;
  for (let attempt = 1; ; attempt++) {
    outcome = await rotateRefresh(deps.db, { sessionId: token.sessionId, applicationId: application.id, presentedHash, nextHash, now, accessToken });
    // Another application's session is not this caller's to rotate, end or even learn about.
    if (!outcome) throw invalidRefreshToken();
    if (outcome.applicationId !== application.id) throw new OtherApplicationSession();
    if (outcome.rotated) break;
    if (!outcome.applicationActive) throw new AppError(401, "application_disabled", "The application of this session is disabled");

    // Nothing rotated: say why, most definitive reason first.
    if (outcome.revokedAt) throw new AppError(401, "session_revoked", "This session has ended; sign in again");
    if (outcome.expiresAt.getTime() <= now.getTime()) throw new AppError(401, "refresh_token_expired", "The refresh token has expired; sign in again");
    if (!outcome.isActive || outcome.approvalStatus !== "APPROVED") throw new AppError(401, "account_inactive", "This account cannot sign in");
    if (outcome.sessionTokenVersion !== outcome.tokenVersion) throw new AppError(401, "session_revoked", "This session has ended; sign in again");
    if (outcome.refreshHash !== presentedHash) break;

    // The statement saw this token current and the session valid, yet did not rotate: the row
    // changed after the statement began (Postgres re-checks the update against the newest row
    // version once a concurrent writer commits). That writer may have been a refresh with this very
    // token, which stored the same successor, or a logout, logout-all, password reset or
    // deactivation, which ended the session: what the statement read cannot tell them apart. So
    // look again (a fresh statement, only in this race) rather than hand out a successor that may
    // belong to a session that no longer exists.
    if (attempt >= MAX_ROTATION_ATTEMPTS) throw invalidRefreshToken();
  }
  const found = outcome;

  const issue = () =>
    issueTokens(
      deps,
      { userId: found.userId, email: found.email, globalRole: found.globalRole, tokenVersion: found.tokenVersion, emailVerified: found.emailVerified },
      { sessionId: found.sessionId, refreshSecret: successor, expiresAt: found.expiresAt, proof: { amr: found.amr, authTime: found.authTime } },
      application,
      // Still a member: the organization scope carries on; removed: an unscoped token.
      { jti: accessToken.jti, claims: { ...organizationClaimsFromScope(found.organizationScope) } },
    );

  if (found.rotated) return issue();

  if (found.previousRefreshHash === presentedHash) {
    const withinGrace = found.rotatedAt !== null && now.getTime() - found.rotatedAt.getTime() <= deps.config.refreshReuseGraceMs;
    if (withinGrace && found.refreshHash === nextHash) return issue();
    await revokeForReuse(deps, found.sessionId, found.userId, meta, withinGrace ? "successor_already_rotated" : "after_grace_window");
    throw reused();
  }

  if (await isEarlierGeneration(keys.refreshKey, successor, nextHash, found)) {
    await revokeForReuse(deps, found.sessionId, found.userId, meta, "earlier_generation");
    throw reused();
  }

  // Not a secret of this family (forged or mistyped): refuse, without ending the session on the
  // strength of a guess.
  throw invalidRefreshToken();
}

/**
 * Statements run per refresh at most. A second one is only needed when a concurrent writer changed
 * the session under the first; a third only if yet another did so under the second.
 */
const MAX_ROTATION_ATTEMPTS = 3;

const reused = () => new AppError(401, "refresh_token_reused", "This refresh token was already used; the session has been ended for safety");

/** How far back a reused token is traced; older ones are refused without ending the session. */
const MAX_GENERATIONS_TRACED = 64;

/** True when deriving forward from the presented secret reaches one of the stored hashes. */
async function isEarlierGeneration(
  key: CryptoKey,
  successor: string,
  successorHash: string,
  outcome: { refreshHash: string; previousRefreshHash: string | null; generation: number; sessionId: string },
): Promise<boolean> {
  const known = new Set([outcome.refreshHash, outcome.previousRefreshHash].filter((h): h is string => h !== null));
  let secret = successor;
  let hash = successorHash;
  for (let step = 1; step <= Math.min(outcome.generation, MAX_GENERATIONS_TRACED); step++) {
    if (known.has(hash)) return true;
    secret = await successorSecret(key, { sessionId: outcome.sessionId, secret });
    hash = await sha256(secret);
  }
  return false;
}

async function revokeForReuse(deps: Deps, sessionId: string, userId: string, meta: RequestMeta, why: string): Promise<void> {
  const now = deps.clock.now();
  await revokeSession(deps.db, {
    sessionId,
    reason: "refresh_reuse",
    now,
    audit: {
      type: "refresh.reuse_detected",
      actorUserId: userId,
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { why },
      at: now,
    },
  });
  await writeMarkers(deps.redis, deps.config.jwt.accessTokenTtlMs, { revokedSessionIds: [sessionId] });
}
