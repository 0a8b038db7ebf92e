// Magic links (issue 10 item 5). The link names a single-use artefact in Redis ("magic-link",
// MAGIC_LINK_TTL) holding the account (or the address, for sign-up), the application and the
// redirect URI, checked against the application's registered URIs when the link is requested.
// Opening the link (GET) consumes nothing, because mail scanners fetch links; the page's button
// POSTs the token, and that consume is one atomic Redis round trip: of N concurrent uses one wins.
import { consumeArtefact, newArtefactSecret } from "../../cache/artefacts";
import type { Deps } from "../../deps";
import { log } from "../../runtime/log";
import type { CallingApplication } from "../applications/resolve";
import { normalizeEmail, type RequestMeta } from "../auth/common";
import type { SignInOutcome } from "../auth/outcome";
import { redirectUriNotRegistered } from "../auth/redirect-code";
import { magicLinkUrl } from "./links";
import { assertMethodAllowed, auditFailure, completePasswordless, linkNoLongerValid, requestPasswordless, type PasswordlessGrant } from "./sign-in";

export const MAGIC_LINK_ACCEPTED = "If this address can sign in, a sign-in link is on its way. It works once and expires soon.";

interface MagicLinkGrant extends PasswordlessGrant {
  redirectUri: string | null;
}

/**
 * Emails a sign-in link for `email` under `application` (the same answer for every address). An
 * unregistered redirectUri is refused (400) before anything is sent.
 */
export async function requestMagicLink(
  deps: Deps,
  application: CallingApplication,
  input: { email: string; redirectUri?: string },
  requestUrl: string,
  meta: RequestMeta,
): Promise<{ message: string }> {
  assertMethodAllowed(application, "magic_link");
  if (input.redirectUri !== undefined && !application.redirectUris.includes(input.redirectUri)) throw redirectUriNotRegistered();
  const token = newArtefactSecret();
  const ttlMs = deps.config.verification.magicLinkTtlMs;
  await requestPasswordless(
    deps,
    application,
    normalizeEmail(input.email),
    {
      method: "magic_link",
      kind: "magic-link",
      secret: token,
      ttlSeconds: ttlMs / 1000,
      extra: { redirectUri: input.redirectUri ?? null },
      email: {
        kind: "magic_link",
        params: (name) => ({ name, url: magicLinkUrl(deps.config, requestUrl, token), validMinutes: ttlMs / 60_000, applicationName: application.builtin ? null : application.name }),
      },
    },
    meta,
  );
  return { message: MAGIC_LINK_ACCEPTED };
}

/**
 * Consumes a link once. `resolve` names the application the session belongs to from the stored
 * grant (the JSON route requires the caller's X-API-Key to be that application; the page's form
 * post resolves it by id). Returns the outcome and where the browser goes next.
 */
export async function verifyMagicLink(
  deps: Deps,
  token: string,
  resolve: (applicationId: string) => Promise<CallingApplication> | CallingApplication,
  meta: RequestMeta,
  /** A remembered-device token: skips the second factor like at /auth/login. */
  deviceToken: string | null = null,
): Promise<{ outcome: SignInOutcome; application: CallingApplication; redirectUri: string | null }> {
  const grant = await consumeArtefact<MagicLinkGrant>(deps.redis, "magic-link", token);
  if (!grant) {
    // No account is known from an unknown token: logged, not audited (a refused request writes nothing).
    log({ level: "info", msg: "magic link refused", reason: "unknown, expired or used", ip: meta.ip });
    throw linkNoLongerValid("magic_link");
  }
  let application: CallingApplication;
  try {
    application = await resolve(grant.applicationId);
    assertMethodAllowed(application, "magic_link");
  } catch (err) {
    auditFailure(deps, "magic_link", "application", meta, grant.userId, grant.applicationId);
    throw err;
  }
  const outcome = await completePasswordless(deps, application, grant, "magic_link", meta, deviceToken);
  return { outcome, application, redirectUri: grant.redirectUri };
}
