// Public self-service sign-up: a PENDING, inactive account and no tokens until staff approve.
// A taken address gets exactly the same answer as a new one (and pays for the same hash); its
// owner is told by email instead, so the response never reveals who has an account.
import { hashPassword } from "../../crypto/password";
import { randomSecret, sha256 } from "../../crypto/random";
import type { AuthProvider } from "../../db/schema";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { insertPendingUser } from "../../stores/users";
import { notify } from "../notify";
import { assertPasswordAllowed } from "../password-policy";
import { enforceLimits } from "../rate-limit";
import { normalizeEmail, type RequestMeta } from "./common";

export interface RegisterInput {
  email: string;
  password: string;
  fullName?: string | null;
  phoneNumber?: string | null;
  profilePictureUrl?: string | null;
  authProvider?: AuthProvider;
}

export interface RegisterResult {
  status: "PENDING";
  message: string;
}

const ACCEPTED: RegisterResult = {
  status: "PENDING",
  message: "If this address can be registered, the account now awaits approval by platform staff; check your email.",
};

const blankToNull = (v: string | null | undefined) => (v === undefined || v === null || v.trim() === "" ? null : v.trim());

export async function register(deps: Deps, input: RegisterInput, meta: RequestMeta): Promise<RegisterResult> {
  const { config } = deps;
  if (!config.publicRegistrationEnabled) {
    throw new AppError(403, "registration_disabled", "Self-service registration is disabled; ask platform staff for an account");
  }
  await enforceLimits(deps, [{ name: "register-ip", rule: config.rateLimits.registerPerIp, identifier: meta.ip ?? "unknown", mode: "consume" }], false);

  const email = normalizeEmail(input.email);
  assertPasswordAllowed(input.password, { minLength: config.passwordMinLength, email });
  const passwordHash = await hashPassword(input.password, config.argon2);
  const fullName = blankToNull(input.fullName);
  const now = deps.clock.now();
  // An email verification token for the new account, stored (hashed) by the same statement.
  const verificationToken = randomSecret();
  const verification = { tokenHash: await sha256(verificationToken), expiresAt: new Date(now.getTime() + config.verification.emailTtlMs) };

  const outcome = await insertPendingUser(
    deps.db,
    {
      email,
      passwordHash,
      fullName,
      phoneNumber: blankToNull(input.phoneNumber),
      profilePictureUrl: blankToNull(input.profilePictureUrl),
      authProvider: input.authProvider ?? "password",
      verification,
    },
    { ip: meta.ip, userAgent: meta.userAgent, metadata: { authProvider: input.authProvider ?? "password" }, at: now },
  );

  if (outcome.created) {
    notify(deps, "registration_pending", email, { name: fullName ?? undefined });
    notify(deps, "email_verification", email, { name: fullName ?? undefined, token: verificationToken, validMinutes: config.verification.emailTtlMs / 60_000 });
  }
  else notify(deps, "registration_exists", outcome.existingEmail ?? email, {});
  return ACCEPTED;
}
