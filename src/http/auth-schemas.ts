// The shapes every sign-in route shares (password, MFA, magic link, email code, social, passkey,
// redirect exchange), and the one function that turns a sign-in outcome into the answer.
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { SignInOutcome } from "../services/auth/outcome";
import type { IssuedTokens } from "../services/auth/common";
import { setRefreshCookie } from "./cookies";
import type { AppEnv } from "./middleware";
import { UserSchema } from "./user-schemas";

export const Email = z
  .email({ pattern: z.regexes.unicodeEmail, error: "must be a valid email address" })
  .max(254)
  .openapi({ example: "user@example.com" });

export const TokenTransport = z
  .enum(["json", "cookie"])
  .openapi({ description: "json (default): refresh token in the body; cookie: in an HttpOnly cookie scoped to /auth" });
export type Transport = z.infer<typeof TokenTransport>;

export const TokensSchema = z
  .object({
    accessToken: z.string(),
    tokenType: z.literal("Bearer"),
    expiresIn: z.number().int().openapi({ description: "Access token lifetime in seconds" }),
    refreshToken: z.string().optional().openapi({ description: "Absent with the cookie transport" }),
    refreshExpiresIn: z.number().int().openapi({ description: "Seconds until the session (refresh family) expires" }),
    tokenTransport: TokenTransport,
  })
  .openapi("Tokens");

export const LoginResponse = TokensSchema.extend({ user: UserSchema }).openapi("LoginResult");

export const MfaRequiredSchema = z
  .object({
    mfaRequired: z.literal(true),
    mfaToken: z.string().openapi({ description: "Names this challenge at POST /auth/mfa/verify" }),
    factors: z.array(z.enum(["totp", "recovery_code", "passkey"])),
    expiresIn: z.number().int().openapi({ description: "Seconds the challenge has left" }),
  })
  .openapi("MfaRequired");

export const MfaEnrollmentRequiredSchema = z
  .object({
    mfaEnrollmentRequired: z.literal(true),
    mfaToken: z.string().openapi({ description: "Only sets up TOTP (Authorization: Bearer at /auth/mfa/totp/setup and /enable)" }),
    expiresIn: z.number().int(),
  })
  .openapi("MfaEnrollmentRequired");

/** What a sign-in answers: tokens, or the second step it still needs. */
export const SignInAnswerSchema = z.union([LoginResponse, MfaRequiredSchema, MfaEnrollmentRequiredSchema]).openapi("SignInAnswer");

/** Token answers: never cached; the refresh token in the body or in the cookie. */
export function tokenResponse(c: Context<AppEnv>, tokens: IssuedTokens, transport: Transport) {
  c.header("Cache-Control", "no-store");
  c.header("Pragma", "no-cache");
  const { refreshToken, ...rest } = tokens;
  if (transport === "cookie") {
    setRefreshCookie(c, refreshToken, tokens.refreshExpiresIn);
    return { ...rest, tokenTransport: transport };
  }
  return { ...tokens, tokenTransport: transport };
}

/** The JSON `data` of a sign-in answer. */
export function signInAnswer(c: Context<AppEnv>, outcome: SignInOutcome, transport: Transport) {
  c.header("Cache-Control", "no-store");
  switch (outcome.kind) {
    case "signed_in":
      return { ...tokenResponse(c, outcome.tokens, transport), user: outcome.user };
    case "mfa_required":
      return { mfaRequired: true as const, mfaToken: outcome.mfaToken, factors: outcome.factors, expiresIn: outcome.expiresIn };
    case "mfa_enrollment_required":
      return { mfaEnrollmentRequired: true as const, mfaToken: outcome.mfaToken, expiresIn: outcome.expiresIn };
  }
}
