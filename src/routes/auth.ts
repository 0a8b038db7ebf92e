// /auth/*: the public identity API. Thin: parse and validate, call one service, respond.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { AUTH_PROVIDERS } from "../db/schema";
import { AppError } from "../http/errors";
import { assertCookieOrigin, clearRefreshCookie, readDeviceCookie, readRefreshCookie, setRefreshCookie } from "../http/cookies";
import { STEP_UP_HEADER, stepUp } from "../http/step-up";
import { application, tokenApplication } from "../http/application";
import { bearer, requestMeta, type AppEnv } from "../http/middleware";
import { Email, SignInAnswerSchema, TokensSchema, TokenTransport, signInAnswer, tokenResponse } from "../http/auth-schemas";
import { createRouter, envelope, errorResponse, jsonBody, jsonContent } from "../http/openapi";
import { MeOrganizationSchema } from "../http/organization-schemas";
import { ProfileSchema, profileJson, UserSchema } from "../http/user-schemas";
import { login } from "../services/auth/login";
import { logout, logoutAll } from "../services/auth/logout";
import { currentUser } from "../services/auth/me";
import { changePassword, confirmPasswordReset, requestPasswordReset } from "../services/auth/passwords";
import { OtherApplicationSession, refresh } from "../services/auth/refresh";
import { register } from "../services/auth/register";
import { endSession, listSessions } from "../services/auth/sessions";
import { MAX_PASSWORD_LENGTH } from "../services/password-policy";

// ---- schemas -----------------------------------------------------------------------------------

/** Sign-in passwords are not policy-checked (old passwords must keep working), only bounded. */
const AnyPassword = z.string().min(1).max(1024);
const NewPassword = z.string().min(1).max(MAX_PASSWORD_LENGTH * 4).openapi({ description: "Checked against the password policy (length, common passwords, email)" });
const OptionalText = (max: number) => z.string().max(max).nullable().optional();

const SessionSchema = z
  .object({
    id: z.uuid(),
    createdAt: z.string(),
    lastUsedAt: z.string(),
    expiresAt: z.string(),
    application: z.object({ id: z.uuid(), slug: z.string(), name: z.string() }).openapi({ description: "The application the session was started under" }),
    userAgent: z.string().nullable(),
    ip: z.string().nullable(),
    current: z.boolean(),
  })
  .openapi("Session");

const MessageSchema = z.object({ message: z.string() });

const security = [{ Bearer: [] }];
/** Bearer routes on the caller's sessions: the token, plus X-API-Key for a non-platform application's session. */
const sessionSecurity: Record<string, string[]>[] = [{ Bearer: [] }, { Bearer: [], ApiKey: [] }];
const tags = ["auth"];
/** App-initiated routes: X-API-Key names the application; without it, the platform application. */
const appSecurity: Record<string, string[]>[] = [{}, { ApiKey: [] }];

// ---- routes ------------------------------------------------------------------------------------

const registerRoute = createRoute({
  method: "post",
  path: "/auth/register",
  tags,
  middleware: [application] as const,
  security: appSecurity,
  summary: "Self-service sign-up (PUBLIC_REGISTRATION_ENABLED=true): a PENDING, inactive account until staff approve",
  description: "The answer is the same whether or not the address already has an account; its owner is told by email.",
  request: {
    body: jsonBody(
      z
        .object({
          email: Email,
          password: NewPassword,
          fullName: OptionalText(200),
          phoneNumber: OptionalText(50),
          profilePictureUrl: z.url({ protocol: /^https?$/ }).max(2048).nullable().optional().or(z.literal("")),
          authProvider: z.enum(AUTH_PROVIDERS).optional(),
        })
        .strict(),
    ),
  },
  responses: {
    202: jsonContent(envelope(z.object({ status: z.literal("PENDING"), message: z.string() })), "Accepted; the account (if new) awaits approval"),
    400: errorResponse("validation_error or weak_password"),
    403: errorResponse("origin_not_allowed (an Origin the application does not list); registration_disabled"),
    429: errorResponse("rate_limited (Retry-After)"),
    401: errorResponse("invalid_api_key or application_required (X-API-Key)"),
  },
});

const loginRoute = createRoute({
  method: "post",
  path: "/auth/login",
  tags,
  middleware: [application] as const,
  security: appSecurity,
  summary: "Sign in with email and password; starts a new session",
  request: {
    query: z.object({ tokenTransport: TokenTransport.optional() }),
    body: jsonBody(
      z
        .object({
          email: Email,
          password: AnyPassword,
          accountType: z.enum(["", "internal", "auto", "vendor"]).optional().openapi({
            description: '"", "internal" or "auto": this service\'s users; "vendor": not implemented (501)',
          }),
          tokenTransport: TokenTransport.optional(),
          deviceToken: z.string().max(200).optional().openapi({ description: "A remembered-device token from /auth/mfa/verify (clients without the auth_device cookie): skips the second factor" }),
        })
        .strict(),
    ),
  },
  responses: {
    200: jsonContent(envelope(SignInAnswerSchema), "Signed in, or (a second factor) mfaRequired / mfaEnrollmentRequired with no tokens (Cache-Control: no-store)"),
    400: errorResponse("validation_error"),
    401: errorResponse("invalid_api_key or application_required (X-API-Key); invalid_credentials (same for unknown email and wrong password)"),
    403: errorResponse("origin_not_allowed (an Origin the application does not list); pending_approval, registration_rejected, account_inactive or email_not_verified (only after a correct password)"),
    429: errorResponse("rate_limited (Retry-After)"),
    501: errorResponse('not_implemented (accountType "vendor")'),
    503: errorResponse("dependency_unavailable (Redis down with RATE_LIMIT_FAIL_CLOSED_LOGIN=true)"),
  },
});

/**
 * A refresh token as a client presents it. Bounded generously (ours are about 80 characters) so that
 * any token-like string, an access token sent by mistake included, is judged as a token (401
 * invalid_refresh_token) rather than as malformed input; the body limit still applies.
 */
const PresentedRefreshToken = z.string().max(4096).openapi({ description: "The refresh token (`<session id>.<secret>`); absent with the cookie transport" });

const refreshRoute = createRoute({
  method: "post",
  path: "/auth/refresh",
  tags,
  middleware: [application] as const,
  security: appSecurity,
  summary: "Rotate the refresh token and get a new access token",
  description:
    "The refresh token comes from the body or, for the cookie transport, the auth_refresh cookie. A retry of the token just rotated within REFRESH_REUSE_GRACE gets the same successor; a reuse after that ends the session (401 refresh_token_reused).",
  request: {
    query: z.object({ tokenTransport: TokenTransport.optional() }),
    body: jsonBody(z.object({ refreshToken: PresentedRefreshToken.optional(), tokenTransport: TokenTransport.optional() }).strict()),
  },
  responses: {
    200: jsonContent(envelope(TokensSchema), "Rotated (Cache-Control: no-store)"),
    400: errorResponse("validation_error"),
    401: errorResponse("invalid_api_key or application_required (X-API-Key); invalid_refresh_token, refresh_token_reused, refresh_token_expired, session_revoked, account_inactive"),
    403: errorResponse("origin_not_allowed (an Origin the application does not list); origin_not_allowed (cookie from a foreign origin)"),
  },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/auth/logout",
  tags,
  middleware: [application] as const,
  security: appSecurity,
  summary: "End the session of a refresh token (body or cookie); idempotent",
  request: { body: jsonBody(z.object({ refreshToken: PresentedRefreshToken.optional() }).strict()) },
  responses: {
    200: jsonContent(envelope(z.object({ loggedOut: z.literal(true) })), "Logged out (also when the token was unknown or already ended)"),
    400: errorResponse("validation_error"),
    403: errorResponse("origin_not_allowed (an Origin the application does not list); origin_not_allowed (cookie from a foreign origin)"),
    401: errorResponse("invalid_api_key or application_required (X-API-Key)"),
  },
});

const logoutAllRoute = createRoute({
  method: "post",
  path: "/auth/logout-all",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "End every session of the caller; outstanding access tokens stop working at once",
  responses: {
    200: jsonContent(envelope(z.object({ revokedSessions: z.number().int() })), "All sessions ended"),
    401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked"),
  },
});

const MeSchema = ProfileSchema.extend({
  organizations: z.array(MeOrganizationSchema).openapi({ description: "The organizations the user belongs to, with the roles held in each" }),
}).openapi("CurrentUser");

const meRoute = createRoute({
  method: "get",
  path: "/auth/me",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "The current user, with active company and business-unit memberships",
  responses: {
    200: jsonContent(envelope(MeSchema), "The current user"),
    401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked"),
  },
});

const sessionsRoute = createRoute({
  method: "get",
  path: "/auth/sessions",
  tags,
  security: sessionSecurity,
  middleware: [bearer, tokenApplication] as const,
  summary: "The caller's active sessions; `current` marks the one this token belongs to",
  responses: {
    200: jsonContent(envelope(z.object({ sessions: z.array(SessionSchema) })), "Active sessions, most recently used first"),
    401: errorResponse("unauthorized, invalid_token (also: a token of another application than the X-API-Key names), invalid_api_key, token_expired, token_revoked"),
  },
});

const deleteSessionRoute = createRoute({
  method: "delete",
  path: "/auth/sessions/{id}",
  tags,
  security: sessionSecurity,
  middleware: [bearer, tokenApplication] as const,
  summary: "End one of the caller's own sessions",
  request: { params: z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) }) },
  responses: {
    200: jsonContent(envelope(z.object({ revoked: z.literal(true) })), "Session ended"),
    400: errorResponse("validation_error"),
    401: errorResponse("unauthorized, invalid_token (also: a token of another application than the X-API-Key names), invalid_api_key, token_expired, token_revoked"),
    404: errorResponse("not_found (unknown, ended, or another user's session)"),
  },
});

const resetRequestRoute = createRoute({
  method: "post",
  path: "/auth/password-reset/request",
  tags,
  middleware: [application] as const,
  security: appSecurity,
  summary: "Email a single-use password reset link; the answer is the same for every address",
  request: { body: jsonBody(z.object({ email: Email, accountType: z.enum(["", "internal", "auto"]).optional() }).strict()) },
  responses: {
    200: jsonContent(
      envelope(MessageSchema.extend({ token: z.string().optional().openapi({ description: "Only with EXPOSE_PASSWORD_RESET_TOKEN=true (never in production)" }) })),
      "Accepted",
    ),
    400: errorResponse("validation_error"),
    429: errorResponse("rate_limited (Retry-After)"),
    401: errorResponse("invalid_api_key or application_required (X-API-Key)"),
    403: errorResponse("origin_not_allowed (an Origin the application does not list)"),
  },
});

const resetConfirmRoute = createRoute({
  method: "post",
  path: "/auth/password-reset/confirm",
  tags,
  summary: "Set a new password with a reset token; ends every session",
  request: { body: jsonBody(z.object({ token: z.string().min(1).max(200), newPassword: NewPassword }).strict()) },
  responses: {
    200: jsonContent(envelope(MessageSchema), "Password changed; sign in again"),
    400: errorResponse("invalid_reset_token, weak_password, validation_error"),
  },
});

const changePasswordRoute = createRoute({
  method: "post",
  path: "/auth/change-password",
  tags,
  security,
  middleware: [bearer, stepUp] as const,
  summary: "Change the password (current password required; a step-up when the user has a second factor); ends the caller's other sessions",
  request: {
    headers: z.object({ [STEP_UP_HEADER]: z.string().max(200).optional().openapi({ description: "Step-up token (POST /auth/step-up), for users with a second factor not signed in within 5 minutes" }) }),
    body: jsonBody(z.object({ currentPassword: AnyPassword, newPassword: NewPassword }).strict()),
  },
  responses: {
    200: jsonContent(envelope(z.object({ revokedSessions: z.number().int() })), "Changed"),
    400: errorResponse("invalid_current_password, weak_password, validation_error"),
    401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked"),
    403: errorResponse("step_up_required (a user with a second factor: X-Step-Up-Token, or sign in again)"),
    429: errorResponse("rate_limited (Retry-After)"),
  },
});

// ---- handlers ------------------------------------------------------------------------------------

export const authRoutes = createRouter()
  .openapi(registerRoute, async (c) => {
    const body = c.req.valid("json");
    const result = await register(c.get("deps"), { ...body, profilePictureUrl: body.profilePictureUrl || null }, requestMeta(c));
    return c.json({ data: result }, 202);
  })
  .openapi(loginRoute, async (c) => {
    const body = c.req.valid("json");
    if (body.accountType === "vendor") throw new AppError(501, "not_implemented", "Vendor sign-in is not implemented by this service");
    const transport = body.tokenTransport ?? c.req.valid("query").tokenTransport ?? "json";
    const outcome = await login(
      c.get("deps"),
      c.get("application")!,
      { email: body.email, password: body.password, deviceToken: body.deviceToken ?? readDeviceCookie(c) },
      requestMeta(c),
    );
    return c.json({ data: signInAnswer(c, outcome, transport) }, 200);
  })
  .openapi(refreshRoute, async (c) => {
    const body = c.req.valid("json");
    const cookie = readRefreshCookie(c);
    const presented = body.refreshToken ?? cookie;
    if (!presented) throw new AppError(401, "invalid_refresh_token", "Send the refresh token in the body or the auth_refresh cookie");
    const fromCookie = body.refreshToken === undefined;
    if (fromCookie) assertCookieOrigin(c);
    const transport = body.tokenTransport ?? c.req.valid("query").tokenTransport ?? (fromCookie ? "cookie" : "json");
    try {
      const tokens = await refresh(c.get("deps"), c.get("application")!, presented, requestMeta(c));
      return c.json({ data: tokenResponse(c, tokens, transport) }, 200);
    } catch (err) {
      // A dead cookie is of no use to the browser: drop it with the error (not one that is alive
      // for another application on this domain).
      if (fromCookie && err instanceof AppError && err.status === 401 && !(err instanceof OtherApplicationSession)) clearRefreshCookie(c);
      throw err;
    }
  })
  .openapi(logoutRoute, async (c) => {
    const body = c.req.valid("json");
    const cookie = readRefreshCookie(c);
    if (body.refreshToken === undefined && cookie) assertCookieOrigin(c);
    await logout(c.get("deps"), c.get("application")!, body.refreshToken ?? cookie, requestMeta(c));
    if (cookie) clearRefreshCookie(c);
    return c.json({ data: { loggedOut: true as const } }, 200);
  })
  .openapi(logoutAllRoute, async (c) => {
    const result = await logoutAll(c.get("deps"), c.get("principal"), requestMeta(c));
    if (readRefreshCookie(c)) clearRefreshCookie(c);
    return c.json({ data: result }, 200);
  })
  .openapi(meRoute, async (c) => {
    const me = await currentUser(c.get("deps"), c.get("principal"));
    c.header("Cache-Control", "no-store");
    return c.json({ data: { ...profileJson(me), organizations: me.organizations ?? [] } }, 200);
  })
  .openapi(sessionsRoute, async (c) => {
    const sessions = await listSessions(c.get("deps"), c.get("principal"));
    c.header("Cache-Control", "no-store");
    return c.json(
      {
        data: {
          sessions: sessions.map((s) => ({
            ...s,
            createdAt: s.createdAt.toISOString(),
            lastUsedAt: s.lastUsedAt.toISOString(),
            expiresAt: s.expiresAt.toISOString(),
          })),
        },
      },
      200,
    );
  })
  .openapi(deleteSessionRoute, async (c) => {
    await endSession(c.get("deps"), c.get("principal"), c.req.valid("param").id, requestMeta(c));
    return c.json({ data: { revoked: true as const } }, 200);
  })
  .openapi(resetRequestRoute, async (c) => {
    const result = await requestPasswordReset(c.get("deps"), { email: c.req.valid("json").email }, requestMeta(c));
    c.header("Cache-Control", "no-store");
    return c.json({ data: result }, 200);
  })
  .openapi(resetConfirmRoute, async (c) => {
    await confirmPasswordReset(c.get("deps"), c.req.valid("json"), requestMeta(c));
    return c.json({ data: { message: "Your password has been changed; sign in again." } }, 200);
  })
  .openapi(changePasswordRoute, async (c) => {
    const result = await changePassword(c.get("deps"), c.get("principal"), c.req.valid("json"), requestMeta(c));
    return c.json({ data: result }, 200);
  });
