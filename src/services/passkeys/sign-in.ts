// Passkey sign-in (issue 11 items 4 and 5):
//   options: SQL 1 only with an email (its passkeys for allowCredentials), Redis 1 (the challenge);
//   verify:  Redis 1 (the challenge, taken once), SQL 1 (the credential), SQL 2 (counter
//            compare-and-set with passkey.used), SQL 3 (the session).
// Without an email the options allow any discoverable credential (empty allowCredentials), which
// is what conditional UI (autofill) needs. With user verification the passkey is two factors in
// one (possession and the device's PIN or biometric): the session starts at once with amr
// ["hwk","user"], whatever the second-factor policy (startSessionForProvenUser). Without it, it
// is a first factor like any other (amr ["hwk"]) and completeFirstFactor's MFA gate decides.
import { generateAuthenticationOptions, type AuthenticationResponseJSON, type PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import type { Deps } from "../../deps";
import { passkeysByEmail } from "../../stores/passkeys";
import { signInPolicy } from "../applications/policy";
import type { CallingApplication } from "../applications/resolve";
import type { RequestMeta } from "../auth/common";
import { completeFirstFactor } from "../auth/first-factor";
import type { SignInOutcome } from "../auth/outcome";
import { startSessionForProvenUser } from "../auth/proven-session";
import { verifyAssertion } from "./assertion";
import { storeChallenge, takeChallenge } from "./challenge";
import { passkeyErrors } from "./errors";
import type { RelyingParty } from "./relying-party";

/** A sign-in challenge that named an email with no account: no credential finishes it. */
const NO_ACCOUNT = "00000000-0000-0000-0000-000000000000";

export async function signInOptions(
  deps: Deps,
  app: CallingApplication,
  rp: RelyingParty,
  email: string | undefined,
): Promise<{ options: PublicKeyCredentialRequestOptionsJSON; challengeId: string }> {
  if (!signInPolicy(app).passkey) throw passkeyErrors.disabled();
  const account = email ? await passkeysByEmail(deps.db, email, rp.rpId) : null;
  const options = await generateAuthenticationOptions({
    rpID: rp.rpId,
    allowCredentials: account ? account.passkeys.map((p) => ({ id: p.credentialId, transports: p.transports })) : [],
    userVerification: "preferred",
    timeout: 300_000,
  });
  await storeChallenge(deps, { ceremony: "authentication", challenge: options.challenge, applicationId: app.id, userId: email ? (account?.userId ?? NO_ACCOUNT) : null, rp });
  return { options, challengeId: options.challenge };
}

export async function signInWithPasskey(
  deps: Deps,
  app: CallingApplication,
  input: { challengeId: string; response: AuthenticationResponseJSON; deviceToken?: string | null },
  meta: RequestMeta,
): Promise<SignInOutcome> {
  if (!signInPolicy(app).passkey) throw passkeyErrors.disabled();
  const challenge = await takeChallenge(deps, input.challengeId, "authentication", app.id);
  const { passkey, userVerified } = await verifyAssertion(deps, challenge, input.response, meta, "sign_in");
  const audit = { type: "login.success", metadata: { method: "passkey", passkeyId: passkey.id, userVerified } };
  if (userVerified) return startSessionForProvenUser(deps, app, { userId: passkey.userId, amr: ["hwk", "user"], audit }, meta);
  return completeFirstFactor(deps, app, { userId: passkey.userId, amr: ["hwk"], audit, method: "passkey", deviceToken: input.deviceToken ?? null }, meta);
}
