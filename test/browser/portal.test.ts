// The staff portal (/portal) in a real browser: Debian's Chromium (playwright-core, never a
// downloaded browser) against the Worker under `wrangler dev` and the embedded stack. Staff sign in
// through the hosted /login page; axe-core runs on every portal view at a desktop (1280x800) and a
// phone (360x740) viewport (zero violations, no CSP report, nothing wider than the phone), and
// screenshots are kept under $BROWSER_SCREENSHOT_DIR (default: <tmp>/edge-auth-browser)/portal/.
//
// Walked: a superadmin approves a PENDING sign-up (who can then sign in), rejects another,
// deactivates and reactivates a user, changes a role, signs out a user's sessions, creates and
// revokes an API key, edits an application's settings (invalid JSON and an invalid setting shown at
// the field), creates a service account and a secret, adds and removes an organization member, and
// filters the audit log. A moderator sees the reduced view (no deactivate, no role, no keys) and a
// deactivation it posts anyway is refused by the service. Refused too: a wrong CSRF token, a foreign
// Origin, a signed-in user without a platform role; signed out, /portal sends the browser to /login.
// Setup, skipping without Chromium and the shared checks: ./support.ts.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

const SHOTS = join(SCREENSHOTS, "portal");

describe.runIf(browserTestsEnabled)("the staff portal in Chromium", () => {
  let env: BrowserWorker;
  let stack: LocalStack;
  let browser: Browser;
  let origin: string;
  let adminToken: string;
  let superadmin: string;
  let moderator: string;
  const problems: string[] = [];
  const axeChecked = new Set<string>();

  let seq = 0;
  const uniqueEmail = (tag: string) => `${tag}-${Date.now().toString(36)}-${++seq}@portal.test`;
  async function seedUser(tag: string, globalRole: "NONE" | "PLATFORM_MODERATOR" | "PLATFORM_ADMIN" | "PLATFORM_SUPERADMIN" = "NONE"): Promise<{ email: string; id: string }> {
    const email = uniqueEmail(tag);
    const hash = await hashPasswordPhc(PASSWORD, argon2ParamsFromEnv(ARGON2));
    const id = await insertApprovedUser(sqlEndpointQuery(stack.sql.url), { email, passwordHash: hash, fullName: `Test ${tag}`, globalRole, createdBy: { actorLabel: "test", via: "portal.test" } });
    return { email, id: id! };
  }
  /** A self-service sign-up: PENDING until staff decide. */
  async function pendingUser(tag: string): Promise<string> {
    const email = uniqueEmail(tag);
    const res = await fetch(`${origin}/auth/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password: PASSWORD, fullName: `Pending ${tag}` }) });
    expect(res.status, await res.clone().text()).toBeLessThan(300);
    return email;
  }
  async function apiLogin(email: string): Promise<{ status: number; code?: string }> {
    const res = await fetch(`${origin}/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password: PASSWORD }) });
    const body = (await res.json()) as { error?: { code: string } };
    return { status: res.status, code: body.error?.code };
  }
  async function adminLogin(): Promise<void> {
    const login = await fetch(`${origin}/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: superadmin, password: PASSWORD }) });
    adminToken = ((await login.json()) as { data: { accessToken: string } }).data.accessToken;
  }
  /** The internal API as the superadmin (signed in again once if `wrangler dev` reloaded meanwhile and the token's key is gone). */
  async function api(method: string, path: string, body?: unknown, retried = false): Promise<{ status: number; json: any }> {
    const res = await fetch(origin + path, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), authorization: `Bearer ${adminToken}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => null);
    if (res.status === 401 && !retried) {
      await adminLogin();
      return api(method, path, body, true);
    }
    return { status: res.status, json };
  }
  async function userByEmail(email: string): Promise<any> {
    const found = await api("GET", `/internal/users?q=${encodeURIComponent(email)}`);
    return found.json.data.users.find((u: { email: string }) => u.email === email);
  }

  // ---- the browser -----------------------------------------------------------------------------
  async function newContext(viewport: ViewportName, locale = "en-GB"): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: VIEWPORTS[viewport], locale, serviceWorkers: "block" });
    // The Worker under wrangler dev can be slow to answer right after a rebuild.
    context.setDefaultTimeout(60_000);
    context.setDefaultNavigationTimeout(60_000);
    await onlyOrigins(context, [origin], (url) => problems.push(`request to another origin: ${url}`));
    await context.addInitScript(RECORD_CSP_VIOLATIONS);
    context.on("page", (page) => watchForProblems(page, problems));
    return context;
  }
  /** axe-core on the page as it is (injected through the DevTools protocol: the page's CSP is untouched), its CSP reports, its width, and a screenshot. */
  async function check(page: Page, name: string, viewport: ViewportName): Promise<void> {
    expect(await axeViolations(page), `axe on ${name} (${viewport})`).toEqual([]);
    expect(await cspViolations(page), `CSP violations on ${name}`).toEqual([]);
    // Nothing sticks out sideways, even on the phone.
    const width = (await page.evaluate("document.documentElement.scrollWidth")) as number;
    expect(width, `${name} (${viewport}) is wider than the viewport`).toBeLessThanOrEqual(VIEWPORTS[viewport].width);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `portal-${name}-${viewport}.png`), fullPage: true });
    axeChecked.add(`${name}-${viewport}`);
  }
  /** Through the hosted sign-in page, then to the portal. */
  async function signInToPortal(page: Page, email: string): Promise<void> {
    await page.goto(`${origin}/portal`);
    await expect.poll(() => new URL(page.url()).pathname).toBe("/login");
    // The password form of the hosted sign-in page (other methods may be offered beside it).
    const form = page.locator("#password-form");
    await form.getByLabel("Email address").fill(email);
    await form.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await form.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "Your account" }).waitFor();
    await page.goto(`${origin}/portal`);
    await page.getByRole("heading", { name: "Sign-ups waiting for approval" }).waitFor();
  }
  /** POSTs a form from inside the page's own browser context (its cookies), with the fields given. */
  /** POSTs a form with this browser's cookies (CSRF cookie, session) from `from` (an Origin header). */
  async function postForm(context: BrowserContext, path: string, fields: Record<string, string>, from: string = origin): Promise<{ status: number; text: string }> {
    const cookie = (await context.cookies(origin)).map((c) => `${c.name}=${c.value}`).join("; ");
    const res = await fetch(origin + path, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie, origin: from },
      body: new URLSearchParams(fields),
    });
    return { status: res.status, text: await res.text() };
  }

  beforeAll(async () => {
    env = await startBrowserWorker("portal", {
      PUBLIC_REGISTRATION_ENABLED: "true",
      EMAIL_ENABLED: "false",
      // Keys of its own, not development's per-isolate ones: tokens and CSRF form tokens stay
      // good when wrangler dev reloads the Worker (a source file changed) in the middle of a test.
      JWT_SIGNING_KEY_PEM: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      REFRESH_TOKEN_SECRET: randomBytes(32).toString("base64url"),
      ...ARGON2,
    });
    ({ stack, browser, origin } = env);
    superadmin = (await seedUser("superadmin", "PLATFORM_SUPERADMIN")).email;
    moderator = (await seedUser("moderator", "PLATFORM_MODERATOR")).email;
    await adminLogin();
    // Warm the page routes up (the first page render compiles the bundle's page modules).
    for (const path of ["/login", "/portal"]) await (await fetch(origin + path, { redirect: "manual" })).arrayBuffer();
  }, 240_000);

  afterAll(async () => {
    await env?.stop();
    console.log(`staff portal: axe-core clean on ${axeChecked.size} page views; screenshots in ${SHOTS}`);
  }, 60_000);

  it("a superadmin signs in through /login, approves a pending sign-up (who can then sign in) and rejects another", { timeout: 120_000 }, async () => {
    const approveMe = await pendingUser("approve-me");
    const rejectMe = await pendingUser("reject-me");
    expect(await apiLogin(approveMe)).toMatchObject({ status: 403, code: "pending_approval" });

    const context = await newContext("desktop");
    const page = await context.newPage();
    await signInToPortal(page, superadmin);
    expect(await page.locator("#signed-in-as").innerText()).toContain(superadmin);
    const row = page.locator(`li[data-user="${approveMe}"]`);
    await row.waitFor();
    await check(page, "pending", "desktop");

    // Approve with the keyboard: focus the row's button, Enter.
    await row.getByRole("button", { name: `Approve ${approveMe}` }).focus();
    await page.keyboard.press("Enter");
    await page.getByText("The account is approved").waitFor();
    expect(await page.locator(`li[data-user="${approveMe}"]`).count()).toBe(0);
    expect(await apiLogin(approveMe)).toMatchObject({ status: 200 });
    expect((await userByEmail(approveMe)).approvalStatus).toBe("APPROVED");

    await page.locator(`li[data-user="${rejectMe}"]`).getByRole("button", { name: `Reject ${rejectMe}` }).click();
    await page.getByText("The registration is rejected.").waitFor();
    expect(await page.locator(`li[data-user="${rejectMe}"]`).count()).toBe(0);
    expect(await apiLogin(rejectMe)).toMatchObject({ status: 403, code: "registration_rejected" });
    await context.close();
  });

  it("a superadmin searches users, deactivates and reactivates one, changes a role and signs out its sessions", { timeout: 120_000 }, async () => {
    const target = await seedUser("target");
    expect((await apiLogin(target.email)).status).toBe(200);
    const context = await newContext("desktop");
    const page = await context.newPage();
    await signInToPortal(page, superadmin);
    await page.getByRole("link", { name: "Users", exact: true }).click();
    await page.getByLabel("Email or name").fill(target.email);
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("link", { name: `Open ${target.email}` }).click();
    await page.getByRole("heading", { name: `User ${target.email}` }).waitFor();
    await check(page, "user", "desktop");

    await page.getByRole("button", { name: "Deactivate" }).click();
    await page.getByText("The account is deactivated").waitFor();
    expect(await page.locator("#user-active").innerText()).toBe("No");
    expect((await apiLogin(target.email)).code).toBe("account_inactive");
    await page.getByRole("button", { name: "Activate" }).click();
    await page.getByText("The account is active.").waitFor();
    expect((await apiLogin(target.email)).status).toBe(200);

    await page.getByLabel("New role").selectOption("PLATFORM_MODERATOR");
    await page.getByRole("button", { name: "Change the role" }).click();
    await page.getByText("The role has been changed.").waitFor();
    expect(await page.locator("#user-role").innerText()).toBe("Moderator");
    expect((await userByEmail(target.email)).globalRole).toBe("PLATFORM_MODERATOR");

    // Two live sessions, then none.
    expect((await apiLogin(target.email)).status).toBe(200);
    await page.getByRole("button", { name: "Sign out every session" }).click();
    await page.getByText(/Every session of this user has ended \([1-9]/).waitFor();
    await page.getByRole("button", { name: "Reset two-step verification" }).click();
    await page.getByText("Two-step verification has been reset.").waitFor();
    await context.close();
  });

  it("a superadmin manages an application: API key shown once and revoked, settings validated at the field, a service account and its secret", { timeout: 120_000 }, async () => {
    const created = await api("POST", "/internal/applications", { name: "Portal Books", slug: `portal-${Date.now().toString(36)}`, type: "web", redirectUris: [], allowedOrigins: [] });
    expect(created.status).toBe(201);
    const appId = created.json.data.id as string;
    const context = await newContext("desktop");
    const page = await context.newPage();
    await signInToPortal(page, superadmin);
    await page.getByRole("link", { name: "Applications", exact: true }).click();
    await page.getByRole("link", { name: "Portal Books" }).click();
    await page.getByRole("heading", { name: "Application Portal Books" }).waitFor();

    await page.getByLabel("Name of the new key (optional)").fill("ci");
    await page.getByRole("button", { name: "Create an API key" }).click();
    const key = (await page.locator("#created-value").innerText()).trim();
    expect(key).toMatch(/^eak_/);
    expect(page.url()).not.toContain(key);
    await check(page, "application", "desktop");
    // The key works, then is revoked from the page.
    const withKey = () => fetch(`${origin}/auth/login`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": key }, body: JSON.stringify({ email: superadmin, password: PASSWORD }) });
    expect((await withKey()).status).toBe(200);
    await page.goto(`${origin}/portal/applications/${appId}`);
    await page.getByRole("button", { name: `Revoke the key ${key.slice(0, 12)}` }).click();
    await page.getByText("The API key is revoked.").waitFor();
    expect((await withKey()).status).toBe(401);

    // Settings: not JSON, then an invalid colour (tied to the field), then valid.
    const settings = page.getByLabel("Settings (JSON)");
    await settings.fill("{ not json");
    await page.getByRole("button", { name: "Save the settings" }).click();
    await page.getByText("This is not valid JSON").waitFor();
    await settings.fill(JSON.stringify({ branding: { primaryColor: "blue" } }));
    await page.getByRole("button", { name: "Save the settings" }).click();
    await page.getByText("branding.primaryColor").waitFor();
    const invalid = page.getByLabel("Settings (JSON)");
    expect(await invalid.getAttribute("aria-invalid")).toBe("true");
    expect(await invalid.getAttribute("aria-describedby")).toContain("settings-json-error");
    await check(page, "settings-error", "desktop");
    await page.getByLabel("Settings (JSON)").fill(JSON.stringify({ branding: { displayName: "Portal Books", primaryColor: "#7c3aed" } }));
    await page.getByRole("button", { name: "Save the settings" }).click();
    await page.getByText("The settings are saved.").waitFor();
    expect((await api("GET", `/internal/applications/${appId}`)).json.data.settings.branding.primaryColor).toBe("#7c3aed");

    // A service account and a client secret that works with client_credentials.
    await page.getByLabel("Name", { exact: true }).fill("nightly-job");
    await page.getByLabel("Allowed scopes (space-separated)").fill("orders:read");
    await page.getByRole("button", { name: "Create a service account" }).click();
    await page.getByText("The service account is created").waitFor();
    await page.getByRole("button", { name: "Create a secret for nightly-job" }).click();
    const secret = (await page.locator("#created-value").innerText()).trim();
    const clientId = (await page.locator('li[data-account="nightly-job"] code').first().innerText()).trim();
    const token = await fetch(`${origin}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, scope: "orders:read" }),
    });
    expect(token.status, await token.clone().text()).toBe(200);
    await context.close();
  });

  it("a superadmin adds and removes an organization member", { timeout: 90_000 }, async () => {
    const owner = await seedUser("org-owner");
    const member = await seedUser("org-member");
    const ownerToken = ((await (await fetch(`${origin}/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: owner.email, password: PASSWORD }) })).json()) as any).data.accessToken;
    const org = await fetch(`${origin}/auth/organizations`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ownerToken}` }, body: JSON.stringify({ name: "Portal Org", slug: `portal-org-${Date.now().toString(36)}` }) });
    expect(org.status, await org.clone().text()).toBe(201);
    const orgId = ((await org.json()) as any).data.id as string;

    const context = await newContext("desktop");
    const page = await context.newPage();
    await signInToPortal(page, superadmin);
    await page.goto(`${origin}/portal/organizations?q=Portal%20Org`);
    await page.getByRole("link", { name: "Portal Org" }).first().click();
    await page.getByRole("heading", { name: "Organization Portal Org" }).waitFor();
    await page.getByLabel("Member's email address").fill("nobody@portal.test");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("No user has this email address.").waitFor();
    await page.getByLabel("Member's email address").fill(member.email);
    await page.getByLabel("Roles (comma-separated)").fill("member");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("The membership is saved.").waitFor();
    await page.locator(`li[data-member="${member.email}"]`).waitFor();
    await check(page, "organization", "desktop");
    await page.getByRole("button", { name: `Remove ${member.email}` }).click();
    await page.getByText("The member is removed.").waitFor();
    expect(await page.locator(`li[data-member="${member.email}"]`).count()).toBe(0);
    expect(orgId).toMatch(/^[0-9a-f-]{36}$/);
    await context.close();
  });

  it("the audit log filters by event type and user, and shows a bad filter at its field", { timeout: 90_000 }, async () => {
    const target = await seedUser("audited");
    expect((await api("PATCH", `/internal/users/${target.id}`, { fullName: "Audited Person" })).status).toBe(200);
    const context = await newContext("desktop");
    const page = await context.newPage();
    await signInToPortal(page, superadmin);
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByLabel("Event type").fill("user.*");
    await page.getByLabel("Target user id").fill(target.id);
    await page.getByRole("button", { name: "Filter" }).click();
    await page.locator("#audit-events").waitFor();
    const types = await page.locator("#audit-events > li").evaluateAll((els) => els.map((e) => e.getAttribute("data-event")));
    expect(types.length).toBeGreaterThanOrEqual(2);
    expect(new Set(types)).toEqual(new Set(["user.created", "user.updated"]));
    await check(page, "audit", "desktop");
    // Exact type: only the update.
    await page.getByLabel("Event type").fill("user.updated");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => page.locator("#audit-events > li").evaluateAll((els) => els.map((e) => e.getAttribute("data-event")))).toEqual(["user.updated"]);
    // A user id that is not one: the field says so, nothing is queried.
    await page.getByLabel("Target user id").fill("not-a-uuid");
    await page.getByRole("button", { name: "Filter" }).click();
    const field = page.getByLabel("Target user id");
    await expect.poll(() => field.getAttribute("aria-invalid")).toBe("true");
    expect(await field.getAttribute("aria-describedby")).toContain("userId-error");
    await check(page, "audit-error", "desktop");
    await context.close();
  });

  it("every section at a 360 px phone and in French: axe-clean, nothing wider than the screen", { timeout: 120_000 }, async () => {
    await pendingUser("phone-pending");
    const apps = await api("GET", "/internal/applications");
    const appId = apps.json.data[0].id as string;
    const context = await newContext("phone");
    const page = await context.newPage();
    await signInToPortal(page, superadmin);
    await check(page, "pending", "phone");
    await page.goto(`${origin}/portal/users`);
    await check(page, "users", "phone");
    const someone = await seedUser("phone-user");
    await page.goto(`${origin}/portal/users/${someone.id}`);
    await check(page, "user", "phone");
    await page.goto(`${origin}/portal/applications`);
    await check(page, "applications", "phone");
    await page.goto(`${origin}/portal/applications/${appId}`);
    await check(page, "application", "phone");
    await page.goto(`${origin}/portal/organizations`);
    await check(page, "organizations", "phone");
    await page.goto(`${origin}/portal/audit`);
    await check(page, "audit", "phone");
    await page.goto(`${origin}/portal?locale=fr`);
    await page.getByRole("heading", { name: "Inscriptions en attente d’approbation" }).waitFor();
    expect(await page.locator("html").getAttribute("lang")).toBe("fr");
    await check(page, "pending-fr", "phone");
    await context.close();
  });

  it("a moderator sees a reduced view, decides approvals, and a deactivation it posts anyway is refused", { timeout: 120_000 }, async () => {
    const pending = await pendingUser("moderated");
    const target = await seedUser("mod-target");
    const apps = await api("GET", "/internal/applications");
    const appId = apps.json.data[0].id as string;
    const context = await newContext("desktop");
    const page = await context.newPage();
    await signInToPortal(page, moderator);
    expect(await page.locator("#signed-in-as").innerText()).toContain("Moderator");
    // Moderators decide approvals.
    await page.locator(`li[data-user="${pending}"]`).getByRole("button", { name: `Approve ${pending}` }).click();
    await page.getByText("The account is approved").waitFor();
    // A moderator sends approvalStatus only (the role table): approved, still inactive until an admin activates it.
    expect((await userByEmail(pending)).approvalStatus).toBe("APPROVED");

    // A user's page: facts, no deactivate, no role change, no MFA reset, no session sign-out.
    await page.goto(`${origin}/portal/users/${target.id}`);
    await page.getByRole("heading", { name: `User ${target.email}` }).waitFor();
    for (const name of ["Deactivate", "Change the role", "Reset two-step verification", "Sign out every session"]) {
      expect(await page.getByRole("button", { name }).count(), name).toBe(0);
    }
    // What the role table leaves a moderator on an approved user: withdrawing the approval (reject).
    expect(await page.locator("#actions button").allInnerTexts()).toEqual(["Reject"]);
    await check(page, "moderator-user", "desktop");
    // An application: read-only (no key creation, settings shown, not editable).
    await page.goto(`${origin}/portal/applications/${appId}`);
    expect(await page.getByRole("button", { name: "Create an API key" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Save the settings" }).count()).toBe(0);
    await check(page, "moderator-application", "desktop");

    // The deactivation posted anyway, with this browser's valid token and origin: the service refuses it.
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const refused = await postForm(context, `/portal/users/${target.id}/active`, { _csrf: csrf, active: "0" });
    expect(refused.status).toBe(403);
    expect(refused.text).toContain("Your role does not allow this action.");
    const keyRefused = await postForm(context, `/portal/applications/${appId}/api-keys`, { _csrf: csrf, name: "sneaky" });
    expect(keyRefused.status).toBe(403);
    expect((await userByEmail(target.email)).isActive).toBe(true);
    expect((await api("GET", `/internal/applications/${appId}`)).json.data.apiKeys.some((k: { name: string }) => k.name === "sneaky")).toBe(false);
    await context.close();
  });

  it("refuses a wrong CSRF token, a foreign Origin, a user without a platform role, and sends the signed-out to /login", { timeout: 90_000 }, async () => {
    const target = await seedUser("csrf-target");
    const context = await newContext("desktop");
    const page = await context.newPage();
    await signInToPortal(page, superadmin);
    await page.goto(`${origin}/portal/users/${target.id}`);
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();

    // A tampered token, in the page itself: a 403 page, nothing changed.
    await page.locator('form[action^="/portal/users/"][action*="/active"] input[name="_csrf"]').evaluate((el) => ((el as unknown as { value: string }).value = "forged"));
    const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === "POST"), page.getByRole("button", { name: "Deactivate" }).click()]);
    expect(answer.status()).toBe(403);
    await page.getByText("This form has expired or did not come from this site").waitFor();
    await check(page, "csrf-refused", "desktop");
    expect((await userByEmail(target.email)).isActive).toBe(true);

    // The right token from another origin, and with no origin at all: refused; from this site: done.
    expect((await postForm(context, `/portal/users/${target.id}/active`, { _csrf: csrf, active: "0" }, "https://evil.example")).status).toBe(403);
    expect((await postForm(context, `/portal/users/${target.id}/active`, { _csrf: "", active: "0" })).status).toBe(403);
    expect((await userByEmail(target.email)).isActive).toBe(true);
    const ok = await postForm(context, `/portal/users/${target.id}/active`, { _csrf: csrf, active: "0" });
    expect(ok.status, ok.text.slice(0, 400)).toBe(303);
    expect((await userByEmail(target.email)).isActive).toBe(false);

    // Bad ids and unknown values: 4xx pages, never a 500.
    expect((await page.goto(`${origin}/portal/users/not-a-uuid`))?.status()).toBe(404);
    expect((await page.goto(`${origin}/portal/users/00000000-0000-4000-8000-000000000000`))?.status()).toBe(404);
    expect((await postForm(context, `/portal/users/${target.id}/role`, { _csrf: csrf, role: "EMPEROR" })).status).toBe(400);
    await context.close();

    // A signed-in user without a platform role: 403; signed out: /login.
    const plain = await seedUser("plain");
    const other = await newContext("desktop");
    const p2 = await other.newPage();
    await p2.goto(`${origin}/portal/audit`);
    await expect.poll(() => new URL(p2.url()).pathname).toBe("/login");
    const form = p2.locator("#password-form");
    await form.getByLabel("Email address").fill(plain.email);
    await form.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await form.getByRole("button", { name: "Sign in", exact: true }).click();
    await p2.getByRole("heading", { name: "Your account" }).waitFor();
    const res = await p2.goto(`${origin}/portal`);
    expect(res?.status()).toBe(403);
    await p2.getByText("The staff portal is for platform staff.").waitFor();
    await other.close();
  });

  it("saw no script error, CSP report or request to another origin", () => {
    expect(problems).toEqual([]);
  });
});
