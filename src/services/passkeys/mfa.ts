// A passkey as the second step of a sign-in (issue 11 item 5): POST /auth/mfa/passkey/options
// {mfaToken} reads the MFA challenge (not taking it) and issues a passkey challenge bound to it,
// to its user and application (Redis 1 read, SQL 1, Redis 1 write); POST /auth/mfa/verify
// {factor: "passkey", mfaToken, challengeId, response} takes both challenges, verifies the
// assertion (assertion.ts) and ends in H1's hook completeMfaChallenge. A failed passkey answer puts
// the MFA challenge back with one attempt more (failMfaChallenge), and answers its own code.
import type { AuthenticationResponseJSON, PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import { generateAuthenticationOptions } from "@simplewebauthn/server";
import { readArtefact } from "../../cache/artefacts";
import { sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { passkeysOf } from "../../stores/passkeys";
import type { CallingApplication } from "../applications/resolve";
import type { RequestMeta } from "../auth/common";
import type { SignInOutcome } from "../auth/outcome";
import { mfaErrors } from "../mfa/common";
import { completeMfaChallenge, consumeMfaChallenge, failMfaChallenge, MFA_MAX_ATTEMPTS, type MfaChallenge } from "../mfa/challenge";
import { verifyAssertion } from "./assertion";
import { storeChallenge, takeChallenge } from "./challenge";
import { passkeyErrors } from "./errors";
import type { RelyingParty } from "./relying-party";

const MFA_TOKEN = /^[A-Za-z0-9_-]{20,200}$/;

export async function mfaPasskeyOptions(
  deps: Deps,
  app: CallingApplication,
  mfaToken: string,
  rp: RelyingParty,
): Promise<{ options: PublicKeyCredentialRequestOptionsJSON; challengeId: string }> {
  const found = MFA_TOKEN.test(mfaToken) ? await readArtefact<MfaChallenge>(deps.redis, "mfa-challenge", mfaToken) : null;
  const mfa = found?.value;
  if (!mfa || mfa.purpose !== "verify" || mfa.applicationId !== app.id || mfa.expiresAt <= deps.clock.now().getTime() || mfa.attempts >= MFA_MAX_ATTEMPTS) {
    throw mfaErrors.invalidChallenge();
  }
  const passkeys = await passkeysOf(deps.db, mfa.userId, rp.rpId);
  if (passkeys.length === 0) throw new AppError(409, "passkey_not_registered", "This account has no passkey for this site; use another factor");
  const options = await generateAuthenticationOptions({
    rpID: rp.rpId,
    allowCredentials: passkeys.map((p) => ({ id: p.credentialId, transports: p.transports })),
    userVerification: "preferred",
    timeout: 300_000,
  });
  await storeChallenge(deps, { ceremony: "mfa", challenge: options.challenge, applicationId: app.id, userId: mfa.userId, mfaTokenHash: await sha256(mfaToken), rp });
  return { options, challengeId: options.challenge };
}

export async function verifyPasskeyFactor(
  deps: Deps,
  app: CallingApplication,
  input: { mfaToken: string; challengeId: string; response: AuthenticationResponseJSON },
  meta: RequestMeta,
): Promise<Extract<SignInOutcome, { kind: "signed_in" }>> {
  const mfa = await consumeMfaChallenge(deps, app, input.mfaToken);
  if (!mfa) throw mfaErrors.invalidChallenge();
  let userVerified: boolean;
  try {
    const challenge = await takeChallenge(deps, input.challengeId, "mfa", app.id);
    if (challenge.userId !== mfa.userId || challenge.mfaTokenHash !== (await sha256(input.mfaToken))) throw passkeyErrors.challengeInvalid();
    ({ userVerified } = await verifyAssertion(deps, challenge, input.response, meta, "mfa"));
  } catch (err) {
    // The MFA challenge goes back with one attempt more; the answer names what was wrong.
    await failMfaChallenge(deps, input.mfaToken, mfa, "passkey", meta).catch(() => undefined);
    throw err;
  }
  return completeMfaChallenge(deps, app, mfa, { factor: "passkey", amr: userVerified ? ["hwk", "user"] : ["hwk"] }, meta);
}
