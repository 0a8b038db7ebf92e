// Passkey challenges: single-use artefacts in Redis (kind "passkey-challenge", 5 minutes), named
// by the WebAuthn challenge itself (the challengeId of sign-in is that value). Each is bound to
// its ceremony (registration, sign-in, or the MFA step), to the application, to the relying party
// it was issued for and, for registration, to the user (and for the MFA step, to the MFA
// challenge). Taking one out is one atomic round trip: of concurrent verifies, one gets it; a
// challenge taken out for the wrong ceremony is spent all the same.
import { consumeArtefact, putArtefact } from "../../cache/artefacts";
import type { Deps } from "../../deps";
import { passkeyErrors } from "./errors";
import type { RelyingParty } from "./relying-party";

export const PASSKEY_CHALLENGE_TTL_SECONDS = 300;

export type Ceremony = "registration" | "authentication" | "mfa";

export interface PasskeyChallenge {
  ceremony: Ceremony;
  challenge: string;
  applicationId: string;
  /** Registration and the MFA step: the user; sign-in with an email: the account it named ("none" when it named none). */
  userId: string | null;
  /** The MFA step: the SHA-256 of the mfaToken it belongs to. */
  mfaTokenHash?: string;
  rp: RelyingParty;
  /** Epoch ms. */
  expiresAt: number;
}

const CHALLENGE = /^[A-Za-z0-9_-]{16,128}$/;

export async function storeChallenge(deps: Deps, value: Omit<PasskeyChallenge, "expiresAt">): Promise<void> {
  const stored: PasskeyChallenge = { ...value, expiresAt: deps.clock.now().getTime() + PASSKEY_CHALLENGE_TTL_SECONDS * 1000 };
  await putArtefact(deps.redis, "passkey-challenge", value.challenge, stored, PASSKEY_CHALLENGE_TTL_SECONDS);
}

/**
 * Takes a challenge out (once) and checks it belongs to this ceremony and application; throws
 * 400 passkey_challenge_invalid otherwise (unknown, expired, used, or of another ceremony).
 */
export async function takeChallenge(deps: Deps, challenge: string, ceremony: Ceremony, applicationId: string): Promise<PasskeyChallenge> {
  if (!CHALLENGE.test(challenge)) throw passkeyErrors.challengeInvalid();
  const found = await consumeArtefact<PasskeyChallenge>(deps.redis, "passkey-challenge", challenge);
  if (!found || found.expiresAt <= deps.clock.now().getTime()) throw passkeyErrors.challengeInvalid();
  if (found.ceremony !== ceremony || found.applicationId !== applicationId || found.challenge !== challenge) throw passkeyErrors.challengeInvalid();
  return found;
}

/** The challenge a response's clientDataJSON carries (registration names its challenge only there). */
export function challengeOfResponse(clientDataJSON: unknown): string {
  if (typeof clientDataJSON !== "string" || clientDataJSON.length > 4096) throw passkeyErrors.invalidResponse("clientDataJSON is missing");
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(fromBase64url(clientDataJSON));
    const parsed = JSON.parse(text) as { challenge?: unknown };
    if (typeof parsed.challenge === "string") return parsed.challenge;
  } catch {
    // fall through
  }
  throw passkeyErrors.invalidResponse("clientDataJSON is not valid");
}

export function fromBase64url(value: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(value)) throw new Error("not base64url");
  const b64 = value.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function toBase64url(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
