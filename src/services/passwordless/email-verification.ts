// Email verification (issue 10 item 1): a single-use token, stored hashed in Postgres
// (email_verification_tokens, EMAIL_VERIFICATION_TTL), bound to the address it was sent to.
// Registration issues one in its own statement (register.ts); a signed-in user can ask for another.
import { randomSecret, sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { confirmVerificationToken, issueVerificationToken } from "../../stores/email-verification";
import type { Principal } from "../auth/bearer";
import { emailKey, type RequestMeta } from "../auth/common";
import { notify } from "../notify";
import { enforceLimits } from "../rate-limit";

export interface VerificationRequestResult {
  message: string;
  alreadyVerified: boolean;
}

export const invalidVerificationToken = () =>
  new AppError(400, "invalid_token", "The verification link is unknown, expired, already used, or for an address the account no longer has");

/** Sends a new verification link to the caller's current address, unless it is already verified. */
export async function requestEmailVerification(deps: Deps, principal: Principal): Promise<VerificationRequestResult> {
  const { config } = deps;
  await enforceLimits(deps, [{ name: "email-link-email", rule: config.verification.perEmail, identifier: await emailKey(principal.email), mode: "consume" }], false);
  const token = randomSecret();
  const now = deps.clock.now();
  const [issued] = await Promise.all([
    issueVerificationToken(deps.db, { userId: principal.userId, tokenHash: await sha256(token), expiresAt: new Date(now.getTime() + config.verification.emailTtlMs), now }),
    principal.markers,
  ]);
  if (issued.outcome === "no_user") throw new AppError(401, "invalid_token", "The account of this token no longer exists");
  if (issued.outcome === "already_verified") return { message: "Your email address is already verified.", alreadyVerified: true };
  notify(deps, "email_verification", issued.email, { name: issued.fullName ?? undefined, token, validMinutes: config.verification.emailTtlMs / 60_000 });
  return { message: "A verification link was sent to your email address.", alreadyVerified: false };
}

/** Uses a verification token once: the address is verified if the account still has it. */
export async function confirmEmailVerification(deps: Deps, token: string, meta: RequestMeta): Promise<{ emailVerified: true; message: string }> {
  const result = await confirmVerificationToken(deps.db, { tokenHash: await sha256(token), now: deps.clock.now(), ip: meta.ip, userAgent: meta.userAgent });
  if (result.outcome !== "verified") throw invalidVerificationToken();
  return { emailVerified: true, message: "Your email address is verified." };
}
