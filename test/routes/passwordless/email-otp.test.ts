// Email one-time codes: 6 digits, once, 5 wrong attempts and the code is dead (the right code then
// fails too), expiry, a single success under concurrency, the same answer for every address, bound
// to the application it was requested through, and the address verified like a magic link.
import { sql } from "drizzle-orm";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { newEmailCode } from "../../../src/services/passwordless/email-otp";
import { createApiKey, createApplication, freshIp } from "../../helpers/applications";
import { callWithEnv, json } from "../../helpers/http";
import { settle } from "../../helpers/stack";
import { auditEvents, createUser, deps, outboxFor, uniqueEmail } from "../../helpers/users";
import { errorCode, issueCode, requestCode, verifyCode } from "./support";

const wrongOf = (code: string, i = 1) => String((Number(code) + i) % 1_000_000).padStart(6, "0");

describe("email one-time codes", () => {
  it("answers a known and an unknown address alike, and mails a 6-digit code only to the known one", async () => {
    const user = await createUser();
    const unknown = uniqueEmail("nobody");
    const [a, b] = [await requestCode(user.email), await requestCode(unknown)];
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(await json(a)).toEqual(await json(b));
    await settle();
    expect((await outboxFor(user.email)).map((m) => m.kind)).toEqual(["email_otp"]);
    expect(await outboxFor(unknown)).toEqual([]);
    // Verifying for an unknown address fails like a wrong code.
    const res = await verifyCode(unknown, "123456");
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_code");
  });

  it("signs in once with the right code and verifies the address; the used code fails", async () => {
    const user = await createUser();
    const code = await issueCode(user.email);
    const ok = await verifyCode(user.email, code);
    expect(ok.status).toBe(200);
    const { data } = await json(ok);
    expect(data.user).toMatchObject({ id: user.id, emailVerified: true });
    expect(decodeJwt(data.accessToken)).toMatchObject({ amr: ["email"], email_verified: true });
    const again = await verifyCode(user.email, code);
    expect(again.status).toBe(400);
    expect(await errorCode(again)).toBe("invalid_code");
    await settle();
    expect((await auditEvents("login.success")).filter((e) => e.targetUserId === user.id).map((e) => e.metadata.method)).toEqual(["email_otp"]);
    // Pre-account-hijacking as with magic links: the password set before verification is gone.
    const row = await deps().db.execute(sql`select password_hash as h from users where id = ${user.id}::uuid`);
    expect(row.rows).toEqual([{ h: null }]);
  });

  it("is dead after 5 wrong codes: the right one then fails too", async () => {
    const user = await createUser();
    const code = await issueCode(user.email);
    for (let i = 1; i <= 5; i++) {
      const res = await verifyCode(user.email, wrongOf(code, i));
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe("invalid_code");
    }
    expect((await verifyCode(user.email, code)).status).toBe(400);
    await settle();
    const failures = (await auditEvents("login.failure")).filter((e) => e.metadata.method === "email_otp");
    expect(failures.length).toBeGreaterThanOrEqual(5);
  });

  it("still works after 4 wrong codes", async () => {
    const user = await createUser();
    const code = await issueCode(user.email);
    for (let i = 1; i <= 4; i++) expect((await verifyCode(user.email, wrongOf(code, i))).status).toBe(400);
    expect((await verifyCode(user.email, code)).status).toBe(200);
  });

  it("a new request replaces the previous code", async () => {
    const user = await createUser();
    const first = await issueCode(user.email);
    let second = await issueCode(user.email);
    if (second === first) second = await issueCode(user.email);
    expect((await verifyCode(user.email, first)).status).toBe(400);
    expect((await verifyCode(user.email, second)).status).toBe(200);
  });

  it("of 8 concurrent verifies with the right code exactly one signs in", async () => {
    const user = await createUser();
    const code = await issueCode(user.email);
    const answers = await Promise.all(Array.from({ length: 8 }, () => verifyCode(user.email, code)));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400, 400, 400, 400, 400, 400, 400]);
  });

  it("expires after EMAIL_OTP_TTL", async () => {
    const user = await createUser();
    const before = (await outboxFor(user.email)).length;
    const res = await callWithEnv({ EMAIL_OTP_TTL: "1s" }, "/auth/email-otp/request", { json: { email: user.email }, headers: { "cf-connecting-ip": freshIp() } });
    expect(res.status).toBe(202);
    let mails = await outboxFor(user.email);
    for (let i = 0; i < 60 && mails.length === before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      mails = await outboxFor(user.email);
    }
    const code = /sign-in code is (\d{6})/.exec(mails[before].subject)![1];
    await new Promise((r) => setTimeout(r, 2100));
    const late = await verifyCode(user.email, code);
    expect(late.status).toBe(400);
    expect(await errorCode(late)).toBe("invalid_code");
  });

  it("a code requested through one application signs in nowhere else", async () => {
    const a = await createApplication({ type: "native" });
    const keyA = await createApiKey(a.id);
    const b = await createApplication({ type: "native" });
    const keyB = await createApiKey(b.id);
    const user = await createUser();
    const code = await issueCode(user.email, keyA);
    expect((await verifyCode(user.email, code, keyB)).status).toBe(400);
    expect((await verifyCode(user.email, code, keyA)).status).toBe(400); // spent by the attempt
    const fresh = await issueCode(user.email, keyA);
    const ok = await verifyCode(user.email, fresh, keyA);
    expect(ok.status).toBe(200);
    expect(decodeJwt((await json(ok)).data.accessToken).client_id).toBe(a.id);
  });

  it("is refused with 403 method_not_allowed where the application turned email codes off", async () => {
    const app = await createApplication({ type: "native", settings: { signIn: { emailOtp: false } } });
    const key = await createApiKey(app.id);
    const res = await requestCode(uniqueEmail(), key);
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("method_not_allowed");
    const verify = await verifyCode(uniqueEmail(), "000000", key);
    expect(verify.status).toBe(403);
  });

  it("signs up an unknown address only where the application allows it", async () => {
    const open = await createApplication({ type: "native", settings: { signIn: { signUp: { magicLink: true, approval: "automatic" } } } });
    const key = await createApiKey(open.id);
    const email = uniqueEmail("otp-signup");
    const code = await issueCode(email, key);
    const res = await verifyCode(email, code, key);
    expect(res.status).toBe(200);
    expect((await json(res)).data.user).toMatchObject({ email, emailVerified: true, approvalStatus: "APPROVED", isActive: true });
    await settle();
    const registered = (await auditEvents("user.registered")).filter((e) => e.metadata.method === "email_otp" && e.metadata.applicationId === open.id);
    expect(registered).toHaveLength(1);
  });

  it("refuses codes that are not 6 digits with validation_error", async () => {
    for (const code of ["12345", "1234567", "abcdef", " 123456", ""]) {
      const res = await verifyCode(uniqueEmail(), code);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe("validation_error");
    }
  });

  it("draws codes uniformly from 000000-999999", () => {
    const codes = Array.from({ length: 2000 }, () => newEmailCode());
    expect(codes.every((c) => /^\d{6}$/.test(c))).toBe(true);
    expect(new Set(codes).size).toBeGreaterThan(1990);
    const firstDigits = new Set(codes.map((c) => c[0]));
    expect(firstDigits.size).toBe(10);
  });
});
