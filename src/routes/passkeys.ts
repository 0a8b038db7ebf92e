// /auth routes for WebAuthn passkeys (issue 11). Thin: parse and validate, call one service, respond.
import { createRoute, z } from "@hono/zod-openapi";
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import type { Context } from "hono";
import { application, tokenApplication } from "../http/application";
import { AppError } from "../http/errors";
import { Email, SignInAnswerSchema, TokenTransport, signInAnswer } from "../http/auth-schemas";
import { readDeviceCookie } from "../http/cookies";
import { bearer, requestMeta, type AppEnv } from "../http/middleware";
import { createRouter, envelope, errorResponse, jsonBody, jsonContent } from "../http/openapi";
import { STEP_UP_HEADER, stepUp } from "../http/step-up";
import { removeOwnPasskey, listPasskeys, renameOwnPasskey } from "../services/passkeys/manage";
import { mfaPasskeyOptions, verifyPasskeyFactor } from "../services/passkeys/mfa";
import { registrationOptions, verifyRegistration } from "../services/passkeys/register";
import { relyingParty } from "../services/passkeys/relying-party";
import { signInOptions, signInWithPasskey } from "../services/passkeys/sign-in";
import type { SignInOutcome } from "../services/auth/outcome";

const tags = ["passkeys"];
/** Bearer routes: the token, plus X-API-Key for a non-platform application's session. */
const security: Record<string, string[]>[] = [{ Bearer: [] }, { Bearer: [], ApiKey: [] }];
const appSecurity: Record<string, string[]>[] = [{}, { ApiKey: [] }];
const authErrors = "unauthorized, invalid_token, token_expired, token_revoked; invalid_api_key";

const B64url = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9_-]*$/, "must be base64url");
const Extensions = z.record(z.string(), z.unknown()).optional();

/** A RegistrationResponseJSON (what navigator.credentials.create() gives, as JSON; see /pages/assets/webauthn-*.js). */
const RegistrationResponse = z
  .object({
    id: B64url(1400),
    rawId: B64url(1400),
    type: z.literal("public-key"),
    response: z
      .object({
        clientDataJSON: B64url(4096),
        attestationObject: B64url(65536),
        authenticatorData: B64url(65536).optional(),
        transports: z.array(z.string().max(32)).max(8).optional(),
        publicKeyAlgorithm: z.number().int().optional(),
        publicKey: B64url(8192).optional(),
      })
      .strip(),
    authenticatorAttachment: z.string().max(32).optional(),
    clientExtensionResults: Extensions.default({}),
  })
  .strip()
  .openapi("PasskeyRegistrationResponse");

/** An AuthenticationResponseJSON (navigator.credentials.get(), as JSON). */
const AuthenticationResponse = z
  .object({
    id: B64url(1400),
    rawId: B64url(1400),
    type: z.literal("public-key"),
    response: z
      .object({
        clientDataJSON: B64url(4096),
        authenticatorData: B64url(65536),
        signature: B64url(8192),
        userHandle: B64url(1024).optional(),
      })
      .strip(),
    authenticatorAttachment: z.string().max(32).optional(),
    clientExtensionResults: Extensions.default({}),
  })
  .strip()
  .openapi("PasskeyAuthenticationResponse");

const Options = z.record(z.string(), z.unknown()).openapi({ description: "PublicKeyCredential{Creation,Request}OptionsJSON for navigator.credentials (see webauthn.js)" });
const ChallengeId = z.string().min(16).max(128).openapi({ description: "The challengeId from the options (single use, 5 minutes)" });

const PasskeySchema = z
  .object({
    id: z.uuid(),
    name: z.string().nullable(),
    credentialId: z.string(),
    rpId: z.string(),
    aaguid: z.string().nullable(),
    transports: z.array(z.string()),
    attestationFormat: z.string().nullable(),
    backupEligible: z.boolean().openapi({ description: "The credential may be synced to other devices (a multi-device passkey)" }),
    backedUp: z.boolean().openapi({ description: "The credential is currently synced/backed up" }),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable(),
  })
  .openapi("Passkey");

const IdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });
const StepUpHeader = z.object({
  [STEP_UP_HEADER]: z.string().max(200).optional().openapi({ description: "A step-up token (POST /auth/step-up); not needed within 5 minutes of signing in or without a second factor" }),
});

const registerOptionsRoute = createRoute({
  method: "post",
  path: "/auth/passkeys/register/options",
  tags,
  security,
  middleware: [bearer, tokenApplication, stepUp] as const,
  summary: "Options to register a passkey for the signed-in user (resident key, attestation per application); step-up where the user has a second factor",
  request: { headers: StepUpHeader },
  responses: {
    200: jsonContent(envelope(z.object({ options: Options })), "PublicKeyCredentialCreationOptionsJSON (Cache-Control: no-store); the challenge lives 5 minutes"),
    401: errorResponse(`${authErrors}, application_required`),
    403: errorResponse("origin_not_allowed, step_up_required"),
  },
});

const registerVerifyRoute = createRoute({
  method: "post",
  path: "/auth/passkeys/register/verify",
  tags,
  security,
  middleware: [bearer, tokenApplication] as const,
  summary: "Finish registering: the response of navigator.credentials.create()",
  request: { body: jsonBody(z.object({ response: RegistrationResponse, name: z.string().trim().min(1).max(100).optional() }).strict()) },
  responses: {
    201: jsonContent(envelope(z.object({ passkey: PasskeySchema })), "Registered (passkey.added)"),
    400: errorResponse(
      "validation_error, passkey_challenge_invalid (unknown, expired, used, another ceremony or another user), passkey_origin_mismatch, passkey_rp_id_mismatch, passkey_attestation_not_allowed, passkey_response_invalid",
    ),
    401: errorResponse(`${authErrors}, application_required`),
    403: errorResponse("origin_not_allowed"),
    409: errorResponse("passkey_already_registered"),
  },
});

const loginOptionsRoute = createRoute({
  method: "post",
  path: "/auth/passkeys/login/options",
  tags,
  middleware: [application] as const,
  security: appSecurity,
  summary: "Options to sign in with a passkey; without email: any discoverable passkey (empty allowCredentials), for conditional UI",
  request: { body: jsonBody(z.object({ email: Email.optional() }).strict()) },
  responses: {
    200: jsonContent(envelope(z.object({ options: Options, challengeId: ChallengeId })), "PublicKeyCredentialRequestOptionsJSON and its challengeId (Cache-Control: no-store)"),
    400: errorResponse("validation_error"),
    401: errorResponse("invalid_api_key, application_required"),
    403: errorResponse("origin_not_allowed, passkey_sign_in_disabled"),
  },
});

const loginVerifyRoute = createRoute({
  method: "post",
  path: "/auth/passkeys/login/verify",
  tags,
  middleware: [application] as const,
  security: appSecurity,
  summary: "Sign in with the response of navigator.credentials.get(): the same answer as /auth/login",
  description:
    'With user verification the passkey is two factors (amr ["hwk","user"]): signed in at once. Without, it is a first factor (amr ["hwk"]) and the second-factor rules apply (mfaRequired). The signature counter must increase (else 401 passkey_counter_regression, audited).',
  request: {
    query: z.object({ tokenTransport: TokenTransport.optional() }),
    body: jsonBody(z.object({ challengeId: ChallengeId, response: AuthenticationResponse, tokenTransport: TokenTransport.optional() }).strict()),
  },
  responses: {
    200: jsonContent(envelope(SignInAnswerSchema), "Signed in, or mfaRequired / mfaEnrollmentRequired (Cache-Control: no-store)"),
    400: errorResponse("validation_error, passkey_challenge_invalid, passkey_origin_mismatch, passkey_rp_id_mismatch, passkey_response_invalid"),
    401: errorResponse(
      "invalid_api_key, application_required; passkey_not_found (unknown, another RP id, or another account's), passkey_verification_failed, passkey_counter_regression, invalid_credentials",
    ),
    403: errorResponse("origin_not_allowed, passkey_sign_in_disabled; pending_approval, registration_rejected, account_inactive, email_not_verified"),
  },
});

const mfaOptionsRoute = createRoute({
  method: "post",
  path: "/auth/mfa/passkey/options",
  tags: ["mfa", ...tags],
  middleware: [application] as const,
  security: appSecurity,
  summary: 'Options for a passkey as the second step of a sign-in (mfaRequired); then POST /auth/mfa/verify {factor: "passkey", mfaToken, challengeId, response}',
  request: { body: jsonBody(z.object({ mfaToken: z.string().min(1).max(200) }).strict()) },
  responses: {
    200: jsonContent(envelope(z.object({ options: Options, challengeId: ChallengeId })), "Options with the account's passkeys (Cache-Control: no-store)"),
    400: errorResponse("validation_error"),
    401: errorResponse("invalid_api_key, application_required, invalid_mfa_token"),
    403: errorResponse("origin_not_allowed"),
    409: errorResponse("passkey_not_registered"),
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/auth/passkeys",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "The signed-in user's passkeys, newest first (with the backup-eligible and backed-up flags)",
  responses: {
    200: jsonContent(envelope(z.object({ passkeys: z.array(PasskeySchema) })), "Passkeys"),
    401: errorResponse(authErrors),
  },
});

const renameRoute = createRoute({
  method: "patch",
  path: "/auth/passkeys/{id}",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Rename a passkey",
  request: { params: IdParam, body: jsonBody(z.object({ name: z.string().trim().min(1).max(100) }).strict()) },
  responses: {
    200: jsonContent(envelope(z.object({ passkey: PasskeySchema })), "Renamed (passkey.renamed)"),
    400: errorResponse("validation_error"),
    401: errorResponse(authErrors),
    404: errorResponse("not_found (none of yours)"),
  },
});

const removeRoute = createRoute({
  method: "delete",
  path: "/auth/passkeys/{id}",
  tags,
  security,
  middleware: [bearer, stepUp] as const,
  summary: "Remove a passkey; step-up where the user has a second factor",
  request: { params: IdParam, headers: StepUpHeader },
  responses: {
    200: jsonContent(envelope(z.object({ removed: z.literal(true) })), "Removed (passkey.removed)"),
    400: errorResponse("validation_error"),
    401: errorResponse(authErrors),
    403: errorResponse("step_up_required"),
    404: errorResponse("not_found (none of yours)"),
  },
});

const rpOf = (c: Context<AppEnv>) => relyingParty(c.get("deps"), c.get("application")!, { url: c.req.url, origin: c.req.header("origin") });

export const passkeyRoutes = createRouter()
  .openapi(registerOptionsRoute, async (c) => {
    const options = await registrationOptions(c.get("deps"), c.get("application")!, c.get("principal"), rpOf(c));
    c.header("Cache-Control", "no-store");
    return c.json({ data: { options: options as unknown as Record<string, unknown> } }, 200);
  })
  .openapi(registerVerifyRoute, async (c) => {
    const body = c.req.valid("json");
    const passkey = await verifyRegistration(
      c.get("deps"),
      c.get("application")!,
      c.get("principal"),
      { response: body.response as unknown as RegistrationResponseJSON, name: body.name },
      requestMeta(c),
    );
    return c.json({ data: { passkey } }, 201);
  })
  .openapi(loginOptionsRoute, async (c) => {
    const result = await signInOptions(c.get("deps"), c.get("application")!, rpOf(c), c.req.valid("json").email);
    c.header("Cache-Control", "no-store");
    return c.json({ data: { options: result.options as unknown as Record<string, unknown>, challengeId: result.challengeId } }, 200);
  })
  .openapi(loginVerifyRoute, async (c) => {
    const body = c.req.valid("json");
    const transport = body.tokenTransport ?? c.req.valid("query").tokenTransport ?? "json";
    const outcome = await signInWithPasskey(
      c.get("deps"),
      c.get("application")!,
      { challengeId: body.challengeId, response: body.response as unknown as AuthenticationResponseJSON, deviceToken: readDeviceCookie(c) },
      requestMeta(c),
    );
    return c.json({ data: signInAnswer(c, outcome, transport) as z.infer<typeof SignInAnswerSchema> }, 200);
  })
  .openapi(mfaOptionsRoute, async (c) => {
    const result = await mfaPasskeyOptions(c.get("deps"), c.get("application")!, c.req.valid("json").mfaToken, rpOf(c));
    c.header("Cache-Control", "no-store");
    return c.json({ data: { options: result.options as unknown as Record<string, unknown>, challengeId: result.challengeId } }, 200);
  })
  .openapi(listRoute, async (c) => {
    const passkeys = await listPasskeys(c.get("deps"), c.get("principal"));
    c.header("Cache-Control", "no-store");
    return c.json({ data: { passkeys } }, 200);
  })
  .openapi(renameRoute, async (c) => {
    const passkey = await renameOwnPasskey(c.get("deps"), c.get("principal"), c.req.valid("param").id, c.req.valid("json").name, requestMeta(c));
    return c.json({ data: { passkey } }, 200);
  })
  .openapi(removeRoute, async (c) => {
    await removeOwnPasskey(c.get("deps"), c.get("principal"), c.req.valid("param").id, requestMeta(c));
    return c.json({ data: { removed: true as const } }, 200);
  });

// ---- the passkey factor of POST /auth/mfa/verify (routes/mfa.ts spreads these in) ---------------

/** The fields factor "passkey" adds to POST /auth/mfa/verify (options from POST /auth/mfa/passkey/options). */
export const PasskeyFactorFields = {
  challengeId: ChallengeId.optional().openapi({ description: 'factor "passkey": the challengeId from POST /auth/mfa/passkey/options' }),
  response: AuthenticationResponse.optional().openapi({ description: 'factor "passkey": the AuthenticationResponseJSON of navigator.credentials.get()' }),
};

const required = (field: string) => new AppError(400, "validation_error", `Invalid request: ${field}: is required`, { fields: [{ field, message: "is required" }] });

/** factor "passkey" at POST /auth/mfa/verify: the signed-in outcome (through H1's completeMfaChallenge). */
export async function verifyPasskeyMfa(
  c: Context<AppEnv>,
  body: { mfaToken: string; challengeId?: string; response?: z.infer<typeof AuthenticationResponse> },
): Promise<Extract<SignInOutcome, { kind: "signed_in" }>> {
  if (body.challengeId === undefined) throw required("challengeId");
  if (body.response === undefined) throw required("response");
  return verifyPasskeyFactor(
    c.get("deps"),
    c.get("application")!,
    { mfaToken: body.mfaToken, challengeId: body.challengeId, response: body.response as unknown as AuthenticationResponseJSON },
    requestMeta(c),
  );
}

/** factors "totp" and "recovery_code" need their code (optional in the schema since "passkey" has none). */
export function mfaCodeRequired(code: string | undefined): string {
  if (code === undefined) throw required("code");
  return code;
}
