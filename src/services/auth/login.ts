// Password sign-in. Budget: at most 2 SQL round trips and 1 Redis round trip on success.
// Unknown emails and wrong passwords take the same path and the same time (a full Argon2id hash
// either way) and get the same 401; account states are only revealed after a correct password.
import { hashPassword, needsRehash, verifyPassword, type Argon2Params } from "../../crypto/password";
import { randomSecret, sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { recordAudit } from "../../stores/audit";
import { startSession } from "../../stores/sessions";
import { findCredentialsByEmail } from "../../stores/users";
import { countAgainst, enforceLimits } from "../rate-limit";
import type { CallingApplication } from "../applications/resolve";
import { accountBlock, emailKey, issueTokens, normalizeEmail, toUserView, type IssuedTokens, type RequestMeta, type UserView } from "./common";

export interface LoginInput {
  email: string;
  password: string;
}

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
): Promise<IssuedTokens & { user: UserView }> {
  const { config } = deps;
  const email = normalizeEmail(input.email);
  const account = await emailKey(email);

  // The limit check (Redis) and the credential lookup (SQL) go out together: at the edge a sign-in
  // waits for the slower of the two, not their sum. Nothing is verified or written before both
  // are back, so a limited request still ends here with 429 (or 503 with Redis down, fail-closed).
  const [, user] = await Promise.all([
    enforceLimits(
      deps,
      [
        { name: "login-ip", rule: config.rateLimits.loginPerIp, identifier: meta.ip ?? "unknown", mode: "consume" },
        { name: "login-failures-email", rule: config.rateLimits.loginFailuresPerEmail, identifier: account, mode: "peek" },
      ],
      !config.rateLimitFailClosedLogin,
    ),
    findCredentialsByEmail(deps.db, email),
  ]);
  const stored = user?.passwordHash ?? (await dummyHash(config.argon2));
  const passwordOk = await verifyPassword(input.password, stored, config.argon2);
  const now = deps.clock.now();

  if (!user || !user.passwordHash || !passwordOk) {
    await Promise.all([
      countAgainst(deps, "login-failures-email", config.rateLimits.loginFailuresPerEmail, account),
      recordAudit(deps.db, {
        type: "login.failure",
        actorUserId: null,
        targetUserId: user?.id ?? null,
        ip: meta.ip,
        userAgent: meta.userAgent,
        metadata: { reason: "invalid_credentials" },
        at: now,
      }),
    ]);
    throw invalidCredentials();
  }

  const blocked = accountBlock(user);
  if (blocked) {
    await recordAudit(deps.db, {
      type: "login.blocked",
      actorUserId: user.id,
      targetUserId: user.id,
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { reason: blocked.code },
      at: now,
    });
    throw blocked;
  }

  const sessionId = crypto.randomUUID();
  const refreshSecret = randomSecret();
  const expiresAt = new Date(now.getTime() + config.refreshTokenTtlMs);
  const rehashed = needsRehash(user.passwordHash, config.argon2) ? await hashPassword(input.password, config.argon2) : null;
  // The access token is signed while the session statement is in flight; it is only handed out
  // once the statement has stored the session.
  const [started, tokens] = await Promise.all([
    startSession(deps.db, {
      sessionId,
      applicationId: application.id,
      userId: user.id,
      tokenVersion: user.tokenVersion,
      verifiedPasswordHash: user.passwordHash,
      refreshHash: await sha256(refreshSecret),
      expiresAt,
      now,
      rehashedPassword: rehashed,
      ip: meta.ip,
      userAgent: meta.userAgent,
      auditMetadata: { rehashed: rehashed !== null, applicationId: application.id },
    }),
    issueTokens(
      deps,
      { userId: user.id, email: user.email, globalRole: user.globalRole, tokenVersion: user.tokenVersion },
      { sessionId, refreshSecret, expiresAt },
      application,
    ),
  ]);
  // The password changed after this sign-in read and verified it: whoever knew only the old one
  // is answered as for a wrong password, and nothing was written.
  if (started === "password_changed") throw invalidCredentials();
  // The account changed between the password check and now (deactivated, logged out everywhere).
  if (started === "account_changed") throw new AppError(403, "account_inactive", "This account is inactive");

  return { ...tokens, user: toUserView(user) };
}
