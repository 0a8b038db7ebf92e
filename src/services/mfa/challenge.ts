// The second step of a sign-in (issue 10 item 3). A proven first factor whose user has an enabled
// TOTP (and no live remembered device), or whose application requires MFA, gets an MFA challenge
// instead of tokens: an artefact in Redis (kind "mfa-challenge", 5 minutes) that names the user,
// the application, the first factor's amr, the token version and the TOTP's ciphertext, so that
// verifying it needs no read: POST /auth/mfa/verify costs
//   Redis 1: the challenge, consumed atomically (of concurrent verifies, one holds it);
//   SQL 1:   the factor used (TOTP step compare-and-set, or recovery code), the device remembered;
//   SQL 2:   the session (startSessionForProvenUser);
// and on a wrong code, Redis 2: the challenge put back with one attempt more (dead at 5), plus
// the account's failed-sign-in count after the response.
import { consumeArtefact, newArtefactSecret, putArtefact } from "../../cache/artefacts";
import { matchTotp } from "../../crypto/totp";
import { passwordHashDigest } from "../../crypto/password";
import { randomSecret, sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { recordAudit } from "../../stores/audit";
import { useRecoveryCode, useTotpStep, type NewDevice } from "../../stores/mfa";
import type { SignInTotp } from "../../stores/sessions";
import { signInPolicy } from "../applications/policy";
import type { CallingApplication } from "../applications/resolve";
import { emailKey, type RequestMeta } from "../auth/common";
import type { MfaFactor, SignInOutcome } from "../auth/outcome";
import { startSessionForProvenUser } from "../auth/proven-session";
import { countAgainst } from "../rate-limit";
import { mfaErrors, openTotpSecret, recoveryCodeHash } from "./common";

export const MFA_CHALLENGE_TTL_SECONDS = 300;
export const MFA_ENROLLMENT_TTL_SECONDS = 600;
export const MFA_MAX_ATTEMPTS = 5;

export interface MfaChallenge {
  purpose: "verify" | "enroll";
  userId: string;
  email: string;
  applicationId: string;
  /** The first factor's method references (e.g. ["pwd"], ["email"]). */
  amr: string[];
  /** The first factor, for audit (e.g. "password", "magic_link"). */
  method: string;
  tokenVersion: number;
  /**
   * A password sign-in's proof: the SHA-256 (hex) of the password hash it verified. A password
   * change before the second step completes refuses the completion (issue 16).
   */
  passwordDigest?: string | null;
  totp: SignInTotp | null;
  factors: MfaFactor[];
  /** Wrong codes so far (dead at MFA_MAX_ATTEMPTS). */
  attempts: number;
  /** Epoch ms. */
  expiresAt: number;
}

/** What a proven first factor still needs. */
export function secondStep(
  application: Pick<CallingApplication, "settings">,
  user: { totp?: SignInTotp | null; deviceRemembered?: boolean },
): "none" | "challenge" | "enroll" {
  const policy = signInPolicy(application).mfa;
  if (policy.policy === "off") return "none";
  const remembered = policy.rememberDevice && user.deviceRemembered === true;
  if (user.totp) return remembered ? "none" : "challenge";
  return policy.policy === "required" && !remembered ? "enroll" : "none";
}

/** Starts the second step: stores the challenge (one Redis round trip) and answers with its token. */
export async function startSecondStep(
  deps: Deps,
  application: CallingApplication,
  step: "challenge" | "enroll",
  user: { id: string; email: string; tokenVersion: number; totp?: SignInTotp | null; hasPasskey?: boolean },
  first: { amr: string[]; method: string; passwordHash?: string | null },
): Promise<SignInOutcome> {
  const now = deps.clock.now().getTime();
  const ttl = step === "challenge" ? MFA_CHALLENGE_TTL_SECONDS : MFA_ENROLLMENT_TTL_SECONDS;
  // A user with a passkey may answer with it (POST /auth/mfa/passkey/options, then factor "passkey").
  const factors: MfaFactor[] = step === "challenge" ? ["totp", "recovery_code", ...(user.hasPasskey ? (["passkey"] as const) : [])] : [];
  const challenge: MfaChallenge = {
    purpose: step === "challenge" ? "verify" : "enroll",
    userId: user.id,
    email: user.email,
    applicationId: application.id,
    amr: first.amr,
    method: first.method,
    tokenVersion: user.tokenVersion,
    passwordDigest: first.passwordHash ? await passwordHashDigest(first.passwordHash) : null,
    totp: user.totp ?? null,
    factors,
    attempts: 0,
    expiresAt: now + ttl * 1000,
  };
  const mfaToken = newArtefactSecret();
  await putArtefact(deps.redis, "mfa-challenge", mfaToken, challenge, ttl);
  return step === "challenge"
    ? { kind: "mfa_required", mfaToken, factors, expiresIn: ttl }
    : { kind: "mfa_enrollment_required", mfaToken, expiresIn: ttl };
}

/**
 * Takes the challenge out of Redis (one atomic round trip: of concurrent verifies, one gets it).
 * Null when unknown, expired, spent, or of another application or purpose (put back then).
 */
export async function consumeMfaChallenge(
  deps: Deps,
  application: Pick<CallingApplication, "id">,
  mfaToken: string,
  purpose: MfaChallenge["purpose"] = "verify",
): Promise<MfaChallenge | null> {
  const challenge = await consumeArtefact<MfaChallenge>(deps.redis, "mfa-challenge", mfaToken);
  if (!challenge) return null;
  const now = deps.clock.now().getTime();
  if (challenge.expiresAt <= now || challenge.attempts >= MFA_MAX_ATTEMPTS) return null;
  if (challenge.purpose !== purpose || challenge.applicationId !== application.id) {
    await putBack(deps, mfaToken, challenge);
    return null;
  }
  return challenge;
}

async function putBack(deps: Deps, mfaToken: string, challenge: MfaChallenge): Promise<void> {
  const ttl = Math.floor((challenge.expiresAt - deps.clock.now().getTime()) / 1000);
  if (ttl >= 1 && challenge.attempts < MFA_MAX_ATTEMPTS) await putArtefact(deps.redis, "mfa-challenge", mfaToken, challenge, ttl);
}

/**
 * A wrong answer to a challenge already taken out: puts it back with one attempt more (unless that
 * was the last), counts against the account's failed sign-ins and records the failure, then
 * throws invalid_mfa_code. Exported for other factors (passkey).
 */
export async function failMfaChallenge(deps: Deps, mfaToken: string, challenge: MfaChallenge, factor: MfaFactor, meta: RequestMeta): Promise<never> {
  const next = { ...challenge, attempts: challenge.attempts + 1 };
  await putBack(deps, mfaToken, next);
  const { config } = deps;
  const at = deps.clock.now();
  deps.defer(async () => {
    await Promise.all([
      countAgainst(deps, "login-failures-email", config.rateLimits.loginFailuresPerEmail, await emailKey(challenge.email)),
      recordAudit(deps.db, {
        type: "mfa.challenge.failure",
        actorUserId: challenge.userId,
        targetUserId: challenge.userId,
        ip: meta.ip,
        userAgent: meta.userAgent,
        metadata: { factor, attempt: next.attempts, applicationId: challenge.applicationId },
        at,
      }),
    ]);
  });
  throw mfaErrors.invalidCode(Math.max(0, MFA_MAX_ATTEMPTS - next.attempts));
}

/** A new remembered-device token and the row to store for it. */
export async function newDevice(deps: Deps, challenge: Pick<MfaChallenge, "tokenVersion">, meta: RequestMeta): Promise<{ token: string; row: NewDevice }> {
  const token = randomSecret(32);
  const expiresAt = new Date(deps.clock.now().getTime() + deps.config.mfa.rememberDays * 86_400_000);
  return { token, row: { tokenHash: await sha256(`device:${token}`), expiresAt, ip: meta.ip, userAgent: meta.userAgent, tokenVersion: challenge.tokenVersion } };
}

export const deviceTokenHash = (token: string | null | undefined) => (token ? sha256(`device:${token}`) : Promise.resolve(null));

/**
 * The hook every second factor ends in (TOTP, recovery code, and passkey when it comes): the
 * challenge was taken out and the factor proven; starts the session with the first factor's amr
 * plus the second's and "mfa", against the challenge's token version (a reset meanwhile wins).
 */
export async function completeMfaChallenge(
  deps: Deps,
  application: CallingApplication,
  challenge: MfaChallenge,
  proof: { factor: MfaFactor; amr: string[]; deviceId?: string | null },
  meta: RequestMeta,
): Promise<Extract<SignInOutcome, { kind: "signed_in" }>> {
  const amr = [...new Set([...challenge.amr, ...proof.amr, "mfa"])];
  return startSessionForProvenUser(
    deps,
    application,
    {
      userId: challenge.userId,
      amr,
      expectTokenVersion: challenge.tokenVersion,
      expectPasswordDigest: challenge.passwordDigest ?? null,
      audit: { type: "mfa.challenge.success", metadata: { factor: proof.factor, method: challenge.method, ...(proof.deviceId ? { rememberedDeviceId: proof.deviceId } : {}) } },
    },
    meta,
  );
}

export interface MfaVerifyInput {
  mfaToken: string;
  factor: "totp" | "recovery_code";
  code: string;
  rememberDevice?: boolean;
}

/** POST /auth/mfa/verify: tokens (and a device token when asked to remember this device). */
export async function verifyMfa(
  deps: Deps,
  application: CallingApplication,
  input: MfaVerifyInput,
  meta: RequestMeta,
): Promise<{ outcome: Extract<SignInOutcome, { kind: "signed_in" }>; deviceToken: string | null; deviceExpiresIn: number }> {
  const challenge = await consumeMfaChallenge(deps, application, input.mfaToken);
  if (!challenge) throw mfaErrors.invalidChallenge();
  const now = deps.clock.now();
  const remember = input.rememberDevice === true && signInPolicy(application).mfa.rememberDevice;
  const device = remember ? await newDevice(deps, challenge, meta) : null;
  let used: { used: boolean; deviceId: string | null };
  if (input.factor === "totp") {
    if (!challenge.totp) return failMfaChallenge(deps, input.mfaToken, challenge, input.factor, meta);
    const secret = await openTotpSecret(deps.config, challenge.totp.ciphertext, challenge.userId);
    const step = await matchTotp(secret, input.code, now);
    if (step === null) return failMfaChallenge(deps, input.mfaToken, challenge, input.factor, meta);
    used = await useTotpStep(deps.db, { userId: challenge.userId, ciphertext: challenge.totp.ciphertext, step, now, device: device?.row });
  } else {
    const codeHash = await recoveryCodeHash(challenge.userId, input.code);
    used = await useRecoveryCode(deps.db, { userId: challenge.userId, codeHash, now, device: device?.row });
  }
  if (!used.used) return failMfaChallenge(deps, input.mfaToken, challenge, input.factor, meta);
  const outcome = await completeMfaChallenge(
    deps,
    application,
    challenge,
    { factor: input.factor, amr: ["otp"], deviceId: used.deviceId },
    meta,
  );
  return { outcome, deviceToken: used.deviceId ? device!.token : null, deviceExpiresIn: deps.config.mfa.rememberDays * 86_400 };
}
