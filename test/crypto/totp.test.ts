// TOTP and the secret box: RFC 6238 Appendix B (SHA-1) against the implementation, the ±1 window,
// and AES-GCM sealing with key ids, retired keys and the bound context.
import { describe, expect, it } from "vitest";
import { open, seal } from "../../src/crypto/secret-box";
import { base32Decode, base32Encode, hotp, matchTotp, newTotpSecret, otpauthUri, totpCode, totpStep } from "../../src/crypto/totp";
import { code as independentCode } from "../routes/mfa/support";

const RFC_SECRET = new TextEncoder().encode("12345678901234567890");

describe("TOTP (RFC 6238)", () => {
  it("matches the Appendix B SHA-1 test vectors (8 digits)", async () => {
    const vectors: [number, string][] = [
      [59, "94287082"],
      [1111111109, "07081804"],
      [1111111111, "14050471"],
      [1234567890, "89005924"],
      [2000000000, "69279037"],
      [20000000000, "65353130"],
    ];
    for (const [t, expected] of vectors) expect(await hotp(RFC_SECRET, totpStep(new Date(t * 1000)), 8)).toBe(expected);
  });

  it("agrees with the test's own RFC 6238 code for random secrets", async () => {
    for (let i = 0; i < 5; i++) {
      const secret = newTotpSecret();
      expect(base32Encode(base32Decode(secret))).toBe(secret);
      const step = 1_000_000 + i * 7919;
      expect(await totpCode(secret, step)).toBe(await independentCode(secret, step));
    }
  });

  it("accepts the current step and one either side, refuses two away, and says which step matched", async () => {
    const secret = newTotpSecret();
    const at = new Date(1_700_000_015_000);
    const now = totpStep(at);
    for (const d of [-1, 0, 1]) expect(await matchTotp(secret, await independentCode(secret, now + d), at)).toBe(now + d);
    for (const d of [-2, 2]) expect(await matchTotp(secret, await independentCode(secret, now + d), at)).toBeNull();
    expect(await matchTotp(secret, "12345", at)).toBeNull();
    expect(await matchTotp(secret, "abcdef", at)).toBeNull();
  });

  it("builds the otpauth URI with issuer and account", () => {
    const uri = otpauthUri("ABC", "Acme Shop", "a@b.test");
    expect(uri).toBe("otpauth://totp/Acme%20Shop:a%40b.test?secret=ABC&issuer=Acme+Shop&algorithm=SHA1&digits=6&period=30");
  });
});

describe("secret box (AES-256-GCM with key ids)", () => {
  const k1 = { id: "k1", key: btoa("1".repeat(32)) };
  const k2 = { id: "k2", key: btoa("2".repeat(32)) };

  it("opens with the current key, and with a retired key after rotation", async () => {
    const sealed = await seal(k1, "JBSWY3DP", "totp:u1");
    expect(sealed.keyId).toBe("k1");
    expect(sealed.ciphertext).not.toContain("JBSWY3DP");
    expect(await open({ current: k1, retired: [] }, sealed.ciphertext, "totp:u1")).toBe("JBSWY3DP");
    expect(await open({ current: k2, retired: [k1] }, sealed.ciphertext, "totp:u1")).toBe("JBSWY3DP");
    await expect(open({ current: k2, retired: [] }, sealed.ciphertext, "totp:u1")).rejects.toThrow(/no key k1/);
  });

  it("refuses another context (a ciphertext copied to another user) and a tampered ciphertext", async () => {
    const sealed = await seal(k1, "JBSWY3DP", "totp:u1");
    await expect(open({ current: k1, retired: [] }, sealed.ciphertext, "totp:u2")).rejects.toThrow();
    const parts = sealed.ciphertext.split(".");
    const flipped = parts[3].slice(0, -2) + (parts[3].at(-2) === "A" ? "B" : "A") + parts[3].at(-1);
    await expect(open({ current: k1, retired: [] }, [...parts.slice(0, 3), flipped].join("."), "totp:u1")).rejects.toThrow();
  });
});
