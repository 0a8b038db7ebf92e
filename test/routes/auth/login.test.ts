import { sql } from "drizzle-orm";
import { decodeProtectedHeader, decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { hashPassword } from "../../../src/crypto/password";
import { call, callWithEnv, json } from "../../helpers/http";
import { settle, withFault } from "../../helpers/stack";
import { auditEvents, createUser, deps, GOOD_PASSWORD, uniqueEmail } from "../../helpers/users";

const ip = (n: number) => ({ "cf-connecting-ip": `198.51.100.${n}` });

describe("POST /auth/login", () => {
  it("signs in: tokens, the user, no-store", async () => {
    const user = await createUser({ fullName: "Ada Lovelace" });
    const res = await call("/auth/login", { json: { email: user.email, password: user.password }, headers: ip(1) });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { data } = await json(res);
    expect(data).toMatchObject({ tokenType: "Bearer", expiresIn: 900, tokenTransport: "json" });
    expect(data.refreshExpiresIn).toBeGreaterThan(2_591_000);
    expect(data.refreshToken).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    expect(data.user).toMatchObject({ id: user.id, email: user.email, fullName: "Ada Lovelace", globalRole: "NONE", approvalStatus: "APPROVED", isActive: true });
    expect(data.user).not.toHaveProperty("passwordHash");

    expect(decodeProtectedHeader(data.accessToken)).toEqual({ alg: "RS256", typ: "at+jwt", kid: "test-key-1" });
    const claims = decodeJwt(data.accessToken);
    expect(claims).toMatchObject({ iss: "https://auth.test", aud: "test-apps", sub: user.id, email: user.email, globalRole: "NONE", tv: 0 });
    expect(claims.sid).toBe(data.refreshToken.split(".")[0]);
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(typeof claims.jti).toBe("string");
    // The sign-in statement records the attempt; just after the answer that row becomes the outcome
    // (one row per sign-in, with the session and application).
    await settle();
    expect((await auditEvents("login.success")).filter((e) => e.targetUserId === user.id)).toMatchObject([{ actorUserId: user.id, metadata: { sessionId: claims.sid } }]);
    expect((await auditEvents("login.attempt")).filter((e) => e.targetUserId === user.id)).toEqual([]);
  });

  it("matches the email case-insensitively", async () => {
    const user = await createUser({ email: uniqueEmail("MixedCase") });
    const res = await call("/auth/login", { json: { email: user.email.toUpperCase(), password: user.password }, headers: ip(2) });
    expect(res.status).toBe(200);
  });

  it("starts a new session for every sign-in", async () => {
    const user = await createUser();
    const a = await json(await call("/auth/login", { json: { email: user.email, password: user.password }, headers: ip(3) }));
    const b = await json(await call("/auth/login", { json: { email: user.email, password: user.password }, headers: ip(3) }));
    expect(a.data.refreshToken.split(".")[0]).not.toBe(b.data.refreshToken.split(".")[0]);
  });

  it("answers unknown email and wrong password identically", async () => {
    const user = await createUser();
    const wrong = await call("/auth/login", { json: { email: user.email, password: "not-the-password-1" }, headers: ip(4) });
    const unknown = await call("/auth/login", { json: { email: uniqueEmail("nobody"), password: "not-the-password-1" }, headers: ip(4) });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const [a, b] = [await json(wrong), await json(unknown)];
    expect(a).toEqual(b);
    expect(a).toEqual({ error: { code: "invalid_credentials", message: "Invalid email or password" } });
    await settle();
    expect((await auditEvents("login.failure")).filter((e) => e.targetUserId === user.id)).toHaveLength(1);
    expect((await auditEvents("login.attempt")).filter((e) => e.targetUserId === user.id)).toEqual([]);
  });

  it("reveals account states only after a correct password", async () => {
    const cases = [
      { approvalStatus: "PENDING" as const, isActive: false, code: "pending_approval" },
      { approvalStatus: "REJECTED" as const, isActive: false, code: "registration_rejected" },
      { approvalStatus: "APPROVED" as const, isActive: false, code: "account_inactive" },
    ];
    for (const [i, c] of cases.entries()) {
      const user = await createUser({ approvalStatus: c.approvalStatus, isActive: c.isActive });
      const right = await call("/auth/login", { json: { email: user.email, password: user.password }, headers: ip(10 + i) });
      expect(right.status).toBe(403);
      expect((await json(right)).error.code).toBe(c.code);
      const wrong = await call("/auth/login", { json: { email: user.email, password: "wrong-password-99" }, headers: ip(10 + i) });
      expect(wrong.status).toBe(401);
      expect((await json(wrong)).error.code).toBe("invalid_credentials");
    }
  });

  it("handles accountType as seed 000 defines it", async () => {
    const user = await createUser();
    for (const accountType of ["", "internal", "auto"]) {
      const res = await call("/auth/login", { json: { email: user.email, password: user.password, accountType }, headers: ip(20) });
      expect(res.status).toBe(200);
    }
    const vendor = await call("/auth/login", { json: { email: user.email, password: user.password, accountType: "vendor" }, headers: ip(20) });
    expect(vendor.status).toBe(501);
    expect((await json(vendor)).error.code).toBe("not_implemented");
    const admin = await call("/auth/login", { json: { email: user.email, password: user.password, accountType: "admin" }, headers: ip(20) });
    expect(admin.status).toBe(400);
    const body = await json(admin);
    expect(body.error.code).toBe("validation_error");
    expect(body.error.fields.map((f: { field: string }) => f.field)).toEqual(["accountType"]);
  });

  it("names the offending fields of a bad body, unknown fields included", async () => {
    const res = await call("/auth/login", { json: { email: "not-an-email", extra: 1 }, headers: ip(21) });
    expect(res.status).toBe(400);
    const fields = (await json(res)).error.fields.map((f: { field: string }) => f.field).sort();
    expect(fields).toEqual(["email", "extra", "password"]);
  });

  it("re-hashes a password stored with outdated parameters", async () => {
    const old = { memoryKiB: 512, iterations: 1, parallelism: 1, hashLength: 32 };
    const user = await createUser({ passwordHash: await hashPassword(GOOD_PASSWORD, old) });
    const res = await call("/auth/login", { json: { email: user.email, password: GOOD_PASSWORD }, headers: ip(22) });
    expect(res.status).toBe(200);
    // The re-hash is written just after the answer.
    await settle();
    const r = await deps().db.execute(sql`select password_hash as h from users where id = ${user.id}::uuid`);
    const stored = (r.rows[0] as { h: string }).h;
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    const again = await call("/auth/login", { json: { email: user.email, password: GOOD_PASSWORD }, headers: ip(22) });
    expect(again.status).toBe(200);
  });
});

describe("login rate limits", () => {
  it("limits attempts per IP with 429 and Retry-After", async () => {
    const user = await createUser();
    const env = { RATE_LIMIT_LOGIN_PER_IP: "3/1m" };
    for (let i = 0; i < 3; i++) {
      const ok = await callWithEnv(env, "/auth/login", { json: { email: user.email, password: user.password }, headers: ip(30) });
      expect(ok.status).toBe(200);
    }
    const limited = await callWithEnv(env, "/auth/login", { json: { email: user.email, password: user.password }, headers: ip(30) });
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await json(limited)).error.code).toBe("rate_limited");
    // Another address is not affected.
    const other = await callWithEnv(env, "/auth/login", { json: { email: user.email, password: user.password }, headers: ip(31) });
    expect(other.status).toBe(200);
  });

  it("limits failed attempts per account across IPs, without locking out for good", async () => {
    const user = await createUser();
    // A window wide enough that a slow machine cannot let it slide between the three requests.
    const env = { RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL: "2/5s" };
    for (let i = 0; i < 2; i++) {
      const res = await callWithEnv(env, "/auth/login", { json: { email: user.email, password: "wrong-password-77" }, headers: ip(40 + i) });
      expect(res.status).toBe(401);
      // The failure is counted just after the answer (off the critical path). A short wait: the
      // sliding window must not roll over between these requests.
      await settle(20);
    }
    const blocked = await callWithEnv(env, "/auth/login", { json: { email: user.email, password: user.password }, headers: ip(45) });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    // A sliding window forgets completely after two window lengths.
    await new Promise((r) => setTimeout(r, 10_100));
    const later = await callWithEnv(env, "/auth/login", { json: { email: user.email, password: user.password }, headers: ip(46) });
    expect(later.status).toBe(200);
  });

  it("fails closed with Redis down by default: 503 dependency_unavailable", async () => {
    const user = await createUser();
    const res = await withFault("redis", { mode: "down" }, () => call("/auth/login", { json: { email: user.email, password: user.password }, headers: ip(50) }));
    expect(res.status).toBe(503);
    expect((await json(res)).error.code).toBe("dependency_unavailable");
  });

  it("fails open with Redis down when RATE_LIMIT_FAIL_CLOSED_LOGIN=false", async () => {
    const user = await createUser();
    const res = await withFault("redis", { mode: "down" }, () =>
      callWithEnv({ RATE_LIMIT_FAIL_CLOSED_LOGIN: "false" }, "/auth/login", { json: { email: user.email, password: user.password }, headers: ip(51) }),
    );
    expect(res.status).toBe(200);
  });
});
