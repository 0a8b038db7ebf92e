// Where every first factor other than the password ends (magic link, email code, social sign-in,
// passkey without MFA): the application's and the user's second-factor rules decide whether the
// answer is a session or a second step. Password sign-in applies the same gate in login.ts.
// One SQL statement either way: it starts the session only when no second step is needed (see
// startProvenSession's secondFactor gate) and reads the user's TOTP for the challenge otherwise;
// a second step adds the challenge's one Redis write.
import { randomSecret, sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { startProvenSession } from "../../stores/sessions";
import { signInPolicy } from "../applications/policy";
import type { CallingApplication } from "../applications/resolve";
import { deviceTokenHash, secondStep, startSecondStep } from "../mfa/challenge";
import { accountBlock, issueTokens, toUserView, type RequestMeta } from "./common";
import type { SignInOutcome } from "./outcome";
import type { ProvenSessionInput } from "./proven-session";

export interface FirstFactorInput extends ProvenSessionInput {
  /** The client's remembered-device token (cookie auth_device or a body field), if any. */
  deviceToken?: string | null;
  /** The first factor's name for the audit trail (defaults to the audit metadata's `method`). */
  method?: string;
}

export async function completeFirstFactor(deps: Deps, application: CallingApplication, input: FirstFactorInput, meta: RequestMeta): Promise<SignInOutcome> {
  const now = deps.clock.now();
  const sessionId = crypto.randomUUID();
  const refreshSecret = randomSecret();
  const expiresAt = new Date(now.getTime() + deps.config.refreshTokenTtlMs);
  const policy = signInPolicy(application).mfa;
  const [refreshHash, deviceHash] = await Promise.all([sha256(refreshSecret), policy.rememberDevice ? deviceTokenHash(input.deviceToken) : null]);
  const user = await startProvenSession(deps.db, {
    userId: input.userId,
    sessionId,
    applicationId: application.id,
    refreshHash,
    expiresAt,
    now,
    amr: input.amr,
    expectTokenVersion: input.expectTokenVersion,
    ip: meta.ip,
    userAgent: meta.userAgent,
    audit: input.audit,
    secondFactor: { policy: policy.policy, deviceTokenHash: deviceHash },
  });
  if (!user) throw new AppError(401, "invalid_credentials", "This account cannot sign in");
  const blocked = accountBlock(user);
  if (blocked) throw blocked;
  if (!user.sessionStarted) {
    const step = secondStep(application, user);
    if (step !== "none" && (input.expectTokenVersion === undefined || input.expectTokenVersion === null || input.expectTokenVersion === user.tokenVersion)) {
      const method = input.method ?? (typeof input.audit.metadata.method === "string" ? input.audit.metadata.method : "unknown");
      return startSecondStep(deps, application, step, { id: user.id, email: user.email, tokenVersion: user.tokenVersion, totp: user.totp, hasPasskey: user.hasPasskey }, { amr: input.amr, method });
    }
    // Active and approved, yet no session: the token version moved since the proof (a reset or logout-all).
    throw new AppError(401, "invalid_credentials", "The sign-in is no longer valid; start again");
  }
  const tokens = await issueTokens(
    deps,
    { userId: user.id, email: user.email, globalRole: user.globalRole, tokenVersion: user.tokenVersion, emailVerified: user.emailVerified },
    { sessionId, refreshSecret, expiresAt, proof: { amr: input.amr, authTime: now } },
    application,
  );
  return { kind: "signed_in", tokens, user: toUserView(user) };
}
