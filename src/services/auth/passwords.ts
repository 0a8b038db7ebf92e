// Password reset (request, confirm) and change. Reset requests answer the same whether or not the
// address has an account; tokens are single-use, stored hashed, and expire (PASSWORD_RESET_TTL).
import { writeMarkers } from "../../cache/revocation";
import { hashPassword, verifyPassword } from "../../crypto/password";
import { randomSecret, sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { recordAudit } from "../../stores/audit";
import { changePassword as storeChangePassword, consumeResetToken, createResetToken, findResetToken } from "../../stores/passwords";
import { findCredentialsByEmail, loadProfile } from "../../stores/users";
import { notify } from "../notify";
import { assertPasswordAllowed } from "../password-policy";
import { countAgainst, enforceLimits } from "../rate-limit";
import { assertCurrent, type Principal } from "./bearer";
import { emailKey, normalizeEmail, type RequestMeta } from "./common";

export interface ResetRequestResult {
  message: string;
  /** Only with EXPOSE_PASSWORD_RESET_TOKEN=true (refused in production), and only when a token was issued. */
  token?: string;
}

const RESET_REQUESTED = "If an account exists for this address, a password reset link has been sent.";

export async function requestPasswordReset(deps: Deps, input: { email: string }, meta: RequestMeta): Promise<ResetRequestResult> {
  const { config } = deps;
  const email = normalizeEmail(input.email);
  await enforceLimits(
    deps,
    [
      { name: "reset-email", rule: config.rateLimits.passwordResetPerEmail, identifier: await emailKey(email), mode: "consume" },
      { name: "reset-ip", rule: config.rateLimits.passwordResetPerIp, identifier: meta.ip ?? "unknown", mode: "consume" },
    ],
    false,
  );
  const now = deps.clock.now();
  const user = await findCredentialsByEmail(deps.db, email);
  if (!user) {
    await recordAudit(deps.db, {
      type: "password_reset.requested",
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { accountFound: false },
      at: now,
    });
    return { message: RESET_REQUESTED };
  }
  const token = randomSecret();
  await createResetToken(deps.db, {
    userId: user.id,
    tokenHash: await sha256(token),
    expiresAt: new Date(now.getTime() + config.passwordResetTtlMs),
    now,
    audit: { type: "password_reset.requested", ip: meta.ip, userAgent: meta.userAgent, metadata: { accountFound: true }, at: now },
  });
  notify(deps, "password_reset", user.email, {
    name: user.fullName ?? undefined,
    token,
    validMinutes: Math.round(config.passwordResetTtlMs / 60_000),
  });
  return config.exposePasswordResetToken ? { message: RESET_REQUESTED, token } : { message: RESET_REQUESTED };
}

const invalidResetToken = () => new AppError(400, "invalid_reset_token", "This reset link is invalid, expired or already used");

export async function confirmPasswordReset(deps: Deps, input: { token: string; newPassword: string }, meta: RequestMeta): Promise<void> {
  const { config } = deps;
  const tokenHash = await sha256(input.token);
  const state = await findResetToken(deps.db, tokenHash, deps.clock.now());
  if (!state || !state.usable) throw invalidResetToken();
  assertPasswordAllowed(input.newPassword, { minLength: config.passwordMinLength, email: state.email, field: "newPassword" });
  const passwordHash = await hashPassword(input.newPassword, config.argon2);
  const now = deps.clock.now();
  const changed = await consumeResetToken(deps.db, {
    tokenHash,
    passwordHash,
    now,
    audit: { type: "password_reset.completed", ip: meta.ip, userAgent: meta.userAgent, metadata: {}, at: now },
  });
  // A concurrent confirm with the same token won the race (or it expired meanwhile): nothing changed.
  if (!changed) throw invalidResetToken();
  await writeMarkers(deps.redis, config.jwt.accessTokenTtlMs, {
    revokedSessionIds: changed.revokedSessionIds,
    tokenVersion: { userId: changed.userId, minimum: changed.tokenVersion },
  });
  notify(deps, "password_changed", state.email, { changedAt: now });
}

export async function changePassword(
  deps: Deps,
  principal: Principal,
  input: { currentPassword: string; newPassword: string },
  meta: RequestMeta,
): Promise<{ revokedSessions: number }> {
  const { config } = deps;
  const now = deps.clock.now();
  const [, profile, credentials] = await Promise.all([
    principal.markers,
    loadProfile(deps.db, principal.userId, principal.acting, now),
    findCredentialsByEmail(deps.db, principal.email),
  ]);
  assertCurrent(principal, profile);
  const account = await emailKey(profile!.email);
  await enforceLimits(deps, [{ name: "login-failures-email", rule: config.rateLimits.loginFailuresPerEmail, identifier: account, mode: "peek" }], !config.rateLimitFailClosedLogin);
  const stored = credentials && credentials.id === principal.userId ? credentials.passwordHash : null;
  if (!stored || !(await verifyPassword(input.currentPassword, stored, config.argon2))) {
    await countAgainst(deps, "login-failures-email", config.rateLimits.loginFailuresPerEmail, account);
    throw new AppError(400, "invalid_current_password", "The current password is not correct", {
      fields: [{ field: "currentPassword", message: "is not correct" }],
    });
  }
  assertPasswordAllowed(input.newPassword, { minLength: config.passwordMinLength, email: profile!.email, field: "newPassword" });
  const result = await storeChangePassword(deps.db, {
    userId: principal.userId,
    keepSessionId: principal.sessionId,
    expectedHash: stored,
    passwordHash: await hashPassword(input.newPassword, config.argon2),
    now,
    audit: { type: "password.changed", ip: meta.ip, userAgent: meta.userAgent, metadata: {}, at: now },
  });
  // The password changed concurrently (another change or a reset): ask the user to try again.
  if (!result) throw new AppError(409, "password_changed_concurrently", "The password was changed meanwhile; try again");
  await writeMarkers(deps.redis, config.jwt.accessTokenTtlMs, { revokedSessionIds: result.revokedSessionIds });
  notify(deps, "password_changed", profile!.email, { name: profile!.fullName ?? undefined, changedAt: now });
  return { revokedSessions: result.revokedSessionIds.length };
}
