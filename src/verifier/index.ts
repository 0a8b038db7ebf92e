// edge-auth/verifier: verifies this service's access tokens in a downstream API. Runs on Workers,
// Node 20+, Deno and Bun, as the ES modules compiled into dist/verifier (tsconfig.verifier.json);
// depends on jose only (WebCrypto, fetch, AbortSignal).
//
// Same strictness as the service's own check (src/crypto/access-token.ts): RS256 only, header
// `typ` at+jwt (or application/at+jwt), a `kid` looked up only in the JWKS at `jwksUrl` (jku, x5u
// and jwk headers are ignored), `iss` exact, `aud` equal to or containing the audience, `exp`, `nbf`
// and `iat` with a small clock tolerance. ID tokens (`typ: JWT`) are never accepted.
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import { VerifierError } from "./errors.ts";
import { JwksCache, type FetchLike } from "./jwks.ts";

export { VerifierError, type VerifierErrorCode } from "./errors.ts";

export type TokenUse = "user" | "service";

export interface VerifierOptions {
  /** The service's JWT_ISSUER, compared exactly with `iss`. */
  issuer: string;
  /** This API's audience: `aud` must equal it or (as an array) contain it. Several: any of them. */
  audience: string | readonly string[];
  /** The service's `/.well-known/jwks.json`. */
  jwksUrl: string | URL;
  /** fetch used for the JWKS (default: the global fetch). */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** JWKS freshness when the response has no Cache-Control max-age. Default 300. */
  cacheMaxAgeSeconds?: number;
  /** Upper bound on a response's max-age. Default 3600. */
  cacheMaxAgeLimitSeconds?: number;
  /** At most one JWKS request per this many seconds, however many unknown kids arrive. Default 30. */
  unknownKidCooldownSeconds?: number;
  /** A cached JWKS past its freshness stays in use this long while no new one can be fetched. Default 3600. */
  staleIfErrorSeconds?: number;
  /** Timeout of one JWKS request. Default 5000. */
  jwksTimeoutMs?: number;
  /** Allowed clock difference for exp, nbf and iat. Default 30 (as the service). */
  clockToleranceSeconds?: number;
  /** The clock (default Date.now), for exp checks and cache ages alike. */
  now?: () => Date | number;
}

export interface VerifyOptions {
  /** Every one of these must be in the token's `scope`; otherwise insufficient_scope. */
  requiredScopes?: readonly string[];
  /** Accept only user tokens or only service (client_credentials) tokens. Default: either. */
  tokenUse?: TokenUse;
  /**
   * Every one of these organization permissions (e.g. "invoices:read") must be in the token's
   * `org_permissions`, which counts only on an organization-scoped token (with `org_id`);
   * otherwise insufficient_permission.
   */
  requiredPermissions?: readonly string[];
  /** With requiredPermissions or alone: the token must be scoped to this organization (`org_id`). */
  organizationId?: string;
}

/** The organization of an organization-scoped token (POST /auth/organizations/{orgId}/token). */
export interface TokenOrganization {
  id: string;
  slug: string | undefined;
  roles: string[];
  permissions: string[];
}

export interface VerifiedToken {
  /** User id (user tokens) or service account id (service tokens). */
  sub: string;
  /** The application the token was issued to (`client_id`); absent on tokens from before applications. */
  clientId: string | undefined;
  /** `scope` split on spaces; empty when the token has none. */
  scopes: string[];
  /** `token_use`: "service" for client_credentials tokens; absent means "user". */
  tokenUse: TokenUse;
  email?: string;
  sid?: string;
  globalRole?: string;
  jti?: string;
  /** Only on organization-scoped tokens: org_id, org_slug, org_roles and org_permissions. */
  organization?: TokenOrganization;
  iat: number;
  exp: number;
  /** Every claim as signed. */
  claims: JWTPayload;
}

export interface Verifier {
  verify(token: string, options?: VerifyOptions): Promise<VerifiedToken>;
}

export const ACCESS_TOKEN_TYPE = "at+jwt";
/** Longer strings are refused before any parsing. */
const MAX_TOKEN_LENGTH = 16_384;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function seconds(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new TypeError(`createVerifier: ${name} must be a non-negative number`);
  return v;
}

export function createVerifier(options: VerifierOptions): Verifier {
  if (!options || typeof options.issuer !== "string" || options.issuer === "") throw new TypeError("createVerifier: issuer is required");
  const audience = typeof options.audience === "string" ? [options.audience] : [...(options.audience ?? [])];
  if (audience.length === 0 || audience.some((a) => typeof a !== "string" || a === "")) throw new TypeError("createVerifier: audience is required");
  const jwksUrl = new URL(options.jwksUrl).toString();
  const issuer = options.issuer;
  const tolerance = seconds(options.clockToleranceSeconds, 30, "clockToleranceSeconds");
  const cooldownMs = seconds(options.unknownKidCooldownSeconds, 30, "unknownKidCooldownSeconds") * 1000;
  const clock = options.now;
  const nowMs = clock ? () => Number(clock()) : () => Date.now();
  // Calling the global fetch unbound ("Illegal invocation" on Workers otherwise).
  const fetchJwks: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));

  const jwks = new JwksCache({
    url: jwksUrl,
    fetch: fetchJwks,
    defaultMaxAgeMs: seconds(options.cacheMaxAgeSeconds, 300, "cacheMaxAgeSeconds") * 1000,
    minMaxAgeMs: cooldownMs,
    maxMaxAgeMs: Math.max(cooldownMs, seconds(options.cacheMaxAgeLimitSeconds, 3600, "cacheMaxAgeLimitSeconds") * 1000),
    cooldownMs,
    staleIfErrorMs: seconds(options.staleIfErrorSeconds, 3600, "staleIfErrorSeconds") * 1000,
    timeoutMs: seconds(options.jwksTimeoutMs, 5000, "jwksTimeoutMs"),
    now: nowMs,
  });

  async function verify(token: string, verifyOptions: VerifyOptions = {}): Promise<VerifiedToken> {
    if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
      throw new VerifierError("invalid_token", "not a compact JWS");
    }
    // The header is checked before any key lookup, so a token we would refuse anyway never causes
    // a JWKS request.
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch (cause) {
      throw new VerifierError("invalid_token", "the token header is malformed", { cause });
    }
    if (header.alg !== "RS256") throw new VerifierError("invalid_token", "the token is not signed with RS256");
    if (typeof header.typ !== "string" || !/^(application\/)?at\+jwt$/i.test(header.typ)) {
      throw new VerifierError("invalid_token", "the token is not an access token (typ at+jwt)");
    }
    if (typeof header.kid !== "string" || header.kid === "") throw new VerifierError("invalid_token", "the token has no key id");

    const getKey = await jwks.resolverFor(header.kid);
    const now = nowMs();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms: ["RS256"],
        typ: ACCESS_TOKEN_TYPE,
        issuer,
        audience,
        clockTolerance: tolerance,
        currentDate: new Date(now),
        requiredClaims: ["sub", "iat", "exp"],
      }));
    } catch (cause) {
      if (cause instanceof VerifierError) throw cause;
      if (cause instanceof joseErrors.JWTExpired) throw new VerifierError("token_expired", "the token has expired", { cause });
      throw new VerifierError("invalid_token", "the token is invalid", { cause });
    }
    return claimsToToken(payload, now / 1000, tolerance, verifyOptions);
  }

  return { verify };
}

function optionalString(payload: JWTPayload, name: string): string | undefined {
  const v = payload[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new VerifierError("invalid_token", `the ${name} claim is not a string`);
  return v;
}

function stringList(payload: JWTPayload, name: string): string[] {
  const v = payload[name];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new VerifierError("invalid_token", `the ${name} claim is not a list of strings`);
  return v as string[];
}

/** org_* claims count only together with org_id: organization permissions are never honoured without it. */
function organizationOf(payload: JWTPayload): TokenOrganization | undefined {
  const id = optionalString(payload, "org_id");
  if (id === undefined || id === "") return undefined;
  return { id, slug: optionalString(payload, "org_slug"), roles: stringList(payload, "org_roles"), permissions: stringList(payload, "org_permissions") };
}

/** Whether a verified token holds an organization permission (in `organizationId` when given). */
export function hasPermission(token: VerifiedToken, permission: string, organizationId?: string): boolean {
  const org = token.organization;
  if (!org) return false;
  if (organizationId !== undefined && org.id !== organizationId) return false;
  return org.permissions.includes(permission);
}

function claimsToToken(payload: JWTPayload, nowSeconds: number, tolerance: number, options: VerifyOptions): VerifiedToken {
  if (typeof payload.sub !== "string" || payload.sub === "") throw new VerifierError("invalid_token", "the sub claim is missing");
  // jose checks iat's type; a token issued in the future is refused as the service refuses it.
  if (payload.iat! > nowSeconds + tolerance) throw new VerifierError("invalid_token", "the token was issued in the future");

  const tokenUseClaim = payload.token_use;
  let tokenUse: TokenUse;
  if (tokenUseClaim === undefined || tokenUseClaim === "user") tokenUse = "user";
  else if (tokenUseClaim === "service") tokenUse = "service";
  else throw new VerifierError("invalid_token", "the token_use claim is not user or service");

  const scope = optionalString(payload, "scope");
  const scopes = scope === undefined ? [] : scope.split(" ").filter((s) => s !== "");
  const token: VerifiedToken = {
    sub: payload.sub,
    clientId: optionalString(payload, "client_id"),
    scopes,
    tokenUse,
    email: optionalString(payload, "email"),
    sid: optionalString(payload, "sid"),
    globalRole: optionalString(payload, "globalRole"),
    jti: optionalString(payload, "jti"),
    organization: organizationOf(payload),
    iat: payload.iat!,
    exp: payload.exp!,
    claims: payload,
  };

  if (options.tokenUse !== undefined && options.tokenUse !== tokenUse) {
    throw new VerifierError("invalid_token", `a ${tokenUse} token is not accepted here (${options.tokenUse} tokens only)`);
  }
  const required = options.requiredScopes ?? [];
  if (required.some((s) => !scopes.includes(s))) {
    throw new VerifierError("insufficient_scope", `the token lacks a required scope (${required.join(" ")})`, { requiredScopes: required });
  }
  const permissions = options.requiredPermissions ?? [];
  if (permissions.length > 0 || options.organizationId !== undefined) {
    const inOrg = token.organization !== undefined && (options.organizationId === undefined || token.organization.id === options.organizationId);
    if (!inOrg || permissions.some((p) => !hasPermission(token, p))) {
      throw new VerifierError(
        "insufficient_permission",
        inOrg ? `the token lacks a required permission (${permissions.join(" ")})` : "the token is not scoped to the required organization",
        { requiredPermissions: permissions },
      );
    }
  }
  return token;
}
