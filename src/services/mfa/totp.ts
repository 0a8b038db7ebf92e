// TOTP setup, enable and disable (issue 10 item 2). Nothing is on until enable proves a code; the
// secret is stored sealed (AES-256-GCM, key id in the ciphertext) and never shown again.
import { consumeArtefact } from "../../cache/artefacts";
import { verifyPassword } from "../../crypto/password";
import { matchTotp, newTotpSecret, otpauthUri } from "../../crypto/totp";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { disableTotp, enableTotp, saveTotpSecret } from "../../stores/mfa";
import { brandName } from "../applications/policy";
import { resolveApplicationById } from "../applications/resolve";
import type { Principal } from "../auth/bearer";
import type { RequestMeta } from "../auth/common";
import type { SignInOutcome } from "../auth/outcome";
import { startSessionForProvenUser } from "../auth/proven-session";
import { notify } from "../notify";
import { loadActorContext, type MfaActor } from "./actor";
import type { MfaChallenge } from "./challenge";
import { badCode, checkSecret, hasSecondFactor, mfaErrors, newRecoveryCodes, openTotpSecret, recoveryCodeHash, sealTotpSecret } from "./common";
import { requireStepUp } from "./step-up";
import { renderSVG } from "uqr";


export async function setupTotp(deps: Deps, actor: MfaActor): Promise<{ secret: string; otpauthUri: string; qrSvg: string }> {
  const [ctx, application] = await Promise.all([loadActorContext(deps, actor), resolveApplicationById(deps, actor.applicationId)]);
  if (hasSecondFactor(ctx)) throw mfaErrors.totpAlreadyEnabled();
  const secret = newTotpSecret();
  const sealed = await sealTotpSecret(deps.config, secret, ctx.userId);
  const saved = await saveTotpSecret(deps.db, {
    userId: ctx.userId,
    ciphertext: sealed.ciphertext,
    keyId: sealed.keyId,
    now: deps.clock.now(),
    actor: actor.kind === "session" ? actor.principal.acting : undefined,
  });
  if (!saved) throw mfaErrors.totpAlreadyEnabled();
  const uri = otpauthUri(secret, brandName(application, deps.config), ctx.email);
  return { secret, otpauthUri: uri, qrSvg: renderSVG(uri) };
}

export interface EnableResult {
  recoveryCodes: string[];
  /** With an enrollment token: the sign-in it held back, now complete. */
  signIn?: Extract<SignInOutcome, { kind: "signed_in" }>;
}

export async function enableTotpFactor(deps: Deps, actor: MfaActor, code: string, meta: RequestMeta): Promise<EnableResult> {
  const ctx = await loadActorContext(deps, actor);
  if (hasSecondFactor(ctx)) throw mfaErrors.totpAlreadyEnabled();
  if (!ctx.totp) throw mfaErrors.totpNotSetUp();
  const now = deps.clock.now();
  const secret = await openTotpSecret(deps.config, ctx.totp.ciphertext, ctx.userId);
  const step = await matchTotp(secret, code, now);
  if (step === null) throw badCode();
  const recoveryCodes = newRecoveryCodes();
  const enabled = await enableTotp(deps.db, {
    userId: ctx.userId,
    ciphertext: ctx.totp.ciphertext,
    step,
    codeHashes: await Promise.all(recoveryCodes.map((c) => recoveryCodeHash(ctx.userId, c))),
    now,
    audit: { type: "mfa.totp.enabled", actorUserId: ctx.userId, ip: meta.ip, userAgent: meta.userAgent, metadata: { via: actor.kind }, at: now },
  });
  // Another enable (or a new setup) won meanwhile.
  if (!enabled) throw mfaErrors.totpAlreadyEnabled();
  notify(deps, "mfa_enabled", ctx.email, { name: ctx.fullName });
  if (actor.kind === "session") return { recoveryCodes };
  // The held-back sign-in: completed once (its token is consumed), with the first factor and this code.
  const challenge = await consumeArtefact<MfaChallenge>(deps.redis, "mfa-challenge", actor.mfaToken);
  if (!challenge || challenge.purpose !== "enroll") return { recoveryCodes };
  const application = await resolveApplicationById(deps, challenge.applicationId);
  const signIn = await startSessionForProvenUser(
    deps,
    application,
    {
      userId: challenge.userId,
      amr: [...new Set([...challenge.amr, "otp", "mfa"])],
      expectTokenVersion: challenge.tokenVersion,
      expectPasswordDigest: challenge.passwordDigest ?? null,
      audit: { type: "mfa.challenge.success", metadata: { factor: "totp", method: challenge.method, enrolled: true } },
    },
    meta,
  );
  return { recoveryCodes, signIn };
}

/** Turns TOTP off: the password (or, for an account without one, a current code), and a step-up. */
export async function disableTotpFactor(
  deps: Deps,
  principal: Principal,
  input: { password?: string; code?: string },
  stepUpToken: string | undefined,
  meta: RequestMeta,
): Promise<void> {
  const actor: MfaActor = { kind: "session", principal, userId: principal.userId, applicationId: principal.clientId };
  const [ctx] = await Promise.all([loadActorContext(deps, actor), requireStepUp(deps, principal, stepUpToken)]);
  if (!hasSecondFactor(ctx)) throw mfaErrors.totpNotEnabled();
  const now = deps.clock.now();
  let afterStep: number | undefined;
  if (ctx.passwordHash) {
    if (input.password === undefined) throw new AppError(400, "validation_error", "Send the password", { fields: [{ field: "password", message: "is required" }] });
    await checkSecret(deps, ctx.email, () => verifyPassword(input.password!, ctx.passwordHash!, deps.config.argon2), mfaErrors.invalidPassword);
  } else {
    if (input.code === undefined) throw new AppError(400, "validation_error", "Send a current code", { fields: [{ field: "code", message: "is required" }] });
    const secret = await openTotpSecret(deps.config, ctx.totp!.ciphertext, ctx.userId);
    let step: number | null = null;
    await checkSecret(deps, ctx.email, async () => (step = await matchTotp(secret, input.code!, now)) !== null, badCode);
    afterStep = step!;
  }
  const removed = await disableTotp(deps.db, {
    userId: ctx.userId,
    afterStep,
    now,
    audit: { type: "mfa.totp.disabled", actorUserId: ctx.userId, ip: meta.ip, userAgent: meta.userAgent, metadata: { by: afterStep === undefined ? "password" : "code" }, at: now },
  });
  if (!removed) throw afterStep === undefined ? mfaErrors.totpNotEnabled() : badCode();
  notify(deps, "mfa_disabled", ctx.email, { name: ctx.fullName });
}
