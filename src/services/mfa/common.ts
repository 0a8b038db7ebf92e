// What the second-factor use cases share: the TOTP secret box under config.mfa, recovery codes
// (format, hashing), the errors, and what counts as "has a second factor".
import { open, seal } from "../../crypto/secret-box";
import { sha256 } from "../../crypto/random";
import type { Config } from "../../config";
import { AppError } from "../../http/errors";
import type { Deps } from "../../deps";
import type { MfaContext } from "../../stores/mfa";
import { emailKey } from "../auth/common";
import { countAgainst, enforceLimits } from "../rate-limit";

export const RECOVERY_CODE_COUNT = 10;
const RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"; // no 0/o, 1/l/i

export function sealTotpSecret(config: Config, secret: string, userId: string) {
  return seal(config.mfa.encryptionKey, secret, `totp:${userId}`);
}

export function openTotpSecret(config: Config, ciphertext: string, userId: string): Promise<string> {
  return open({ current: config.mfa.encryptionKey, retired: config.mfa.retiredEncryptionKeys }, ciphertext, `totp:${userId}`);
}

/** Ten new recovery codes ("xxxxx-xxxxx", about 50 bits each). */
export function newRecoveryCodes(): string[] {
  const codes: string[] = [];
  for (let n = 0; n < RECOVERY_CODE_COUNT; n++) {
    const bytes = crypto.getRandomValues(new Uint8Array(10));
    let s = "";
    for (const b of bytes) s += RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.length];
    codes.push(`${s.slice(0, 5)}-${s.slice(5)}`);
  }
  return codes;
}

/** A recovery code as stored: SHA-256 of the user id and the code without case, spaces or dashes. */
export function recoveryCodeHash(userId: string, code: string): Promise<string> {
  return sha256(`recovery:${userId}:${code.toLowerCase().replace(/[\s-]/g, "")}`);
}

/** The user has a second factor that step-up and sign-in ask for (TOTP; passkeys are H4's to add). */
export function hasSecondFactor(ctx: Pick<MfaContext, "totp">): boolean {
  return ctx.totp?.enabled === true;
}

export const mfaErrors = {
  invalidCode: (attemptsLeft?: number) =>
    new AppError(401, "invalid_mfa_code", "The code is not valid", attemptsLeft === undefined ? {} : { details: { attemptsLeft } }),
  invalidChallenge: () => new AppError(401, "invalid_mfa_token", "This sign-in step has expired or was already used; sign in again"),
  totpAlreadyEnabled: () => new AppError(409, "totp_already_enabled", "Two-factor authentication is already on; turn it off first"),
  totpNotSetUp: () => new AppError(409, "totp_not_set_up", "Set up TOTP first (POST /auth/mfa/totp/setup)"),
  totpNotEnabled: () => new AppError(409, "totp_not_enabled", "Two-factor authentication is not on"),
  invalidPassword: () =>
    new AppError(400, "invalid_password", "The password is not correct", { fields: [{ field: "password", message: "is not correct" }] }),
  stepUpRequired: () =>
    new AppError(403, "step_up_required", "Confirm it is you: POST /auth/step-up and send the token as X-Step-Up-Token, or sign in again"),
};

export const badCode = () => new AppError(400, "invalid_mfa_code", "The code is not valid", { fields: [{ field: "code", message: "is not valid" }] });

/** Checks the account's failed sign-in limit, then `ok`; a failure counts against the limit. */
export async function checkSecret(deps: Deps, email: string, ok: () => Promise<boolean>, fail: () => AppError): Promise<void> {
  const { config } = deps;
  const account = await emailKey(email);
  await enforceLimits(deps, [{ name: "login-failures-email", rule: config.rateLimits.loginFailuresPerEmail, identifier: account, mode: "peek" }], !config.rateLimitFailClosedLogin);
  if (await ok()) return;
  deps.defer(() => countAgainst(deps, "login-failures-email", config.rateLimits.loginFailuresPerEmail, account));
  throw fail();
}

