// Recovery codes (issue 10 item 4): ten, shown once, stored hashed, each usable once.
import type { Deps } from "../../deps";
import { replaceRecoveryCodes } from "../../stores/mfa";
import type { Principal } from "../auth/bearer";
import type { RequestMeta } from "../auth/common";
import { notify } from "../notify";
import { loadActorContext } from "./actor";
import { hasSecondFactor, mfaErrors, newRecoveryCodes, recoveryCodeHash } from "./common";
import { requireStepUp } from "./step-up";

const session = (principal: Principal) => ({ kind: "session" as const, principal, userId: principal.userId, applicationId: principal.clientId });

export async function recoveryCodesRemaining(deps: Deps, principal: Principal): Promise<{ remaining: number; totp: boolean }> {
  const ctx = await loadActorContext(deps, session(principal));
  return { remaining: ctx.recoveryCodesRemaining, totp: hasSecondFactor(ctx) };
}

export async function regenerateRecoveryCodes(deps: Deps, principal: Principal, stepUpToken: string | undefined, meta: RequestMeta): Promise<{ recoveryCodes: string[] }> {
  const [ctx] = await Promise.all([loadActorContext(deps, session(principal)), requireStepUp(deps, principal, stepUpToken)]);
  if (!hasSecondFactor(ctx)) throw mfaErrors.totpNotEnabled();
  const now = deps.clock.now();
  const recoveryCodes = newRecoveryCodes();
  const replaced = await replaceRecoveryCodes(deps.db, {
    userId: ctx.userId,
    codeHashes: await Promise.all(recoveryCodes.map((c) => recoveryCodeHash(ctx.userId, c))),
    now,
    audit: { type: "mfa.recovery_codes.regenerated", actorUserId: ctx.userId, ip: meta.ip, userAgent: meta.userAgent, metadata: {}, at: now },
  });
  if (!replaced) throw mfaErrors.totpNotEnabled();
  notify(deps, "mfa_recovery_codes", ctx.email, { name: ctx.fullName });
  return { recoveryCodes };
}
