// Who may set up and enable TOTP: a signed-in user (Bearer access token), or a sign-in that an
// application requiring MFA held back (the enrollment-only mfaToken of mfaEnrollmentRequired, sent
// as the Bearer credential): it can set up and enable TOTP and nothing else.
import { readArtefact } from "../../cache/artefacts";
import type { Deps } from "../../deps";
import { authenticateBearer, parseBearer, tokenRevoked, type Principal } from "../auth/bearer";
import { AppError } from "../../http/errors";
import type { MfaContext } from "../../stores/mfa";
import { loadMfaContext } from "../../stores/mfa";
import { mfaErrors } from "./common";
import type { MfaChallenge } from "./challenge";

export type MfaActor =
  | { kind: "session"; principal: Principal; userId: string; applicationId: string }
  | { kind: "enrollment"; mfaToken: string; challenge: MfaChallenge; userId: string; applicationId: string };

const ARTEFACT_SECRET = /^[A-Za-z0-9_-]{43}$/;

/** The actor of an Authorization header: an access token, or (only where allowed) an enrollment token. */
export async function authenticateMfaActor(deps: Deps, authorization: string | undefined, allowEnrollment: boolean): Promise<MfaActor> {
  const token = parseBearer(authorization);
  if (allowEnrollment && token && ARTEFACT_SECRET.test(token)) {
    const found = await readArtefact<MfaChallenge>(deps.redis, "mfa-challenge", token);
    const c = found?.value;
    if (!c || c.purpose !== "enroll" || c.expiresAt <= deps.clock.now().getTime()) throw mfaErrors.invalidChallenge();
    return { kind: "enrollment", mfaToken: token, challenge: c, userId: c.userId, applicationId: c.applicationId };
  }
  const principal = await authenticateBearer(deps, authorization);
  return { kind: "session", principal, userId: principal.userId, applicationId: principal.clientId };
}

/** The user's MFA state, checked live: the acting session (Bearer), or the token version the enrollment was made against. */
export async function loadActorContext(deps: Deps, actor: MfaActor): Promise<MfaContext> {
  const now = deps.clock.now();
  if (actor.kind === "session") {
    const [, ctx] = await Promise.all([actor.principal.markers, loadMfaContext(deps.db, actor.userId, now, actor.principal.acting)]);
    if (!ctx || !ctx.live) throw tokenRevoked();
    return ctx;
  }
  const ctx = await loadMfaContext(deps.db, actor.userId, now);
  if (!ctx || ctx.tokenVersion !== actor.challenge.tokenVersion) throw mfaErrors.invalidChallenge();
  return ctx;
}

export const enrollmentOnly = () => new AppError(401, "invalid_token", "This token can only set up and enable TOTP");
