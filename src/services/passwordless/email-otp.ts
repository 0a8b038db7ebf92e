// Email one-time codes (issue 10 item 6), for applications that cannot open links: 6 digits,
// EMAIL_OTP_TTL (10 minutes), 5 wrong attempts and the code is dead, used once. The artefact is
// keyed by the address's key (emailKey), so the verify finds it from the address; Redis holds the
// code only as SHA-256(code + key), and the check, the attempt count and the consume are one atomic
// round trip (consumeWithCode). A new request replaces the previous code.
import { consumeWithCode } from "../../cache/artefacts";
import { sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import type { CallingApplication } from "../applications/resolve";
import { emailKey, normalizeEmail, type RequestMeta } from "../auth/common";
import type { SignInOutcome } from "../auth/outcome";
import { assertMethodAllowed, auditFailure, completePasswordless, linkNoLongerValid, requestPasswordless, type PasswordlessGrant } from "./sign-in";

export const EMAIL_OTP_MAX_ATTEMPTS = 5;
export const EMAIL_OTP_ACCEPTED = "If this address can sign in, a 6-digit code is on its way. It works once and expires soon.";

/** 6 uniformly random digits. */
export function newEmailCode(): string {
  const buf = new Uint32Array(1);
  // 4_294_000_000 is the largest multiple of 10^6 below 2^32: reject above it so every code is equally likely.
  do crypto.getRandomValues(buf);
  while (buf[0] >= 4_294_000_000);
  return String(buf[0] % 1_000_000).padStart(6, "0");
}

const codeDigest = (code: string, key: string) => sha256(`${code}${key}`);

export async function requestEmailOtp(deps: Deps, application: CallingApplication, input: { email: string }, meta: RequestMeta): Promise<{ message: string }> {
  assertMethodAllowed(application, "email_otp");
  const email = normalizeEmail(input.email);
  const key = await emailKey(email);
  const code = newEmailCode();
  const ttlMs = deps.config.verification.emailOtpTtlMs;
  await requestPasswordless(
    deps,
    application,
    email,
    {
      method: "email_otp",
      kind: "email-otp",
      secret: key,
      ttlSeconds: ttlMs / 1000,
      codeDigest: await codeDigest(code, key),
      email: { kind: "email_otp", params: (name) => ({ name, code, validMinutes: ttlMs / 60_000, applicationName: application.builtin ? null : application.name }) },
    },
    meta,
  );
  return { message: EMAIL_OTP_ACCEPTED };
}

export async function verifyEmailOtp(deps: Deps, application: CallingApplication, input: { email: string; code: string; deviceToken?: string | null }, meta: RequestMeta): Promise<SignInOutcome> {
  assertMethodAllowed(application, "email_otp");
  const key = await emailKey(normalizeEmail(input.email));
  const result = await consumeWithCode<PasswordlessGrant>(deps.redis, "email-otp", key, await codeDigest(input.code, key), EMAIL_OTP_MAX_ATTEMPTS);
  if (!result.ok) {
    // A wrong code for a live one is audited (after the answer); no code at all for the address writes nothing.
    if (result.reason !== "not_found") auditFailure(deps, "email_otp", result.reason, meta);
    throw linkNoLongerValid("email_otp");
  }
  // A code requested through another application is spent, and signs in nowhere.
  if (result.value.applicationId !== application.id) {
    auditFailure(deps, "email_otp", "other_application", meta, result.value.userId, application.id);
    throw linkNoLongerValid("email_otp");
  }
  return completePasswordless(deps, application, result.value, "email_otp", meta, input.deviceToken ?? null);
}
