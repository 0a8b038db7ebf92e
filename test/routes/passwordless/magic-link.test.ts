// Magic links: same answer for every address, a link that a scanner's GET leaves valid, a single
// use under concurrency, redirects only to registered URIs with a one-time code (never a token),
// the page's CSRF check, pre-account-hijacking (a password set before the address was verified is
// cleared), sign-up only where the application allows it, and the application's method switch.
import { sql } from "drizzle-orm";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { sha256 } from "../../../src/crypto/random";
import { createApiKey, createApplication } from "../../helpers/applications";
import { call, json } from "../../helpers/http";
import { settle } from "../../helpers/stack";
import { auditEvents, bearer, createUser, deps, login, outboxFor, uniqueEmail } from "../../helpers/users";
import { errorCode, issueLink, openPage, postForm, requestLink, verifyJson } from "./support";

const REDIRECT = "https://shop.example.com/auth/callback";

async function webApp(settings: Record<string, unknown> = {}) {
  const app = await createApplication({ type: "web", redirectUris: [REDIRECT], settings: settings as never });
  return { app, key: await createApiKey(app.id) };
}

async function userRow(id: string) {
  const r = await deps().db.execute(sql`select email_verified as "emailVerified", password_hash as "passwordHash", token_version as "tokenVersion" from users where id = ${id}::uuid`);
  return r.rows[0] as { emailVerified: boolean; passwordHash: string | null; tokenVersion: number };
}

async function markVerified(id: string) {
  await deps().db.execute(sql`update users set email_verified = true, email_verified_at = now() where id = ${id}::uuid`);
}

describe("POST /auth/magic-link/request", () => {
  it("answers a known and an unknown address alike; only the known one gets a link to this service's page", async () => {
    const user = await createUser();
    const unknown = uniqueEmail("nobody");
    const [a, b] = [await requestLink(user.email), await requestLink(unknown)];
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(await json(a)).toEqual(await json(b));
    const token = await issueLink(user.email);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await settle();
    expect(await outboxFor(unknown)).toEqual([]);
    // Nothing about the token is stored in the clear.
    const keys = await deps().redis.keys("auth:artefact:magic-link:*");
    expect(keys.some((k) => k.includes(token))).toBe(false);
  });

  it("refuses an unregistered redirectUri with 400 before sending anything", async () => {
    const { key } = await webApp();
    const user = await createUser();
    for (const uri of ["https://evil.example.com/cb", `${REDIRECT}/`, `${REDIRECT}?x=1`, REDIRECT.replace("https", "http")]) {
      const res = await requestLink(user.email, { key, redirectUri: uri });
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe("redirect_uri_not_registered");
    }
    await settle();
    expect(await outboxFor(user.email)).toEqual([]);
  });

  it("is refused with 403 method_not_allowed where the application turned magic links off", async () => {
    const { key } = await webApp({ signIn: { magicLink: false } });
    const res = await requestLink(uniqueEmail(), { key });
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("method_not_allowed");
  });

  it("limits requests per address (RATE_LIMIT_EMAIL_LINK_PER_EMAIL), known or not", async () => {
    const email = uniqueEmail("limited");
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await requestLink(email)).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429]);
  });
});

describe("GET /auth/magic-link/verify (the link's page)", () => {
  it("consumes nothing: a scanner's fetches leave the link valid; the page is nonce-CSP'd, not cached, and posts with a CSRF token", async () => {
    const user = await createUser();
    const token = await issueLink(user.email);
    for (let i = 0; i < 3; i++) {
      const page = await openPage(token);
      expect(page.res.status).toBe(200);
      expect(page.res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(page.res.headers.get("cache-control")).toBe("no-store");
      const csp = page.res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'none'");
      expect(csp).toMatch(/style-src 'self' 'nonce-/);
      expect(page.html).toContain(`action="/auth/magic-link/verify"`);
      expect(page.html).not.toMatch(/\son[a-z]+=/i);
      expect(page.csrf.length).toBeGreaterThan(20);
      expect(page.cookie).toBe(page.csrf);
      expect(page.res.headers.get("set-cookie")).toMatch(/HttpOnly/i);
      expect(page.res.headers.get("set-cookie")).toMatch(/SameSite=Strict/i);
    }
    const res = await verifyJson(token);
    expect(res.status).toBe(200);
    expect((await json(res)).data.user.id).toBe(user.id);
  });

  it("escapes the token it echoes", async () => {
    const page = await openPage(`"><script>alert(1)</script>`);
    expect(page.res.status).toBe(200);
    expect(page.html).not.toContain("<script>");
  });
});

describe("POST /auth/magic-link/verify (JSON)", () => {
  it("signs in once with amr email; a second use fails", async () => {
    const user = await createUser();
    await markVerified(user.id);
    const token = await issueLink(user.email);
    const first = await verifyJson(token);
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    const { data } = await json(first);
    expect(data.user).toMatchObject({ id: user.id, emailVerified: true });
    const claims = decodeJwt(data.accessToken);
    expect(claims.amr).toEqual(["email"]);
    expect(claims.email_verified).toBe(true);
    const me = await call("/auth/me", { headers: bearer(data.accessToken) });
    expect((await json(me)).data.emailVerified).toBe(true);

    const second = await verifyJson(token);
    expect(second.status).toBe(400);
    expect(await errorCode(second)).toBe("invalid_token");
    await settle();
    const ok = (await auditEvents("login.success")).filter((e) => e.targetUserId === user.id);
    expect(ok.map((e) => e.metadata.method)).toEqual(["magic_link"]);
  });

  it("of 8 concurrent uses of one link exactly one signs in", async () => {
    const user = await createUser();
    const token = await issueLink(user.email);
    const answers = await Promise.all(Array.from({ length: 8 }, () => verifyJson(token)));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400, 400, 400, 400, 400, 400, 400]);
    const sessions = await deps().db.execute(sql`select count(*)::int as n from sessions where user_id = ${user.id}::uuid`);
    expect(sessions.rows[0]).toEqual({ n: 1 });
  });

  it("answers 400 invalid_token for an unknown token and validation_error for a missing one, never 5xx", async () => {
    const unknown = await verifyJson("A".repeat(43));
    expect(unknown.status).toBe(400);
    expect(await errorCode(unknown)).toBe("invalid_token");
    const missing = await call("/auth/magic-link/verify", { json: {} });
    expect(missing.status).toBe(400);
    expect(await errorCode(missing)).toBe("validation_error");
    const empty = await call("/auth/magic-link/verify", { method: "POST" });
    expect(empty.status).toBe(400);
  });

  it("a link requested through one application signs in nowhere else, and is spent by the attempt", async () => {
    const a = await webApp();
    const b = await webApp();
    const user = await createUser();
    const token = await issueLink(user.email, { key: a.key });
    const wrong = await verifyJson(token, b.key);
    expect(wrong.status).toBe(400);
    expect(await errorCode(wrong)).toBe("invalid_token");
    expect((await verifyJson(token, a.key)).status).toBe(400);

    const again = await issueLink(user.email, { key: a.key });
    const right = await verifyJson(again, a.key);
    expect(right.status).toBe(200);
    expect(decodeJwt((await json(right)).data.accessToken).client_id).toBe(a.app.id);
  });

  it("expires after MAGIC_LINK_TTL", async () => {
    const user = await createUser();
    const token = await issueLink(user.email);
    // Stored under SHA-256("magic-link:" + token): shorten its life as time would.
    const key = `auth:artefact:magic-link:${await sha256(`magic-link:${token}`)}`;
    expect(await deps().redis.ttl(key)).toBeGreaterThan(14 * 60);
    expect(await deps().redis.ttl(key)).toBeLessThanOrEqual(15 * 60);
    await deps().redis.pexpire(key, 1);
    await new Promise((r) => setTimeout(r, 20));
    const res = await verifyJson(token);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_token");
  });
});

describe("POST /auth/magic-link/verify (the page's form post)", () => {
  it("redirects (303) to the registered URI with only a one-time code, which the application exchanges once", async () => {
    const a = await webApp();
    const other = await webApp();
    const user = await createUser();
    const token = await issueLink(user.email, { key: a.key, redirectUri: REDIRECT });
    const page = await openPage(token);
    const res = await postForm(token, page.csrf, page.cookie);
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get("location")!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect([...location.searchParams.keys()]).toEqual(["code"]);
    const code = location.searchParams.get("code")!;
    expect(res.headers.get("location")).not.toMatch(/eyJ/); // no JWT anywhere in the URL

    const stolen = await call("/auth/redirect/exchange", { json: { code }, headers: { "x-api-key": other.key } });
    expect(stolen.status).toBe(400);
    // The attempt spent it: a leaked code is dead either way. A fresh flow for the right application:
    const token2 = await issueLink(user.email, { key: a.key, redirectUri: REDIRECT });
    const page2 = await openPage(token2);
    const res2 = await postForm(token2, page2.csrf, page2.cookie);
    const code2 = new URL(res2.headers.get("location")!).searchParams.get("code")!;
    const exchanged = await call("/auth/redirect/exchange", { json: { code: code2, redirectUri: REDIRECT }, headers: { "x-api-key": a.key } });
    expect(exchanged.status).toBe(200);
    const { data } = await json(exchanged);
    expect(data.user.id).toBe(user.id);
    expect(decodeJwt(data.accessToken).client_id).toBe(a.app.id);
    const twice = await call("/auth/redirect/exchange", { json: { code: code2 }, headers: { "x-api-key": a.key } });
    expect(twice.status).toBe(400);
    // And the link itself is used.
    expect((await postForm(token2, page2.csrf, page2.cookie)).status).toBe(400);
  });

  it("without a redirectUri, answers a page saying the sign-in is complete, with no token in it", async () => {
    const user = await createUser();
    const token = await issueLink(user.email);
    const page = await openPage(token);
    const res = await postForm(token, page.csrf, page.cookie);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/signed in/i);
    expect(html).not.toMatch(/eyJ|refresh/i);
    expect(res.headers.get("set-cookie")).toBeNull();
  });

  it("refuses a post without the page's CSRF token or from another origin (JSON 403), leaving the link valid", async () => {
    const user = await createUser();
    const token = await issueLink(user.email);
    const page = await openPage(token);
    const noCookie = await postForm(token, page.csrf, "");
    expect(noCookie.status).toBe(403);
    expect(await errorCode(noCookie)).toBe("csrf_failed");
    const mismatched = await postForm(token, page.csrf, "x".repeat(page.csrf.length));
    expect(await errorCode(mismatched)).toBe("csrf_failed");
    const foreign = await postForm(token, page.csrf, page.cookie, { origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    expect(await errorCode(foreign)).toBe("origin_not_allowed");
    expect((await postForm(token, page.csrf, page.cookie)).status).toBe(200);
  });

  it("answers a used or unknown link with a 400 page", async () => {
    const page = await openPage("B".repeat(43));
    const res = await postForm("B".repeat(43), page.csrf, page.cookie);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
  });
});

describe("magic links and account state", () => {
  it("verifies an unverified address and clears a password set before it was verified (pre-account-hijacking)", async () => {
    // Someone registered the victim's address with their own password before the victim ever proved it.
    const squatter = await createUser();
    const squatterSession = await login(squatter, { "cf-connecting-ip": "198.51.100.7" });
    const token = await issueLink(squatter.email);
    const before = await userRow(squatter.id);
    expect(before).toMatchObject({ emailVerified: false });
    expect(before.passwordHash).not.toBeNull();

    const res = await verifyJson(token);
    expect(res.status).toBe(200);
    const { data } = await json(res);
    expect(data.user.emailVerified).toBe(true);
    expect(decodeJwt(data.accessToken).email_verified).toBe(true);
    const after = await userRow(squatter.id);
    expect(after).toMatchObject({ emailVerified: true, passwordHash: null, tokenVersion: before.tokenVersion + 1 });

    // The old password no longer signs in, and the squatter's session is over.
    const pw = await call("/auth/login", { json: { email: squatter.email, password: squatter.password }, headers: { "cf-connecting-ip": "198.51.100.8" } });
    expect(pw.status).toBe(401);
    const refreshed = await call("/auth/refresh", { json: { refreshToken: squatterSession.refreshToken } });
    expect(refreshed.status).toBe(401);
    // The new session works.
    expect((await call("/auth/me", { headers: bearer(data.accessToken) })).status).toBe(200);
    const events = (await auditEvents("email.verified")).filter((e) => e.targetUserId === squatter.id);
    expect(events.map((e) => e.metadata)).toEqual([expect.objectContaining({ method: "magic_link", passwordCleared: true, sessionsRevoked: 1 })]);
  });

  it("keeps the password of an account whose address was already verified", async () => {
    const user = await createUser();
    await markVerified(user.id);
    const before = await userRow(user.id);
    expect((await verifyJson(await issueLink(user.email))).status).toBe(200);
    expect(await userRow(user.id)).toEqual(before);
    await login(user, { "cf-connecting-ip": "198.51.100.9" });
  });

  it("creates no account for an unknown address unless the application allows sign-up by magic link", async () => {
    const email = uniqueEmail("newcomer");
    expect((await requestLink(email)).status).toBe(202);
    await settle();
    expect(await outboxFor(email)).toEqual([]);
    const users = await deps().db.execute(sql`select count(*)::int as n from users where lower(email) = lower(${email})`);
    expect(users.rows[0]).toEqual({ n: 0 });
  });

  it("signs up an unknown address where allowed: approved at once with automatic approval", async () => {
    const { key } = await webApp({ signIn: { signUp: { magicLink: true, approval: "automatic" } } });
    const email = uniqueEmail("signup");
    const token = await issueLink(email, { key });
    let users = await deps().db.execute(sql`select count(*)::int as n from users where lower(email) = lower(${email})`);
    expect(users.rows[0]).toEqual({ n: 0 });
    const res = await verifyJson(token, key);
    expect(res.status).toBe(200);
    const { data } = await json(res);
    expect(data.user).toMatchObject({ email, emailVerified: true, approvalStatus: "APPROVED", isActive: true });
    users = await deps().db.execute(sql`select password_hash as "passwordHash" from users where lower(email) = lower(${email})`);
    expect(users.rows).toEqual([{ passwordHash: null }]);
  });

  it("signs up an unknown address as PENDING with staff approval (403 pending_approval, no tokens)", async () => {
    const { key } = await webApp({ signIn: { signUp: { magicLink: true } } });
    const email = uniqueEmail("pending");
    const res = await verifyJson(await issueLink(email, { key }), key);
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("pending_approval");
    const users = await deps().db.execute(sql`select approval_status as s, is_active as a, email_verified as v from users where lower(email) = lower(${email})`);
    expect(users.rows).toEqual([{ s: "PENDING", a: false, v: true }]);
  });

  it("a link sent to a verified address that the account no longer has fails, and leaves no session", async () => {
    const user = await createUser();
    await markVerified(user.id);
    const token = await issueLink(user.email);
    await deps().db.execute(sql`update users set email = ${uniqueEmail("moved")} where id = ${user.id}::uuid`);
    const res = await verifyJson(token);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_token");
    await settle();
    const sessions = await deps().db.execute(sql`select count(*)::int as n from sessions where user_id = ${user.id}::uuid`);
    expect(sessions.rows[0]).toEqual({ n: 0 });
    const failures = (await auditEvents("login.failure")).filter((e) => e.targetUserId === user.id);
    expect(failures.map((e) => e.metadata.reason)).toEqual(["address_changed"]);
  });

  it("a link for an address the account no longer has fails", async () => {
    const user = await createUser();
    const token = await issueLink(user.email);
    await deps().db.execute(sql`update users set email = ${uniqueEmail("moved")} where id = ${user.id}::uuid`);
    const res = await verifyJson(token);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("invalid_token");
  });
});
