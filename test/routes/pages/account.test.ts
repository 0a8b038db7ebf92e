// The account page's rules over HTTP (test/helpers/pages.ts): connected identities (connect through
// the fake provider and back to the page, disconnect, the last sign-in method, a provider's
// refusal), passkey rename, and step-up: the actions the JSON API guards with a step-up (change
// password, add or remove a passkey, a new API key in the portal) ask for the same proof on the
// pages, and go through once it is given.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { seal } from "../../../src/crypto/secret-box";
import { createApplication } from "../../helpers/applications";
import { BASE, call, json } from "../../helpers/http";
import { PageBrowser, textOf } from "../../helpers/pages";
import { createUser, deps, GOOD_PASSWORD } from "../../helpers/users";
import { code, freshStep } from "../mfa/support";
import { as, atProvider, callback, person } from "../social/support";

const SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const NEW_PASSWORD = "violet-Harbor-93-quill";

function sessionOf(b: PageBrowser): string {
  const access = b.cookie("pages_access")!;
  return JSON.parse(atob(access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sid;
}

/** A signed-in page browser of a new user; `totp`: the user has TOTP on and signed in 10 minutes ago. */
async function signedIn(opts: { totp?: boolean; globalRole?: "PLATFORM_ADMIN" } = {}) {
  const user = await createUser(opts.globalRole ? { globalRole: opts.globalRole } : {});
  const b = new PageBrowser();
  await b.signIn(user.email, GOOD_PASSWORD);
  if (opts.totp) {
    const d = deps();
    const sealed = await seal(d.config.mfa.encryptionKey, SECRET, `totp:${user.id}`);
    await d.db.execute(sql`insert into mfa_totp (user_id, secret_ciphertext, key_id, enabled_at) values (${user.id}::uuid, ${sealed.ciphertext}, ${sealed.keyId}, now())`);
    await d.db.execute(sql`update sessions set auth_time = now() - interval '10 minutes' where id = ${sessionOf(b)}::uuid`);
  }
  return { user, b };
}

async function addPasskey(userId: string, name: string | null = "Laptop"): Promise<string> {
  const rows = await deps().db.execute<{ id: string }>(
    sql`insert into passkeys (user_id, credential_id, public_key, rp_id, name) values (${userId}::uuid, ${crypto.randomUUID()}, 'pk', 'auth.test', ${name}) returning id`,
  );
  return (rows as unknown as { rows?: { id: string }[] }).rows?.[0]?.id ?? (rows as unknown as { id: string }[])[0].id;
}

async function passkeyNames(userId: string): Promise<(string | null)[]> {
  const rows = await deps().db.execute<{ name: string | null }>(sql`select name from passkeys where user_id = ${userId}::uuid order by created_at`);
  return ((rows as unknown as { rows?: { name: string | null }[] }).rows ?? (rows as unknown as { name: string | null }[])).map((r) => r.name);
}

/** The provider URL of the continue page a link form answers with. */
function continueUrl(html: string): URL {
  const m = /<a class="button block" href="([^"]+)"/.exec(html);
  expect(m, html.slice(0, 400)).not.toBeNull();
  return new URL(m![1].replace(/&amp;/g, "&"));
}

/** Connects `provider` as `who` from the account page: the link form, the fake provider, the callback; returns where the browser lands. */
async function connect(b: PageBrowser, who: { sub: string; email: string }): Promise<string> {
  await b.get("/account");
  const started = await b.post("/account/identities/google/link");
  expect(started.status, textOf(started.html)).toBe(200);
  const step = await atProvider(continueUrl(started.html), as("google", who));
  const back = await callback(step);
  expect(back.status).toBe(302);
  const location = back.headers.get("location")!;
  expect(location.startsWith(`${BASE}/account?`)).toBe(true);
  return location.slice(BASE.length);
}

describe("/account: connected identities", () => {
  it("connects a provider from the account page, returns to it, lists it, and disconnects it", async () => {
    const { user, b } = await signedIn();
    const landed = await connect(b, person("link"));
    expect(new URLSearchParams(landed.split("?")[1]).get("linked")).toBe("google");
    const page = await b.get(landed);
    expect(textOf(page.html)).toContain("Google is connected");
    const id = /data-identity="([0-9a-f-]{36})"/.exec(page.html)?.[1];
    expect(id).toBeTruthy();
    expect(page.html).not.toContain("Connect Google");

    const unlinked = await b.post(`/account/identities/${id}/unlink`);
    expect(unlinked.status).toBe(303);
    const after = await b.get(unlinked.location!);
    expect(textOf(after.html)).toContain("The account is disconnected.");
    expect(after.html).not.toContain(`data-identity="${id}"`);
    const left = await deps().db.execute(sql`select count(*)::int as n from user_identities where user_id = ${user.id}::uuid`);
    expect(((left as unknown as { rows?: { n: number }[] }).rows ?? (left as unknown as { n: number }[]))[0].n).toBe(0);
  });

  it("refuses to disconnect the last way to sign in, and says why on the page (409)", async () => {
    const { user, b } = await signedIn();
    await b.get(await connect(b, person("last")));
    await deps().db.execute(sql`update users set password_hash = null where id = ${user.id}::uuid`);
    const page = await b.get("/account");
    const id = /data-identity="([0-9a-f-]{36})"/.exec(page.html)![1];
    const refused = await b.post(`/account/identities/${id}/unlink`);
    expect(refused.status).toBe(409);
    expect(textOf(refused.html)).toContain("This is your last way to sign in.");
    expect(refused.html).toContain(`data-identity="${id}"`);
  });

  it("a provider account linked to someone else comes back as an error on the page, and links nothing", async () => {
    const who = person("taken");
    const first = await signedIn();
    await first.b.get(await connect(first.b, who));
    const second = await signedIn();
    const landed = await connect(second.b, who);
    expect(new URLSearchParams(landed.split("?")[1]).get("error")).toBe("identity_in_use");
    const page = await second.b.get(landed);
    expect(textOf(page.html)).toContain("already connected to another user");
    expect(page.html).not.toContain("data-identity=");
  });

  it("a link started by a session that was signed out meanwhile links nothing", async () => {
    const { b } = await signedIn();
    await b.get("/account");
    const started = await b.post("/account/identities/google/link");
    const step = await atProvider(continueUrl(started.html), as("google", person("ended")));
    await b.post("/account/sessions/revoke-all");
    const back = await callback(step);
    expect(new URL(back.headers.get("location")!).searchParams.get("error")).toBe("session_ended");
  });
});

describe("/account: passkeys", () => {
  it("renames a passkey, and refuses an empty or too long name with the error at its field", async () => {
    const { user, b } = await signedIn();
    const id = await addPasskey(user.id);
    await b.get("/account");
    const renamed = await b.post(`/account/passkeys/${id}/rename`, { name: "  Work phone " });
    expect(renamed.status).toBe(303);
    expect(textOf((await b.get(renamed.location!)).html)).toContain("Passkey renamed.");
    expect(await passkeyNames(user.id)).toEqual(["Work phone"]);
    for (const name of ["   ", "x".repeat(101)]) {
      const refused = await b.post(`/account/passkeys/${id}/rename`, { name });
      expect(refused.status).toBe(400);
      expect(refused.html).toContain(`aria-describedby="passkey-name-${id}-error"`);
      expect(textOf(refused.html)).toContain("Enter a name of 1 to 100 characters.");
    }
    expect(await passkeyNames(user.id)).toEqual(["Work phone"]);
  });
});

describe("step-up on the pages", () => {
  it("changing the password asks a TOTP user to confirm first, refuses a wrong code, then goes through", async () => {
    const { user, b } = await signedIn({ totp: true });
    await b.get("/account");
    const asked = await b.post("/account/password", { currentPassword: GOOD_PASSWORD, newPassword: NEW_PASSWORD }, { referer: `${BASE}/account?locale=en` });
    expect(asked.status).toBe(303);
    expect(asked.location).toMatch(/^\/account\/step-up\?/);
    expect(new URLSearchParams(asked.location!.split("?")[1]).get("back")).toBe("/account?locale=en");
    // Nothing changed: the old password is still the one (the sign-in goes on to the second step).
    const still = await call("/auth/login", { json: { email: user.email, password: GOOD_PASSWORD } });
    expect((await json(still)).data.mfaRequired).toBe(true);

    const form = await b.get(asked.location!);
    expect(form.status).toBe(200);
    expect(form.html).toContain('id="step-up-form"');
    const step = await freshStep();
    const wrong = await b.post(asked.location!, { code: String((Number(await code(SECRET, step)) + 1) % 1_000_000).padStart(6, "0") });
    expect(wrong.status).toBe(400);
    expect(textOf(wrong.html)).toContain("This code is not valid.");
    expect(b.cookie("pages_step_up")).toBeUndefined();

    const ok = await b.post(asked.location!, { code: await code(SECRET, step) });
    expect(ok.status).toBe(303);
    expect(ok.location).toBe("/account?locale=en&notice=stepped_up");
    expect(b.cookie("pages_step_up")).toBeTruthy();
    await b.get(ok.location!);
    const changed = await b.post("/account/password", { currentPassword: GOOD_PASSWORD, newPassword: NEW_PASSWORD });
    expect(changed.status).toBe(200);
    expect(textOf(changed.html)).toContain("Your password has been changed");
  });

  it("a user without a second factor changes the password without a step-up", async () => {
    const { b } = await signedIn();
    await b.get("/account");
    const changed = await b.post("/account/password", { currentPassword: GOOD_PASSWORD, newPassword: NEW_PASSWORD });
    expect(changed.status).toBe(200);
  });

  it("removing a passkey and asking to add one need the proof; the password proves it too", async () => {
    const { user, b } = await signedIn({ totp: true });
    const id = await addPasskey(user.id);
    await b.get("/account");
    const options = await b.post("/account/passkeys/options", {}, { accept: "application/json" });
    expect(options.status).toBe(403);
    expect(JSON.parse(options.html).error.code).toBe("step_up_required");
    const asked = await b.post(`/account/passkeys/${id}/remove`);
    expect(asked.status).toBe(303);
    expect(asked.location).toMatch(/^\/account\/step-up\?/);
    expect(await passkeyNames(user.id)).toEqual(["Laptop"]);

    await b.get(asked.location!);
    const badPassword = await b.post(asked.location!, { password: "not the password" });
    expect(badPassword.status).toBe(400);
    expect(textOf(badPassword.html)).toContain("This password is not correct.");
    expect((await b.post(asked.location!, { password: GOOD_PASSWORD })).status).toBe(303);
    await b.get("/account");
    const removed = await b.post(`/account/passkeys/${id}/remove`);
    expect(removed.status).toBe(303);
    expect(removed.location).toContain("notice=passkey_removed");
    expect(await passkeyNames(user.id)).toEqual([]);
  });

  it("the proof is this session's: another session of the same user is still asked", async () => {
    const { user, b } = await signedIn({ totp: true });
    await b.get("/account/step-up");
    expect((await b.post("/account/step-up", { password: GOOD_PASSWORD })).status).toBe(303);
    // Another session of the same user (signed in 10 minutes ago too) with this session's step-up cookie copied over: still asked.
    const other = new PageBrowser();
    await other.get("/login");
    await other.setCookie("pages_step_up", b.cookie("pages_step_up")!);
    const tokens = await json(await call("/auth/mfa/verify", { json: { mfaToken: (await json(await call("/auth/login", { json: { email: user.email, password: GOOD_PASSWORD } }))).data.mfaToken, factor: "totp", code: await code(SECRET, (await freshStep()) + 1) } }));
    expect(tokens.data.accessToken).toBeTruthy();
    const sid = JSON.parse(atob(tokens.data.accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sid;
    await deps().db.execute(sql`update sessions set auth_time = now() - interval '10 minutes' where id = ${sid}::uuid`);
    const platform = /^([0-9a-f-]{36})~/.exec(b.cookie("pages_session")!)![1];
    other.setCookie("pages_session", `${platform}~${tokens.data.refreshToken}`);
    other.setCookie("pages_access", tokens.data.accessToken);
    await other.get("/account");
    const asked = await other.post("/account/password", { currentPassword: GOOD_PASSWORD, newPassword: NEW_PASSWORD });
    expect(asked.status).toBe(303);
    expect(asked.location).toMatch(/^\/account\/step-up\?/);
  });

  it("the step-up page returns only to this site's account and portal pages", async () => {
    const { b } = await signedIn();
    for (const back of ["https://evil.example/account", "//evil.example/account", "/login", "/account/../login", "/portal?x=<script>"]) {
      await b.get(`/account/step-up?back=${encodeURIComponent(back)}`);
      const done = await b.post(`/account/step-up?back=${encodeURIComponent(back)}`, { password: GOOD_PASSWORD });
      expect(done.status, back).toBe(303);
      expect(done.location, back).toBe("/account?notice=stepped_up");
    }
    const anon = await new PageBrowser().get("/account/step-up");
    expect(anon.status).toBe(303);
    expect(anon.location).toMatch(/^\/login\?/);
  });

  it("portal: a new API key needs the proof from a staff member with TOTP, then is shown once", async () => {
    const app = await createApplication({ type: "web" });
    const { b } = await signedIn({ totp: true, globalRole: "PLATFORM_ADMIN" });
    const page = `/portal/applications/${app.id}`;
    expect((await b.get(page)).status).toBe(200);
    const asked = await b.post(`${page}/api-keys`, { name: "ci" }, { referer: `${BASE}${page}` });
    expect(asked.status).toBe(303);
    expect(new URLSearchParams(asked.location!.split("?")[1]).get("back")).toBe(page);
    const keys = async () => {
      const rows = await deps().db.execute(sql`select count(*)::int as n from application_api_keys where application_id = ${app.id}::uuid`);
      return ((rows as unknown as { rows?: { n: number }[] }).rows ?? (rows as unknown as { n: number }[]))[0].n;
    };
    const before = await keys();
    await b.get(asked.location!);
    const step = await freshStep();
    const ok = await b.post(asked.location!, { code: await code(SECRET, step) });
    expect(ok.location).toBe(`${page}?notice=stepped_up`);
    await b.get(ok.location!);
    const created = await b.post(`${page}/api-keys`, { name: "ci" });
    expect(created.status).toBe(201);
    expect(await keys()).toBe(before + 1);
  });
});

describe("branding", () => {
  const PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

  it("shows an application's data: logo on its pages, never an https one (nothing fetched from another site)", async () => {
    const withData = await createApplication({ type: "web", settings: { branding: { displayName: "Logo Co", logoDataUrl: PNG, logoUrl: "https://cdn.example/logo.png" } } });
    const page = await new PageBrowser().get(`/login?client_id=${withData.id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain(`<img class="logo" src="${PNG}"`);
    expect(page.html).not.toContain("cdn.example");
    const httpsOnly = await createApplication({ type: "web", settings: { branding: { logoUrl: "https://cdn.example/logo.png" } } });
    const plain = await new PageBrowser().get(`/login?client_id=${httpsOnly.id}`);
    expect(plain.html).not.toContain("<img");
  });

  it("refuses a logo data: URL that is not a base64 image, or too large (400 naming the field)", async () => {
    const { adminAuth } = await import("../../helpers/applications");
    const headers = await adminAuth();
    const big = "data:image/png;base64," + "A".repeat(12_000);
    for (const logoDataUrl of ["data:text/html;base64,PGgxPg==", "data:image/svg+xml,<svg onload=alert(1)>", "https://cdn.example/logo.png", big]) {
      const res = await call("/internal/applications", { json: { name: "Bad logo", slug: `bad-logo-${crypto.randomUUID().slice(0, 8)}`, type: "web", settings: { branding: { logoDataUrl } } }, headers });
      expect(res.status, logoDataUrl.slice(0, 40)).toBe(400);
      expect(JSON.stringify(await json(res))).toContain("logoDataUrl");
    }
  });
});
