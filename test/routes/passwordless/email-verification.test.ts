// Email verification: registration sends a link; a signed-in user can ask for another (nothing is
// sent once verified); the token is single use (also under concurrency), stored hashed, expires,
// and is bound to the address it was sent to; an application can require a verified address before
// sign-in; staff see and set it (audited); tokens minted afterwards carry email_verified: true.
import { sql } from "drizzle-orm";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { sha256 } from "../../../src/crypto/random";
import { adminAuth, createApiKey, createApplication, freshIp } from "../../helpers/applications";
import { call, callWithEnv, json } from "../../helpers/http";
import { settle } from "../../helpers/stack";
import { auditEvents, bearer, createUser, deps, GOOD_PASSWORD, login, outboxFor, uniqueEmail, waitForEmail } from "../../helpers/users";
import { errorCode } from "./support";

const VERIFY_LINK = /https:\/\/app\.kisum\.io\/verify-email\?token=([A-Za-z0-9_-]+)/;

async function verificationToken(email: string, n = 1): Promise<string> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const mails = (await outboxFor(email)).filter((m) => m.kind === "email_verification");
    if (mails.length >= n) {
      const m = VERIFY_LINK.exec(mails[n - 1].text);
      expect(m, mails[n - 1].text).not.toBeNull();
      return m![1];
    }
    if (Date.now() > deadline) throw new Error(`no verification mail #${n} to ${email}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}

const confirm = (token: string) => call("/auth/email-verification/confirm", { json: { token } });
const requestFor = (accessToken: string) => call("/auth/email-verification/request", { method: "POST", headers: bearer(accessToken) });

async function verifiedFlag(id: string): Promise<boolean> {
  const r = await deps().db.execute(sql`select email_verified as v from users where id = ${id}::uuid`);
  return (r.rows[0] as { v: boolean }).v;
}

describe("email verification", () => {
  it("registration sends a link; it verifies the address once; the token is stored only as its hash", async () => {
    const email = uniqueEmail("reg");
    const reg = await callWithEnv({ PUBLIC_REGISTRATION_ENABLED: "true" }, "/auth/register", { json: { email, password: GOOD_PASSWORD }, headers: { "cf-connecting-ip": freshIp() } });
    expect(reg.status).toBe(202);
    const token = await verificationToken(email);
    const stored = await deps().db.execute(
      sql`select t.token_hash as h, t.email from email_verification_tokens t join users u on u.id = t.user_id where lower(u.email) = lower(${email})`,
    );
    expect(stored.rows).toEqual([{ h: await sha256(token), email }]);

    const first = await confirm(token);
    expect(first.status).toBe(200);
    expect((await json(first)).data).toEqual({ emailVerified: true, message: expect.any(String) });
    const second = await confirm(token);
    expect(second.status).toBe(400);
    expect(await errorCode(second)).toBe("invalid_token");
    const u = await deps().db.execute(sql`select id, email_verified as v, email_verified_at as at from users where lower(email) = lower(${email})`);
    const row = u.rows[0] as { id: string; v: boolean; at: unknown };
    expect(row.v).toBe(true);
    expect(row.at).not.toBeNull();
    expect((await auditEvents("email.verified")).filter((e) => e.targetUserId === row.id)).toHaveLength(1);
  });

  it("of 8 concurrent confirms of one token exactly one succeeds", async () => {
    const user = await createUser();
    const session = await login(user, { "cf-connecting-ip": freshIp() });
    expect((await requestFor(session.accessToken)).status).toBe(200);
    const token = await verificationToken(user.email);
    const answers = await Promise.all(Array.from({ length: 8 }, () => confirm(token)));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400, 400, 400, 400, 400, 400, 400]);
    await settle();
    expect((await auditEvents("email.verified")).filter((e) => e.targetUserId === user.id)).toHaveLength(1);
  });

  it("a signed-in user asks for a link; afterwards /auth/me, the login answer and refreshed tokens say verified; asking again sends nothing", async () => {
    const user = await createUser();
    const session = await login(user, { "cf-connecting-ip": freshIp() });
    expect(session.body.data.user.emailVerified).toBe(false);
    expect(decodeJwt(session.accessToken).email_verified).toBe(false);
    const res = await requestFor(session.accessToken);
    expect(res.status).toBe(200);
    expect((await json(res)).data).toEqual({ message: expect.any(String), alreadyVerified: false });
    expect((await confirm(await verificationToken(user.email))).status).toBe(200);

    const me = await call("/auth/me", { headers: bearer(session.accessToken) });
    expect((await json(me)).data.emailVerified).toBe(true);
    const refreshed = await call("/auth/refresh", { json: { refreshToken: session.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt((await json(refreshed)).data.accessToken).email_verified).toBe(true);
    const again = await login(user, { "cf-connecting-ip": freshIp() });
    expect(again.body.data.user.emailVerified).toBe(true);
    // Confirming bumped nothing: the first session's tokens still work.
    expect((await call("/auth/me", { headers: bearer(session.accessToken) })).status).toBe(200);

    const already = await requestFor(again.accessToken);
    expect(already.status).toBe(200);
    expect((await json(already)).data).toEqual({ message: expect.any(String), alreadyVerified: true });
    await settle();
    expect((await outboxFor(user.email)).filter((m) => m.kind === "email_verification")).toHaveLength(1);
  });

  it("needs a Bearer token and is rate limited per address", async () => {
    expect((await call("/auth/email-verification/request", { method: "POST" })).status).toBe(401);
    const user = await createUser();
    const session = await login(user, { "cf-connecting-ip": freshIp() });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await requestFor(session.accessToken)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it("an expired token fails", async () => {
    const user = await createUser();
    const session = await login(user, { "cf-connecting-ip": freshIp() });
    await requestFor(session.accessToken);
    const token = await verificationToken(user.email);
    await deps().db.execute(sql`update email_verification_tokens set expires_at = now() - interval '1 second' where token_hash = ${await sha256(token)}`);
    const res = await confirm(token);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_token");
    expect(await verifiedFlag(user.id)).toBe(false);
  });

  it("a token for an address the account no longer has fails (staff changed the email: it is unverified again)", async () => {
    const user = await createUser();
    await deps().db.execute(sql`update users set email_verified = true where id = ${user.id}::uuid`);
    const staff = await adminAuth();
    // Old address verified; ask for a link after marking it unverified, then staff move the account.
    await call(`/internal/users/${user.id}`, { method: "PATCH", json: { emailVerified: false }, headers: staff });
    const session = await login(user, { "cf-connecting-ip": freshIp() });
    await requestFor(session.accessToken);
    const token = await verificationToken(user.email);
    const moved = await call(`/internal/users/${user.id}`, { method: "PATCH", json: { email: uniqueEmail("moved") }, headers: staff });
    expect(moved.status).toBe(200);
    expect((await json(moved)).data.emailVerified).toBe(false);
    const res = await confirm(token);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_token");
    expect(await verifiedFlag(user.id)).toBe(false);
    // And the token is spent.
    expect((await confirm(token)).status).toBe(400);
  });

  it("an application requiring a verified address refuses sign-in (403 email_not_verified) until it is confirmed", async () => {
    const app = await createApplication({ type: "spa", settings: { signIn: { requireVerifiedEmail: true } } });
    const key = await createApiKey(app.id);
    const user = await createUser();
    const signIn = () => call("/auth/login", { json: { email: user.email, password: user.password }, headers: { "x-api-key": key, "cf-connecting-ip": freshIp() } });
    const refused = await signIn();
    expect(refused.status).toBe(403);
    expect(await errorCode(refused)).toBe("email_not_verified");

    const platform = await login(user, { "cf-connecting-ip": freshIp() });
    await requestFor(platform.accessToken);
    expect((await confirm(await verificationToken(user.email))).status).toBe(200);
    const ok = await signIn();
    expect(ok.status).toBe(200);
    expect(decodeJwt((await json(ok)).data.accessToken).email_verified).toBe(true);
  });

  it("staff see emailVerified in the user and the list, and set it (audited)", async () => {
    const staff = await adminAuth();
    const user = await createUser();
    const got = await call(`/internal/users/${user.id}`, { headers: staff });
    expect((await json(got)).data.emailVerified).toBe(false);
    const set = await call(`/internal/users/${user.id}`, { method: "PATCH", json: { emailVerified: true }, headers: staff });
    expect(set.status).toBe(200);
    expect((await json(set)).data.emailVerified).toBe(true);
    expect(await verifiedFlag(user.id)).toBe(true);
    const list = await call(`/internal/users?q=${encodeURIComponent(user.email)}`, { headers: staff });
    expect((await json(list)).data.users.map((u: any) => [u.id, u.emailVerified])).toEqual([[user.id, true]]);
    const events = (await auditEvents("user.updated")).filter((e) => e.targetUserId === user.id);
    expect(events.map((e) => e.metadata.changes)).toEqual([{ emailVerified: { before: false, after: true } }]);
  });

  it("answers validation_error for a malformed body and invalid_token for an unknown token", async () => {
    const bad = await call("/auth/email-verification/confirm", { json: { token: 5 } });
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe("validation_error");
    const unknown = await confirm("C".repeat(43));
    expect(unknown.status).toBe(400);
    expect(await errorCode(unknown)).toBe("invalid_token");
  });
});
