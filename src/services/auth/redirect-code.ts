// Browser flows (magic links, social sign-in, hosted pages) end with a redirect to one of the
// application's registered redirect URIs carrying a one-time `code`, never a token (DESIGN.md
// section 10). The code names the sign-in's outcome in Redis for REDIRECT_CODE_TTL (60 s), bound
// to the application and the redirect URI; POST /auth/redirect/exchange turns it into the same
// answer a JSON sign-in gives (tokens, or the second step still needed), once.
import { consumeArtefact, newArtefactSecret, putArtefact } from "../../cache/artefacts";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import type { CallingApplication } from "../applications/resolve";
import type { SignInOutcome } from "./outcome";

export const REDIRECT_CODE_TTL_SECONDS = 60;

interface StoredRedirect {
  applicationId: string;
  redirectUri: string;
  outcome: SignInOutcome;
}

export const redirectUriNotRegistered = () =>
  new AppError(400, "redirect_uri_not_registered", "redirectUri is not one of the application's registered redirect URIs");

/** Stores `outcome` under a new code and returns the URL to send the browser to. */
export async function redirectWithCode(deps: Deps, application: CallingApplication, redirectUri: string, outcome: SignInOutcome, extra: Record<string, string> = {}): Promise<string> {
  if (!application.redirectUris.includes(redirectUri)) throw redirectUriNotRegistered();
  const code = newArtefactSecret();
  await putArtefact(deps.redis, "redirect-code", code, { applicationId: application.id, redirectUri, outcome } satisfies StoredRedirect, REDIRECT_CODE_TTL_SECONDS);
  const url = new URL(redirectUri);
  url.searchParams.set("code", code);
  for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
  return url.toString();
}

/** A redirect carrying an error instead (`error=`, optional `error_description`), for a registered URI only. */
export function redirectWithError(application: CallingApplication, redirectUri: string, error: string, description?: string): string {
  if (!application.redirectUris.includes(redirectUri)) throw redirectUriNotRegistered();
  const url = new URL(redirectUri);
  url.searchParams.set("error", error);
  if (description) url.searchParams.set("error_description", description);
  return url.toString();
}

export const invalidRedirectCode = () => new AppError(400, "invalid_code", "The code is unknown, expired or already used");

/**
 * Exchanges a code once. The caller must be the application the code was issued for (its
 * X-API-Key), and, when it sends `redirectUri`, name the same URI. A code of another application
 * is consumed all the same (a leaked code is dead either way).
 */
export async function exchangeRedirectCode(deps: Deps, application: CallingApplication, code: string, redirectUri?: string): Promise<SignInOutcome> {
  const stored = await consumeArtefact<StoredRedirect>(deps.redis, "redirect-code", code);
  if (!stored || stored.applicationId !== application.id || (redirectUri !== undefined && redirectUri !== stored.redirectUri)) throw invalidRedirectCode();
  return stored.outcome;
}
