// The invitation page (/invitations/accept?token=) over HTTP (test/helpers/pages.ts): opening it
// consumes nothing; signed out it sends to /login with ?next= back to it; Accept and Decline post
// the token to the same service as the JSON API, with its refusals shown as pages; the CSRF and
// origin checks hold; an unsafe ?next= is ignored.
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { resetAdmin } from "../../helpers/app-registry";
import { call, json } from "../../helpers/http";
import { createOrganization, inviteAndReadToken, member, type Member } from "../../helpers/organizations";
import { PageBrowser, textOf } from "../../helpers/pages";
import { createUser, deps, GOOD_PASSWORD, uniqueEmail } from "../../helpers/users";
import { createMfaUser } from "../mfa/support";

beforeAll(() => resetAdmin());

const acceptPath = (token: string) => `/invitations/accept?token=${encodeURIComponent(token)}`;
const nextQuery = (token: string) => `?next=${encodeURIComponent(acceptPath(token))}`;

/** The caller's organizations and roles, through GET /auth/organizations (Bearer). */
async function rolesIn(m: Member, orgId: string): Promise<string[] | null> {
  const res = await call("/auth/organizations", { headers: m.headers });
  expect(res.status).toBe(200);
  const org = ((await json(res)).data.organizations as { id: string; roles: string[] }[]).find((o) => o.id === orgId);
  return org ? [...org.roles].sort() : null;
}

/** An owner's organization and an invitation to a fresh account (its Bearer session and a page browser signed in). */
async function invited(roles: string[] = ["member"]) {
  const owner = await member();
  const org = await createOrganization(owner, { name: `Acme ${Date.now().toString(36)}` });
  const invitee = await member({ email: uniqueEmail("invitee") });
  const { invitation, token } = await inviteAndReadToken(owner, org.id, invitee.user.email, roles);
  const browser = new PageBrowser();
  await signIn(browser, invitee.user.email);
  return { owner, org, invitee, invitation, token, browser };
}

let ipCounter = 0;

/** A password sign-in through /login from its own client address (login is rate limited per IP). */
async function signIn(browser: PageBrowser, email: string, query = "") {
  ipCounter += 1;
  const ip = { "cf-connecting-ip": `198.51.100.${ipCounter}` };
  await browser.get(`/login${query}`);
  const res = await browser.post(`/login${query}`, { email, password: GOOD_PASSWORD }, ip);
  if (res.status !== 303) throw new Error(`page sign-in answered ${res.status}: ${textOf(res.html).slice(0, 300)}`);
  return res;
}

async function invitationStatus(id: string): Promise<string> {
  const r = await deps().db.execute(sql`select status from organization_invitations where id = ${id}::uuid`);
  return (r.rows[0] as { status: string }).status;
}

describe("/invitations/accept", () => {
  it("opening the link consumes nothing: the page offers Accept and Decline, and the token still accepts", async () => {
    const { org, invitee, invitation, token, browser } = await invited(["admin", "viewer"]);
    for (let i = 0; i < 2; i++) {
      const page = await browser.get(acceptPath(token));
      expect(page.status).toBe(200);
      const text = textOf(page.html);
      expect(text).toContain(`Signed in as ${invitee.user.email}`);
      expect(page.html).toContain('id="accept-form"');
      expect(page.html).toContain('id="decline-form"');
      expect(page.html).toMatch(/action="\/logout\?[^"]*next=/);
      expect(page.headers.get("cache-control")).toBe("no-store");
      // The language link reopens the invitation, token kept.
      expect(page.html).toContain(`href="/invitations/accept?locale=fr&amp;token=${token}"`);
    }
    expect(await invitationStatus(invitation.id)).toBe("pending");

    const done = await browser.post("/invitations/accept?locale=en", { token });
    expect(done.status).toBe(200);
    const text = textOf(done.html);
    expect(text).toContain(`You joined ${org.name}. Your roles: admin and viewer.`);
    expect(done.html).toContain('href="/account?locale=en#organizations"');
    expect(await rolesIn(invitee, org.id)).toEqual(["admin", "viewer"]);
    expect(await invitationStatus(invitation.id)).toBe("accepted");
  });

  it("signed out: links to /login with next (and to /signup); signing in with that next lands back on the invitation", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const invitee = await member({ email: uniqueEmail("invitee") });
    const { invitation, token } = await inviteAndReadToken(owner, org.id, invitee.user.email);
    const browser = new PageBrowser();
    const page = await browser.get(acceptPath(token));
    expect(page.status).toBe(200);
    expect(textOf(page.html)).toContain("sign in (or create an account) with the email address the invitation was sent to");
    const signInHref = /<a class="button block" id="invitation-sign-in" href="([^"]+)"/.exec(page.html)![1].replace(/&amp;/g, "&");
    expect(signInHref.startsWith("/login?")).toBe(true);
    expect(new URLSearchParams(signInHref.slice("/login?".length)).get("next")).toBe(acceptPath(token));
    expect(page.html).toMatch(/href="\/signup\?[^"]*next=/);

    // The login page carries next in its form; the sign-in's 303 comes back here (with the locale).
    const login = await browser.get(signInHref);
    expect(login.html).toContain(`next=${encodeURIComponent(acceptPath(token))}`);
    const signedIn = await signIn(browser, invitee.user.email, signInHref.slice("/login".length));
    expect(signedIn.location).toBe(`${acceptPath(token)}&locale=en`);
    const back = await browser.get(signedIn.location!);
    expect(back.status).toBe(200);
    expect(textOf(back.html)).toContain(`Signed in as ${invitee.user.email}`);
    expect(await invitationStatus(invitation.id)).toBe("pending");

    // A POST without a session goes to sign in (with next), consuming nothing.
    const anonymous = new PageBrowser();
    await anonymous.get(acceptPath(token));
    const refused = await anonymous.post("/invitations/accept", { token });
    expect(refused.status).toBe(303);
    expect(refused.location).toMatch(/^\/login\?/);
    expect(new URLSearchParams(refused.location!.split("?")[1]).get("next")).toBe(acceptPath(token));
    expect(await invitationStatus(invitation.id)).toBe("pending");
  });

  it("a wrong login keeps next through the error and the retry", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const invitee = await member({ email: uniqueEmail("invitee") });
    const { token } = await inviteAndReadToken(owner, org.id, invitee.user.email);
    const browser = new PageBrowser();
    await browser.get(`/login${nextQuery(token)}`);
    const wrong = await browser.post(`/login${nextQuery(token)}`, { email: invitee.user.email, password: "not-the-password-1" }, { "cf-connecting-ip": "203.0.113.7" });
    expect(wrong.status).toBe(401);
    const action = /<form method="post" action="([^"]+)" id="password-form"/.exec(wrong.html)![1].replace(/&amp;/g, "&");
    const right = await browser.post(action, { email: invitee.user.email, password: GOOD_PASSWORD }, { "cf-connecting-ip": "203.0.113.7" });
    expect(right.status).toBe(303);
    expect(right.location).toBe(`${acceptPath(token)}&locale=en`);
  });

  it("next survives the second step: the MFA form carries it and its 303 comes back to the invitation", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const invitee = await createMfaUser({ email: uniqueEmail("mfa-invitee") });
    const { invitation, token } = await inviteAndReadToken(owner, org.id, invitee.email, ["viewer"]);
    const browser = new PageBrowser();
    const query = `${nextQuery(token)}&locale=en`;
    await browser.get(`/login${query}`);
    const step = await browser.post(`/login${query}`, { email: invitee.email, password: GOOD_PASSWORD }, { "cf-connecting-ip": "203.0.113.9" });
    expect(step.status).toBe(200);
    const action = /<form method="post" action="([^"]+)" id="mfa-form"/.exec(step.html)![1].replace(/&amp;/g, "&");
    expect(new URLSearchParams(action.split("?")[1]).get("next")).toBe(acceptPath(token));
    const done = await browser.post(action, { mfa_token: /name="mfa_token" value="([^"]+)"/.exec(step.html)![1], recovery: invitee.recoveryCodes[0] });
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${acceptPath(token)}&locale=en`);
    await browser.get(done.location!);
    const accepted = await browser.post("/invitations/accept", { token });
    expect(accepted.status).toBe(200);
    expect(textOf(accepted.html)).toContain(`You joined ${org.name}. Your roles: viewer.`);
    expect(await invitationStatus(invitation.id)).toBe("accepted");
  });

  it("decline: the page says so, no membership, and the token is spent", async () => {
    const { org, invitee, invitation, token, browser } = await invited();
    await browser.get(acceptPath(token));
    const done = await browser.post("/invitations/decline", { token });
    expect(done.status).toBe(200);
    expect(textOf(done.html)).toContain(`You declined the invitation to join ${org.name}.`);
    expect(done.html).toContain(`href="/invitations/accept?locale=fr&amp;token=${token}"`);
    const french = await browser.get(`${acceptPath(token)}&locale=fr`);
    expect(textOf(french.html)).toContain(`Connecté en tant que ${invitee.user.email}`);
    expect(await rolesIn(invitee, org.id)).toBeNull();
    expect(await invitationStatus(invitation.id)).toBe("declined");
    const again = await browser.post("/invitations/accept", { token });
    expect(again.status).toBe(409);
  });

  it("another account: 403 with the message and a sign-out that comes back; no membership, still pending", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const { invitation, token } = await inviteAndReadToken(owner, org.id, uniqueEmail("someone"));
    const other = await member();
    const browser = new PageBrowser();
    await signIn(browser, other.user.email);
    await browser.get(acceptPath(token));
    for (const path of ["/invitations/accept", "/invitations/decline"]) {
      const res = await browser.post(path, { token });
      expect(res.status).toBe(403);
      expect(textOf(res.html)).toContain("This invitation was sent to another email address. Sign out and sign in with that address.");
      expect(res.html).toMatch(/action="\/logout\?[^"]*next=/);
    }
    expect(await rolesIn(other, org.id)).toBeNull();
    expect(await invitationStatus(invitation.id)).toBe("pending");
    // Signing out from there returns to sign-in with next kept.
    const out = await browser.post(`/logout?${new URLSearchParams({ locale: "en", next: acceptPath(token) })}`);
    expect(out.status).toBe(303);
    expect(new URLSearchParams(out.location!.split("?")[1]).get("next")).toBe(acceptPath(token));
  });

  it("accepted twice: 409 already used; the membership stays as it was", async () => {
    const { org, invitee, token, browser } = await invited(["viewer"]);
    await browser.get(acceptPath(token));
    expect((await browser.post("/invitations/accept", { token })).status).toBe(200);
    const again = await browser.post("/invitations/accept", { token });
    expect(again.status).toBe(409);
    expect(textOf(again.html)).toContain("This invitation has already been used.");
    expect(await rolesIn(invitee, org.id)).toEqual(["viewer"]);
  });

  it("expired: 410; revoked: 410; unknown: 404; no membership", async () => {
    const expired = await invited();
    await deps().db.execute(sql`update organization_invitations set expires_at = now() - interval '1 minute' where id = ${expired.invitation.id}::uuid`);
    await expired.browser.get(acceptPath(expired.token));
    const res = await expired.browser.post("/invitations/accept", { token: expired.token });
    expect(res.status).toBe(410);
    expect(textOf(res.html)).toContain("This invitation has expired.");
    expect(await rolesIn(expired.invitee, expired.org.id)).toBeNull();

    const revoked = await invited();
    const r = await call(`/auth/organizations/${revoked.org.id}/invitations/${revoked.invitation.id}/revoke`, { method: "POST", headers: revoked.owner.headers });
    expect(r.status).toBe(200);
    await revoked.browser.get(acceptPath(revoked.token));
    const res2 = await revoked.browser.post("/invitations/accept", { token: revoked.token });
    expect(res2.status).toBe(410);
    expect(textOf(res2.html)).toContain("This invitation was withdrawn");
    expect(await rolesIn(revoked.invitee, revoked.org.id)).toBeNull();

    const unknown = await revoked.browser.post("/invitations/accept", { token: "A".repeat(43) });
    expect(unknown.status).toBe(404);
    expect(textOf(unknown.html)).toContain("This invitation does not exist.");
  });

  it("a missing or malformed token is a 400 page (GET and POST)", async () => {
    const browser = new PageBrowser();
    for (const path of ["/invitations/accept", "/invitations/accept?token=", "/invitations/accept?token=not%20a%20token"]) {
      const res = await browser.get(path);
      expect(res.status).toBe(400);
      expect(textOf(res.html)).toContain("This invitation link is incomplete.");
    }
    const u = await createUser();
    await signIn(browser, u.email);
    await browser.get("/account");
    expect((await browser.post("/invitations/accept", { token: "<bad>" })).status).toBe(400);
  });

  it("refuses a wrong CSRF token and a foreign Origin (403), consuming nothing", async () => {
    const { org, invitee, invitation, token, browser } = await invited();
    await browser.get(acceptPath(token));
    const badCsrf = await browser.post("/invitations/accept", { token, _csrf: "forged" });
    expect(badCsrf.status).toBe(403);
    await browser.get(acceptPath(token));
    const foreign = await browser.post("/invitations/accept", { token }, { origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    await browser.get(acceptPath(token));
    expect((await browser.post("/invitations/decline", { token }, { origin: "https://evil.example" })).status).toBe(403);
    expect(await rolesIn(invitee, org.id)).toBeNull();
    expect(await invitationStatus(invitation.id)).toBe("pending");
  });

  it("ignores an unsafe next: sign-in lands on /account", async () => {
    for (const next of ["//evil.example/", "https://evil.example/", "/\\evil", "/account/../login", "/accountevil", "/invitations/accept?token=x//y"]) {
      const u = await createUser();
      const browser = new PageBrowser();
      const login = await browser.get(`/login?next=${encodeURIComponent(next)}`);
      expect(login.html).not.toContain("next=");
      const res = await signIn(browser, u.email, `?next=${encodeURIComponent(next)}`);
      expect(res.location).toBe("/account?locale=en");
    }
    // A safe one is kept.
    const u = await createUser();
    const browser = new PageBrowser();
    const res = await signIn(browser, u.email, `?next=${encodeURIComponent("/account#organizations")}`);
    expect(res.location).toBe("/account?locale=en#organizations");
  });
});
