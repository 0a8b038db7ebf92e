// The router every page module (and the portal) is built with: errors answer as HTML pages in the
// request's language (refusals with their status: 400 unregistered redirect, 403 CSRF/origin),
// and a session that is no longer good sends the browser to sign in again.
import { Hono, type Context } from "hono";
import { AppError, errors } from "../http/errors";
import { describeError, log } from "../runtime/log";
import { dependencyFailure } from "../runtime/metrics";
import { carried, type PageContext, type PageEnv } from "./context";
import { messageKeyFor } from "./errors";
import { chooseLocale, formatters, translator } from "./i18n";
import { ErrorPage } from "./layout";
import { clearPageSession } from "./session";
import { backFor, stepUpHref } from "./step-up";
import { brandName } from "../services/applications/policy";
import { platformApplication } from "../services/applications/resolve";

const SESSION_CODES = new Set(["token_revoked", "invalid_token", "token_expired", "session_revoked", "account_inactive"]);

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const dependency = dependencyFailure(err);
  return dependency ? errors.dependencyUnavailable(dependency) : errors.internal();
}

/** A page for `err`: the request's page context when it was set up, else a bare one. */
export function renderPageError(err: unknown, c: Context<PageEnv>): Response | Promise<Response> {
  const appError = toAppError(err);
  c.set("errorCode", appError.code);
  if (appError.status >= 500) {
    log({ level: "error", msg: appError.code === "internal_error" ? "unhandled page error" : appError.message, requestId: c.get("requestId"), code: appError.code, ...describeError(err, { stack: appError.code === "internal_error" }) });
  }
  let page: PageContext | undefined = c.get("page");
  if (page && appError.status === 401 && SESSION_CODES.has(appError.code)) {
    // The pages' session ended meanwhile (revoked elsewhere, password changed): sign in again.
    clearPageSession(c);
    return c.redirect(`/login?${carried(page)}`, 303);
  }
  if (page && appError.code === "step_up_required") {
    // A sensitive action needs a recent proof: ask for it, then come back to the page it came from.
    return c.redirect(stepUpHref(page, backFor(c, page)), 303);
  }
  if (!page) {
    const locale = chooseLocale(c);
    let nonce = "";
    try {
      nonce = (c.get("secureHeadersNonce") as string | undefined) ?? "";
    } catch {
      nonce = "";
    }
    const deps = c.get("deps");
    const app = platformApplication(deps);
    page = { nonce, locale, t: translator(locale), fmt: formatters(locale), app, brand: brandName(app, deps.config), logoUrl: null, brandCss: null, clientId: null, redirectUri: null, next: null, csrf: "", path: c.req.path, form: {}, passwordMinLength: deps.config.passwordMinLength };
  }
  c.header("Cache-Control", "no-store");
  for (const [k, v] of Object.entries(appError.extra.headers ?? {})) c.header(k, v);
  return c.html(<ErrorPage page={page} message={messageKeyFor(appError)} status={appError.status} />, appError.status);
}

/** A router for pages: its errors are answered as pages. */
export function pageRouter(): Hono<PageEnv> {
  const router = new Hono<PageEnv>();
  router.onError(renderPageError);
  return router;
}
