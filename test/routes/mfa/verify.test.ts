// The MFA challenge at sign-in (issue 10 item 3): a correct password of a user with TOTP answers
// mfaRequired and no tokens; POST /auth/mfa/verify completes it. Codes are computed by the test's
// own RFC 6238 (support.ts). Rules: a code works once (same challenge, a new challenge,
// concurrently), ±1 step accepted and ±2 refused, dead after 5 wrong codes (the 6th attempt fails
// even with the right code), expiry, one session of N concurrent verifies, recovery codes once,
// failures count toward the account's limit, the application's policy.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { sha256 } from "../../../src/crypto/random";
import { createApiKey, createApplication } from "../../helpers/applications";
import { call, json } from "../../helpers/http";
import { settle } from "../../helpers/stack";
import { auditEvents, bearer, createUser, deps } from "../../helpers/users";
import { challenge, code, createMfaUser, freshStep, ip, stepNow, verify } from "./support";

function claims(accessToken: string): any {
  return JSON.parse(atob(accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
}

async function liveSessions(userId: string): Promise<number> {
  const r = await deps().db.execute(sql`select count(*)::int as n from sessions where user_id = ${userId}::uuid and revoked_at is null`);
  return Number((r.rows[0] as any).n);
}

const challengeKey = async (token: string) => `auth:artefact:mfa-challenge:${await sha256(`mfa-challenge:${token}`)}`;

describe("POST /auth/login for a user with TOTP", () => {
  it("answers mfaRequired with no tokens, and leaves no session behind", async () => {
    const u = await createMfaUser();
    const res = await call("/auth/login", { json: { email: u.email, password: u.password }, headers: ip() });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toContain("no-store");
    const body = await json(res);
    expect(body.data).toEqual({ mfaRequired: true, mfaToken: expect.any(String), factors: ["totp", "recovery_code"], expiresIn: 300 });
    await settle();
    expect(await liveSessions(u.id)).toBe(0);
    expect((await auditEvents("login.mfa_required")).some((e) => e.targetUserId === u.id)).toBe(true);
  });

  it("a wrong password still answers 401 invalid_credentials (no challenge)", async () => {
    const u = await createMfaUser();
    const res = await call("/auth/login", { json: { email: u.email, password: "wrong-Tractor-61" }, headers: ip() });
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("invalid_credentials");
  });
});

describe("POST /auth/mfa/verify", () => {
  it("completes the sign-in with a current code: tokens, amr pwd+otp+mfa, one session, audited", async () => {
    const u = await createMfaUser();
    const token = await challenge(u);
    const res = await verify(token, "totp", await code(u.secret, stepNow()));
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(res.headers.get("cache-control")).toContain("no-store");
    expect(body.data.user.id).toBe(u.id);
    expect(body.data.refreshToken).toEqual(expect.any(String));
    const c = claims(body.data.accessToken);
    expect(c.amr).toEqual(expect.arrayContaining(["pwd", "otp", "mfa"]));
    expect(c.sub).toBe(u.id);
    const me = await call("/auth/me", { headers: bearer(body.data.accessToken) });
    expect(me.status).toBe(200);
    expect(await liveSessions(u.id)).toBe(1);
    expect((await auditEvents("mfa.challenge.success")).filter((e) => e.targetUserId === u.id)).toHaveLength(1);
    // The challenge is used up: the same request again is refused.
    const again = await verify(token, "totp", await code(u.secret, stepNow()));
    expect(again.status).toBe(401);
    expect((await json(again)).error.code).toBe("invalid_mfa_token");
  });

  it("a TOTP code works once: the same code on a new challenge fails, the next step's code works", async () => {
    const u = await createMfaUser();
    const step = await freshStep();
    const used = await code(u.secret, step);
    expect((await verify(await challenge(u), "totp", used)).status).toBe(200);
    const second = await challenge(u);
    const replay = await verify(second, "totp", used);
    expect(replay.status).toBe(401);
    const err = await json(replay);
    expect(err.error.code).toBe("invalid_mfa_code");
    expect(err.error.details.attemptsLeft).toBe(4);
    // The failed replay cost one attempt; the challenge lives on for a fresh code.
    expect((await verify(second, "totp", await code(u.secret, step + 1))).status).toBe(200);
  });

  it("accepts one step of skew either way and refuses two", async () => {
    const behind = await createMfaUser();
    const ahead = await createMfaUser();
    const step = await freshStep();
    const tb = await challenge(behind);
    const ta = await challenge(ahead);
    const r1 = await verify(tb, "totp", await code(behind.secret, step - 2));
    expect(r1.status).toBe(401);
    const r2 = await verify(ta, "totp", await code(ahead.secret, step + 2));
    expect(r2.status).toBe(401);
    expect((await verify(tb, "totp", await code(behind.secret, step - 1))).status).toBe(200);
    expect((await verify(ta, "totp", await code(ahead.secret, step + 1))).status).toBe(200);
  });

  it("is dead after 5 wrong codes: the sixth attempt fails even with the right code", async () => {
    const u = await createMfaUser();
    const token = await challenge(u);
    const right = await code(u.secret, stepNow());
    const wrong = right === "000000" ? "111111" : "000000";
    for (let i = 1; i <= 5; i++) {
      const res = await verify(token, "totp", wrong);
      expect(res.status).toBe(401);
      const body = await json(res);
      expect(body.error.code).toBe("invalid_mfa_code");
      expect(body.error.details.attemptsLeft).toBe(5 - i);
    }
    const sixth = await verify(token, "totp", right);
    expect(sixth.status).toBe(401);
    expect((await json(sixth)).error.code).toBe("invalid_mfa_token");
    await settle();
    expect((await auditEvents("mfa.challenge.failure")).filter((e) => e.targetUserId === u.id)).toHaveLength(5);
  });

  it("of N concurrent verifies of one challenge (right code), exactly one signs in", async () => {
    const u = await createMfaUser();
    const token = await challenge(u);
    const c = await code(u.secret, stepNow());
    const answers = await Promise.all(Array.from({ length: 8 }, () => verify(token, "totp", c)));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
    expect(answers.filter((r) => r.status === 401)).toHaveLength(7);
    await settle();
    expect(await liveSessions(u.id)).toBe(1);
  });

  it("of two concurrent verifies with different recovery codes, exactly one signs in (and one code is spent)", async () => {
    const u = await createMfaUser();
    const token = await challenge(u);
    const answers = await Promise.all([verify(token, "recovery_code", u.recoveryCodes[0]), verify(token, "recovery_code", u.recoveryCodes[1])]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 401]);
    await settle();
    expect(await liveSessions(u.id)).toBe(1);
  });

  it("one code on two challenges at once: exactly one succeeds", async () => {
    const u = await createMfaUser();
    const step = await freshStep();
    const [t1, t2] = [await challenge(u), await challenge(u)];
    const c = await code(u.secret, step);
    const answers = await Promise.all([verify(t1, "totp", c), verify(t2, "totp", c)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  it("a recovery code works once (dashes and case do not matter), also under concurrency; amr has mfa", async () => {
    const u = await createMfaUser();
    const ok = await verify(await challenge(u), "recovery_code", u.recoveryCodes[0].toUpperCase().replace("-", " "));
    const body = await json(ok);
    expect(ok.status, JSON.stringify(body)).toBe(200);
    expect(claims(body.data.accessToken).amr).toContain("mfa");
    const left = await call("/auth/mfa/recovery-codes", { headers: bearer(body.data.accessToken) });
    expect((await json(left)).data).toEqual({ remaining: 4, totp: true });
    const twice = await verify(await challenge(u), "recovery_code", u.recoveryCodes[0]);
    expect(twice.status).toBe(401);
    expect((await json(twice)).error.code).toBe("invalid_mfa_code");
    // The same unused code on 5 challenges at once: one success.
    const tokens = await Promise.all(Array.from({ length: 5 }, () => challenge(u)));
    const answers = await Promise.all(tokens.map((t) => verify(t, "recovery_code", u.recoveryCodes[1])));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
  });

  it("a challenge lives 5 minutes: Redis holds it with that TTL, and once expired it is refused", async () => {
    const u = await createMfaUser();
    const token = await challenge(u);
    const redis = deps().redis;
    const key = await challengeKey(token);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(290);
    expect(ttl).toBeLessThanOrEqual(300);
    // Stored only as a digest: the token itself is nowhere in the key.
    expect(key).not.toContain(token);
    await redis.pexpire(key, 1);
    await new Promise((r) => setTimeout(r, 20));
    const res = await verify(token, "totp", await code(u.secret, stepNow()));
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("invalid_mfa_token");
  });

  it("failures count toward the account's failed sign-in limit (10 per 15 min): then even the password is refused", async () => {
    const u = await createMfaUser();
    for (let round = 0; round < 2; round++) {
      const token = await challenge(u);
      for (let i = 0; i < 5; i++) expect((await verify(token, "totp", "999999")).status).toBe(401);
    }
    await settle();
    const res = await call("/auth/login", { json: { email: u.email, password: u.password }, headers: ip() });
    expect(res.status).toBe(429);
  });

  it("a challenge belongs to its application: another application's key cannot complete it", async () => {
    const u = await createMfaUser();
    const app = await createApplication({ type: "spa" });
    const key = await createApiKey(app.id);
    const token = await challenge(u, { "x-api-key": key });
    const elsewhere = await verify(token, "totp", await code(u.secret, stepNow()));
    expect(elsewhere.status).toBe(401);
    expect((await json(elsewhere)).error.code).toBe("invalid_mfa_token");
    // Put back untouched: its own application completes it.
    const res = await verify(token, "totp", await code(u.secret, stepNow()), {}, { "x-api-key": key });
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(claims(body.data.accessToken).client_id).toBe(app.id);
  });

  it('an application with MFA policy "off" never asks; "optional" asks only users with a factor', async () => {
    const u = await createMfaUser();
    const off = await createApplication({ type: "spa", settings: { mfa: { policy: "off" } } as any });
    const res = await call("/auth/login", { json: { email: u.email, password: u.password }, headers: { ...ip(), "x-api-key": await createApiKey(off.id) } });
    const body = await json(res);
    expect(res.status).toBe(200);
    expect(body.data.accessToken).toEqual(expect.any(String));
    const plain = await createUser();
    const r2 = await call("/auth/login", { json: { email: plain.email, password: plain.password }, headers: ip() });
    expect((await json(r2)).data.accessToken).toEqual(expect.any(String));
  });

  it("a password reset between the challenge and the verify wins (the sign-in is refused)", async () => {
    const u = await createMfaUser();
    const token = await challenge(u);
    await deps().db.execute(sql`update users set token_version = token_version + 1 where id = ${u.id}::uuid`);
    const res = await verify(token, "totp", await code(u.secret, stepNow()));
    expect(res.status).toBe(401);
    expect(await liveSessions(u.id)).toBe(0);
  });

  it("bad input is a 400 envelope, never a 500", async () => {
    for (const body of [{}, { mfaToken: "x", factor: "sms", code: "1" }, { mfaToken: "x", factor: "totp" }, { mfaToken: "x", factor: "totp", code: "1", extra: 1 }]) {
      const res = await call("/auth/mfa/verify", { json: body });
      expect(res.status).toBe(400);
      expect((await json(res)).error.code).toBe("validation_error");
    }
    const unknown = await verify("no-such-token", "totp", "123456");
    expect(unknown.status).toBe(401);
    expect((await json(unknown)).error.code).toBe("invalid_mfa_token");
  });
});
