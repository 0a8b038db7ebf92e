// Revocation markers in Redis: they make a revoked session or a bumped token version visible at
// once to every Bearer check, without a SQL round trip. Postgres stays the source of truth; a
// marker only needs to live as long as an access token can (ACCESS_TOKEN_TTL), after which the
// tokens it guards have expired anyway.
import type { Redis } from "@upstash/redis/cloudflare";
import { describeError, log } from "../runtime/log";

const sessionKey = (sessionId: string) => `auth:revoked-session:${sessionId}`;
const tokenVersionKey = (userId: string) => `auth:min-token-version:${userId}`;
const revokedJtiKey = (jti: string) => `auth:revoked-jti:${jti}`;

export interface Markers {
  sessionRevoked: boolean;
  /** This access token (by jti) was revoked on its own (/oauth/revoke). */
  tokenRevoked: boolean;
  /** Tokens with a lower `tv` than this are revoked. */
  minTokenVersion: number | null;
}

/** One round trip (MGET). Throws when Redis is unreachable; the caller decides what that means. */
export async function readMarkers(redis: Redis, sessionId: string, userId: string, jti: string): Promise<Markers> {
  const [revoked, minVersion, tokenRevoked] = await redis.mget<[string | null, number | string | null, string | null]>(
    sessionKey(sessionId),
    tokenVersionKey(userId),
    revokedJtiKey(jti),
  );
  return { sessionRevoked: revoked !== null, tokenRevoked: tokenRevoked !== null, minTokenVersion: minVersion === null ? null : Number(minVersion) };
}

/**
 * Writes markers after the database change succeeded. A failure is logged and swallowed: the
 * change itself stands, and routes that read current state from Postgres still see it.
 */
export async function writeMarkers(
  redis: Redis,
  ttlMs: number,
  marks: { revokedSessionIds?: string[]; tokenVersion?: { userId: string; minimum: number } },
): Promise<void> {
  const ttl = Math.max(1, Math.ceil(ttlMs / 1000));
  const sessions = marks.revokedSessionIds ?? [];
  if (sessions.length === 0 && !marks.tokenVersion) return;
  try {
    const p = redis.pipeline();
    for (const id of sessions) p.set(sessionKey(id), "1", { ex: ttl });
    if (marks.tokenVersion) p.set(tokenVersionKey(marks.tokenVersion.userId), String(marks.tokenVersion.minimum), { ex: ttl });
    await p.exec();
  } catch (err) {
    log({ level: "warn", msg: "revocation marker write failed", sessions: sessions.length, ...describeError(err, { stack: false }) });
  }
}

/**
 * Marks one access token (by jti) as revoked (RFC 7009 /oauth/revoke) until it would have expired
 * anyway. Best-effort like writeMarkers: revoked_access_tokens in Postgres is the source of truth.
 */
export async function writeRevokedJti(redis: Redis, jti: string, expiresAt: Date, now: Date): Promise<void> {
  const ttl = Math.max(1, Math.ceil((expiresAt.getTime() - now.getTime()) / 1000));
  try {
    await redis.set(revokedJtiKey(jti), "1", { ex: ttl });
  } catch (err) {
    log({ level: "warn", msg: "revoked-jti marker write failed", ...describeError(err, { stack: false }) });
  }
}
