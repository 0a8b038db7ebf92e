// Where a sign-in through the pages goes once a service has answered with an outcome:
// - with ?redirect_uri= (registered): back to the application with a one-time code (never a
//   token) that it exchanges at POST /auth/redirect/exchange: the session is the application's;
// - without: the pages keep the session (cookies) and show ?next= (a page of this site that
//   safeNext allows, e.g. an invitation to accept), else the account page.
// A second step still needed is the caller's to show (the MFA page), or, when the pages cannot
// show it, the application's (the code carries the mfa_required outcome).
import type { Context } from "hono";
import { redirectWithCode } from "../services/auth/redirect-code";
import type { SignInOutcome } from "../services/auth/outcome";
import { afterSignInHref, pageHref, type PageContext, type PageEnv } from "./context";
import { startPageSession } from "./session";
import { renderContinue } from "./continue";

/** The answer to a completed sign-in (`signed_in`): a 303 to the application, or to page.next, else /account. */
export async function completeSignIn(c: Context<PageEnv>, page: PageContext, outcome: SignInOutcome): Promise<Response> {
  if (page.redirectUri) {
    return leaveTo(c, page, await redirectWithCode(c.get("deps"), page.app, page.redirectUri, outcome));
  }
  if (outcome.kind === "signed_in") {
    startPageSession(c, page.app, outcome.tokens);
    return c.redirect(afterSignInHref(page), 303);
  }
  return c.redirect(pageHref(page, "/login"), 303);
}

/**
 * Sends the browser on to the application after a form POST. Not a redirect: the page policy's
 * form-action 'self' also governs where a form submission is redirected, so the answer is a small
 * page that moves on at once (meta refresh) with a link for the same, naming the destination.
 */
export function leaveTo(c: Context<PageEnv>, page: PageContext, location: string): Response | Promise<Response> {
  c.header("Cache-Control", "no-store");
  return renderContinue(c, page, location);
}
