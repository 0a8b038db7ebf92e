// Security headers, from one place, with Hono's secureHeaders middleware.
//
// - `securityHeaders` (app-wide, outermost): every response, success or error, gets
//   X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer, X-Frame-Options: DENY and the
//   rest of secureHeaders' defaults, plus the API policy `Content-Security-Policy: default-src
//   'none'; frame-ancestors 'none'` (a JSON answer loads nothing and is framed by no one), and in
//   production Strict-Transport-Security for a year with includeSubDomains.
// - `pageSecurity()` (route middleware for HTML pages: /docs now, the hosted pages later): the
//   page policy, a per-request nonce for inline scripts and styles and 'self' for everything
//   else. It runs inside `securityHeaders`, which does not overwrite a header a page already set.
// - `pageNonce(c)`: the nonce to put on the page's <script> and <style> elements.
import type { Context, MiddlewareHandler } from "hono";
import { NONCE, secureHeaders } from "hono/secure-headers";
import { envSchema } from "../config";

export const API_CSP = "default-src 'none'; frame-ancestors 'none'";
export const HSTS = "max-age=31536000; includeSubDomains";

const apiHeaders = (hsts: string | false) =>
  secureHeaders({
    contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    referrerPolicy: "no-referrer",
    xContentTypeOptions: true,
    xFrameOptions: "DENY",
    strictTransportSecurity: hsts,
    // A page (or a route) that set its own header keeps it.
    overwrite: false,
  });

const withHsts = apiHeaders(HSTS);
const withoutHsts = apiHeaders(false);

/**
 * HSTS only in production. APP_ENV is read as the config reads it (unset means production), and
 * straight from the bindings, so a response to a configuration error carries the headers too.
 * A value the config would refuse counts as production: HSTS errs on the side of being sent.
 */
function isProduction(c: Context): boolean {
  const parsed = envSchema.shape.APP_ENV.safeParse((c.env as Record<string, unknown> | undefined)?.APP_ENV);
  return !parsed.success || parsed.data === "production";
}

/** App-wide: the API headers on every response. Register it before anything that can answer or throw. */
export const securityHeaders: MiddlewareHandler = (c, next) => (isProduction(c) ? withHsts : withoutHsts)(c, next);

export interface PagePolicyOptions {
  /**
   * Allow style="" attributes (`style-src-attr 'unsafe-inline'`). Only for a page whose own code
   * cannot do without them (Scalar's reference writes highlighted code as HTML with style
   * attributes). Attributes cannot run script, and url() in them can only reach this origin
   * (img-src, font-src); <style> elements still need the nonce. Hosted pages leave it off.
   */
  inlineStyleAttributes?: boolean;
}

function pagePolicy(options: PagePolicyOptions): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'", NONCE],
      styleSrc: ["'self'", NONCE],
      ...(options.inlineStyleAttributes ? { styleSrcAttr: ["'unsafe-inline'"] } : {}),
      connectSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      fontSrc: ["'self'", "data:"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
    },
    // The only header this sets; everything else comes from `securityHeaders`.
    crossOriginEmbedderPolicy: false,
    crossOriginResourcePolicy: false,
    crossOriginOpenerPolicy: false,
    originAgentCluster: false,
    referrerPolicy: false,
    strictTransportSecurity: false,
    xContentTypeOptions: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xFrameOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  });
}

const strictPage = pagePolicy({});
const pageWithStyleAttributes = pagePolicy({ inlineStyleAttributes: true });

/**
 * The page policy: scripts and styles from this origin or carrying this request's nonce
 * (`pageNonce(c)`), data only to this origin, images and fonts from here or data: URLs, nothing
 * framed, no <base>, forms posted only here.
 */
export function pageSecurity(options: PagePolicyOptions = {}): MiddlewareHandler {
  return options.inlineStyleAttributes ? pageWithStyleAttributes : strictPage;
}

/** The nonce of this request's page policy (set by `pageSecurity`, which must run first). */
export function pageNonce(c: Context): string {
  const nonce = c.get("secureHeadersNonce");
  if (typeof nonce !== "string" || nonce === "") throw new Error("pageNonce: pageSecurity did not run for this route");
  return nonce;
}
