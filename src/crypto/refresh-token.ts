// Opaque refresh tokens: "<session id>.<secret>". The session id is the lookup key; the secret
// (256 random bits, base64url) is only stored as its SHA-256. A rotation's successor secret is
// derived from the presented one with HMAC under a server key, so a retry of the same token within
// the grace window gets the very same successor without any raw secret being stored.
import { hmacSha256 } from "./random";

export interface RefreshToken {
  sessionId: string;
  secret: string;
}

const FORMAT = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

export function formatRefreshToken(t: RefreshToken): string {
  return `${t.sessionId}.${t.secret}`;
}

export function parseRefreshToken(token: string): RefreshToken | null {
  const m = FORMAT.exec(token);
  return m ? { sessionId: m[1], secret: m[2] } : null;
}

export function successorSecret(key: CryptoKey, t: RefreshToken): Promise<string> {
  return hmacSha256(key, `refresh-successor:v1:${t.sessionId}:${t.secret}`);
}
