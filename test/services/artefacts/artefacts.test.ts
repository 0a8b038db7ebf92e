// Single-use artefacts against the real Redis protocol endpoint: one value per artefact, whatever
// the concurrency; attempt counters that kill an artefact; secrets never stored in the clear.
import { describe, expect, it } from "vitest";
import {
  consumeArtefact,
  consumeWithCode,
  failArtefactAttempt,
  newArtefactSecret,
  putArtefact,
  readArtefact,
} from "../../../src/cache/artefacts";
import { deps } from "../../helpers/users";

const N = 20;

describe("single-use artefacts (Redis)", () => {
  it("gives the value to exactly one of N concurrent consumers", async () => {
    const { redis } = deps();
    const secret = newArtefactSecret();
    await putArtefact(redis, "magic-link", secret, { userId: "u1", n: 1 }, 60);
    const results = await Promise.all(Array.from({ length: N }, () => consumeArtefact<{ userId: string }>(redis, "magic-link", secret)));
    expect(results.filter((r) => r !== null)).toEqual([{ userId: "u1", n: 1 }]);
    expect(await consumeArtefact(redis, "magic-link", secret)).toBeNull();
  });

  it("keeps kinds apart: a secret of one kind opens nothing of another", async () => {
    const { redis } = deps();
    const secret = newArtefactSecret();
    await putArtefact(redis, "redirect-code", secret, { a: 1 }, 60);
    expect(await consumeArtefact(redis, "magic-link", secret)).toBeNull();
    expect(await consumeArtefact(redis, "redirect-code", secret)).toEqual({ a: 1 });
  });

  it("stores only a digest of the secret as the key, with the expiry asked for", async () => {
    const { redis } = deps();
    const secret = newArtefactSecret();
    await putArtefact(redis, "step-up", secret, "v", 90);
    const keys = await redis.keys("auth:artefact:step-up:*");
    expect(keys.some((k) => k.includes(secret))).toBe(false);
    const read = await readArtefact<string>(redis, "step-up", secret);
    expect(read?.value).toBe("v");
    expect(read!.ttl).toBeGreaterThan(80);
    expect(read!.ttl).toBeLessThanOrEqual(90);
  });

  it("round-trips values that look like JSON scalars unchanged", async () => {
    const { redis } = deps();
    for (const value of ["123", "true", "null", '"quoted"', 42, null, { nested: ["x"] }]) {
      const secret = newArtefactSecret();
      await putArtefact(redis, "oauth-state", secret, value, 60);
      expect(await consumeArtefact(redis, "oauth-state", secret)).toEqual(value);
    }
  });

  it("dies after maxAttempts failures: the right answer afterwards gets nothing", async () => {
    const { redis } = deps();
    const secret = newArtefactSecret();
    await putArtefact(redis, "mfa-challenge", secret, { userId: "u" }, 300);
    for (let i = 1; i <= 4; i++) expect(await failArtefactAttempt(redis, "mfa-challenge", secret, 5)).toBe(5 - i);
    expect((await readArtefact(redis, "mfa-challenge", secret))?.attempts).toBe(4);
    expect(await failArtefactAttempt(redis, "mfa-challenge", secret, 5)).toBe(0);
    expect(await consumeArtefact(redis, "mfa-challenge", secret, 5)).toBeNull();
    expect(await failArtefactAttempt(redis, "mfa-challenge", secret, 5)).toBeNull();
  });

  it("consumeWithCode: a wrong code counts, the right one consumes once, a spent artefact stays dead", async () => {
    const { redis } = deps();
    const secret = newArtefactSecret();
    await putArtefact(redis, "email-otp", secret, { email: "a@example.com" }, 600, { codeDigest: "right" });
    expect(await consumeWithCode(redis, "email-otp", secret, "wrong", 5)).toEqual({ ok: false, reason: "wrong_code", attemptsLeft: 4 });
    const racing = await Promise.all(Array.from({ length: N }, () => consumeWithCode(redis, "email-otp", secret, "right", 5)));
    expect(racing.filter((r) => r.ok)).toHaveLength(1);
    expect(await consumeWithCode(redis, "email-otp", secret, "right", 5)).toEqual({ ok: false, reason: "not_found", attemptsLeft: 0 });

    const spent = newArtefactSecret();
    await putArtefact(redis, "email-otp", spent, { email: "b@example.com" }, 600, { codeDigest: "right" });
    for (let i = 0; i < 4; i++) expect((await consumeWithCode(redis, "email-otp", spent, `wrong${i}`, 5)).ok).toBe(false);
    expect(await consumeWithCode(redis, "email-otp", spent, "wrong4", 5)).toEqual({ ok: false, reason: "spent", attemptsLeft: 0 });
    expect(await consumeWithCode(redis, "email-otp", spent, "right", 5)).toEqual({ ok: false, reason: "not_found", attemptsLeft: 0 });
  });

  it("expires", async () => {
    const { redis } = deps();
    const secret = newArtefactSecret();
    await putArtefact(redis, "passkey-challenge", secret, { c: 1 }, 1);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await consumeArtefact(redis, "passkey-challenge", secret)).toBeNull();
  });
});
