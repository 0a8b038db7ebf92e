// What magic links and email codes share: the request (the same answer whether or not the address
// has an account; rate limits per address and per IP; the artefact stored and the email sent after
// the response, so a known address takes the same time as an unknown one), and the end of a
// successful proof: the address is the user's (verified now, a password set before it was verified
// cleared: pre-account-hijacking), or a new account for sign-up, then completeFirstFactor.
// Budget of a verify: the one atomic Redis consume, then at most 2 SQL statements (the proof, the
// session). An address already verified when the link or code was sent needs no proof statement:
// the session's own statement is the only one (critical path 2), and an account whose address
// changed meanwhile gets its just-started session removed and a refusal.
import { putArtefact, type ArtefactKind } from "../../cache/artefacts";
import { writeMarkers } from "../../cache/revocation";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { log } from "../../runtime/log";
import { recordAudit } from "../../stores/audit";
import { abandonSignIn } from "../../stores/sessions";
import { sha256 } from "../../crypto/random";
import { parseRefreshToken } from "../../crypto/refresh-token";
import { findPasswordlessAccount, insertPasswordlessUser, proveEmailOwnership } from "../../stores/passwordless";
import { signInPolicy } from "../applications/policy";
import type { CallingApplication } from "../applications/resolve";
import { emailKey, type RequestMeta } from "../auth/common";
import { completeFirstFactor } from "../auth/first-factor";
import type { SignInOutcome } from "../auth/outcome";
import { composeEmail, sendEmail, type EmailKind, type EmailParams } from "../email";
import { notify } from "../notify";
import { enforceLimits } from "../rate-limit";

export type PasswordlessMethod = "magic_link" | "email_otp";

/** What a magic link or an email code stands for, stored in its artefact. */
export interface PasswordlessGrant {
  /** The account the address had when the link or code was sent; null: sign-up (no account yet). */
  userId: string | null;
  /** The address it was sent to (normalised, as typed). */
  email: string;
  applicationId: string;
  /** The address was verified when the link or code was sent (no proof statement needed). */
  verified?: boolean;
}

export const methodNotAllowed = (method: PasswordlessMethod) =>
  new AppError(403, "method_not_allowed", `This application does not offer sign-in by ${method === "magic_link" ? "magic link" : "email code"}`);

/** The method is on for the application (403 method_not_allowed otherwise). */
export function assertMethodAllowed(application: CallingApplication, method: PasswordlessMethod): void {
  const policy = signInPolicy(application);
  if (!(method === "magic_link" ? policy.magicLink : policy.emailOtp)) throw methodNotAllowed(method);
}

export interface PasswordlessRequest<K extends EmailKind> {
  method: PasswordlessMethod;
  kind: ArtefactKind;
  /** The artefact's secret (a random link token, or the address's key for codes). */
  secret: string;
  ttlSeconds: number;
  codeDigest?: string;
  extra?: Record<string, unknown>;
  email: { kind: K; params: (name: string | null) => EmailParams[K] };
}

/**
 * Checks the limits and looks the address up (together: one Redis and one SQL round trip); when it
 * has an account, or the application lets an unknown address sign up, stores the grant and sends
 * the email after the response. Answers nothing: every address gets the same reply.
 */
export async function requestPasswordless<K extends EmailKind>(
  deps: Deps,
  application: CallingApplication,
  email: string,
  request: PasswordlessRequest<K>,
  meta: RequestMeta,
): Promise<void> {
  const { config } = deps;
  const [limits, account] = await Promise.allSettled([
    enforceLimits(
      deps,
      [
        { name: "email-link-email", rule: config.verification.perEmail, identifier: await emailKey(email), mode: "consume" },
        { name: "email-link-ip", rule: config.verification.perIp, identifier: meta.ip ?? "unknown", mode: "consume" },
      ],
      false,
    ),
    findPasswordlessAccount(deps.db, email),
  ]);
  if (limits.status === "rejected") throw limits.reason;
  if (account.status === "rejected") throw account.reason;
  const found = account.value;
  if (!found && !signInPolicy(application).signUp.magicLink) return;

  const grant: PasswordlessGrant = { userId: found?.id ?? null, email: found?.email ?? email, applicationId: application.id, verified: found?.emailVerified === true };
  const message = composeEmail(request.email.kind, grant.email, config, request.email.params(found?.fullName ?? null));
  deps.defer(async () => {
    await putArtefact(deps.redis, request.kind, request.secret, { ...grant, ...request.extra }, request.ttlSeconds, { codeDigest: request.codeDigest });
    await sendEmail(deps.email, message, log);
  });
}

/** A failed passwordless sign-in, recorded after the response. */
export function auditFailure(deps: Deps, method: PasswordlessMethod, reason: string, meta: RequestMeta, userId: string | null = null, applicationId?: string): void {
  const at = deps.clock.now();
  deps.defer(() =>
    recordAudit(deps.db, {
      type: "login.failure",
      actorUserId: userId,
      targetUserId: userId,
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { method, reason, ...(applicationId ? { applicationId } : {}) },
      at,
    }),
  );
}

export const linkNoLongerValid = (method: PasswordlessMethod) =>
  method === "magic_link"
    ? new AppError(400, "invalid_token", "The link is unknown, expired or already used")
    : new AppError(400, "invalid_code", "The code is wrong, expired or already used");

/**
 * The grant was proven (its link or code consumed): the address is verified, a password set while
 * it was unverified is cleared, an unknown address gets an account when the application allows
 * sign-up, and the first factor is complete.
 */
export async function completePasswordless(
  deps: Deps,
  application: CallingApplication,
  grant: PasswordlessGrant,
  method: PasswordlessMethod,
  meta: RequestMeta,
  /** A remembered-device token (cookie auth_device or the body): skips the second factor like at /auth/login. */
  deviceToken: string | null = null,
): Promise<SignInOutcome> {
  const now = deps.clock.now();
  let userId = grant.userId;
  const alreadyVerified = userId !== null && grant.verified === true;
  if (userId === null) {
    const policy = signInPolicy(application);
    if (!policy.signUp.magicLink) throw linkNoLongerValid(method);
    const created = await insertPasswordlessUser(deps.db, {
      email: grant.email,
      approval: policy.signUp.approval,
      method,
      applicationId: application.id,
      now,
      ip: meta.ip,
      userAgent: meta.userAgent,
    });
    if (created) {
      userId = created.id;
      if (policy.signUp.approval !== "automatic") notify(deps, "registration_pending", grant.email, {});
    }
  }
  if (userId === null || (grant.userId !== null && !alreadyVerified)) {
    // An existing account (or one created meanwhile for this address): it must still have the address.
    const proof = await proveEmailOwnership(deps.db, { userId: grant.userId, email: grant.email, method, now, ip: meta.ip, userAgent: meta.userAgent });
    if (!proof) {
      auditFailure(deps, method, "address_changed", meta, grant.userId, application.id);
      throw linkNoLongerValid(method);
    }
    userId = proof.userId;
    if (proof.passwordCleared) {
      const revoked = { revokedSessionIds: proof.revokedSessionIds, ...(proof.tokenVersion !== null ? { tokenVersion: { userId: proof.userId, minimum: proof.tokenVersion } } : {}) };
      deps.defer(() => writeMarkers(deps.redis, deps.config.jwt.accessTokenTtlMs, revoked));
    }
  }
  let outcome: SignInOutcome;
  try {
    outcome = await completeFirstFactor(deps, application, { userId: userId!, amr: ["email"], audit: { type: "login.success", metadata: { method } }, deviceToken }, meta);
  } catch (err) {
    if (err instanceof AppError) auditFailure(deps, method, err.code, meta, userId, application.id);
    throw err;
  }
  if (alreadyVerified && outcome.kind === "signed_in" && outcome.user.email.toLowerCase() !== grant.email.toLowerCase()) {
    // The account's address changed after the link or code was sent: the session just started
    // (its tokens never disclosed) is removed, with the refusal audited, after the answer.
    const started = parseRefreshToken(outcome.tokens.refreshToken)!;
    const at = now;
    const failedUser = userId;
    deps.defer(async () =>
      abandonSignIn(deps.db, {
        sessionId: started.sessionId,
        refreshHash: await sha256(started.secret),
        audit: { type: "login.failure", actorUserId: failedUser, targetUserId: failedUser, ip: meta.ip, userAgent: meta.userAgent, metadata: { method, reason: "address_changed", applicationId: application.id }, at },
      }),
    );
    throw linkNoLongerValid(method);
  }
  return outcome;
}
