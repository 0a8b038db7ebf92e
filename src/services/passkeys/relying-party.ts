// The WebAuthn relying party a ceremony runs for: RP id, RP name, the origins a response may come
// from, and the attestation asked for. From the application's settings.webauthn, else the
// configuration (WEBAUTHN_RP_ID, WEBAUTHN_RP_NAME, WEBAUTHN_ORIGINS), else, outside production,
// the request itself (RP id: the request's hostname; origins: the request's origin and its Origin
// header), so npm run dev and the tests work as cloned. Production needs an RP id from somewhere
// (WEBAUTHN_RP_ID, the application, or PUBLIC_URL's hostname).
import type { Deps } from "../../deps";
import { errors } from "../../http/errors";
import { brandName } from "../applications/policy";
import type { CallingApplication } from "../applications/resolve";

export interface RelyingParty {
  rpId: string;
  rpName: string;
  origins: string[];
  attestation: "none" | "direct";
  /** With attestation "direct": the formats accepted (null: any the library verifies). */
  attestationFormats: string[] | null;
}

/** The public-key algorithms offered and accepted: EdDSA, ES256, RS256 and PS256. */
export const SUPPORTED_ALGORITHMS = [-8, -7, -257, -37];

export function relyingParty(deps: Deps, app: CallingApplication, request: { url: string; origin?: string | null }): RelyingParty {
  const { config } = deps;
  const w = app.settings.webauthn ?? {};
  const production = config.appEnv === "production";
  const here = new URL(request.url);
  const publicUrl = config.publicUrl ? new URL(config.publicUrl) : null;
  const rpId = w.rpId ?? config.webauthn.rpId ?? (production ? publicUrl?.hostname : here.hostname);
  if (!rpId) throw errors.config(["WEBAUTHN_RP_ID"]);
  let origins: string[];
  if (w.origins?.length) origins = [...w.origins];
  else if (config.webauthn.origins.length) origins = [...config.webauthn.origins];
  else if (production) origins = publicUrl ? [publicUrl.origin] : [`https://${rpId}`];
  else origins = [...new Set([here.origin, ...(request.origin && /^https?:\/\/[^/]+$/.test(request.origin) ? [request.origin] : [])])];
  return {
    rpId,
    rpName: w.rpName ?? config.webauthn.rpName ?? brandName(app, config),
    origins,
    attestation: w.attestation ?? "none",
    attestationFormats: w.attestation === "direct" && w.attestationFormats?.length ? [...w.attestationFormats] : null,
  };
}
