// The four social providers as OAuth 2.0 / OpenID Connect clients (oauth4webapi for the protocol,
// jose for the id_token signature and Apple's client secret). Google, Microsoft and Apple are
// OIDC: their endpoints come from discovery (GOOGLE_ISSUER, MICROSOFT_ISSUER, APPLE_ISSUER), and
// the id_token is checked here: signature against the provider's JWKS (alg pinned to what the
// provider announces, never `none`), `iss` (Microsoft multi-tenant: the `{tenantid}` template
// filled with the token's `tid`), `aud`, `exp`, and the `nonce` of this sign-in. GitHub is plain
// OAuth 2.0 (GITHUB_BASE_URL, GITHUB_API_URL): the profile and the verified primary email come
// from its API. Everything a provider sends that does not hold ends as a SocialError with its own
// code, never as a 5xx.
import * as oauth from "oauth4webapi";
import { createRemoteJWKSet, errors as joseErrors, importPKCS8, jwtVerify, SignJWT, type JWTPayload } from "jose";
import type { Config } from "../../config";
import type { SocialProvider } from "../applications/fields";

/** A refusal of the provider's answer: the code travels to the application as `error=`. */
export class SocialError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "SocialError";
  }
}

/** Who the provider says signed in. */
export interface SocialProfile {
  provider: SocialProvider;
  /** The identity's issuer (the id_token's `iss`; GitHub: GITHUB_BASE_URL). */
  issuer: string;
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

export interface AuthorizationRequest {
  state: string;
  codeVerifier: string;
  nonce: string;
  callbackUrl: string;
}

export interface CallbackInput {
  params: URLSearchParams;
  state: string;
  codeVerifier: string;
  nonce: string;
  callbackUrl: string;
}

type SocialConfig = Config["social"];

// oauth4webapi's hooks for providers outside the letter of the specs (exported, not typed):
// `_nodiscoverycheck` reads a discovery document whose issuer is a template, and `_expectedIssuer`
// names the `iss` a multi-tenant id_token must carry.
const hooks = oauth as unknown as { _nodiscoverycheck: URL; _expectedIssuer: symbol };

/** Whether a provider has credentials (a provider without them is off). */
export function providerConfigured(config: Config, provider: SocialProvider): boolean {
  return config.social[provider] !== undefined;
}

const isLoopback = (url: string) => {
  const host = new URL(url).hostname;
  return host === "127.0.0.1" || host === "localhost" || host === "[::1]";
};

/** Plain http only to loopback (the local fake provider in tests and development). */
const insecureFor = (url: string) => new URL(url).protocol === "http:" && isLoopback(url);

function requestOptions(config: Config, url: string) {
  return { [oauth.allowInsecureRequests]: insecureFor(url), signal: AbortSignal.timeout(config.http.dependencyTimeoutMs) };
}

// ---- discovery (OIDC providers), cached per isolate ---------------------------------------------

const DISCOVERY_TTL_MS = 60 * 60 * 1000;
const discovered = new Map<string, { as: oauth.AuthorizationServer; expires: number }>();

async function discover(config: Config, issuer: string, tenantId?: string): Promise<oauth.AuthorizationServer> {
  const hit = discovered.get(issuer);
  if (hit && hit.expires > Date.now()) return hit.as;
  let as: oauth.AuthorizationServer;
  try {
    const url = new URL(issuer);
    const response = await oauth.discoveryRequest(url, { algorithm: "oidc", ...requestOptions(config, issuer) });
    // Entra's multi-tenant endpoints (common, organizations, consumers) announce the template
    // https://login.microsoftonline.com/{tenantid}/v2.0 as their issuer: checked below instead.
    as = await oauth.processDiscoveryResponse(tenantId ? hooks._nodiscoverycheck : url, response);
  } catch (err) {
    throw new SocialError("provider_unavailable", `The provider's discovery document could not be read (${describe(err)})`);
  }
  if (tenantId) {
    const announced = String(as.issuer);
    if (announced !== issuer && announced.replace("{tenantid}", tenantId) !== issuer) {
      throw new SocialError("provider_unavailable", "The provider's discovery document names another issuer");
    }
  }
  if (!as.authorization_endpoint || !as.token_endpoint || !as.jwks_uri) throw new SocialError("provider_unavailable", "The provider's discovery document is incomplete");
  discovered.set(issuer, { as, expires: Date.now() + DISCOVERY_TTL_MS });
  return as;
}

const jwksSets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
function jwksFor(config: Config, uri: string) {
  let set = jwksSets.get(uri);
  if (!set) {
    set = createRemoteJWKSet(new URL(uri), { timeoutDuration: config.http.dependencyTimeoutMs, cacheMaxAge: 10 * 60 * 1000, cooldownDuration: 30_000 });
    jwksSets.set(uri, set);
  }
  return set;
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 200);
  return "unknown error";
}

// ---- per provider ---------------------------------------------------------------------------

interface Setup {
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  auth: () => Promise<oauth.ClientAuth>;
  scope: string;
  oidc: boolean;
  extra: Record<string, string>;
  /** Microsoft multi-tenant: the expected `iss` for a token's claims. */
  expectedIssuer?: (claims: JWTPayload) => string | undefined;
  tokenUrl: string;
}

async function setup(config: Config, provider: SocialProvider): Promise<Setup> {
  const social: SocialConfig = config.social;
  switch (provider) {
    case "google": {
      const c = social.google!;
      const as = await discover(config, c.issuer);
      return { as, client: { client_id: c.clientId }, auth: async () => oauth.ClientSecretPost(c.clientSecret), scope: "openid email profile", oidc: true, extra: {}, tokenUrl: String(as.token_endpoint) };
    }
    case "microsoft": {
      const c = social.microsoft!;
      const as = await discover(config, c.issuer, c.tenantId);
      const template = String(as.issuer);
      return {
        as,
        client: { client_id: c.clientId },
        auth: async () => oauth.ClientSecretPost(c.clientSecret),
        scope: "openid email profile",
        oidc: true,
        extra: {},
        tokenUrl: String(as.token_endpoint),
        expectedIssuer: template.includes("{tenantid}")
          ? (claims) => (typeof claims.tid === "string" && /^[0-9a-f-]{1,64}$/i.test(claims.tid) ? template.replace("{tenantid}", claims.tid) : undefined)
          : undefined,
      };
    }
    case "apple": {
      const c = social.apple!;
      const as = await discover(config, c.issuer);
      return {
        as,
        client: { client_id: c.clientId },
        auth: async () => oauth.ClientSecretPost(await appleClientSecret(c)),
        scope: "openid email name",
        oidc: true,
        // Apple sends the code (and, on the first sign-in, the user's name) by POST when name or email is asked for.
        extra: { response_mode: "form_post" },
        tokenUrl: String(as.token_endpoint),
      };
    }
    case "github": {
      const c = social.github!;
      const as: oauth.AuthorizationServer = {
        issuer: c.baseUrl,
        authorization_endpoint: `${c.baseUrl}/login/oauth/authorize`,
        token_endpoint: `${c.baseUrl}/login/oauth/access_token`,
      };
      return { as, client: { client_id: c.clientId }, auth: async () => oauth.ClientSecretPost(c.clientSecret), scope: "read:user user:email", oidc: false, extra: {}, tokenUrl: String(as.token_endpoint) };
    }
  }
}

/** Apple's client secret: an ES256 JWT signed with the service's key (APPLE_TEAM_ID, APPLE_KEY_ID, APPLE_PRIVATE_KEY), valid 5 minutes. */
export async function appleClientSecret(c: NonNullable<SocialConfig["apple"]>): Promise<string> {
  let key: CryptoKey;
  try {
    key = await importPKCS8(c.privateKey.replace(/\\n/g, "\n"), "ES256");
  } catch {
    throw new SocialError("provider_misconfigured", "APPLE_PRIVATE_KEY is not a PKCS#8 EC P-256 key");
  }
  return new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: c.keyId })
    .setIssuer(c.teamId)
    .setSubject(c.clientId)
    .setAudience(c.issuer)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key);
}

/** The URL to send the browser to: code flow with PKCE S256, state and (OIDC) nonce. */
export async function authorizationUrl(config: Config, provider: SocialProvider, req: AuthorizationRequest): Promise<string> {
  const s = await setup(config, provider);
  const url = new URL(String(s.as.authorization_endpoint));
  url.searchParams.set("client_id", s.client.client_id);
  url.searchParams.set("redirect_uri", req.callbackUrl);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("scope", s.scope);
  url.searchParams.set("state", req.state);
  url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(req.codeVerifier));
  url.searchParams.set("code_challenge_method", "S256");
  if (s.oidc) url.searchParams.set("nonce", req.nonce);
  for (const [k, v] of Object.entries(s.extra)) url.searchParams.set(k, v);
  return url.toString();
}

const truthy = (v: unknown) => v === true || v === "true";

/** Exchanges the code (with the PKCE verifier) and returns the checked profile. */
export async function exchangeCode(config: Config, provider: SocialProvider, input: CallbackInput, now: Date): Promise<SocialProfile> {
  const s = await setup(config, provider);
  let callbackParams: URLSearchParams;
  try {
    // Apple's `user` field is not an OAuth parameter; the state was already matched by the caller.
    const params = new URLSearchParams(input.params);
    params.delete("user");
    callbackParams = oauth.validateAuthResponse(s.as, s.client, params, oauth.skipStateCheck);
  } catch (err) {
    throw new SocialError("invalid_callback", `The provider's callback is not a valid authorization response (${describe(err)})`);
  }
  let response: Response;
  try {
    response = await oauth.authorizationCodeGrantRequest(s.as, s.client, await s.auth(), callbackParams, input.callbackUrl, input.codeVerifier, {
      ...requestOptions(config, s.tokenUrl),
    });
  } catch (err) {
    if (err instanceof SocialError) throw err;
    throw new SocialError("provider_unavailable", `The provider's token endpoint could not be reached (${describe(err)})`);
  }
  if (s.oidc) return oidcProfile(config, provider, s, response, input, now);
  return githubProfile(config, s, response);
}

async function tokenResponse(s: Setup, response: Response, options: oauth.ProcessAuthorizationCodeResponseOptions): Promise<oauth.TokenEndpointResponse> {
  try {
    return await oauth.processAuthorizationCodeResponse(s.as, s.client, response, options);
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError) throw new SocialError("token_exchange_failed", `The provider refused the code (${err.error})`);
    if (err instanceof oauth.OperationProcessingError && (err.code === oauth.JWT_CLAIM_COMPARISON || err.code === oauth.JWT_TIMESTAMP_CHECK || err.code === oauth.PARSE_ERROR)) {
      throw new SocialError("invalid_id_token", `The provider's id_token was refused (${describe(err)})`);
    }
    if (err instanceof oauth.OperationProcessingError || err instanceof oauth.UnsupportedOperationError) {
      // An id_token with an unannounced algorithm (e.g. `none`) or missing claims, or a malformed answer.
      const idToken = /id_token|JWT|alg/i.test(err.message);
      throw new SocialError(idToken ? "invalid_id_token" : "token_exchange_failed", `The provider's token answer was refused (${describe(err)})`);
    }
    throw new SocialError("token_exchange_failed", `The provider's token answer was refused (${describe(err)})`);
  }
}

async function oidcProfile(config: Config, provider: SocialProvider, s: Setup, response: Response, input: CallbackInput, now: Date): Promise<SocialProfile> {
  const as = s.expectedIssuer ? { ...s.as, [hooks._expectedIssuer]: (result: { claims: JWTPayload }) => s.expectedIssuer!(result.claims) ?? "(no tenant)" } : s.as;
  const tokens = await tokenResponse({ ...s, as }, response, { expectedNonce: input.nonce, requireIdToken: true });
  const idToken = tokens.id_token;
  if (typeof idToken !== "string") throw new SocialError("invalid_id_token", "The provider sent no id_token");
  // oauth4webapi checked the claims (iss, aud, exp, iat, nonce); the signature is checked here,
  // against the provider's JWKS, with the algorithms it announces (never `none`).
  const announced = (s.as.id_token_signing_alg_values_supported ?? ["RS256"]).filter((a) => a !== "none" && !a.startsWith("HS"));
  let claims: JWTPayload;
  try {
    const claimed = oauth.getValidatedIdTokenClaims(tokens)!;
    const issuer = s.expectedIssuer ? s.expectedIssuer(claimed) : String(s.as.issuer);
    if (!issuer) throw new SocialError("invalid_id_token", "The id_token names no tenant");
    ({ payload: claims } = await jwtVerify(idToken, jwksFor(config, String(s.as.jwks_uri)), {
      algorithms: announced.length > 0 ? announced : ["RS256"],
      issuer,
      audience: s.client.client_id,
      currentDate: now,
      clockTolerance: 60,
    }));
  } catch (err) {
    if (err instanceof SocialError) throw err;
    if (err instanceof joseErrors.JWKSTimeout || (err instanceof Error && /fetch|network/i.test(err.message) && !(err instanceof joseErrors.JOSEError))) {
      throw new SocialError("provider_unavailable", "The provider's signing keys could not be read");
    }
    throw new SocialError("invalid_id_token", `The provider's id_token was refused (${describe(err)})`);
  }
  if (claims.nonce !== input.nonce) throw new SocialError("invalid_id_token", "The id_token's nonce is not this sign-in's");
  if (typeof claims.sub !== "string" || claims.sub.length === 0 || claims.sub.length > 255) throw new SocialError("invalid_id_token", "The id_token has no usable subject");
  const email = typeof claims.email === "string" && claims.email.length <= 254 && claims.email.includes("@") ? claims.email.trim().normalize("NFC") : null;
  // Entra states no email_verified; its `xms_edov` (email domain owner verified) optional claim is the equivalent.
  const emailVerified = provider === "microsoft" ? truthy(claims.email_verified) || truthy(claims.xms_edov) : truthy(claims.email_verified);
  let name = typeof claims.name === "string" ? claims.name : null;
  if (provider === "apple") name = appleName(input.params.get("user")) ?? name;
  return { provider, issuer: String(claims.iss), subject: claims.sub, email, emailVerified, name: name ? name.slice(0, 200) : null };
}

/** Apple sends the name only on the first sign-in, in the form's `user` JSON. */
function appleName(user: string | null): string | null {
  if (!user || user.length > 4096) return null;
  try {
    const parsed = JSON.parse(user) as { name?: { firstName?: unknown; lastName?: unknown } };
    const parts = [parsed.name?.firstName, parsed.name?.lastName].filter((p): p is string => typeof p === "string" && p.trim() !== "");
    return parts.length > 0 ? parts.join(" ").trim() : null;
  } catch {
    return null;
  }
}

async function githubProfile(config: Config, s: Setup, response: Response): Promise<SocialProfile> {
  const tokens = await tokenResponse(s, response, {});
  const c = config.social.github!;
  const api = async (path: string): Promise<unknown> => {
    let res: Response;
    try {
      res = await oauth.protectedResourceRequest(tokens.access_token, "GET", new URL(`${c.apiUrl}${path}`), new Headers({ accept: "application/vnd.github+json", "user-agent": "edge-auth" }), null, {
        ...requestOptions(config, c.apiUrl),
      });
    } catch (err) {
      throw new SocialError("provider_unavailable", `GitHub's API could not be reached (${describe(err)})`);
    }
    if (!res.ok) throw new SocialError("profile_unavailable", `GitHub's API answered ${res.status} for ${path}`);
    try {
      return await res.json();
    } catch {
      throw new SocialError("profile_unavailable", `GitHub's API answered ${path} with something that is not JSON`);
    }
  };
  const [user, emails] = await Promise.all([api("/user"), api("/user/emails")]);
  const u = user as { id?: unknown; name?: unknown; login?: unknown };
  if (typeof u?.id !== "number" && typeof u?.id !== "string") throw new SocialError("profile_unavailable", "GitHub's /user has no id");
  const list = Array.isArray(emails) ? (emails as { email?: unknown; primary?: unknown; verified?: unknown }[]) : [];
  const primary = list.find((e) => e && e.primary === true && typeof e.email === "string");
  const email = typeof primary?.email === "string" && primary.email.length <= 254 ? primary.email.trim().normalize("NFC") : null;
  const name = typeof u.name === "string" && u.name ? u.name : typeof u.login === "string" ? u.login : null;
  return { provider: "github", issuer: c.baseUrl, subject: String(u.id), email, emailVerified: email !== null && primary?.verified === true, name: name ? name.slice(0, 200) : null };
}
