// Step-up (issue 10 item 7): sensitive actions by a user with a second factor need a recent proof.
// requireStepUp passes when the user has no second factor, when the acting session was signed in
// within STEP_UP_RECENT (5 minutes), or when X-Step-Up-Token is a live step-up token of this very
// session (POST /auth/step-up, valid STEP_UP_TTL); otherwise 403 step_up_required. Staff acting
// through Cloudflare Access (no session) are not users with factors here, and pass.
import { newArtefactSecret, putArtefact, readArtefact } from "../../cache/artefacts";
import { verifyPassword } from "../../crypto/password";
import { matchTotp } from "../../crypto/totp";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { recordAudit } from "../../stores/audit";
import { loadMfaContext, useRecoveryCode, useTotpStep } from "../../stores/mfa";
import type { ActingSession } from "../../stores/sessions";
import { tokenRevoked, type Principal } from "../auth/bearer";
import type { RequestMeta } from "../auth/common";
import { badCode, checkSecret, hasSecondFactor, mfaErrors, openTotpSecret, recoveryCodeHash } from "./common";

export const STEP_UP_RECENT_MS = 5 * 60_000;

interface StepUpValue {
  sessionId: string;
  userId: string;
}

/** Who acts: a user's session (Bearer), or staff (sessionId null for Cloudflare Access). */
export interface StepUpSubject {
  userId: string;
  sessionId: string | null;
  /** The Bearer principal's acting session, when there is one (checked live in the same read). */
  acting?: ActingSession;
  markers?: Promise<void>;
}

/** Who must prove it for a staff action: the staff member's session (Bearer), or nobody (Cloudflare Access). */
export function staffStepUpSubject(staff: { via: "bearer" | "cloudflare-access"; userId: string; sessionId: string | null }): StepUpSubject {
  return { userId: staff.userId, sessionId: staff.via === "bearer" ? staff.sessionId : null };
}

/** Passes or throws 403 step_up_required (see above). One SQL read, and one Redis read alongside it when a token is sent. */
export async function requireStepUp(deps: Deps, subject: StepUpSubject | Principal, stepUpToken: string | undefined | null): Promise<void> {
  if (!subject.sessionId) return;
  const now = deps.clock.now();
  const acting = "acting" in subject ? subject.acting : undefined;
  const [, ctx, token] = await Promise.all([
    subject.markers,
    loadMfaContext(deps.db, subject.userId, now, acting, subject.sessionId),
    stepUpToken && /^[A-Za-z0-9_-]{43}$/.test(stepUpToken) ? readArtefact<StepUpValue>(deps.redis, "step-up", stepUpToken) : Promise.resolve(null),
  ]);
  if (!ctx || !ctx.live) throw tokenRevoked();
  if (!hasSecondFactor(ctx)) return;
  if (ctx.authTime && now.getTime() - ctx.authTime.getTime() <= STEP_UP_RECENT_MS) return;
  if (token && token.value.sessionId === subject.sessionId && token.value.userId === subject.userId) return;
  throw mfaErrors.stepUpRequired();
}

export interface StepUpInput {
  factor: "totp" | "recovery_code" | "password";
  code?: string;
  password?: string;
}

/** POST /auth/step-up: proves a factor again and returns a token bound to this session. */
export async function createStepUp(deps: Deps, principal: Principal, input: StepUpInput, meta: RequestMeta): Promise<{ stepUpToken: string; expiresIn: number }> {
  const now = deps.clock.now();
  const [, ctx] = await Promise.all([principal.markers, loadMfaContext(deps.db, principal.userId, now, principal.acting)]);
  if (!ctx || !ctx.live) throw tokenRevoked();
  const missing = (field: string) => new AppError(400, "validation_error", `Send ${field}`, { fields: [{ field, message: "is required" }] });
  if (input.factor === "password") {
    if (input.password === undefined) throw missing("password");
    const hash = ctx.passwordHash;
    await checkSecret(deps, ctx.email, async () => hash !== null && (await verifyPassword(input.password!, hash, deps.config.argon2)), mfaErrors.invalidPassword);
  } else {
    if (input.code === undefined) throw missing("code");
    if (!hasSecondFactor(ctx)) throw mfaErrors.totpNotEnabled();
    if (input.factor === "totp") {
      const secret = await openTotpSecret(deps.config, ctx.totp!.ciphertext, ctx.userId);
      await checkSecret(
        deps,
        ctx.email,
        async () => {
          const step = await matchTotp(secret, input.code!, now);
          return step !== null && (await useTotpStep(deps.db, { userId: ctx.userId, ciphertext: ctx.totp!.ciphertext, step, now })).used;
        },
        badCode,
      );
    } else {
      const codeHash = await recoveryCodeHash(ctx.userId, input.code);
      await checkSecret(deps, ctx.email, async () => (await useRecoveryCode(deps.db, { userId: ctx.userId, codeHash, now })).used, badCode);
    }
  }
  const stepUpToken = newArtefactSecret();
  const ttl = Math.round(deps.config.mfa.stepUpTtlMs / 1000);
  await putArtefact(deps.redis, "step-up", stepUpToken, { sessionId: principal.sessionId, userId: principal.userId } satisfies StepUpValue, ttl);
  deps.defer(() =>
    recordAudit(deps.db, {
      type: "mfa.step_up.success",
      actorUserId: ctx.userId,
      targetUserId: ctx.userId,
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { factor: input.factor, sessionId: principal.sessionId },
      at: now,
    }),
  );
  return { stepUpToken, expiresIn: ttl };
}
