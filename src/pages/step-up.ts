// Step-up on the pages: the sensitive actions the JSON API guards with its `stepUp` middleware
// (change password, add or remove a passkey; in the portal, a new API key or client secret) call
// the same requireStepUp here, with the step-up token the pages keep in an HttpOnly cookie. When a
// proof is needed, the page router sends the browser to /account/step-up (a code or the password,
// through the same createStepUp as POST /auth/step-up), which keeps the token for STEP_UP_TTL and
// returns to the page the action came from.
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../http/middleware";
import { requireStepUp, type StepUpSubject } from "../services/mfa/step-up";
import type { Principal } from "../services/auth/bearer";
import { pageHref, type PageContext } from "./context";
import { cookieOptions, STEP_UP_COOKIE } from "./session";

/** Passes when the acting user needs no proof now (or proved it through the pages); else 403 step_up_required. */
export async function requirePageStepUp(c: Context<AppEnv>, subject: StepUpSubject | Principal): Promise<void> {
  await requireStepUp(c.get("deps"), subject, getCookie(c, STEP_UP_COOKIE));
}

/** Keeps a step-up token of the pages' session for its lifetime. */
export function keepStepUp(c: Context<AppEnv>, token: string, expiresIn: number): void {
  setCookie(c, STEP_UP_COOKIE, token, { ...cookieOptions(c), maxAge: expiresIn });
}

const BACK = /^\/(account|portal)(\/[A-Za-z0-9/_-]*)?(\?[A-Za-z0-9=&%._~-]*)?(#[A-Za-z0-9_-]*)?$/;

/** A page of this site to return to after the proof: /account or /portal paths only, else /account. */
export function safeBack(value: string | null | undefined): string {
  return value && BACK.test(value) && !value.includes("//") ? value : "/account";
}

/** Where to return after a proof asked for by the action at `page.path`: the page it was posted from. */
export function backFor(c: Context<AppEnv>, page: PageContext): string {
  const referer = c.req.header("referer");
  if (referer) {
    try {
      const url = new URL(referer);
      if (url.origin === new URL(c.req.url).origin) {
        const back = url.pathname + url.search + url.hash;
        if (BACK.test(back)) return back;
      }
    } catch {
      // not a URL: fall through
    }
  }
  return page.path.startsWith("/portal") ? "/portal" : "/account";
}

/** The step-up page's address, returning to `back`. */
export function stepUpHref(page: PageContext, back: string): string {
  return pageHref(page, "/account/step-up", { back: safeBack(back) });
}
