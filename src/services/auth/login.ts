// Password sign-in. Critical path: one SQL statement (find the account and start the session)
// alongside one Redis round trip (the rate limits), then the hash. Everything else goes after the
// response (deferred): the re-hash, last sign-in time and audit event of a success, and the removal
// of the session, the audit event and the failure count of a refused sign-in.
// Unknown emails and wrong passwords take the same path and the same time (a full Argon2id hash
// and the same waits on the origin either way) and get the same 401; account states are only
// revealed after a correct password.
import { hashPassword, needsRehash, verifyPassword, type Argon2Params } from "../../crypto/password";
import { randomSecret, sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { AppError, errors } from "../../http/errors";
import { abandonSignIn, finishSignIn, startSignIn, type SignInRead } from "../../stores/sessions";
import { signInPolicy } from "../applications/policy";
import type { CallingApplication } from "../applications/resolve";
import { countAgainst, enforceLimits } from "../rate-limit";
import { accountBlock, emailKey, issueTokens, normalizeEmail, toUserView, type RequestMeta } from "./common";
import type { SignInOutcome } from "./outcome";
import { deviceTokenHash, secondStep, startSecondStep } from "../mfa/challenge";

export interface LoginInput {
  email: string;
  password: string;
  /** A remembered-device token (cookie auth_device or body deviceToken): skips the second factor while live. */
  deviceToken?: string | null;
}

export const emailNotVerified = () =>
  new AppError(403, "email_not_verified", "This application requires a verified email address: use the link sent to it, or ask for a new one");

export const invalidCredentials = () => new AppError(401, "invalid_credentials", "Invalid email or password");

// A real hash of a random password with the current parameters, so an unknown email costs exactly
// what a wrong password does. Made once per isolate and parameter set.
const dummyHashes = new Map<string, Promise<string>>();
function dummyHash(params: Argon2Params): Promise<string> {
  const key = JSON.stringify(params);
  let h = dummyHashes.get(key);
  if (!h) dummyHashes.set(key, (h = hashPassword(randomSecret(), params)));
  return h;
}

/** Signs in under `application`: the session belongs to it, and the tokens carry its id and audience. */
export async function login(
  deps: Deps,
  application: CallingApplication,
  input: LoginInput,
  meta: RequestMeta,
): Promise<SignInOutcome> {
  const { config } = deps;
  const email = normalizeEmail(input.email);
  const now = deps.clock.now();
  const sessionId = crypto.randomUUID();
  const auditId = crypto.randomUUID();
  const refreshSecret = randomSecret();
  const [account, refreshHash, deviceHash] = await Promise.all([emailKey(email), sha256(refreshSecret), deviceTokenHash(input.deviceToken)]);
  const expiresAt = new Date(now.getTime() + config.refreshTokenTtlMs);

  // The limit check (Redis) and the sign-in statement (SQL) go out together: at the edge a sign-in
  // waits for the slower of the two, not their sum.
  const [limits, read] = await Promise.allSettled([
    enforceLimits(
      deps,
      [
        { name: "login-ip", rule: config.rateLimits.loginPerIp, identifier: meta.ip ?? "unknown", mode: "consume" },
        { name: "login-failures-email", rule: config.rateLimits.loginFailuresPerEmail, identifier: account, mode: "peek" },
      ],
      !config.rateLimitFailClosedLogin,
    ),
    startSignIn(deps.db, {
      email,
      sessionId,
      applicationId: application.id,
      refreshHash,
      expiresAt,
      now,
      deadline: new Date(now.getTime() + config.http.dependencyTimeoutMs),
      ip: meta.ip,
      userAgent: meta.userAgent,
      deviceTokenHash: deviceHash,
      auditId,
    }),
  ]);
  const user: SignInRead | null = read.status === "fulfilled" ? read.value : null;
  const abandon = (type: string, metadata: Record<string, unknown>) =>
    deps.defer(() =>
      abandonSignIn(deps.db, {
        sessionId: user?.sessionStarted ? sessionId : null,
        refreshHash,
        auditId,
        audit: { type, actorUserId: null, targetUserId: user?.id ?? null, ip: meta.ip, userAgent: meta.userAgent, metadata, at: now },
      }),
    );
  // Limited (429) or Redis down with the limits failing closed (503): the session just started goes.
  if (limits.status === "rejected") {
    // The attempt's audit row becomes the refusal, and a session the statement started goes.
    if (read.status === "fulfilled") abandon("login.refused", { reason: limits.reason instanceof AppError ? limits.reason.code : "limits_unavailable" });
    throw limits.reason;
  }
  if (read.status === "rejected") throw read.reason;

  const stored = user?.passwordHash ?? (await dummyHash(config.argon2));
  const passwordOk = await verifyPassword(input.password, stored, config.argon2);

  if (!user || !user.passwordHash || !passwordOk) {
    abandon("login.failure", { reason: "invalid_credentials" });
    deps.defer(() => countAgainst(deps, "login-failures-email", config.rateLimits.loginFailuresPerEmail, account));
    throw invalidCredentials();
  }

  const blocked = accountBlock(user);
  if (blocked) {
    // No session was started for a pending, rejected or inactive account.
    deps.defer(() =>
      abandonSignIn(deps.db, {
        sessionId: null,
        refreshHash,
        auditId,
        audit: { type: "login.blocked", actorUserId: user.id, targetUserId: user.id, ip: meta.ip, userAgent: meta.userAgent, metadata: { reason: blocked.code }, at: now },
      }),
    );
    throw blocked;
  }
  // An active, approved account whose session was not started: the statement ran only after this
  // sign-in's deadline for it (it would have timed out here a moment later).
  if (!user.sessionStarted) throw errors.dependencyUnavailable("sql");
  if (!user.emailVerified && signInPolicy(application).requireVerifiedEmail) {
    abandon("login.refused", { reason: "email_not_verified" });
    throw emailNotVerified();
  }

  // The MFA gate: a user with a second factor (and no live remembered device), or an application
  // requiring MFA, gets the second step instead of tokens; the session just started goes.
  const step = secondStep(application, user);
  if (step !== "none") {
    abandon("login.mfa_required", { reason: step === "challenge" ? "mfa_required" : "mfa_enrollment_required", applicationId: application.id });
    return startSecondStep(deps, application, step, { id: user.id, email: user.email, tokenVersion: user.tokenVersion, totp: user.totp, hasPasskey: user.hasPasskey }, { amr: ["pwd"], method: "password", passwordHash: user.passwordHash });
  }

  const verifiedHash = user.passwordHash;
  const tokens = await issueTokens(
    deps,
    { userId: user.id, email: user.email, globalRole: user.globalRole, tokenVersion: user.tokenVersion, emailVerified: user.emailVerified },
    { sessionId, refreshSecret, expiresAt, proof: { amr: ["pwd"], authTime: now } },
    application,
  );
  // The re-hash (new Argon2id parameters) runs after the answer: a sign-in of an account with old
  // parameters answers as fast as any other, and its write is a compare-and-set on the verified hash.
  deps.defer(async () =>
    finishSignIn(deps.db, {
      userId: user.id,
      sessionId,
      verifiedPasswordHash: verifiedHash,
      auditId,
      rehashedPassword: needsRehash(verifiedHash, config.argon2) ? await hashPassword(input.password, config.argon2) : null,
      now,
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { applicationId: application.id },
    }),
  );
  return { kind: "signed_in", tokens, user: toUserView(user) };
}
