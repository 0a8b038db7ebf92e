// Starting a session for a user whose identity another step already proved: a magic link, an email
// code, a social sign-in, a passkey, or a completed second factor. One SQL statement (the session,
// the last sign-in time and the audit event); the account states block it as they block a password.
import { randomSecret, sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { startProvenSession } from "../../stores/sessions";
import type { CallingApplication } from "../applications/resolve";
import { accountBlock, issueTokens, toUserView, type RequestMeta } from "./common";
import type { SignInOutcome } from "./outcome";

export interface ProvenSessionInput {
  userId: string;
  /** RFC 8176 method references (e.g. ["email"], ["fed"], ["hwk", "user"], ["pwd", "otp", "mfa"]). */
  amr: string[];
  /** The audit event's type and metadata (e.g. "login.success" with { method: "magic_link" }). */
  audit: { type: string; metadata: Record<string, unknown> };
  /** The token version the proof was made against: a reset or logout-all since then refuses it. */
  expectTokenVersion?: number | null;
  /** A password first factor's digest of the hash it verified (passwordHashDigest): a password change since then refuses it. */
  expectPasswordDigest?: string | null;
}

export async function startSessionForProvenUser(
  deps: Deps,
  application: CallingApplication,
  input: ProvenSessionInput,
  meta: RequestMeta,
): Promise<Extract<SignInOutcome, { kind: "signed_in" }>> {
  const now = deps.clock.now();
  const sessionId = crypto.randomUUID();
  const refreshSecret = randomSecret();
  const expiresAt = new Date(now.getTime() + deps.config.refreshTokenTtlMs);
  const user = await startProvenSession(deps.db, {
    userId: input.userId,
    sessionId,
    applicationId: application.id,
    refreshHash: await sha256(refreshSecret),
    expiresAt,
    now,
    amr: input.amr,
    expectTokenVersion: input.expectTokenVersion,
    expectPasswordDigest: input.expectPasswordDigest,
    ip: meta.ip,
    userAgent: meta.userAgent,
    audit: input.audit,
  });
  if (!user) throw new AppError(401, "invalid_credentials", "This account cannot sign in");
  const blocked = accountBlock(user);
  if (blocked) throw blocked;
  // Active and approved, yet no session: the token version moved since the proof (a reset or
  // logout-all), or the password the first factor verified has been changed since.
  if (!user.sessionStarted) throw new AppError(401, "invalid_credentials", "The sign-in is no longer valid; start again");
  const tokens = await issueTokens(
    deps,
    { userId: user.id, email: user.email, globalRole: user.globalRole, tokenVersion: user.tokenVersion, emailVerified: user.emailVerified },
    { sessionId, refreshSecret, expiresAt, proof: { amr: input.amr, authTime: now } },
    application,
  );
  return { kind: "signed_in", tokens, user: toUserView(user) };
}

