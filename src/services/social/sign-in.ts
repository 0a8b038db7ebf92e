// Social sign-in and explicit linking (issue 11): the start (single-use state in Redis, then the
// provider's authorization URL) and the callback (state consumed atomically, code exchanged with
// the PKCE verifier, profile checked, then a sign-in through completeFirstFactor, or a link), which
// ends with a redirect to the application's registered redirect URI: a one-time `code`, or `error=`.
import { consumeArtefact, newArtefactSecret, putArtefact } from "../../cache/artefacts";
import type { AuthProvider } from "../../db/schema";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { createSocialUser, linkIdentity, lookupIdentity } from "../../stores/identities";
import type { SocialProvider } from "../applications/fields";
import { signInPolicy } from "../applications/policy";
import { resolveApplicationById, type CallingApplication } from "../applications/resolve";
import type { RequestMeta } from "../auth/common";
import { completeFirstFactor } from "../auth/first-factor";
import { redirectUriNotRegistered, redirectWithCode, redirectWithError } from "../auth/redirect-code";
import { notify } from "../notify";
import { authorizationUrl, exchangeCode, providerConfigured, SocialError, type SocialProfile } from "./providers";

export const OAUTH_STATE_TTL_SECONDS = 10 * 60;

/** What the state names, in Redis under its hash, for 10 minutes, once. */
interface StoredState {
  provider: SocialProvider;
  applicationId: string;
  redirectUri: string;
  callbackUrl: string;
  codeVerifier: string;
  nonce: string;
  mode: "sign-in" | "link";
  tokenTransport?: "json" | "cookie";
  /** Linking: the signed-in user and the session that asked (it must still be live at the callback). */
  userId?: string;
  sessionId?: string;
  tokenVersion?: number;
  /** Linking from this service's own account page: redirectUri is that page (built by the service, not registered). */
  returnToPage?: boolean;
}

export const providerNotConfigured = (provider: string) =>
  new AppError(404, "provider_not_configured", `Sign-in with ${provider} is not configured on this service`);
export const providerNotAllowed = (provider: string) => new AppError(403, "provider_not_allowed", `This application does not offer sign-in with ${provider}`);
export const stateNotFound = () => new AppError(400, "state_not_found", "The callback carries no state: start the sign-in again");
export const stateMismatch = () => new AppError(400, "state_mismatch", "The state is unknown, expired, already used or not this provider's: start the sign-in again");

/** The callback URL registered at the provider: PUBLIC_URL (or the request's origin) + /auth/oauth/{provider}/callback. */
export function callbackUrl(deps: Deps, provider: SocialProvider, requestOrigin: string): string {
  return `${deps.config.publicUrl ?? requestOrigin}/auth/oauth/${provider}/callback`;
}

/** The providers an application offers: in its sign-in policy and configured on this service. */
export function offeredProviders(deps: Deps, application: CallingApplication): SocialProvider[] {
  return signInPolicy(application).social.filter((p) => providerConfigured(deps.config, p));
}

/** The checks both starts share: the provider is on, the application offers it, the redirect URI is registered. */
function assertStartAllowed(deps: Deps, application: CallingApplication, provider: SocialProvider, redirectUri: string | null): void {
  if (!providerConfigured(deps.config, provider)) throw providerNotConfigured(provider);
  if (!signInPolicy(application).social.includes(provider)) throw providerNotAllowed(provider);
  if (redirectUri !== null && !application.redirectUris.includes(redirectUri)) throw redirectUriNotRegistered();
}

async function begin(deps: Deps, origin: string, state: Omit<StoredState, "callbackUrl" | "codeVerifier" | "nonce">): Promise<string> {
  const secret = newArtefactSecret();
  const stored: StoredState = { ...state, callbackUrl: callbackUrl(deps, state.provider, origin), codeVerifier: newArtefactSecret(), nonce: newArtefactSecret() };
  const url = await authorizationUrl(deps.config, state.provider, { state: secret, codeVerifier: stored.codeVerifier, nonce: stored.nonce, callbackUrl: stored.callbackUrl });
  await putArtefact(deps.redis, "oauth-state", secret, stored, OAUTH_STATE_TTL_SECONDS);
  return url;
}

/**
 * GET /auth/oauth/{provider}: where to send the browser. Refusals before the redirect URI is known
 * to be registered are thrown (the route answers them itself, never by a redirect); a provider that
 * cannot be reached then sends the browser back with `error=provider_unavailable`.
 */
export async function startSocialSignIn(
  deps: Deps,
  input: { provider: SocialProvider; application: CallingApplication; redirectUri: string; tokenTransport?: "json" | "cookie"; origin: string },
): Promise<string> {
  assertStartAllowed(deps, input.application, input.provider, input.redirectUri);
  try {
    return await begin(deps, input.origin, {
      provider: input.provider,
      applicationId: input.application.id,
      redirectUri: input.redirectUri,
      mode: "sign-in",
      tokenTransport: input.tokenTransport,
    });
  } catch (err) {
    if (err instanceof SocialError) return redirectWithError(input.application, input.redirectUri, err.code, err.message);
    throw err;
  }
}

/**
 * POST /auth/identities/{provider}/link: the authorization URL for linking the caller's account.
 * `returnToPage`: the account page of this service asks, and `redirectUri` is that page's own URL
 * (built by the page from its origin, so it needs no registration); otherwise a registered URI.
 */
export async function startLink(
  deps: Deps,
  input: {
    provider: SocialProvider;
    application: CallingApplication;
    redirectUri: string;
    userId: string;
    sessionId: string;
    tokenVersion: number;
    origin: string;
    returnToPage?: boolean;
  },
): Promise<string> {
  assertStartAllowed(deps, input.application, input.provider, input.returnToPage ? null : input.redirectUri);
  try {
    return await begin(deps, input.origin, {
      provider: input.provider,
      applicationId: input.application.id,
      redirectUri: input.redirectUri,
      mode: "link",
      userId: input.userId,
      sessionId: input.sessionId,
      tokenVersion: input.tokenVersion,
      ...(input.returnToPage ? { returnToPage: true } : {}),
    });
  } catch (err) {
    if (err instanceof SocialError) throw new AppError(503, "provider_unavailable", err.message);
    throw err;
  }
}

/** `url` with these query parameters set. */
function withParams(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** Provider `error=` values are passed on when they look like OAuth error codes. */
const providerErrorCode = (v: string) => (/^[a-z][a-z0-9_]{0,63}$/.test(v) ? v : "provider_error");

const AUTH_PROVIDER: Record<SocialProvider, AuthProvider> = { google: "google", microsoft: "microsoft", github: "other", apple: "other" };

/**
 * GET|POST /auth/oauth/{provider}/callback: the URL to send the browser to. A missing or bad state
 * is thrown (400: there is no trusted place to redirect to); everything after that ends at the
 * application's redirect URI.
 */
export async function finishSocial(
  deps: Deps,
  provider: SocialProvider,
  params: URLSearchParams,
  meta: RequestMeta,
  /** The browser's remembered-device token (auth_device cookie), which may skip the second factor. */
  deviceToken: string | null = null,
): Promise<string> {
  const secret = params.get("state");
  if (!secret) throw stateNotFound();
  if (secret.length > 512) throw stateMismatch();
  const state = await consumeArtefact<StoredState>(deps.redis, "oauth-state", secret);
  if (!state || state.provider !== provider) throw stateMismatch();
  const application = await resolveApplicationById(deps, state.applicationId);
  const toPage = state.mode === "link" && state.returnToPage === true;
  if (!toPage && !application.redirectUris.includes(state.redirectUri)) throw redirectUriNotRegistered();
  const fail = (code: string, description?: string) => (toPage ? withParams(state.redirectUri, { error: code }) : redirectWithError(application, state.redirectUri, code, description));

  const providerError = params.get("error");
  if (providerError) return fail(providerErrorCode(providerError), "The provider did not sign the user in");
  if (!params.get("code")) return fail("invalid_callback", "The provider's callback carries no code");
  if (!providerConfigured(deps.config, provider)) return fail("provider_not_configured");

  let profile: SocialProfile;
  try {
    profile = await exchangeCode(deps.config, provider, { params, state: secret, codeVerifier: state.codeVerifier, nonce: state.nonce, callbackUrl: state.callbackUrl }, deps.clock.now());
  } catch (err) {
    if (err instanceof SocialError) return fail(err.code, err.message);
    throw err;
  }

  try {
    if (state.mode === "link") {
      await linkForUser(deps, state, profile, meta);
      return withParams(state.redirectUri, { linked: provider });
    }
    const userId = await resolveUser(deps, application, profile, meta);
    const outcome = await completeFirstFactor(
      deps,
      application,
      { userId, amr: ["fed"], audit: { type: "login.success", metadata: { method: "social", provider } }, deviceToken },
      meta,
    );
    return await redirectWithCode(deps, application, state.redirectUri, outcome);
  } catch (err) {
    if (err instanceof SocialError) return fail(err.code, err.message);
    // Account states (pending_approval, account_inactive, ...) and MFA refusals go back as error=.
    if (err instanceof AppError && err.status < 500 && err.code !== "redirect_uri_not_registered") return fail(err.code, err.message);
    throw err;
  }
}

async function linkForUser(deps: Deps, state: StoredState, profile: SocialProfile, meta: RequestMeta): Promise<void> {
  const now = deps.clock.now();
  const result = await linkIdentity(deps.db, {
    ...profile,
    userId: state.userId!,
    now,
    acting: { sessionId: state.sessionId!, tokenVersion: state.tokenVersion! },
    audit: { ip: meta.ip, userAgent: meta.userAgent, metadata: { via: "explicit" } },
  });
  if (result.linked || result.ownerUserId === state.userId) return;
  if (result.ownerUserId) throw new SocialError("identity_in_use", "This account at the provider is already linked to another user");
  throw new SocialError("session_ended", "The session that asked for the link has ended; sign in and link again");
}

/**
 * Who signs in: the linked identity's user; else the account with the same email, linked on the
 * spot only when the provider and this service both consider the address verified
 * (account_exists otherwise: sign in and link explicitly); else a new account when the
 * application allows sign-up with a provider (signup_disabled otherwise).
 */
async function resolveUser(deps: Deps, application: CallingApplication, profile: SocialProfile, meta: RequestMeta, retry = true): Promise<string> {
  const now = deps.clock.now();
  const found = await lookupIdentity(deps.db, profile, now);
  if (found.kind === "identity") return found.userId;
  if (found.kind === "email") {
    if (!profile.emailVerified || !found.emailVerified) {
      throw new SocialError("account_exists", "An account with this email already exists: sign in to it and link this provider from there");
    }
    const linked = await linkIdentity(deps.db, { ...profile, userId: found.userId, now, audit: { ip: meta.ip, userAgent: meta.userAgent, metadata: { via: "verified_email" } } });
    if (linked.linked) return found.userId;
    if (linked.ownerUserId) return linked.ownerUserId;
    throw new SocialError("account_unavailable", "The account with this email cannot sign in");
  }
  if (!profile.email) throw new SocialError("missing_email", "The provider did not share an email address");
  if (!profile.emailVerified) throw new SocialError("email_not_verified", "The provider does not vouch for this email address");
  const policy = signInPolicy(application);
  if (!policy.signUp.social) throw new SocialError("signup_disabled", "This application does not create accounts at sign-in with a provider");
  const approved = policy.signUp.approval === "automatic";
  const created = await createSocialUser(deps.db, {
    ...profile,
    email: profile.email,
    fullName: profile.name,
    authProvider: AUTH_PROVIDER[profile.provider],
    approved,
    now,
    audit: { ip: meta.ip, userAgent: meta.userAgent, metadata: { authProvider: profile.provider, applicationId: application.id } },
  });
  if (!created) {
    // The address was taken meanwhile (a concurrent first sign-in): decide again with what is there now.
    if (retry) return resolveUser(deps, application, profile, meta, false);
    throw new SocialError("account_exists", "An account with this email already exists");
  }
  if (!approved) {
    notify(deps, "registration_pending", profile.email, { name: profile.name ?? undefined });
    throw new AppError(403, "pending_approval", "The account was created and is waiting for approval by platform staff");
  }
  return created.userId;
}
