// Refresh-token rotation. Budget: 1 SQL round trip, no Redis (reuse detection adds one of each).
//
// The presented secret S derives its successor S' = HMAC(server key, S); the rotation statement
// swaps hash(S) for hash(S') only if hash(S) is current. So:
//   - rotated: S' is the new refresh token;
//   - lost a concurrent race (hash(S) was current when the statement began, another request
//     rotated first): the winner stored hash(S'), the same successor; answer S' too;
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
import { revokeSession, rotateRefresh } from "../../stores/sessions";
import { issueTokens, type IssuedTokens, type RequestMeta } from "./common";

export const invalidRefreshToken = () => new AppError(401, "invalid_refresh_token", "The refresh token is invalid");

export async function refresh(deps: Deps, presented: string, meta: RequestMeta): Promise<IssuedTokens> {
  const token = parseRefreshToken(presented);
  if (!token) throw invalidRefreshToken();
  const keys = await deps.keys();
  const successor = await successorSecret(keys.refreshKey, token);
  const [presentedHash, nextHash] = await Promise.all([sha256(token.secret), sha256(successor)]);
  const now = deps.clock.now();

  const outcome = await rotateRefresh(deps.db, { sessionId: token.sessionId, presentedHash, nextHash, now });
  if (!outcome) throw invalidRefreshToken();

  const issue = () =>
    issueTokens(
      deps,
      { userId: outcome.userId, email: outcome.email, globalRole: outcome.globalRole, tokenVersion: outcome.tokenVersion },
      { sessionId: outcome.sessionId, refreshSecret: successor, expiresAt: outcome.expiresAt },
    );

  if (outcome.rotated) return issue();

  // Nothing rotated: say why, most definitive reason first.
  if (outcome.revokedAt) throw new AppError(401, "session_revoked", "This session has ended; sign in again");
  if (outcome.expiresAt.getTime() <= now.getTime()) throw new AppError(401, "refresh_token_expired", "The refresh token has expired; sign in again");
  if (!outcome.isActive || outcome.approvalStatus !== "APPROVED") throw new AppError(401, "account_inactive", "This account cannot sign in");
  if (outcome.sessionTokenVersion !== outcome.tokenVersion) throw new AppError(401, "session_revoked", "This session has ended; sign in again");

  // A concurrent rotation with this very token won: it stored the same successor.
  if (outcome.refreshHash === presentedHash) return issue();

  if (outcome.previousRefreshHash === presentedHash) {
    const withinGrace = outcome.rotatedAt !== null && now.getTime() - outcome.rotatedAt.getTime() <= deps.config.refreshReuseGraceMs;
    if (withinGrace && outcome.refreshHash === nextHash) return issue();
    await revokeForReuse(deps, outcome.sessionId, outcome.userId, meta, withinGrace ? "successor_already_rotated" : "after_grace_window");
    throw reused();
  }

  if (await isEarlierGeneration(keys.refreshKey, successor, nextHash, outcome)) {
    await revokeForReuse(deps, outcome.sessionId, outcome.userId, meta, "earlier_generation");
    throw reused();
  }

  // Not a secret of this family (forged or mistyped): refuse, without ending the session on the
  // strength of a guess.
  throw invalidRefreshToken();
}

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
