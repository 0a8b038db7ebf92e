import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { sha256 } from "../../../src/crypto/random";
import { call, callWithEnv, json } from "../../helpers/http";
import { withFault } from "../../helpers/stack";
import { auditEvents, bearer, createUser, deps, login, outboxFor, uniqueEmail, waitForEmail, type TestUser } from "../../helpers/users";

const ip = (n: number) => ({ "cf-connecting-ip": `203.0.113.${n}` });
const EXPOSE = { EXPOSE_PASSWORD_RESET_TOKEN: "true" };
const NEW_PASSWORD = "Granite-Meadow-48-kite";
const RESET_LINK = /https:\/\/app\.kisum\.io\/reset-password\?token=([A-Za-z0-9_-]+)/;

function requestReset(email: string, headers: Record<string, string>, env: Record<string, string> = {}): Promise<Response> {
  return callWithEnv(env, "/auth/password-reset/request", { json: { email }, headers });
}

function confirm(token: string, newPassword: string, headers: Record<string, string> = {}): Promise<Response> {
  return call("/auth/password-reset/confirm", { json: { token, newPassword }, headers });
}

/** Requests a reset with the token exposed and returns it. */
async function issueToken(user: TestUser, headers: Record<string, string>): Promise<string> {
  const res = await requestReset(user.email, headers, EXPOSE);
  expect(res.status).toBe(200);
  const token = (await json(res)).data.token;
  expect(typeof token).toBe("string");
  return token;
}

function signIn(email: string, password: string, headers: Record<string, string>): Promise<Response> {
  return call("/auth/login", { json: { email, password }, headers });
}

async function expectInvalidToken(res: Response): Promise<void> {
  expect(res.status).toBe(400);
  const body = await json(res);
  expect(body.error.code).toBe("invalid_reset_token");
  expect(typeof body.error.message).toBe("string");
}

describe("POST /auth/password-reset/request", () => {
  it("answers a known and an unknown address with the same body, without a token by default", async () => {
    const user = await createUser();
    const known = await requestReset(user.email, ip(1));
    const unknownEmail = uniqueEmail("nobody");
    const unknown = await requestReset(unknownEmail, ip(1));
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    expect(known.headers.get("cache-control")).toBe("no-store");
    expect(unknown.headers.get("cache-control")).toBe("no-store");
    const [a, b] = [await json(known), await json(unknown)];
    expect(a).toEqual(b);
    expect(a).toEqual({ data: { message: expect.any(String) } });
    expect(a.data).not.toHaveProperty("token");

    // The owner gets a link; the unknown address gets nothing.
    const mail = await waitForEmail(user.email, "password_reset");
    expect(mail.text).toMatch(RESET_LINK);
    expect(await outboxFor(unknownEmail)).toEqual([]);
    const requested = await auditEvents("password_reset.requested");
    expect(requested.filter((e) => e.targetUserId === user.id).map((e) => e.metadata)).toEqual([{ accountFound: true }]);
    expect(requested.some((e) => e.targetUserId === null && e.metadata.accountFound === false)).toBe(true);
  });

  it("exposes the token with EXPOSE_PASSWORD_RESET_TOKEN=true, only for a known address, and emails the same token", async () => {
    const user = await createUser({ fullName: "Mary Jackson" });
    const res = await requestReset(user.email, ip(2), EXPOSE);
    expect(res.status).toBe(200);
    const { data } = await json(res);
    expect(data).toEqual({ message: expect.any(String), token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });

    const unknown = await requestReset(uniqueEmail("nobody"), ip(2), EXPOSE);
    expect(unknown.status).toBe(200);
    expect((await json(unknown)).data).toEqual({ message: data.message });

    const mail = await waitForEmail(user.email, "password_reset");
    expect(mail.to).toBe(user.email);
    const link = RESET_LINK.exec(mail.text);
    expect(link).not.toBeNull();
    expect(link![1]).toBe(data.token);
    expect(mail.text).toContain(`https://app.kisum.io/reset-password?token=${data.token}`);
    expect(mail.html).toContain(`https://app.kisum.io/reset-password?token=${data.token}`);

    // Only a digest is stored.
    const r = await deps().db.execute(sql`select token_hash as h from password_reset_tokens where user_id = ${user.id}::uuid`);
    expect(r.rows).toEqual([{ h: await sha256(data.token) }]);
  });

  it("limits requests per address: the third is 429 with Retry-After, whatever the IP", async () => {
    const user = await createUser();
    const env = { RATE_LIMIT_PASSWORD_RESET_PER_EMAIL: "2/1m" };
    for (let i = 0; i < 2; i++) {
      const ok = await requestReset(user.email, ip(3 + i), env);
      expect(ok.status).toBe(200);
    }
    const limited = await requestReset(user.email.toUpperCase(), ip(5), env);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await json(limited)).error.code).toBe("rate_limited");
    // Another address is not affected.
    const other = await requestReset(uniqueEmail("other"), ip(5), env);
    expect(other.status).toBe(200);
  });
});

describe("POST /auth/password-reset/confirm", () => {
  it("sets the new password, ends every session at once, and is single-use", async () => {
    const user = await createUser();
    const a = await login(user, ip(10));
    const b = await login(user, ip(10));
    const token = await issueToken(user, ip(10));

    const res = await confirm(token, NEW_PASSWORD, { ...ip(10), "user-agent": "reset-test" });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ data: { message: expect.any(String) } });

    // Earlier access tokens are refused at once, refresh tokens are dead.
    for (const s of [a, b]) {
      const me = await call("/auth/me", { headers: bearer(s.accessToken) });
      expect(me.status).toBe(401);
      expect((await json(me)).error.code).toBe("token_revoked");
      const refreshed = await call("/auth/refresh", { json: { refreshToken: s.refreshToken } });
      expect(refreshed.status).toBe(401);
    }

    // The new password works, the old one does not.
    const fresh = await signIn(user.email, NEW_PASSWORD, ip(11));
    expect(fresh.status).toBe(200);
    const freshToken = (await json(fresh)).data.accessToken;
    expect((await call("/auth/me", { headers: bearer(freshToken) })).status).toBe(200);
    const old = await signIn(user.email, user.password, ip(11));
    expect(old.status).toBe(401);
    expect((await json(old)).error.code).toBe("invalid_credentials");

    // Single use.
    await expectInvalidToken(await confirm(token, "Another-Meadow-49-kite"));
    expect((await signIn(user.email, NEW_PASSWORD, ip(11))).status).toBe(200);

    const r = await deps().db.execute(
      sql`select count(*)::int as n from sessions where user_id = ${user.id}::uuid and revoked_reason = 'password_reset'`,
    );
    expect(Number((r.rows[0] as { n: number }).n)).toBe(2);

    await waitForEmail(user.email, "password_changed");
    expect((await auditEvents("password_reset.requested")).filter((e) => e.targetUserId === user.id)).toHaveLength(1);
    const completed = (await auditEvents("password_reset.completed")).filter((e) => e.targetUserId === user.id);
    expect(completed).toHaveLength(1);
    expect(completed[0].actorUserId).toBe(user.id);
  });

  it("accepts the token taken from the emailed link", async () => {
    const user = await createUser();
    expect((await requestReset(user.email, ip(12))).status).toBe(200);
    const mail = await waitForEmail(user.email, "password_reset");
    const token = RESET_LINK.exec(mail.text)![1];
    expect((await confirm(token, NEW_PASSWORD)).status).toBe(200);
    expect((await signIn(user.email, NEW_PASSWORD, ip(12))).status).toBe(200);
  });

  it("a new request supersedes the earlier unused token", async () => {
    const user = await createUser();
    const first = await issueToken(user, ip(13));
    const second = await issueToken(user, ip(13));
    expect(second).not.toBe(first);
    await expectInvalidToken(await confirm(first, NEW_PASSWORD));
    expect((await signIn(user.email, user.password, ip(13))).status).toBe(200);
    expect((await confirm(second, NEW_PASSWORD)).status).toBe(200);
    expect((await signIn(user.email, NEW_PASSWORD, ip(13))).status).toBe(200);
  });

  it("refuses an expired token", async () => {
    const user = await createUser();
    const token = await issueToken(user, ip(14));
    await deps().db.execute(sql`update password_reset_tokens set expires_at = now() - interval '1 minute' where token_hash = ${await sha256(token)}`);
    await expectInvalidToken(await confirm(token, NEW_PASSWORD));
    expect((await signIn(user.email, user.password, ip(14))).status).toBe(200);
    expect((await auditEvents("password_reset.completed")).filter((e) => e.targetUserId === user.id)).toHaveLength(0);
  });

  it("refuses unknown and malformed tokens", async () => {
    await expectInvalidToken(await confirm("A".repeat(43), NEW_PASSWORD));
    const empty = await confirm("", NEW_PASSWORD);
    expect(empty.status).toBe(400);
    const body = await json(empty);
    expect(body.error.code).toBe("validation_error");
    expect(body.error.fields.map((f: { field: string }) => f.field)).toEqual(["token"]);
  });

  it("answers a policy failure with weak_password naming newPassword, and keeps the token usable", async () => {
    const user = await createUser();
    const token = await issueToken(user, ip(15));
    const local = user.email.split("@")[0];
    const weak: [string, string][] = [
      ["Ab3$xyz", "too_short"],
      ["password123", "common_password"],
      [`x-${local}-y`, "contains_email"],
    ];
    for (const [password, rule] of weak) {
      const res = await confirm(token, password);
      expect(res.status).toBe(400);
      const body = await json(res);
      expect(body.error.code).toBe("weak_password");
      expect(body.error.fields.map((f: { field: string }) => f.field)).toEqual(["newPassword"]);
      expect(body.error.details).toEqual({ rule });
    }
    // Nothing changed: the old password works, and the token still does.
    expect((await signIn(user.email, user.password, ip(15))).status).toBe(200);
    expect((await confirm(token, NEW_PASSWORD)).status).toBe(200);
    expect((await signIn(user.email, NEW_PASSWORD, ip(15))).status).toBe(200);
  });

  it("of concurrent confirms with one token, exactly one succeeds", async () => {
    const user = await createUser();
    const s = await login(user, ip(16));
    const token = await issueToken(user, ip(16));
    const candidates = Array.from({ length: 5 }, (_, i) => `Concurrent-Meadow-${i}-kite`);
    const responses = await Promise.all(candidates.map((p) => confirm(token, p)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((st) => st === 200)).toHaveLength(1);
    expect(statuses.filter((st) => st === 400)).toHaveLength(4);
    for (const r of responses.filter((r) => r.status === 400)) expect((await json(r)).error.code).toBe("invalid_reset_token");

    // The winner's password is the one in force; no other candidate works.
    const winner = candidates[statuses.indexOf(200)];
    expect((await signIn(user.email, winner, ip(16))).status).toBe(200);
    for (const p of candidates.filter((p) => p !== winner)) expect((await signIn(user.email, p, ip(17))).status).toBe(401);
    expect((await auditEvents("password_reset.completed")).filter((e) => e.targetUserId === user.id)).toHaveLength(1);
    const r = await deps().db.execute(sql`select token_version as v from users where id = ${user.id}::uuid`);
    expect(Number((r.rows[0] as { v: number }).v)).toBe(1);
    expect((await call("/auth/me", { headers: bearer(s.accessToken) })).status).toBe(401);
  });

  it("answers 503 dependency_unavailable when SQL fails, and leaves the token and the password as they were", async () => {
    const user = await createUser();
    const token = await issueToken(user, ip(18));
    const res = await withFault("sql", { mode: "error" }, () => confirm(token, NEW_PASSWORD));
    expect(res.status).toBe(503);
    const body = await json(res);
    expect(body).toEqual({ error: { code: "dependency_unavailable", message: expect.any(String), details: { dependency: "sql" } } });
    expect(JSON.stringify(body)).not.toMatch(/injected|stack|NeonDbError/);

    expect((await signIn(user.email, user.password, ip(18))).status).toBe(200);
    expect((await confirm(token, NEW_PASSWORD)).status).toBe(200);
    expect((await signIn(user.email, NEW_PASSWORD, ip(18))).status).toBe(200);
  });
});
