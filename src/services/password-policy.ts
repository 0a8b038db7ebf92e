// Password policy (NIST SP 800-63B style): a length range, no common passwords, not built from
// the account's own email address; no composition rules. Failures say which rule failed.
import commonPasswordsText from "../data/common-passwords.txt";
import { AppError } from "../http/errors";

export const MAX_PASSWORD_LENGTH = 128;

let common: Set<string> | null = null;
function commonPasswords(): Set<string> {
  common ??= new Set(commonPasswordsText.split("\n").filter(Boolean));
  return common;
}

export type PasswordRule = "too_short" | "too_long" | "common_password" | "contains_email";

export function checkPassword(password: string, opts: { minLength: number; email?: string }): PasswordRule | null {
  // Judge the password that is hashed: hashing normalises to NFC, so the length is counted there
  // too (a decomposed "é" is one character, not two).
  const nfc = password.normalize("NFC");
  const length = [...nfc].length;
  if (length < opts.minLength) return "too_short";
  if (length > MAX_PASSWORD_LENGTH) return "too_long";
  const normalized = nfc.toLowerCase();
  if (commonPasswords().has(normalized)) return "common_password";
  const local = opts.email?.split("@")[0]?.normalize("NFC").toLowerCase() ?? "";
  if (local.length >= 3 && normalized.includes(local)) return "contains_email";
  return null;
}

const MESSAGES: Record<PasswordRule, (min: number) => string> = {
  too_short: (min) => `must be at least ${min} characters`,
  too_long: () => `must be at most ${MAX_PASSWORD_LENGTH} characters`,
  common_password: () => "is too common; choose a less predictable password",
  contains_email: () => "must not contain your email address",
};

/** Throws 400 weak_password naming the field and the rule. */
export function assertPasswordAllowed(password: string, opts: { minLength: number; email?: string; field?: string }): void {
  const rule = checkPassword(password, opts);
  if (!rule) return;
  const field = opts.field ?? "password";
  const message = MESSAGES[rule](opts.minLength);
  throw new AppError(400, "weak_password", `${field} ${message}`, { fields: [{ field, message }], details: { rule } });
}
