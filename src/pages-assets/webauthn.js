// The browser side of passkeys (issue 11), for the hosted pages and the browser test: a small ES
// module with no framework, served by the Worker as text (WEBAUTHN_JS, under a name carrying
// WEBAUTHN_JS_HASH so it can be cached for good). It turns the JSON options from
// /auth/passkeys/{register,login}/options and /auth/mfa/passkey/options into what
// navigator.credentials wants, and the credential back into the JSON the verify routes take.
//
//   import { supported, createPasskey, getPasskey, conditionalMediationAvailable } from "<served path>";
//   const response = await createPasskey(data.options);            // POST .../register/verify { response }
//   const response = await getPasskey(data.options);               // POST .../login/verify { challengeId, response }
//   if (await conditionalMediationAvailable())                     // autofill UI: an <input autocomplete="username webauthn">
//     getPasskey(data.options, { conditional: true, signal }).then(...);
//
// The text below is the module itself; keep it free of backticks and dollar-brace.
export const WEBAUTHN_JS = `// webauthn.js: passkeys in the browser (no framework).
/** base64url (no padding) to ArrayBuffer. */
export function b64urlToBuf(value) {
  const b64 = String(value).replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "===".slice((b64.length + 3) % 4);
  const bin = atob(padded);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

/** ArrayBuffer (or a view) to base64url without padding. */
export function bufToB64url(buf) {
  const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
}

/** The browser can create and use passkeys at all. */
export function supported() {
  return typeof window !== "undefined" && typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}

/** The browser offers passkeys in the autofill of an input with autocomplete="username webauthn". */
export async function conditionalMediationAvailable() {
  if (!supported() || typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") return false;
  try {
    return await PublicKeyCredential.isConditionalMediationAvailable();
  } catch {
    return false;
  }
}

function descriptors(list) {
  return (list || []).map((d) => ({ ...d, id: b64urlToBuf(d.id) }));
}

/** PublicKeyCredentialCreationOptionsJSON to the options navigator.credentials.create() takes. */
export function toCreationOptions(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  return {
    ...json,
    challenge: b64urlToBuf(json.challenge),
    user: { ...json.user, id: b64urlToBuf(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

/** PublicKeyCredentialRequestOptionsJSON to the options navigator.credentials.get() takes. */
export function toRequestOptions(json) {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  return { ...json, challenge: b64urlToBuf(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

/** A PublicKeyCredential as the JSON the verify routes take (RegistrationResponseJSON / AuthenticationResponseJSON). */
export function credentialToJSON(cred) {
  if (typeof cred.toJSON === "function") {
    try {
      return cred.toJSON();
    } catch {
      // Some browsers' toJSON throws for some authenticators: build it by hand below.
    }
  }
  const r = cred.response;
  const response = { clientDataJSON: bufToB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = bufToB64url(r.attestationObject);
    response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    if (typeof r.getPublicKeyAlgorithm === "function") response.publicKeyAlgorithm = r.getPublicKeyAlgorithm();
    if (typeof r.getAuthenticatorData === "function") response.authenticatorData = bufToB64url(r.getAuthenticatorData());
  } else {
    response.authenticatorData = bufToB64url(r.authenticatorData);
    response.signature = bufToB64url(r.signature);
    if (r.userHandle) response.userHandle = bufToB64url(r.userHandle);
  }
  return {
    id: cred.id,
    rawId: bufToB64url(cred.rawId),
    type: cred.type,
    response,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    clientExtensionResults: typeof cred.getClientExtensionResults === "function" ? cred.getClientExtensionResults() : {},
  };
}

/** Registers a passkey: options JSON in, the registration response JSON out (null: cancelled). */
export async function createPasskey(optionsJSON, opts = {}) {
  const cred = await navigator.credentials.create({ publicKey: toCreationOptions(optionsJSON), signal: opts.signal });
  return cred ? credentialToJSON(cred) : null;
}

/**
 * Uses a passkey: options JSON in, the authentication response JSON out (null: cancelled).
 * { conditional: true } waits for the user to pick a passkey from the autofill (conditional UI);
 * abort it with { signal } before starting another ceremony.
 */
export async function getPasskey(optionsJSON, opts = {}) {
  const request = { publicKey: toRequestOptions(optionsJSON), signal: opts.signal };
  if (opts.conditional) request.mediation = "conditional";
  const cred = await navigator.credentials.get(request);
  return cred ? credentialToJSON(cred) : null;
}

/** For callers that post JSON: same-origin fetch, the API's envelope unwrapped (throws { code, message } on errors). */
export async function postJSON(url, body, headers = {}) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body || {}), credentials: "same-origin" });
  const payload = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error((payload.error && payload.error.message) || res.statusText), { status: res.status, code: payload.error && payload.error.code });
  return payload.data;
}
`;

/** FNV-1a (32 bits) of the module text, hex: a content tag for the served name. */
export const WEBAUTHN_JS_HASH = (() => {
  let h = 0x811c9dc5;
  for (let i = 0; i < WEBAUTHN_JS.length; i++) {
    h ^= WEBAUTHN_JS.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
})();

/** Where the pages serve it (the pages router decides; this is the suggested name). */
export const WEBAUTHN_JS_PATH = `/pages/assets/webauthn-${WEBAUTHN_JS_HASH}.js`;
