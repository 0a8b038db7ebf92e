import { describe, expect, it } from "vitest";
import { DEFAULT_ARGON2_PARAMS, hashPassword, needsRehash, parsePhc, verifyPassword } from "../../src/crypto/password";

// Produced by the reference Argon2 implementation (Debian's `argon2` CLI), not by hash-wasm:
//   echo -n "correct horse battery staple" | argon2 'NaCl-and-pepper!' -id -t 2 -k 19456 -p 1 -l 32 -e
const REFERENCE_VECTOR = "$argon2id$v=19$m=19456,t=2,p=1$TmFDbC1hbmQtcGVwcGVyIQ$3doHpPbvUkq2RM4iWpRwn154eqBDxT5z+rM5mYcMoxw";
//   echo -n "pw" | argon2 somesaltsomesalt -id -t 2 -m 14 -p 1 -l 32 -e
const REFERENCE_VECTOR_16M = "$argon2id$v=19$m=16384,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$n8DjUCGN6VrJ9i3UyTqSQldkoV6XgsY7qKYRRiYSSus";

describe("Argon2id in workerd (hash-wasm, precompiled wasm)", () => {
  it("verifies PHC vectors from an independent Argon2 implementation", async () => {
    expect(await verifyPassword("correct horse battery staple", REFERENCE_VECTOR)).toBe(true);
    expect(await verifyPassword("correct horse battery stapl", REFERENCE_VECTOR)).toBe(false);
    expect(await verifyPassword("pw", REFERENCE_VECTOR_16M)).toBe(true);
    expect(await verifyPassword("pW", REFERENCE_VECTOR_16M)).toBe(false);
  });

  it("hashes in PHC format with the OWASP default and verifies its own hashes", async () => {
    const phc = await hashPassword("correct horse");
    expect(phc).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifyPassword("correct horse", phc)).toBe(true);
    expect(await verifyPassword("correct horsE", phc)).toBe(false);
    // A fresh salt every time.
    expect(await hashPassword("correct horse")).not.toBe(phc);
  });

  it("honours other parameters and flags hashes that need a rehash", async () => {
    const light = { memoryKiB: 1024, iterations: 1, parallelism: 1, hashLength: 32 };
    const phc = await hashPassword("pw-light", light);
    expect(phc).toContain("$m=1024,t=1,p=1$");
    expect(await verifyPassword("pw-light", phc)).toBe(true);
    expect(needsRehash(phc, light)).toBe(false);
    expect(needsRehash(phc, DEFAULT_ARGON2_PARAMS)).toBe(true);
    expect(needsRehash(REFERENCE_VECTOR, DEFAULT_ARGON2_PARAMS)).toBe(false);
  });

  it("never matches malformed or foreign hashes", async () => {
    for (const bad of ["", "plain", "$argon2i$v=19$m=16,t=2,p=1$c29tZXNhbHQ$aGFzaA", "$2b$12$abcdefghijklmnopqrstuv", REFERENCE_VECTOR.slice(0, -4)]) {
      expect(await verifyPassword("correct horse battery staple", bad)).toBe(false);
    }
    expect(parsePhc("$argon2id$v=19$m=19456,t=2,p=1$!!$abc")).toBeNull();
  });
});
