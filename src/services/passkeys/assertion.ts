// Verifying an assertion (sign-in and the MFA step share it): the credential is looked up (SQL 1),
// must belong to the relying party the challenge was issued for and, when the challenge names a
// user, to that user (userHandle too, when the authenticator sends one); the signature, origin,
// RP id and challenge are checked by @simplewebauthn/server; then the signature counter: a value
// that does not increase (unless both are zero: authenticators without a counter) is refused and
// audited as passkey.counter_regression. The new counter is stored by compare-and-set on the one
// read (SQL 2, with passkey.used), so of concurrent assertions carrying one counter, one passes.
import { verifyAuthenticationResponse, type AuthenticationResponseJSON } from "@simplewebauthn/server";
import type { Deps } from "../../deps";
import { recordAudit } from "../../stores/audit";
import { passkeyByCredentialId, usePasskey, type PasskeyRow } from "../../stores/passkeys";
import type { RequestMeta } from "../auth/common";
import { fromBase64url, toBase64url, type PasskeyChallenge } from "./challenge";
import { fromLibraryError, passkeyErrors } from "./errors";
import { userHandleOf } from "./register";

const CREDENTIAL_ID = /^[A-Za-z0-9_-]{1,1400}$/;

export interface VerifiedAssertion {
  passkey: PasskeyRow & { email: string };
  userVerified: boolean;
}

export async function verifyAssertion(
  deps: Deps,
  challenge: PasskeyChallenge,
  response: AuthenticationResponseJSON,
  meta: RequestMeta,
  purpose: "sign_in" | "mfa",
): Promise<VerifiedAssertion> {
  const credentialId = typeof response?.id === "string" ? response.id : "";
  if (!CREDENTIAL_ID.test(credentialId) || response.rawId !== credentialId) throw passkeyErrors.invalidResponse("id and rawId must be the same base64url credential id");
  const passkey = await passkeyByCredentialId(deps.db, credentialId);
  if (!passkey || passkey.rpId !== challenge.rp.rpId) throw passkeyErrors.notFound();
  // A challenge for one account (sign-in with an email, the MFA step) accepts only that account's passkeys.
  if (challenge.userId !== null && passkey.userId !== challenge.userId) throw passkeyErrors.notFound();
  const handle = response.response?.userHandle;
  if (handle !== undefined && handle !== null && handle !== "") {
    let matches = false;
    try {
      matches = typeof handle === "string" && toBase64url(fromBase64url(handle)) === toBase64url(userHandleOf(passkey.userId));
    } catch {
      matches = false;
    }
    if (!matches) throw passkeyErrors.notFound();
  }
  let verified;
  try {
    verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge.challenge,
      expectedOrigin: challenge.rp.origins,
      expectedRPID: challenge.rp.rpId,
      // The counter is checked below, after the signature, so a forged response records nothing.
      credential: { id: passkey.credentialId, publicKey: fromBase64url(passkey.publicKey), counter: 0, transports: passkey.transports as never },
      requireUserVerification: false,
    });
  } catch (err) {
    throw fromLibraryError(err, "authentication");
  }
  if (!verified.verified) throw passkeyErrors.verificationFailed();
  const info = verified.authenticationInfo;
  const now = deps.clock.now();
  const regression = async (concurrent: boolean) => {
    await recordAudit(deps.db, {
      type: "passkey.counter_regression",
      actorUserId: passkey.userId,
      targetUserId: passkey.userId,
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { passkeyId: passkey.id, storedCounter: passkey.counter, presentedCounter: info.newCounter, concurrent, purpose },
      at: now,
    });
    return passkeyErrors.counterRegression();
  };
  if ((info.newCounter > 0 || passkey.counter > 0) && info.newCounter <= passkey.counter) throw await regression(false);
  const used = await usePasskey(deps.db, {
    id: passkey.id,
    oldCounter: passkey.counter,
    newCounter: info.newCounter,
    backedUp: info.credentialBackedUp,
    now,
    audit: {
      type: "passkey.used",
      actorUserId: passkey.userId,
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { passkeyId: passkey.id, purpose, userVerified: info.userVerified, counter: info.newCounter, applicationId: challenge.applicationId },
      at: now,
    },
  });
  if (!used) throw await regression(true);
  return { passkey, userVerified: info.userVerified };
}
