// AES-256-GCM for secrets this service must read back (TOTP secrets). The ciphertext names the key
// that sealed it ("v1.<keyId>.<iv>.<ciphertext+tag>", base64url), so MFA_ENCRYPTION_KEY can rotate:
// new secrets are sealed with the current key, and secrets sealed with a retired key
// (MFA_ENCRYPTION_RETIRED_KEYS) still open. `context` (e.g. the user id) is bound as additional
// data: a ciphertext copied to another row does not open there.
import { base64url } from "./random";

export interface BoxKey {
  id: string;
  /** 32 bytes, base64 or base64url. */
  key: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function fromBase64(text: string): Uint8Array {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const imported = new Map<string, Promise<CryptoKey>>();
function aesKey(k: BoxKey): Promise<CryptoKey> {
  const cacheKey = `${k.id}\n${k.key}`;
  let p = imported.get(cacheKey);
  if (!p) {
    const raw = fromBase64(k.key);
    if (raw.length !== 32) throw new Error(`encryption key ${k.id} is not 32 bytes`);
    imported.set(cacheKey, (p = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"])));
  }
  return p;
}

export class SecretBoxError extends Error {}

/** Seals `plaintext` with `key`; returns the self-describing ciphertext and the key id. */
export async function seal(key: BoxKey, plaintext: string, context: string): Promise<{ ciphertext: string; keyId: string }> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(context) }, await aesKey(key), encoder.encode(plaintext)),
  );
  return { ciphertext: `v1.${key.id}.${base64url(iv)}.${base64url(sealed)}`, keyId: key.id };
}

/** Opens a ciphertext sealed by `seal` with the current key or one of the retired ones. */
export async function open(keys: { current: BoxKey; retired: BoxKey[] }, ciphertext: string, context: string): Promise<string> {
  const parts = ciphertext.split(".");
  if (parts.length !== 4 || parts[0] !== "v1") throw new SecretBoxError("unknown ciphertext format");
  const [, keyId, iv, data] = parts;
  const key = [keys.current, ...keys.retired].find((k) => k.id === keyId);
  if (!key) throw new SecretBoxError(`no key ${keyId} to open this secret`);
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromBase64(iv), additionalData: encoder.encode(context) }, await aesKey(key), fromBase64(data));
    return decoder.decode(plain);
  } catch {
    throw new SecretBoxError("the secret does not open with its key");
  }
}
