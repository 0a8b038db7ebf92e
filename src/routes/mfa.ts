// /auth routes for second factors: TOTP, recovery codes, the MFA challenge, step-up, remembered devices (issue 10).
// Thin: parse and validate, call one service, respond.
import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { application } from "../http/application";
import { LoginResponse, TokenTransport, signInAnswer } from "../http/auth-schemas";
import { readDeviceCookie, setDeviceCookie } from "../http/cookies";
import { bearer, requestMeta, type AppEnv } from "../http/middleware";
import { createRouter, envelope, errorResponse, jsonBody, jsonContent } from "../http/openapi";
import { STEP_UP_HEADER } from "../http/step-up";
import { authenticateMfaActor, type MfaActor } from "../services/mfa/actor";
import { verifyMfa } from "../services/mfa/challenge";
import { PasskeyFactorFields, mfaCodeRequired, verifyPasskeyMfa } from "./passkeys";
import { devicesOf, forgetOwnDevice } from "../services/mfa/devices";
import { recoveryCodesRemaining, regenerateRecoveryCodes } from "../services/mfa/recovery";
import { createStepUp } from "../services/mfa/step-up";
import { disableTotpFactor, enableTotpFactor, setupTotp } from "../services/mfa/totp";

const tags = ["mfa"];
const security = [{ Bearer: [] }];
const appSecurity: Record<string, string[]>[] = [{}, { ApiKey: [] }];

const Code = z.string().min(1).max(64).openapi({ description: "A 6-digit TOTP code, or a recovery code (xxxxx-xxxxx)", example: "123456" });
const StepUpHeader = z.object({
  [STEP_UP_HEADER]: z.string().max(200).optional().openapi({ description: "A step-up token of this session (POST /auth/step-up); not needed within 5 minutes of signing in" }),
});
const RecoveryCodes = z.array(z.string()).openapi({ description: "Ten single-use recovery codes: shown this once, stored only hashed" });
const authErrors = "unauthorized, invalid_token, token_expired, token_revoked";

// The setup/enable routes take an access token or an enrollment-only mfaToken as the Bearer credential.
const actors = new WeakMap<Request, MfaActor>();
const mfaActor: MiddlewareHandler<AppEnv> = async (c, next) => {
  actors.set(c.req.raw, await authenticateMfaActor(c.get("deps"), c.req.header("authorization"), true));
  await next();
  const actor = actors.get(c.req.raw);
  if (actor?.kind === "session") await actor.principal.markers;
};

const setupRoute = createRoute({
  method: "post",
  path: "/auth/mfa/totp/setup",
  tags,
  security,
  middleware: [mfaActor] as const,
  summary: "Start TOTP setup: a new secret (not on until enabled); Bearer is an access token or the mfaToken of mfaEnrollmentRequired",
  responses: {
    200: jsonContent(
      envelope(
        z.object({
          secret: z.string().openapi({ description: "Base32; shown now only" }),
          otpauthUri: z.string().openapi({ description: "otpauth://totp/<issuer>:<email>?secret=...&issuer=..." }),
          qrSvg: z.string().openapi({ description: "The URI as a QR code (SVG)" }),
        }),
      ),
      "A secret to add to an authenticator app (Cache-Control: no-store)",
    ),
    401: errorResponse(`${authErrors}, invalid_mfa_token (an expired enrollment token)`),
    409: errorResponse("totp_already_enabled"),
  },
});

const enableRoute = createRoute({
  method: "post",
  path: "/auth/mfa/totp/enable",
  tags,
  security,
  middleware: [mfaActor] as const,
  summary: "Turn TOTP on with a current code; answers ten recovery codes, once (with an enrollment token, also the held-back sign-in)",
  request: { query: z.object({ tokenTransport: TokenTransport.optional() }), body: jsonBody(z.object({ code: Code, tokenTransport: TokenTransport.optional() }).strict()) },
  responses: {
    200: jsonContent(
      envelope(z.object({ recoveryCodes: RecoveryCodes, signIn: LoginResponse.optional().openapi({ description: "Only with an enrollment token: the sign-in, completed" }) })),
      "On (Cache-Control: no-store)",
    ),
    400: errorResponse("validation_error, invalid_mfa_code"),
    401: errorResponse(`${authErrors}, invalid_mfa_token`),
    409: errorResponse("totp_already_enabled, totp_not_set_up"),
  },
});

const disableRoute = createRoute({
  method: "post",
  path: "/auth/mfa/totp/disable",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Turn TOTP off (password, or a current code for accounts without one; step-up required); removes recovery codes and remembered devices",
  request: {
    headers: StepUpHeader,
    body: jsonBody(z.object({ password: z.string().min(1).max(1024).optional(), code: Code.optional() }).strict()),
  },
  responses: {
    200: jsonContent(envelope(z.object({ disabled: z.literal(true) })), "Off"),
    400: errorResponse("validation_error, invalid_password, invalid_mfa_code"),
    401: errorResponse(authErrors),
    403: errorResponse("step_up_required"),
    409: errorResponse("totp_not_enabled"),
    429: errorResponse("rate_limited (the account's failed sign-in limit)"),
    503: errorResponse("dependency_unavailable"),
  },
});

const verifyRoute = createRoute({
  method: "post",
  path: "/auth/mfa/verify",
  tags,
  middleware: [application] as const,
  security: appSecurity,
  summary: "Complete a sign-in that answered mfaRequired: the same answer as /auth/login",
  description:
    "A challenge lives 5 minutes and dies after 5 wrong codes; of concurrent verifies one succeeds; a TOTP code works once. rememberDevice sets the auth_device cookie and returns deviceToken (send it as deviceToken at /auth/login from clients without cookies).",
  request: {
    query: z.object({ tokenTransport: TokenTransport.optional() }),
    body: jsonBody(
      z
        .object({
          mfaToken: z.string().min(1).max(200),
          factor: z.enum(["totp", "recovery_code", "passkey"]),
          code: Code.optional().openapi({ description: "totp and recovery_code: the code" }),
          ...PasskeyFactorFields,
          rememberDevice: z.boolean().optional(),
          tokenTransport: TokenTransport.optional(),
        })
        .strict(),
    ),
  },
  responses: {
    200: jsonContent(
      envelope(LoginResponse.extend({ deviceToken: z.string().optional().openapi({ description: "With rememberDevice: skips the second factor for MFA_REMEMBER_DAYS" }) })),
      "Signed in (Cache-Control: no-store)",
    ),
    400: errorResponse("validation_error; passkey: passkey_challenge_invalid, passkey_origin_mismatch, passkey_rp_id_mismatch, passkey_response_invalid"),
    401: errorResponse("invalid_mfa_token (unknown, expired, used or spent challenge), invalid_mfa_code (details.attemptsLeft), invalid_credentials (the account changed meanwhile), invalid_api_key, application_required; passkey: passkey_not_found, passkey_verification_failed, passkey_counter_regression"),
    403: errorResponse("origin_not_allowed; pending_approval, account_inactive"),
  },
});

const remainingRoute = createRoute({
  method: "get",
  path: "/auth/mfa/recovery-codes",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "How many recovery codes are left",
  responses: {
    200: jsonContent(envelope(z.object({ remaining: z.number().int(), totp: z.boolean() })), "Unused recovery codes"),
    401: errorResponse(authErrors),
  },
});

const regenerateRoute = createRoute({
  method: "post",
  path: "/auth/mfa/recovery-codes",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "A new set of recovery codes (the old ones stop working), shown once; step-up required",
  request: { headers: StepUpHeader },
  responses: {
    200: jsonContent(envelope(z.object({ recoveryCodes: RecoveryCodes })), "New codes (Cache-Control: no-store)"),
    401: errorResponse(authErrors),
    403: errorResponse("step_up_required"),
    409: errorResponse("totp_not_enabled"),
  },
});

const stepUpRoute = createRoute({
  method: "post",
  path: "/auth/step-up",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Prove a factor again: a step-up token bound to this session, for sensitive actions (X-Step-Up-Token), valid STEP_UP_TTL",
  request: {
    body: jsonBody(
      z.object({ factor: z.enum(["totp", "recovery_code", "password"]), code: Code.optional(), password: z.string().min(1).max(1024).optional() }).strict(),
    ),
  },
  responses: {
    200: jsonContent(envelope(z.object({ stepUpToken: z.string(), expiresIn: z.number().int() })), "Step-up token (Cache-Control: no-store)"),
    400: errorResponse("validation_error, invalid_password, invalid_mfa_code"),
    401: errorResponse(authErrors),
    409: errorResponse("totp_not_enabled"),
    429: errorResponse("rate_limited (the account's failed sign-in limit)"),
    503: errorResponse("dependency_unavailable"),
  },
});

const DeviceSchema = z
  .object({ id: z.uuid(), userAgent: z.string().nullable(), ip: z.string().nullable(), createdAt: z.string(), lastUsedAt: z.string().nullable(), expiresAt: z.string() })
  .openapi("RememberedDevice");

const devicesRoute = createRoute({
  method: "get",
  path: "/auth/devices",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "The devices that skip the second factor",
  responses: {
    200: jsonContent(envelope(z.object({ devices: z.array(DeviceSchema) })), "Remembered devices, newest first"),
    401: errorResponse(authErrors),
  },
});

const forgetDeviceRoute = createRoute({
  method: "delete",
  path: "/auth/devices/{id}",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Forget a remembered device",
  request: { params: z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) }) },
  responses: {
    200: jsonContent(envelope(z.object({ forgotten: z.literal(true) })), "Forgotten"),
    400: errorResponse("validation_error"),
    401: errorResponse(authErrors),
    404: errorResponse("not_found"),
  },
});

export const mfaRoutes = createRouter()
  .openapi(setupRoute, async (c) => {
    const result = await setupTotp(c.get("deps"), actors.get(c.req.raw)!);
    c.header("Cache-Control", "no-store");
    return c.json({ data: result }, 200);
  })
  .openapi(enableRoute, async (c) => {
    const body = c.req.valid("json");
    const result = await enableTotpFactor(c.get("deps"), actors.get(c.req.raw)!, body.code, requestMeta(c));
    c.header("Cache-Control", "no-store");
    const transport = body.tokenTransport ?? c.req.valid("query").tokenTransport ?? "json";
    if (!result.signIn) return c.json({ data: { recoveryCodes: result.recoveryCodes } }, 200);
    const signIn = signInAnswer(c, result.signIn, transport) as z.infer<typeof LoginResponse>;
    return c.json({ data: { recoveryCodes: result.recoveryCodes, signIn } }, 200);
  })
  .openapi(disableRoute, async (c) => {
    await disableTotpFactor(c.get("deps"), c.get("principal"), c.req.valid("json"), c.req.header(STEP_UP_HEADER), requestMeta(c));
    return c.json({ data: { disabled: true as const } }, 200);
  })
  .openapi(verifyRoute, async (c) => {
    const body = c.req.valid("json");
    const transport = body.tokenTransport ?? c.req.valid("query").tokenTransport ?? "json";
    if (body.factor === "passkey") return c.json({ data: signInAnswer(c, await verifyPasskeyMfa(c, body), transport) as z.infer<typeof LoginResponse> }, 200);
    const result = await verifyMfa(c.get("deps"), c.get("application")!, { ...body, factor: body.factor, code: mfaCodeRequired(body.code) }, requestMeta(c));
    const data = signInAnswer(c, result.outcome, transport) as z.infer<typeof LoginResponse>;
    if (!result.deviceToken) return c.json({ data }, 200);
    setDeviceCookie(c, result.deviceToken, result.deviceExpiresIn);
    return c.json({ data: { ...data, deviceToken: result.deviceToken } }, 200);
  })
  .openapi(remainingRoute, async (c) => {
    const result = await recoveryCodesRemaining(c.get("deps"), c.get("principal"));
    c.header("Cache-Control", "no-store");
    return c.json({ data: result }, 200);
  })
  .openapi(regenerateRoute, async (c) => {
    const result = await regenerateRecoveryCodes(c.get("deps"), c.get("principal"), c.req.header(STEP_UP_HEADER), requestMeta(c));
    c.header("Cache-Control", "no-store");
    return c.json({ data: result }, 200);
  })
  .openapi(stepUpRoute, async (c) => {
    const result = await createStepUp(c.get("deps"), c.get("principal"), c.req.valid("json"), requestMeta(c));
    c.header("Cache-Control", "no-store");
    return c.json({ data: result }, 200);
  })
  .openapi(devicesRoute, async (c) => {
    const devices = await devicesOf(c.get("deps"), c.get("principal"));
    c.header("Cache-Control", "no-store");
    return c.json(
      {
        data: {
          devices: devices.map((d) => ({
            ...d,
            createdAt: d.createdAt.toISOString(),
            lastUsedAt: d.lastUsedAt?.toISOString() ?? null,
            expiresAt: d.expiresAt.toISOString(),
          })),
        },
      },
      200,
    );
  })
  .openapi(forgetDeviceRoute, async (c) => {
    await forgetOwnDevice(c.get("deps"), c.get("principal"), c.req.valid("param").id, requestMeta(c));
    return c.json({ data: { forgotten: true as const } }, 200);
  });

/** The remembered-device token a sign-in request carries (cookie auth_device), for routes that take it. */
export { readDeviceCookie };
