// RS256 access tokens (typ at+jwt). Verification pins the algorithm, checks typ, iss, aud, exp,
// nbf and iat with a small skew, ignores jku/x5u/jwk headers (the key is looked up by kid in our
// own key set only) and rejects unknown kids.
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from "jose";
import type { GlobalRole } from "../db/schema";
import type { KeySet } from "./keys";

export const ACCESS_TOKEN_TYPE = "at+jwt";
export const CLOCK_SKEW_SECONDS = 30;

export interface AccessClaims {
  sub: string;
  sid: string;
  jti: string;
  email: string;
  globalRole: GlobalRole;
  tv: number;
  iat: number;
  exp: number;
  aud: string | string[];
  /** The application the session belongs to (absent on tokens issued before applications existed). */
  client_id?: string;
}

export interface TokenSettings {
  issuer: string;
  /** The audience to sign with; verification checks the audience itself (see audienceMatches). */
  audience: string;
  ttlMs: number;
}

/**
 * Signs an access token of this service (RS256, typ at+jwt, the current signing key's kid):
 * `claims` plus the registered ones. Every kind of access token (user, organization-scoped,
 * service) is signed here.
 */
export async function signToken(
  keys: KeySet,
  token: { issuer: string; audience: string; subject: string; ttlMs: number; jti?: string },
  claims: Record<string, unknown>,
  now: Date,
): Promise<{ token: string; expiresIn: number; jti: string; expiresAt: Date }> {
  const iat = Math.floor(now.getTime() / 1000);
  const expiresIn = Math.floor(token.ttlMs / 1000);
  const jti = token.jti ?? crypto.randomUUID();
  const signed = await new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", typ: ACCESS_TOKEN_TYPE, kid: keys.signingKid })
    .setIssuer(token.issuer)
    .setAudience(token.audience)
    .setSubject(token.subject)
    .setJti(jti)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + expiresIn)
    .sign(keys.signingKey);
  return { token: signed, expiresIn, jti, expiresAt: new Date((iat + expiresIn) * 1000) };
}

export async function signAccessToken(
  keys: KeySet,
  settings: TokenSettings,
  subject: { userId: string; sessionId: string; email: string; globalRole: GlobalRole; tokenVersion: number; clientId: string },
  now: Date,
  options: {
    /** The token id, when it was recorded before signing (org-scoped tokens). */
    jti?: string;
    /** Further claims (an organization's `org_*`). */
    claims?: Record<string, unknown>;
  } = {},
): Promise<{ token: string; expiresIn: number; jti: string }> {
  return signToken(
    keys,
    { issuer: settings.issuer, audience: settings.audience, subject: subject.userId, ttlMs: settings.ttlMs, jti: options.jti },
    {
      ...options.claims,
      sid: subject.sessionId,
      email: subject.email,
      globalRole: subject.globalRole,
      tv: subject.tokenVersion,
      client_id: subject.clientId,
    },
    now,
  );
}

export type AccessTokenFailure = "token_expired" | "invalid_token";

export class AccessTokenError extends Error {
  constructor(
    readonly reason: AccessTokenFailure,
    message: string,
  ) {
    super(message);
  }
}

function isClaims(p: JWTPayload): p is JWTPayload & AccessClaims {
  return (
    typeof p.sub === "string" &&
    typeof p.sid === "string" &&
    typeof p.jti === "string" &&
    typeof p.email === "string" &&
    typeof p.globalRole === "string" &&
    typeof p.tv === "number" &&
    Number.isInteger(p.tv) &&
    typeof p.iat === "number" &&
    typeof p.exp === "number" &&
    (typeof p.aud === "string" || Array.isArray(p.aud)) &&
    (p.client_id === undefined || typeof p.client_id === "string")
  );
}

/** `aud` is the expected audience, or an array holding it (RFC 7519 section 4.1.3). */
export function audienceMatches(aud: string | string[], expected: string): boolean {
  return Array.isArray(aud) ? aud.includes(expected) : aud === expected;
}

/**
 * What every token this service signed is checked for, whatever its kind: RS256 pinned, typ
 * at+jwt, our issuer, a kid of our own key set (jku/x5u/jwk headers ignored), exp/nbf/iat with the
 * skew, no older than `maxAgeMs`, and the `required` claims present. The claims' shape and the
 * audience are the caller's to judge. Throws AccessTokenError.
 */
export async function verifySignedToken(
  keys: KeySet,
  settings: { issuer: string; maxAgeMs: number },
  token: string,
  now: Date,
  required: string[],
): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = header.kid ? keys.verificationKeys.get(header.kid) : undefined;
        if (!key) throw new AccessTokenError("invalid_token", "unknown key id");
        return key;
      },
      {
        algorithms: ["RS256"],
        typ: ACCESS_TOKEN_TYPE,
        issuer: settings.issuer,
        clockTolerance: CLOCK_SKEW_SECONDS,
        currentDate: now,
        // Also rejects an iat in the future (beyond the skew).
        maxTokenAge: Math.floor(settings.maxAgeMs / 1000) + CLOCK_SKEW_SECONDS,
        requiredClaims: required,
      },
    );
    return payload;
  } catch (err) {
    if (err instanceof AccessTokenError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw new AccessTokenError("token_expired", "the access token has expired");
    throw new AccessTokenError("invalid_token", "the access token is invalid");
  }
}

/**
 * A user access token of this service: verifySignedToken, then the user claims. The audience
 * depends on the application the token names (client_id), so the caller checks it with
 * audienceMatches once it knows that application's.
 */
export async function verifyAccessToken(keys: KeySet, settings: Omit<TokenSettings, "audience">, token: string, now: Date): Promise<AccessClaims> {
  const payload = await verifySignedToken(keys, { issuer: settings.issuer, maxAgeMs: settings.ttlMs }, token, now, ["sub", "sid", "jti", "iat", "exp", "aud"]);
  if (!isClaims(payload)) throw new AccessTokenError("invalid_token", "missing or malformed claims");
  return payload;
}
