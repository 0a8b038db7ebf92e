// What a first factor (password, magic link, email code, social, passkey) leads to: a session, or
// the second step the user or the application still needs.
import type { IssuedTokens, UserView } from "./common";

export type MfaFactor = "totp" | "recovery_code" | "passkey";

export type SignInOutcome =
  | { kind: "signed_in"; tokens: IssuedTokens; user: UserView }
  | { kind: "mfa_required"; mfaToken: string; factors: MfaFactor[]; expiresIn: number }
  | { kind: "mfa_enrollment_required"; mfaToken: string; expiresIn: number };

/** RFC 8176 method references for the `amr` claim. */
export type AuthMethod = "pwd" | "otp" | "mfa" | "hwk" | "user" | "fed" | "email";
