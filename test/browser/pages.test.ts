// The hosted pages in a real browser: Debian's Chromium (playwright-core, never a downloaded
// browser) against the Worker under `wrangler dev` and the embedded stack, walking each page as a
// person would, at a desktop (1280x800) and a phone (360x740) viewport, with axe-core run on every
// page (zero violations), no CSP violation and no script error, and screenshots kept under
// $BROWSER_SCREENSHOT_DIR (default: <tmp>/edge-auth-browser)/pages/.
//
// Flows: sign up -> verify the email from the development outbox -> staff approval through the
// internal API -> sign in with password; reset a password; sign out a session from the account page;
// sign in through an application with a registered redirect URI (one-time code, exchanged once);
// TOTP set up on the account page and sign-in with password + TOTP (codes computed here); an
// organization invitation opened from its email, signed in through ?next= and accepted. Refused:
// a wrong CSRF token, a foreign Origin, an unregistered redirect URI.
// Setup, skipping without Chromium and the shared checks: ./support.ts.
import { createHmac, generateKeyPairSync } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { LocalStack } from "../../scripts/local-stack/index.ts";
import { argon2ParamsFromEnv, hashPasswordPhc, insertApprovedUser, sqlEndpointQuery } from "../../scripts/seed-users.ts";
import {
  ARGON2,
  axeViolations,
  browserTestsEnabled,
  cspViolations,
  onlyOrigins,
  PASSWORD,
  RECORD_CSP_VIOLATIONS,
  SCREENSHOTS,
  startBrowserWorker,
  VIEWPORTS,
  watchForProblems,
  type BrowserWorker,
  type ViewportName,
} from "./support.ts";

const SHOTS = join(SCREENSHOTS, "pages");
const CALLBACK = "http://127.0.0.1:9/callback";

// ---- TOTP (RFC 6238, SHA-1, 6 digits, 30 s), computed here -------------------------------------
function base32Decode(s: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of s.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}
function totp(secret: string, at = Date.now()): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const h = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

describe.runIf(browserTestsEnabled)("hosted pages in Chromium", () => {
  let env: BrowserWorker;
  let stack: LocalStack;
  let browser: Browser;
  let origin: string;
  let adminToken: string;
  let app: { id: string; apiKey: string };
  const problems: string[] = [];
  const axeChecked = new Set<string>();

  // ---- the Worker's side doors: outbox, internal API --------------------------------------------
  async function redis(command: string[]): Promise<unknown> {
    const res = await fetch(stack.workerVars.UPSTASH_REDIS_REST_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.workerVars.UPSTASH_REDIS_REST_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(command),
    });
    return ((await res.json()) as { result: unknown }).result;
  }
  /** The newest outbox message of `kind` to `to` (waits for deferred sends). */
  async function mail(to: string, kind: string): Promise<{ text: string; html: string }> {
    for (let i = 0; i < 50; i++) {
      const all = ((await redis(["ZRANGE", "dev:outbox", "0", "-1"])) as string[]).map((m) => JSON.parse(m) as { to: string; kind: string; text: string; html: string });
      const found = all.filter((m) => m.to.toLowerCase() === to.toLowerCase() && m.kind === kind).at(-1);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no ${kind} mail to ${to}`);
  }
  async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
    const res = await fetch(origin + path, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), authorization: `Bearer ${adminToken}`, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json().catch(() => null) };
  }
  let seq = 0;
  const uniqueEmail = (tag: string) => `${tag}-${Date.now().toString(36)}-${++seq}@pages.test`;
  async function approvedUser(tag: string): Promise<string> {
    const email = uniqueEmail(tag);
    const hash = await hashPasswordPhc(PASSWORD, argon2ParamsFromEnv(ARGON2));
    await insertApprovedUser(sqlEndpointQuery(stack.sql.url), { email, passwordHash: hash, fullName: `Test ${tag}`, globalRole: "NONE", createdBy: { actorLabel: "test", via: "pages.test" } });
    return email;
  }

  // ---- the browser -----------------------------------------------------------------------------
  async function newContext(viewport: ViewportName, locale = "en-GB"): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: VIEWPORTS[viewport], locale, serviceWorkers: "block" });
    await onlyOrigins(
      context,
      [origin, localOrigin()],
      (url) => problems.push(`request to another origin: ${url}`),
      // The registered redirect URI of the test application: answer it here.
      (url) => (url.origin === new URL(CALLBACK).origin ? { status: 200, contentType: "text/html", body: "<!doctype html><title>callback</title><p>back at the application</p>" } : undefined),
    );
    await context.addInitScript(RECORD_CSP_VIOLATIONS);
    context.on("page", (page) => watch(page));
    return context;
  }
  /** The Worker as http://localhost:<port>: an IP address cannot be a WebAuthn relying party id. */
  const localOrigin = () => env.localhostOrigin;
  let lastPage: Page | null = null;
  function watch(page: Page): void {
    lastPage = page;
    watchForProblems(page, problems);
  }
  /** axe-core on the page as it is (injected through the DevTools protocol: the page's CSP is untouched), plus its CSP reports. */
  async function check(page: Page, name: string, viewport: ViewportName): Promise<void> {
    expect(await axeViolations(page), `axe on ${name} (${viewport})`).toEqual([]);
    expect(await cspViolations(page), `CSP violations on ${name}`).toEqual([]);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `${name}-${viewport}.png`), fullPage: true });
    axeChecked.add(`${name}-${viewport}`);
  }
  async function signIn(page: Page, email: string, password = PASSWORD, query = ""): Promise<void> {
    await page.goto(`${origin}/login${query}`);
    await page.getByLabel("Email address", { exact: true }).fill(email);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
  }

  beforeAll(async () => {
    env = await startBrowserWorker("pages", {
      PUBLIC_REGISTRATION_ENABLED: "true",
      EMAIL_ENABLED: "true",
      // A fixed signing key: an ephemeral one would differ between the Worker's isolates (and
      // with it the refresh and CSRF keys derived from it).
      JWT_SIGNING_KEY_PEM: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      JWT_KID: "pages-test",
      ...ARGON2,
    });
    ({ stack, browser, origin } = env);
    // A platform administrator (for approvals and the test application).
    const adminEmail = uniqueEmail("admin");
    await insertApprovedUser(sqlEndpointQuery(stack.sql.url), {
      email: adminEmail,
      passwordHash: await hashPasswordPhc(PASSWORD, argon2ParamsFromEnv(ARGON2)),
      globalRole: "PLATFORM_SUPERADMIN",
      createdBy: { actorLabel: "test", via: "pages.test" },
    });
    const login = await fetch(`${origin}/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: adminEmail, password: PASSWORD }) });
    adminToken = ((await login.json()) as { data: { accessToken: string } }).data.accessToken;
    const created = await api("POST", "/internal/applications", {
      name: "Acme Books",
      slug: `acme-${Date.now().toString(36)}`,
      type: "web",
      redirectUris: [CALLBACK],
      allowedOrigins: [],
      settings: { branding: { displayName: "Acme Books", primaryColor: "#0f766e" } },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const key = await api("POST", `/internal/applications/${created.json.data.id}/api-keys`, {});
    expect(key.status).toBe(201);
    app = { id: created.json.data.id, apiKey: key.json.data.key };
  }, 240_000);

  afterAll(async () => {
    await env?.stop();
    console.log(`hosted pages: axe-core clean on ${axeChecked.size} page views; screenshots in ${SHOTS}`);
  }, 60_000);

  afterEach(async (ctx) => {
    // A failed step: say which page the browser was on and what it showed.
    if (ctx.task.result?.state === "fail" && lastPage && !lastPage.isClosed()) {
      const text = await lastPage.locator("main").innerText().catch(() => "(no main)");
      console.log(`failed on ${lastPage.url()}:\n${text.slice(0, 2000)}`);
    }
  });

  for (const viewport of ["desktop", "phone"] as const) {
    it(`sign up, verify the email, staff approval, sign in (${viewport})`, { timeout: 120_000 }, async () => {
      const context = await newContext(viewport);
      const page = await context.newPage();
      const email = uniqueEmail(`signup-${viewport}`);
      await page.goto(`${origin}/login`);
      await check(page, "login", viewport);
      await page.getByRole("link", { name: "Create one" }).click();
      await expect.poll(() => new URL(page.url()).pathname).toBe("/signup");
      // A weak password: the error is tied to its field.
      await page.getByLabel("Full name (optional)").fill("Ada Lovelace");
      await page.getByLabel("Email address", { exact: true }).fill(email);
      await page.getByLabel("Password", { exact: true }).fill("short");
      await page.getByRole("button", { name: "Create account" }).click();
      const password = page.getByLabel("Password", { exact: true });
      await expect.poll(() => password.getAttribute("aria-invalid")).toBe("true");
      expect(await password.getAttribute("aria-describedby")).toContain("password-error");
      await check(page, "signup-error", viewport);
      await password.fill(PASSWORD);
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByRole("heading", { name: "Check your email" }).waitFor();
      await check(page, "signup-done", viewport);

      // The verification link from the outbox, opened in the browser.
      const verification = await mail(email, "email_verification");
      const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(verification.text)![1];
      await page.goto(`${origin}/verify-email?token=${token}`);
      await check(page, "verify-email", viewport);
      await page.getByRole("button", { name: "Verify my email" }).click();
      await page.getByText("your email address is verified").waitFor();
      await check(page, "verify-email-done", viewport);

      // Pending until staff approve.
      await signIn(page, email);
      await page.getByText("waiting for approval").first().waitFor();
      const users = await api("GET", `/internal/users?q=${encodeURIComponent(email)}`);
      expect(users.status, JSON.stringify(users.json)).toBe(200);
      const id = users.json.data.users[0].id;
      const approved = await api("PATCH", `/internal/users/${id}`, { approvalStatus: "APPROVED", isActive: true });
      expect(approved.status, JSON.stringify(approved.json)).toBe(200);

      await signIn(page, email);
      await page.getByRole("heading", { name: "Your account" }).waitFor();
      expect(await page.locator("#email-status").innerText()).toBe("Verified");
      await check(page, "account", viewport);
      await context.close();
    });
  }

  it("resets a password from the emailed link", { timeout: 90_000 }, async () => {
    const email = await approvedUser("reset");
    const context = await newContext("phone");
    const page = await context.newPage();
    await page.goto(`${origin}/login`);
    await page.getByRole("link", { name: "Forgot your password?" }).click();
    await check(page, "forgot-password", "phone");
    await page.getByLabel("Email address", { exact: true }).fill(email);
    await page.getByRole("button", { name: "Send the reset link" }).click();
    await page.getByText("If an account exists for this address").waitFor();
    const reset = await mail(email, "password_reset");
    const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(reset.text)![1];
    await page.goto(`${origin}/reset-password?token=${token}`);
    await check(page, "reset-password", "phone");
    await page.getByRole("textbox", { name: "New password" }).fill("a brand new passphrase 2");
    await page.getByRole("button", { name: "Change the password" }).click();
    await page.getByText("Your password has been changed").waitFor();
    // The old password no longer works; the new one does.
    await signIn(page, email);
    await page.getByText("The email address or password is not correct.").first().waitFor();
    await check(page, "login-error", "phone");
    await signIn(page, email, "a brand new passphrase 2");
    await page.getByRole("heading", { name: "Your account" }).waitFor();
    // The link is single-use.
    await page.goto(`${origin}/reset-password?token=${token}`);
    await page.getByRole("textbox", { name: "New password" }).fill("yet another passphrase 3");
    await page.getByRole("button", { name: "Change the password" }).click();
    await page.getByText("This reset link is invalid").waitFor();
    await context.close();
  });

  it("signs out another session from the account page", { timeout: 90_000 }, async () => {
    const email = await approvedUser("sessions");
    const laptop = await newContext("desktop");
    const phone = await newContext("phone");
    const a = await laptop.newPage();
    const b = await phone.newPage();
    await signIn(a, email);
    await a.getByRole("heading", { name: "Your account" }).waitFor();
    await signIn(b, email);
    await b.getByRole("heading", { name: "Your account" }).waitFor();
    await a.reload();
    const items = a.locator("#sessions li");
    expect(await items.count()).toBe(2);
    // The other session (not marked "This session"), signed out with the keyboard.
    const other = items.filter({ hasNot: a.getByText("This session") });
    await other.getByRole("button").focus();
    await a.keyboard.press("Enter");
    await a.getByText("The session has been signed out.").waitFor();
    expect(await a.locator("#sessions li").count()).toBe(1);
    await check(a, "account-sessions", "desktop");
    // The phone's session is over: its next page asks it to sign in.
    await b.goto(`${origin}/account`);
    await expect.poll(() => new URL(b.url()).pathname).toBe("/login");
    await laptop.close();
    await phone.close();
  });

  it("signs in for an application: its brand, a one-time code to its registered redirect URI, exchanged once", { timeout: 90_000 }, async () => {
    const email = await approvedUser("redirect");
    const context = await newContext("desktop", "fr-FR");
    const page = await context.newPage();
    const query = `?client_id=${app.id}&redirect_uri=${encodeURIComponent(CALLBACK)}`;
    await page.goto(`${origin}/login${query}`);
    // French from Accept-Language, the application's name and colour.
    expect(await page.locator("html").getAttribute("lang")).toBe("fr");
    await page.getByRole("heading", { name: "Se connecter à Acme Books" }).waitFor();
    expect(await page.evaluate(`getComputedStyle(document.documentElement).getPropertyValue("--brand").trim()`)).toBe("#0f766e");
    await check(page, "login-app-fr", "desktop");
    await page.getByLabel("Adresse e-mail", { exact: true }).fill(email);
    await page.getByLabel("Mot de passe", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Se connecter", exact: true }).click();
    await expect.poll(() => page.url()).toContain(`${CALLBACK}?code=`);
    const code = new URL(page.url()).searchParams.get("code")!;
    expect(page.url()).not.toMatch(/token/i);
    const exchange = () =>
      fetch(`${origin}/auth/redirect/exchange`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": app.apiKey }, body: JSON.stringify({ code, redirectUri: CALLBACK }) });
    const first = await exchange();
    expect(first.status).toBe(200);
    const body = (await first.json()) as { data: { accessToken: string; user: { email: string } } };
    expect(body.data.user.email).toBe(email);
    expect((await exchange()).status).toBe(400);
    await context.close();
  });

  it("refuses a wrong CSRF token, a foreign Origin and an unregistered redirect URI", { timeout: 60_000 }, async () => {
    const email = await approvedUser("csrf");
    const context = await newContext("desktop");
    const page = await context.newPage();
    // A tampered token: 403 page, no sign-in.
    await page.goto(`${origin}/login`);
    await page.locator('input[name="_csrf"]').first().evaluate((el: any) => { el.value = "forged"; });
    await page.getByLabel("Email address", { exact: true }).fill(email);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === "POST"), page.getByRole("button", { name: "Sign in", exact: true }).click()]);
    expect(answer.status()).toBe(403);
    await page.getByText("This form has expired or did not come from this site").waitFor();
    await check(page, "csrf-refused", "desktop");
    expect((await context.cookies()).some((c) => c.name === "pages_session")).toBe(false);

    // A good token and cookie, but posted from another origin.
    await page.goto(`${origin}/login`);
    const token = await page.locator('input[name="_csrf"]').first().inputValue();
    const cookie = (await context.cookies()).find((c) => c.name === "pages_csrf")!;
    const form = new URLSearchParams({ _csrf: token, email, password: PASSWORD });
    const post = (headers: Record<string, string>) =>
      fetch(`${origin}/login`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", cookie: `pages_csrf=${cookie.value}`, ...headers }, body: form });
    expect((await post({ origin: "https://evil.example" })).status).toBe(403);
    expect((await post({})).status).toBe(403); // neither Origin nor Referer
    expect((await post({ referer: "https://evil.example/page" })).status).toBe(403);
    // The same request from this site signs in (303 to the account page).
    const ok = await post({ origin });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toMatch(/^\/account/);
    const setCookies = ok.headers.getSetCookie();
    const session = setCookies.find((c) => c.startsWith("pages_session="))!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/Secure/);
    expect(session).toMatch(/SameSite=Lax/);

    // An unregistered redirect URI: a 400 page.
    const res = await page.goto(`${origin}/login?client_id=${app.id}&redirect_uri=${encodeURIComponent("https://evil.example/cb")}`);
    expect(res?.status()).toBe(400);
    await page.getByText("not registered for this application").waitFor();
    await check(page, "redirect-refused", "desktop");
    await context.close();
  });

  it("turns on TOTP on the account page, then signs in with password + TOTP (desktop) and password + recovery code (phone)", { timeout: 120_000 }, async () => {
    const email = await approvedUser("totp");
    const laptop = await newContext("desktop");
    const page = await laptop.newPage();
    await signIn(page, email);
    await page.getByRole("heading", { name: "Your account" }).waitFor();
    await page.getByRole("button", { name: "Set up an authenticator app" }).click();
    const secret = (await page.locator("#totp-secret").innerText()).trim();
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    expect(await page.locator("img.qr").getAttribute("src")).toMatch(/^data:image\/svg\+xml,/);
    await check(page, "account-mfa-setup", "desktop");
    // A wrong code first: refused, tied to the field, the same secret still shown.
    await page.getByLabel("Code from the app").fill("000000");
    await page.getByRole("button", { name: "Turn on" }).click();
    await expect.poll(() => page.getByLabel("Code from the app").getAttribute("aria-invalid")).toBe("true");
    expect((await page.locator("#totp-secret").innerText()).trim()).toBe(secret);
    await page.getByLabel("Code from the app").fill(totp(secret));
    await page.getByRole("button", { name: "Turn on" }).click();
    await page.locator("#recovery-codes").waitFor();
    const codes = (await page.locator("#recovery-codes li").allInnerTexts()).map((c) => c.trim());
    expect(codes.length).toBe(10);
    expect(await page.locator("#mfa-status").innerText()).toBe("On");
    await check(page, "account-mfa-on", "desktop");
    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await page.getByText("You are signed out.").waitFor();

    // Password, then the code of the next time step (the one used to turn it on works once).
    await signIn(page, email);
    await page.getByRole("heading", { name: "Confirm it is you" }).waitFor();
    await check(page, "mfa", "desktop");
    await page.getByLabel("Code from your authenticator app").fill("000000");
    await page.getByRole("button", { name: "Verify" }).click();
    await expect.poll(() => page.getByLabel("Code from your authenticator app").getAttribute("aria-invalid")).toBe("true");
    await page.getByLabel("Code from your authenticator app").fill(totp(secret, Date.now() + 30_000));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("heading", { name: "Your account" }).waitFor();
    await laptop.close();

    // On the phone: password, then a recovery code (each works once).
    const phone = await newContext("phone");
    const p = await phone.newPage();
    await signIn(p, email);
    await p.getByRole("heading", { name: "Confirm it is you" }).waitFor();
    await check(p, "mfa", "phone");
    await p.getByLabel("Or a recovery code").fill(codes[0]);
    await p.getByRole("button", { name: "Verify" }).click();
    await p.getByRole("heading", { name: "Your account" }).waitFor();
    expect(await p.getByText("Recovery codes left: 9").count()).toBe(1);
    await check(p, "account-mfa-on", "phone");
    await phone.close();
  });

  it("signs in with an email code and with a magic link (the link's page consumes nothing on GET)", { timeout: 90_000 }, async () => {
    const email = await approvedUser("passwordless");
    const context = await newContext("phone");
    const page = await context.newPage();
    await page.goto(`${origin}/login`);
    await page.getByLabel("Email address for a link or a code").fill(email);
    await page.getByRole("button", { name: "Email me a code" }).click();
    await page.getByLabel("Code from the email").waitFor();
    await check(page, "email-code", "phone");
    const code = /\b(\d{6})\b/.exec((await mail(email, "email_otp")).text)![1];
    await page.getByLabel("Code from the email").fill(code);
    await page.getByRole("button", { name: "Sign in with the code" }).click();
    await page.getByRole("heading", { name: "Your account" }).waitFor();
    await page.getByRole("button", { name: "Sign out", exact: true }).click();

    await page.getByLabel("Email address for a link or a code").fill(email);
    await page.getByRole("button", { name: "Email me a sign-in link" }).click();
    await page.getByText("If this address can sign in, a link is on its way").waitFor();
    const token = /[?&]token=([A-Za-z0-9_-]+)/.exec((await mail(email, "magic_link")).text)![1];
    // Opening the page twice changes nothing; the button signs in once.
    await page.goto(`${origin}/magic-link?token=${token}`);
    await page.goto(`${origin}/magic-link?token=${token}`);
    await check(page, "magic-link", "phone");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Your account" }).waitFor();
    await page.goto(`${origin}/magic-link?token=${token}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("This sign-in link is invalid, expired or already used.").waitFor();
    await context.close();
  });

  it("adds a passkey on the account page, signs out, signs in with the passkey button (virtual authenticator)", { timeout: 120_000 }, async () => {
    const base = localOrigin();
    const email = await approvedUser("passkey");
    const context = await newContext("desktop");
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable", { enableUI: false });
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    await page.goto(`${base}/login`);
    expect(await page.getByLabel("Email address", { exact: true }).getAttribute("autocomplete")).toBe("username webauthn");
    await check(page, "login-passkey", "desktop");
    await page.getByLabel("Email address", { exact: true }).fill(email);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "Your account" }).waitFor();
    await page.locator("#passkeys").getByText("No passkeys yet.").waitFor();
    await page.locator("#passkey-add-form[data-ready]").waitFor({ state: "attached" });
    await page.getByRole("button", { name: "Add a passkey" }).click();
    await page.getByText("Passkey added.").waitFor();
    expect(await page.locator("#passkeys li").count()).toBe(1);
    expect((await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials).toHaveLength(1);
    await check(page, "account-passkeys", "desktop");
    await page.setViewportSize(VIEWPORTS.phone);
    await check(page, "account-passkeys", "phone");
    // Signed out, the login page's conditional UI (the email field's autofill) offers the passkey;
    // the virtual authenticator picks it at once: signed in again without a click.
    await page.locator("header").getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Your account" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/account");
    // A browser without that autofill: the button.
    await page.addInitScript({ content: "if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = async () => false;" });
    await page.locator("header").getByRole("button", { name: "Sign out" }).click();
    await expect.poll(() => new URL(page.url()).pathname).toBe("/login");
    await check(page, "login-passkey", "phone");
    await page.setViewportSize(VIEWPORTS.desktop);
    await page.locator("#passkey-form[data-ready]").waitFor({ state: "attached" });
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await page.getByRole("heading", { name: "Your account" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/account");
    await expect.poll(async () => page.locator("#passkeys li").innerText()).toMatch(/Last used/);
    // The page route refuses a forged or replayed response with a page, never a 500.
    const csrf = await page.locator("#passkey-add-form input[name=_csrf]").inputValue();
    const bad = await page.request.post(`${base}/login/passkey`, { form: { _csrf: csrf, challengeId: "x", response: "{}" }, headers: { Origin: base } });
    expect(bad.status()).toBeGreaterThanOrEqual(400);
    expect(bad.status()).toBeLessThan(500);
    // Removing it (a fresh sign-in: no step-up asked) empties the list.
    await page.locator("#passkeys li").getByRole("button", { name: /Remove the passkey/ }).click();
    await page.getByText("Passkey removed.").waitFor();
    expect(await page.locator("#passkeys li").count()).toBe(0);
    await context.close();
  });

  it("accepts an organization invitation from the emailed link: sign in, back to the invitation, accept", { timeout: 120_000 }, async () => {
    const bearerOf = async (email: string) => {
      const res = await fetch(`${origin}/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password: PASSWORD }) });
      expect(res.status).toBe(200);
      return { authorization: `Bearer ${((await res.json()) as { data: { accessToken: string } }).data.accessToken}` };
    };
    // An owner's organization and an invitation through the JSON API.
    const owner = await bearerOf(await approvedUser("inv-owner"));
    const org = await api("POST", "/auth/organizations", { name: "Northwind Traders", slug: `northwind-${Date.now().toString(36)}` }, owner);
    expect(org.status, JSON.stringify(org.json)).toBe(201);
    const email = await approvedUser("invitee");
    const invited = await api("POST", `/auth/organizations/${org.json.data.id}/invitations`, { email, roles: ["member"] }, owner);
    expect(invited.status, JSON.stringify(invited.json)).toBe(201);
    // The emailed link points at the hosted page (on FRONTEND_URL; here the Worker serves it).
    const link = new URL(/https?:\/\/\S+/.exec((await mail(email, "organization_invitation")).text)![0]);
    expect(link.pathname).toBe("/invitations/accept");
    expect(link.searchParams.get("token")).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const context = await newContext("desktop");
    const page = await context.newPage();
    const both = async (name: string) => {
      await check(page, name, "desktop");
      await page.setViewportSize(VIEWPORTS.phone);
      await check(page, name, "phone");
      await page.setViewportSize(VIEWPORTS.desktop);
    };
    await page.goto(`${origin}${link.pathname}${link.search}`);
    await page.getByRole("heading", { name: "You are invited" }).waitFor();
    await both("invitation");
    await page.getByRole("link", { name: "Sign in to accept" }).click();
    await expect.poll(() => new URL(page.url()).pathname).toBe("/login");
    await page.getByLabel("Email address", { exact: true }).fill(email);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    // Back on the invitation, signed in; opening it consumed nothing.
    await expect.poll(() => new URL(page.url()).pathname).toBe("/invitations/accept");
    await page.getByText(`Signed in as ${email}`).waitFor();
    await both("invitation-signed-in");
    await page.getByRole("button", { name: "Accept", exact: true }).click();
    await page.getByText("You joined Northwind Traders. Your roles: member.").waitFor();
    await both("invitation-accepted");
    const mine = await api("GET", "/auth/organizations", undefined, await bearerOf(email));
    expect(mine.json.data.organizations.find((o: { id: string }) => o.id === org.json.data.id)?.roles).toEqual(["member"]);
    await page.getByRole("link", { name: "See your organizations" }).click();
    await page.locator("#organizations").getByText("Northwind Traders").waitFor();
    await context.close();
  });

  it("saw no script error, CSP report or request to another origin", () => {
    expect(problems).toEqual([]);
  });
});
