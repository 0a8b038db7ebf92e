// /auth routes for email verification, magic links and email one-time codes (issue 10). Thin:
// parse and validate, call one service, respond. The one browser surface is the magic link: its
// GET serves a minimal page (consuming nothing: mail scanners fetch links) whose form POSTs the
// token back with a CSRF token (a SameSite=Strict cookie the page set, plus the same value in the
// form) from this origin; that form post ends with a 303 to the application's registered redirect
// URI carrying a one-time code (never a token), or a small "signed in" page.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { randomSecret } from "../crypto/random";
import { constantTimeEqual } from "../crypto/constant-time";
import { readDeviceCookie } from "../http/cookies";
import { application } from "../http/application";
import { Email, SignInAnswerSchema, TokenTransport, signInAnswer } from "../http/auth-schemas";
import { AppError, errors } from "../http/errors";
import { bearer, requestMeta, type AppEnv } from "../http/middleware";
import { createRouter, envelope, errorResponse, jsonBody, jsonContent } from "../http/openapi";
import { pageNonce, pageSecurity } from "../http/security-headers";
import { assertOriginAllowed, resolveApplication, resolveApplicationById } from "../services/applications/resolve";
import { redirectWithCode } from "../services/auth/redirect-code";
import { escapeHtml } from "../services/email";
import { requestEmailOtp, verifyEmailOtp } from "../services/passwordless/email-otp";
import { confirmEmailVerification, requestEmailVerification } from "../services/passwordless/email-verification";
import { MAGIC_LINK_VERIFY_PATH, publicOrigin } from "../services/passwordless/links";
import { requestMagicLink, verifyMagicLink } from "../services/passwordless/magic-link";
import { linkNoLongerValid } from "../services/passwordless/sign-in";

// ---- schemas -----------------------------------------------------------------------------------

const tags = ["auth"];
const security = [{ Bearer: [] }];
/** App-initiated routes: X-API-Key names the application; without it, the platform application. */
const appSecurity: Record<string, string[]>[] = [{}, { ApiKey: [] }];

/** Link tokens are 43 base64url characters; bounded generously so any token-like string is judged as a token. */
const LinkToken = z.string().min(1).max(512);
const MessageSchema = z.object({ message: z.string() });

/** The cookie of the magic-link page's CSRF check (double submit), scoped to the verify path. */
const CSRF_COOKIE = "magic_link_csrf";

// ---- routes ------------------------------------------------------------------------------------

const verificationRequestRoute = createRoute({
  method: "post",
  path: "/auth/email-verification/request",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Email a new verification link to the caller's address (nothing is sent when it is already verified)",
  responses: {
    200: jsonContent(envelope(MessageSchema.extend({ alreadyVerified: z.boolean() })), "Sent, or already verified"),
    401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked"),
    429: errorResponse("rate_limited (RATE_LIMIT_EMAIL_LINK_PER_EMAIL; Retry-After)"),
    503: errorResponse("dependency_unavailable (Redis down: the limit fails closed)"),
  },
});

const verificationConfirmRoute = createRoute({
  method: "post",
  path: "/auth/email-verification/confirm",
  tags,
  summary: "Confirm an email address with the token of a verification link, once",
  request: { body: jsonBody(z.object({ token: LinkToken }).strict()) },
  responses: {
    200: jsonContent(envelope(MessageSchema.extend({ emailVerified: z.literal(true) })), "The address is verified; tokens issued from now on carry email_verified: true"),
    400: errorResponse("validation_error; invalid_token (unknown, expired, used, or for an address the account no longer has)"),
  },
});

const magicLinkRequestRoute = createRoute({
  method: "post",
  path: "/auth/magic-link/request",
  tags,
  middleware: [application] as const,
  security: appSecurity,
  summary: "Email a single-use sign-in link; the answer is the same for every address",
  description:
    "redirectUri (optional) must be one of the application's registered redirect URIs: the link then ends with a redirect there carrying a one-time code for POST /auth/redirect/exchange. An unknown address gets no account unless the application allows sign-up by magic link.",
  request: {
    body: jsonBody(
      z
        .object({
          email: Email,
          redirectUri: z.string().max(2048).optional().openapi({ description: "One of the application's registered redirect URIs (exact match)" }),
        })
        .strict(),
    ),
  },
  responses: {
    202: jsonContent(envelope(MessageSchema), "Accepted (whether or not the address has an account)"),
    400: errorResponse("validation_error; redirect_uri_not_registered (nothing is sent)"),
    401: errorResponse("invalid_api_key or application_required (X-API-Key)"),
    403: errorResponse("origin_not_allowed; method_not_allowed (the application does not offer magic links)"),
    429: errorResponse("rate_limited (per address and per IP; Retry-After)"),
    503: errorResponse("dependency_unavailable (Redis down: the limits fail closed)"),
  },
});

const magicLinkPageRoute = createRoute({
  method: "get",
  path: "/auth/magic-link/verify",
  tags,
  middleware: [pageSecurity()] as const,
  summary: "The page a magic link opens: a button that POSTs the token (opening the link consumes nothing)",
  request: { query: z.object({ token: LinkToken }) },
  responses: {
    200: { content: { "text/html": { schema: z.string() } }, description: "An HTML page with a form (CSRF cookie set)" },
    400: errorResponse("validation_error (no token)"),
  },
});

const VerifyJson = z.object({ token: LinkToken, tokenTransport: TokenTransport.optional() }).strict();
const VerifyForm = z.object({ token: LinkToken, csrf: z.string().max(200).optional() }).strict();

const magicLinkVerifyRoute = createRoute({
  method: "post",
  path: "/auth/magic-link/verify",
  tags,
  security: appSecurity,
  summary: "Use a magic link once: JSON gets the sign-in answer; the link page's form post is redirected with a one-time code",
  description:
    "JSON (an application's own client; X-API-Key must name the application the link was requested through): the same answer as /auth/login. " +
    "Form post (application/x-www-form-urlencoded, from the page of GET /auth/magic-link/verify, with its CSRF token): 303 to the registered redirectUri with `code` " +
    "(exchange it at POST /auth/redirect/exchange within 60 s), or, with no redirectUri, an HTML page saying the sign-in is complete (tokens never appear).",
  request: {
    body: {
      content: { "application/json": { schema: VerifyJson }, "application/x-www-form-urlencoded": { schema: VerifyForm } },
      required: false,
    },
  },
  responses: {
    200: jsonContent(envelope(SignInAnswerSchema), "Signed in, or the second step still needed (Cache-Control: no-store); an HTML page for a form post without redirectUri"),
    303: { description: "Form post: to the registered redirect URI with a one-time code" },
    400: errorResponse("validation_error; invalid_token (unknown, expired, used, another application's, or the account no longer has the address)"),
    401: errorResponse("invalid_api_key or application_required (X-API-Key)"),
    403: errorResponse(
      "origin_not_allowed; csrf_failed (form post without the page's CSRF token); method_not_allowed; pending_approval, registration_rejected or account_inactive",
    ),
  },
});

const otpRequestRoute = createRoute({
  method: "post",
  path: "/auth/email-otp/request",
  tags,
  middleware: [application] as const,
  security: appSecurity,
  summary: "Email a 6-digit sign-in code (valid EMAIL_OTP_TTL, 5 attempts); the answer is the same for every address",
  request: { body: jsonBody(z.object({ email: Email }).strict()) },
  responses: {
    202: jsonContent(envelope(MessageSchema), "Accepted (whether or not the address has an account)"),
    400: errorResponse("validation_error"),
    401: errorResponse("invalid_api_key or application_required (X-API-Key)"),
    403: errorResponse("origin_not_allowed; method_not_allowed (the application does not offer email codes)"),
    429: errorResponse("rate_limited (per address and per IP; Retry-After)"),
    503: errorResponse("dependency_unavailable (Redis down: the limits fail closed)"),
  },
});

const otpVerifyRoute = createRoute({
  method: "post",
  path: "/auth/email-otp/verify",
  tags,
  middleware: [application] as const,
  security: appSecurity,
  summary: "Sign in with the emailed code, once; 5 wrong codes and it is dead",
  request: {
    body: jsonBody(
      z
        .object({
          email: Email,
          code: z.string().regex(/^\d{6}$/, "must be 6 digits").openapi({ example: "123456" }),
          tokenTransport: TokenTransport.optional(),
        })
        .strict(),
    ),
  },
  responses: {
    200: jsonContent(envelope(SignInAnswerSchema), "Signed in, or the second step still needed (Cache-Control: no-store)"),
    400: errorResponse("validation_error; invalid_code (wrong, expired, used, spent after 5 attempts, or requested through another application)"),
    401: errorResponse("invalid_api_key or application_required (X-API-Key)"),
    403: errorResponse("origin_not_allowed; method_not_allowed; pending_approval, registration_rejected or account_inactive"),
  },
});

// ---- pages ---------------------------------------------------------------------------------------

function htmlPage(c: Context<AppEnv>, title: string, body: string, nonce?: string): string {
  const style = nonce
    ? `<style nonce="${escapeHtml(nonce)}">body{font-family:system-ui,-apple-system,"Segoe UI",Arial,sans-serif;max-width:30rem;margin:4rem auto;padding:0 1rem;color:#111827;line-height:1.5}button{font-size:1rem;padding:.65rem 1.4rem;border:0;border-radius:6px;background:#1f2937;color:#fff;cursor:pointer}button:focus{outline:3px solid #2563eb;outline-offset:2px}</style>`
    : "";
  const app = escapeHtml(c.get("deps").config.email.appName);
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(title)} · ${app}</title>${style}</head>
<body><main>
<h1>${escapeHtml(title)}</h1>
${body}
</main></body>
</html>`;
}

/** An HTML answer of the browser flow (no token, nothing cached). */
function html(c: Context<AppEnv>, status: 200 | 400 | 403, title: string, message: string) {
  c.header("Cache-Control", "no-store");
  return c.html(htmlPage(c, title, `<p>${escapeHtml(message)}</p>`), status);
}

function isForm(c: Context<AppEnv>): boolean {
  return c.req.header("content-type")?.split(";")[0].trim().toLowerCase() === "application/x-www-form-urlencoded";
}

/**
 * A form post must come from the link page: this origin (when the browser says) and the page's
 * CSRF token in both the cookie and the form. Refusals are the JSON envelope (no page of ours sent them).
 */
function assertFromLinkPage(c: Context<AppEnv>, csrf: string | undefined): void {
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== publicOrigin(c.get("deps").config, c.req.url)) {
    throw new AppError(403, "origin_not_allowed", "A magic link form must be posted from this service's own page");
  }
  const cookie = getCookie(c, CSRF_COOKIE);
  if (!csrf || !cookie || !constantTimeEqual(cookie, csrf)) {
    throw new AppError(403, "csrf_failed", "Open the sign-in link again and press the button on its page");
  }
}

// ---- handlers ------------------------------------------------------------------------------------

export const passwordlessRoutes = createRouter()
  .openapi(verificationRequestRoute, async (c) => {
    const result = await requestEmailVerification(c.get("deps"), c.get("principal"));
    c.header("Cache-Control", "no-store");
    return c.json({ data: result }, 200);
  })
  .openapi(verificationConfirmRoute, async (c) => {
    const result = await confirmEmailVerification(c.get("deps"), c.req.valid("json").token, requestMeta(c));
    c.header("Cache-Control", "no-store");
    return c.json({ data: result }, 200);
  })
  .openapi(magicLinkRequestRoute, async (c) => {
    const result = await requestMagicLink(c.get("deps"), c.get("application")!, c.req.valid("json"), c.req.url, requestMeta(c));
    c.header("Cache-Control", "no-store");
    return c.json({ data: result }, 202);
  })
  .openapi(magicLinkPageRoute, async (c) => {
    const { token } = c.req.valid("query");
    const { config } = c.get("deps");
    const csrf = randomSecret(24);
    setCookie(c, CSRF_COOKIE, csrf, { path: MAGIC_LINK_VERIFY_PATH, httpOnly: true, secure: config.cookie.secure, sameSite: "Strict", maxAge: 3600 });
    c.header("Cache-Control", "no-store");
    const body = `<p>Press the button to finish signing in. The link works once.</p>
<form method="post" action="${MAGIC_LINK_VERIFY_PATH}">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<button type="submit">Sign in</button>
</form>`;
    return c.html(htmlPage(c, "Sign in", body, pageNonce(c)), 200) as never;
  })
  .openapi(magicLinkVerifyRoute, async (c) => {
    const deps = c.get("deps");
    const meta = requestMeta(c);
    if (isForm(c)) {
      const form = c.req.valid("form") as z.infer<typeof VerifyForm>;
      if (!form.token) throw errors.validation([{ field: "token", message: "Required" }]);
      assertFromLinkPage(c, form.csrf);
      let result;
      try {
        result = await verifyMagicLink(deps, form.token, (id) => resolveApplicationById(deps, id), meta, readDeviceCookie(c));
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        if (err.code === "invalid_token") return html(c, 400, "This link cannot be used", "The sign-in link is unknown, has expired or was already used. Ask for a new one.") as never;
        return html(c, err.status === 400 ? 400 : 403, "You cannot sign in", err.message) as never;
      }
      if (result.redirectUri) {
        const location = await redirectWithCode(deps, result.application, result.redirectUri, result.outcome);
        c.header("Cache-Control", "no-store");
        return c.redirect(location, 303) as never;
      }
      return html(c, 200, "You are signed in", "The sign-in is complete. You can close this page and return to the application.") as never;
    }
    const body = c.req.valid("json") as Partial<z.infer<typeof VerifyJson>>;
    if (!body.token) throw errors.validation([{ field: "token", message: "Required" }]);
    const caller = await resolveApplication(deps, c.req.header("x-api-key"));
    assertOriginAllowed(caller, c.req.header("origin"));
    c.set("application", caller);
    const { outcome } = await verifyMagicLink(
      deps,
      body.token,
      (id) => {
        // A link requested through another application is spent, and signs in nowhere.
        if (id !== caller.id) throw linkNoLongerValid("magic_link");
        return caller;
      },
      meta,
      readDeviceCookie(c),
    );
    return c.json({ data: signInAnswer(c, outcome, body.tokenTransport ?? "json") }, 200);
  })
  .openapi(otpRequestRoute, async (c) => {
    const result = await requestEmailOtp(c.get("deps"), c.get("application")!, c.req.valid("json"), requestMeta(c));
    c.header("Cache-Control", "no-store");
    return c.json({ data: result }, 202);
  })
  .openapi(otpVerifyRoute, async (c) => {
    const body = c.req.valid("json");
    const outcome = await verifyEmailOtp(c.get("deps"), c.get("application")!, { email: body.email, code: body.code, deviceToken: readDeviceCookie(c) }, requestMeta(c));
    return c.json({ data: signInAnswer(c, outcome, body.tokenTransport ?? "json") }, 200);
  });

export type PasswordlessRoutes = typeof passwordlessRoutes;
