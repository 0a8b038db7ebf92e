// Adding a passkey to the signed-in user's account (issue 11 item 4):
//   options: SQL 1 (the user's passkeys, to exclude) alongside the revocation markers, Redis 1 (the challenge);
//   verify:  Redis 1 (the challenge, taken once), SQL 1 (the passkey and passkey.added, while the session is live).
import { generateRegistrationOptions, verifyRegistrationResponse, type PublicKeyCredentialCreationOptionsJSON, type RegistrationResponseJSON } from "@simplewebauthn/server";
import type { Deps } from "../../deps";
import { insertPasskey, passkeysOf } from "../../stores/passkeys";
import type { Principal } from "../auth/bearer";
import { tokenRevoked } from "../auth/bearer";
import type { RequestMeta } from "../auth/common";
import type { CallingApplication } from "../applications/resolve";
import { challengeOfResponse, storeChallenge, takeChallenge, toBase64url } from "./challenge";
import { fromLibraryError, passkeyErrors } from "./errors";
import { passkeyView, type PasskeyView } from "./manage";
import { SUPPORTED_ALGORITHMS, type RelyingParty } from "./relying-party";

/** The WebAuthn user handle of a user: the UTF-8 bytes of their id (what userHandle carries back). */
export const userHandleOf = (userId: string): Uint8Array<ArrayBuffer> => new Uint8Array(new TextEncoder().encode(userId));

export async function registrationOptions(
  deps: Deps,
  app: CallingApplication,
  principal: Principal,
  rp: RelyingParty,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const [, existing] = await Promise.all([principal.markers, passkeysOf(deps.db, principal.userId, rp.rpId)]);
  const options = await generateRegistrationOptions({
    rpName: rp.rpName,
    rpID: rp.rpId,
    userName: principal.email,
    userDisplayName: principal.email,
    userID: userHandleOf(principal.userId),
    attestationType: rp.attestation,
    excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports })),
    // Resident (discoverable) credentials, so sign-in can start without an email (conditional UI).
    authenticatorSelection: { residentKey: "required", requireResidentKey: true, userVerification: "preferred" },
    supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    timeout: 300_000,
  });
  await storeChallenge(deps, { ceremony: "registration", challenge: options.challenge, applicationId: app.id, userId: principal.userId, rp });
  return options;
}

export async function verifyRegistration(
  deps: Deps,
  app: CallingApplication,
  principal: Principal,
  input: { response: RegistrationResponseJSON; name?: string | null },
  meta: RequestMeta,
): Promise<PasskeyView> {
  const challenge = await takeChallenge(deps, challengeOfResponse(input.response?.response?.clientDataJSON), "registration", app.id);
  // Bound to the user it was issued to: another account's registration challenge finishes nothing.
  if (challenge.userId !== principal.userId) throw passkeyErrors.challengeInvalid();
  const { rp } = challenge;
  let verified;
  try {
    verified = await verifyRegistrationResponse({
      response: input.response,
      expectedChallenge: challenge.challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      requireUserVerification: false,
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    });
  } catch (err) {
    throw fromLibraryError(err, "registration");
  }
  if (!verified.verified) throw passkeyErrors.invalidResponse("the attestation could not be verified");
  const info = verified.registrationInfo;
  if (rp.attestation === "direct" && rp.attestationFormats && !rp.attestationFormats.includes(info.fmt)) throw passkeyErrors.attestationNotAllowed(info.fmt);
  const now = deps.clock.now();
  const transports = (input.response.response.transports ?? []).filter((t) => typeof t === "string").slice(0, 8);
  const name = input.name?.trim() || null;
  const stored = await insertPasskey(deps.db, {
    userId: principal.userId,
    credentialId: info.credential.id,
    publicKey: toBase64url(info.credential.publicKey),
    counter: info.credential.counter,
    transports,
    rpId: rp.rpId,
    aaguid: info.aaguid,
    attestationFormat: info.fmt,
    backupEligible: info.credentialDeviceType === "multiDevice",
    backedUp: info.credentialBackedUp,
    name,
    now,
    actor: principal.acting,
    audit: {
      type: "passkey.added",
      actorUserId: principal.userId,
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { name, rpId: rp.rpId, aaguid: info.aaguid, attestationFormat: info.fmt, userVerified: info.userVerified, applicationId: app.id },
      at: now,
    },
  });
  if (stored === "revoked") throw tokenRevoked();
  if (stored === "duplicate") throw passkeyErrors.alreadyRegistered();
  return passkeyView(stored);
}
