// What every hosted page (and the staff portal) knows about its request, set up by `pageMiddleware`:
// the CSP nonce, the locale and its translator, the application that shapes the page (?client_id=,
// else the platform) with its brand, the registered ?redirect_uri= to return to, this browser's
// CSRF form token, and for a POST the parsed form (its CSRF token and origin already checked).
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/middleware";
import { pageNonce, pageSecurity } from "../http/security-headers";
import { brandName } from "../services/applications/policy";
import { platformApplication, redirectUriAllowed, resolveApplicationById, type CallingApplication } from "../services/applications/resolve";
import { redirectUriNotRegistered } from "../services/auth/redirect-code";
import { assertCsrf, assertSameOrigin, csrfToken, CSRF_FIELD } from "./csrf";
import { PageError } from "./errors";
import { chooseLocale, formatters, translator, type Locale, type Translate } from "./i18n";
import { brandCss } from "./styles";

export interface PageContext {
  nonce: string;
  locale: Locale;
  t: Translate;
  fmt: ReturnType<typeof formatters>;
  app: CallingApplication;
  brand: string;
  /** The application's logo for the pages (settings.branding.logoDataUrl: a data: URL, nothing fetched), when it has one. */
  logoUrl: string | null;
  /** The nonce'd CSS that tints the page with the application's colour, or null. */
  brandCss: string | null;
  /** ?client_id= as given (null: the platform). */
  clientId: string | null;
  /** ?redirect_uri=, checked to be one of the application's registered URIs. */
  redirectUri: string | null;
  /** ?next=: a page of this site to show after signing in (safeNext's allowlist), else null. */
  next: string | null;
  /** This browser's CSRF token, for the hidden field of every form. */
  csrf: string;
  /** The request path. */
  path: string;
  /** The password policy's minimum length (PASSWORD_MIN_LENGTH), for hints and messages. */
  passwordMinLength: number;
  /** A POST's form fields (strings only), after the CSRF and origin checks. */
  form: Record<string, string>;
}

/** The env of page routers: AppEnv plus the page context (optional in the type so a page Context is an AppEnv Context). */
export type PageEnv = { Bindings: AppEnv["Bindings"]; Variables: AppEnv["Variables"] & { page?: PageContext } };

/** The query parameters a page passes on to its links and forms: client_id, redirect_uri, locale, next. */
export function carried(page: PageContext, extra: Record<string, string | null | undefined> = {}): string {
  const q = new URLSearchParams();
  if (page.clientId) q.set("client_id", page.clientId);
  if (page.redirectUri) q.set("redirect_uri", page.redirectUri);
  const asked = page.locale;
  q.set("locale", asked);
  if (page.next) q.set("next", page.next);
  for (const [k, v] of Object.entries(extra)) if (v !== null && v !== undefined) q.set(k, v);
  return q.toString();
}

/** A path with the carried parameters. */
export function pageHref(page: PageContext, path: string, extra: Record<string, string | null | undefined> = {}): string {
  return `${path}?${carried(page, extra)}`;
}

const NEXT_BASE = "https://next.invalid";

/**
 * ?next= when it is a page of this site that may follow a sign-in: `/invitations/accept?...`, or
 * `/account` and below. Never `//`, a backslash, a scheme, spaces or control characters, dot
 * segments or anything that resolves elsewhere; otherwise null (the default: /account).
 */
export function safeNext(value: string | null | undefined): string | null {
  if (!value || value.length > 1024) return null;
  if (!/^\/[\x21-\x7e]*$/.test(value) || value.includes("//") || value.includes("\\")) return null;
  if (!value.startsWith("/invitations/accept?") && !/^\/account(?:[/?#]|$)/.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value, NEXT_BASE);
  } catch {
    return null;
  }
  if (url.origin !== NEXT_BASE) return null;
  const path = url.pathname;
  return path === "/invitations/accept" || path === "/account" || path.startsWith("/account/") ? value : null;
}

/** Where a completed sign-in without redirect_uri goes: page.next (with client_id and locale), else /account. */
export function afterSignInHref(page: PageContext): string {
  if (!page.next) return pageHref(page, "/account");
  const url = new URL(page.next, NEXT_BASE);
  for (const [k, v] of new URLSearchParams(carried({ ...page, redirectUri: null, next: null }))) {
    if (!url.searchParams.has(k)) url.searchParams.set(k, v);
  }
  return url.pathname + url.search + url.hash;
}

function firstQuery(c: Context, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = c.req.query(n);
    if (v !== undefined && v !== "") return v;
  }
  return undefined;
}

const setup: MiddlewareHandler<PageEnv> = async (c, next) => {
  const deps = c.get("deps");
  const nonce = pageNonce(c);
  // A page carries this request's nonce and CSRF token: no cache may keep it.
  c.header("Cache-Control", "no-store");
  // Same-origin requests carry the Origin (and Referer) the CSRF check needs; with no-referrer a
  // browser sends "Origin: null" on form posts. Nothing (a token in a URL) leaks to other sites.
  c.header("Referrer-Policy", "same-origin");
  const locale = chooseLocale(c);
  const t = translator(locale);
  const fmt = formatters(locale);
  const clientId = firstQuery(c, "client_id") ?? null;
  const partial = { nonce, locale, t, fmt, brandCss: null, logoUrl: null, clientId: null, redirectUri: null, next: null, csrf: "", path: c.req.path, form: {}, passwordMinLength: deps.config.passwordMinLength };
  // Until the application is known, an error page is shown with the platform's look.
  const platform = platformApplication(deps);
  c.set("page", { ...partial, app: platform, brand: brandName(platform, deps.config) });

  const app = clientId ? await resolveApplicationById(deps, clientId) : platform;
  const redirectUri = firstQuery(c, "redirect_uri", "redirectUri") ?? null;
  const branding = app.settings.branding ?? {};
  const page: PageContext = {
    ...partial,
    app,
    brand: brandName(app, deps.config),
    logoUrl: branding.logoDataUrl ?? null,
    brandCss: brandCss(branding.primaryColor),
    clientId,
    redirectUri: null,
    next: safeNext(firstQuery(c, "next")),
    csrf: await csrfToken(c),
  };
  c.set("page", page);
  c.set("application", app);
  if (redirectUri !== null && !redirectUriAllowed(app, redirectUri)) throw redirectUriNotRegistered();
  page.redirectUri = redirectUri;

  if (c.req.method === "POST") {
    assertSameOrigin(c);
    const type = c.req.header("content-type")?.split(";")[0].trim().toLowerCase();
    if (type !== "application/x-www-form-urlencoded") throw new PageError(415, "unsupported_media_type", "error.generic");
    const body = await c.req.parseBody();
    await assertCsrf(c, body[CSRF_FIELD]);
    for (const [k, v] of Object.entries(body)) if (typeof v === "string") page.form[k] = v;
  }
  await next();
};

/**
 * The middleware of a page route: the page CSP (per-request nonce, frame-ancestors 'none'), then
 * the page context. Use it on every page route: `router.get("/x", ...pageMiddleware, handler)`.
 */
export const pageMiddleware = [pageSecurity() as MiddlewareHandler<PageEnv>, setup] as const;

/** The page context of this request (set by `pageMiddleware`). */
export function pageOf(c: Context<PageEnv>): PageContext {
  const page = c.get("page");
  if (!page) throw new Error("pageOf: pageMiddleware did not run for this route");
  return page;
}

/** A 303 (See Other) redirect, as a form POST answers. */
export function seeOther(c: Context, location: string): Response {
  return c.redirect(location, 303);
}

