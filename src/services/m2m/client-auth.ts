// Client authentication for the OAuth endpoints and ValidateToken: a service account's id and
// secret by HTTP Basic (client_secret_basic) or in the body (client_secret_post), or an
// application API key (X-API-Key, ValidateToken only). The caller's record and whatever else the
// request needs (a token's state) come from one SQL statement, sent together with the peek at the
// failure limits (one Redis round trip). The presented secret is always hashed and compared in
// constant time, against a dummy when the client id is unknown, so both cost the same. Failures are
// counted per client id and per IP, and audited (oauth.client_auth_failed).
import { constantTimeEqual } from "../../crypto/constant-time";
import { sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { recordAudit } from "../../stores/audit";
import { loadCallerAndToken, type ApiKeyRecord, type ClientRecord, type TokenQuery, type TokenState } from "../../stores/token-state";
import type { RequestMeta } from "../auth/common";
import { countAgainst, enforceLimits } from "../rate-limit";
import { OAuthError, oauthErrors } from "./errors";

export const CLIENT_SECRET_PREFIX = "sas_";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Compared against when there is no account: the same work as one real secret. */
const DUMMY_HASH = "dummy-hash-of-no-secret-000000000000000000";

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  method: "client_secret_basic" | "client_secret_post";
}

/** What a caller of ValidateToken presented: service-account credentials or an application API key. */
export type CallerCredentials = { kind: "client"; credentials: ClientCredentials } | { kind: "api_key"; key: string };

/** An authenticated caller. */
export interface AuthenticatedCaller {
  applicationId: string;
  /** The service account (null for an API key). */
  client: ClientRecord | null;
  /** The secret that authenticated (null for an API key). */
  secretId: string | null;
  apiKeyId: string | null;
  /** How it authenticated, for audit labels. */
  label: string;
}

/** application/x-www-form-urlencoded decoding of one Basic credential part (RFC 6749 section 2.3.1). */
function formDecode(part: string): string | null {
  try {
    return decodeURIComponent(part.replace(/\+/g, " "));
  } catch {
    return null;
  }
}

/**
 * The client credentials of a request, from the Authorization header and the body. Basic and
 * body credentials together are 400 invalid_request (one method per request, RFC 6749 section
 * 2.3); none, a malformed Basic header or half a pair is 401 invalid_client.
 */
export function readClientCredentials(authorization: string | undefined, body: { client_id?: string; client_secret?: string }): ClientCredentials {
  const header = authorization?.trim();
  const basic = header ? /^Basic\s+([A-Za-z0-9+/]+={0,2})$/i.exec(header) : null;
  const isBasic = header !== undefined && /^Basic(\s|$)/i.test(header);
  if (isBasic && body.client_secret !== undefined) {
    throw oauthErrors.invalidRequest("use one client authentication method: HTTP Basic or client_secret in the body, not both");
  }
  if (isBasic) {
    if (!basic) throw oauthErrors.invalidClient();
    let decoded: string;
    try {
      decoded = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(basic[1]), (c) => c.charCodeAt(0)));
    } catch {
      throw oauthErrors.invalidClient();
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) throw oauthErrors.invalidClient();
    const clientId = formDecode(decoded.slice(0, colon));
    const clientSecret = formDecode(decoded.slice(colon + 1));
    if (!clientId || !clientSecret || clientId.length > 200 || clientSecret.length > 512) throw oauthErrors.invalidClient();
    if (body.client_id !== undefined && body.client_id !== clientId) {
      throw oauthErrors.invalidRequest("client_id in the body differs from the one in the Authorization header");
    }
    return { clientId, clientSecret, method: "client_secret_basic" };
  }
  if (body.client_id !== undefined && body.client_secret !== undefined) {
    return { clientId: body.client_id, clientSecret: body.client_secret, method: "client_secret_post" };
  }
  throw oauthErrors.invalidClient();
}

/**
 * readClientCredentials, for a route: a request without usable credentials (none, a malformed
 * Basic header, half a pair) is a failed client authentication like a wrong secret: checked
 * against and counted in the per-IP failure limit (429 once over it) and audited
 * (oauth.client_auth_failed, reason missing_or_malformed), then refused with 401 invalid_client.
 */
export async function clientCredentialsOf(
  deps: Deps,
  authorization: string | undefined,
  body: { client_id?: string; client_secret?: string },
  meta: RequestMeta,
  route: string,
): Promise<ClientCredentials> {
  try {
    return readClientCredentials(authorization, body);
  } catch (err) {
    if (!(err instanceof OAuthError) || err.error !== "invalid_client") throw err;
    const { rateLimits } = deps.config;
    const ip = meta.ip ?? "unknown";
    await enforceLimits(deps, [{ name: "client-auth-failures-ip", rule: rateLimits.clientAuthFailuresPerIp, identifier: ip, mode: "peek" }], false);
    await Promise.all([
      countAgainst(deps, "client-auth-failures-ip", rateLimits.clientAuthFailuresPerIp, ip),
      recordAudit(deps.db, {
        type: "oauth.client_auth_failed",
        actorLabel: body.client_id ? `client:${body.client_id.slice(0, 100)}` : null,
        ip: meta.ip,
        userAgent: meta.userAgent,
        metadata: { reason: "missing_or_malformed", route },
        at: deps.clock.now(),
      }).catch(() => undefined),
    ]);
    throw err;
  }
}

/** The secret a presented value matches, compared in constant time against every live one (or a dummy). */
async function matchSecret(client: ClientRecord | null, presented: string): Promise<string | null> {
  const hash = await sha256(presented);
  const candidates = client && client.secrets.length > 0 ? client.secrets : [{ id: "", hash: DUMMY_HASH }];
  let matched: string | null = null;
  for (const s of candidates) {
    if (constantTimeEqual(hash, s.hash) && client) matched ??= s.id;
  }
  return matched;
}

function limitKey(c: CallerCredentials): string {
  return c.kind === "client" ? `client:${c.credentials.clientId.slice(0, 200)}` : `api-key:${c.key.slice(0, 12)}`;
}

async function recordFailure(deps: Deps, caller: CallerCredentials, reason: string, meta: RequestMeta, route: string): Promise<void> {
  const { rateLimits } = deps.config;
  const key = limitKey(caller);
  await Promise.all([
    countAgainst(deps, "client-auth-failures-client", rateLimits.clientAuthFailuresPerClient, key),
    countAgainst(deps, "client-auth-failures-ip", rateLimits.clientAuthFailuresPerIp, meta.ip ?? "unknown"),
    recordAudit(deps.db, {
      type: "oauth.client_auth_failed",
      actorLabel: caller.kind === "client" ? `client:${caller.credentials.clientId.slice(0, 100)}` : `api-key:${caller.key.slice(0, 12)}`,
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { reason, route, method: caller.kind === "client" ? caller.credentials.method : "api_key" },
      at: deps.clock.now(),
    }).catch(() => undefined),
  ]);
}

/**
 * Authenticates the caller and, in the same SQL statement, reads the state of `token` (if given).
 * Failed authentication: counted, audited, then `onFailure()` is thrown (the route's own protocol).
 */
export async function authenticateCaller(
  deps: Deps,
  caller: CallerCredentials,
  token: TokenQuery | null,
  meta: RequestMeta,
  options: { route: string; onFailure: () => Error },
): Promise<{ caller: AuthenticatedCaller; token: TokenState | null }> {
  const { rateLimits } = deps.config;
  const now = deps.clock.now();
  const keyHash = caller.kind === "api_key" ? await sha256(caller.key) : null;
  const [, found] = await Promise.all([
    enforceLimits(
      deps,
      [
        { name: "client-auth-failures-client", rule: rateLimits.clientAuthFailuresPerClient, identifier: limitKey(caller), mode: "peek" },
        { name: "client-auth-failures-ip", rule: rateLimits.clientAuthFailuresPerIp, identifier: meta.ip ?? "unknown", mode: "peek" },
      ],
      false,
    ),
    loadCallerAndToken(deps.db, {
      caller:
        caller.kind === "client"
          ? { kind: "service_account", clientId: UUID.test(caller.credentials.clientId) ? caller.credentials.clientId.toLowerCase() : null }
          : { kind: "api_key", keyHash: keyHash! },
      token,
      now,
    }),
  ]);

  if (caller.kind === "client") {
    const secretId = await matchSecret(found.client, caller.credentials.clientSecret);
    if (!found.client || !secretId) {
      await recordFailure(deps, caller, found.client ? "wrong_secret" : "unknown_client", meta, options.route);
      throw options.onFailure();
    }
    return {
      caller: {
        applicationId: found.client.applicationId,
        client: found.client,
        secretId,
        apiKeyId: null,
        label: `service_account:${found.client.serviceAccountId}`,
      },
      token: found.token,
    };
  }
  const key: ApiKeyRecord | null = found.apiKey;
  // The row was found by its hash; compare again in constant time (and against a dummy when absent).
  const ok = constantTimeEqual(keyHash!, key?.keyHash ?? DUMMY_HASH) && key !== null;
  if (!ok || !key) {
    await recordFailure(deps, caller, "unknown_api_key", meta, options.route);
    throw options.onFailure();
  }
  return {
    caller: { applicationId: key.applicationId, client: null, secretId: null, apiKeyId: key.keyId, label: `api_key:${key.keyId}` },
    token: found.token,
  };
}

/** A shared-code AppError (429 rate limit, 503 dependency) passes through for the route to shape. */
export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
