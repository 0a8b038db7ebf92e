// Every passkey refusal has its own code (issue 11, "Bad input").
import { AppError } from "../../http/errors";

export const passkeyErrors = {
  challengeInvalid: () =>
    new AppError(400, "passkey_challenge_invalid", "This passkey challenge is unknown, expired, already used or for another ceremony; ask for new options"),
  invalidResponse: (reason: string) => new AppError(400, "passkey_response_invalid", `The passkey response is not valid: ${reason}`),
  originMismatch: () => new AppError(400, "passkey_origin_mismatch", "The passkey response comes from an origin this service does not accept"),
  rpIdMismatch: () => new AppError(400, "passkey_rp_id_mismatch", "The passkey response is for another relying party (RP id)"),
  attestationNotAllowed: (fmt: string) =>
    new AppError(400, "passkey_attestation_not_allowed", `This application does not accept the authenticator's attestation (format "${fmt}")`),
  alreadyRegistered: () => new AppError(409, "passkey_already_registered", "This passkey is already registered"),
  notFound: () => new AppError(401, "passkey_not_found", "This passkey is not registered for this account and site"),
  verificationFailed: () => new AppError(401, "passkey_verification_failed", "The passkey's signature could not be verified"),
  counterRegression: () =>
    new AppError(401, "passkey_counter_regression", "The passkey's signature counter went backwards (a cloned authenticator?); it was refused and recorded"),
  disabled: () => new AppError(403, "passkey_sign_in_disabled", "This application does not offer passkey sign-in"),
  missing: () => new AppError(404, "not_found", "No such passkey"),
};

/** Maps a verification error of @simplewebauthn/server to our refusal (the library throws plain Errors). */
export function fromLibraryError(err: unknown, ceremony: "registration" | "authentication"): AppError {
  if (err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/response origin|top origin|cross-origin/i.test(message)) return passkeyErrors.originMismatch();
  if (/RP ID/i.test(message)) return passkeyErrors.rpIdMismatch();
  if (/challenge/i.test(message)) return passkeyErrors.challengeInvalid();
  if (/Unsupported Attestation Format/i.test(message)) return passkeyErrors.attestationNotAllowed(message.replace(/^.*: /, ""));
  if (ceremony === "authentication") return passkeyErrors.verificationFailed();
  return passkeyErrors.invalidResponse(message.slice(0, 200));
}
