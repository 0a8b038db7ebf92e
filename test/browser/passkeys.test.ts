// Passkeys in a real browser: Debian's Chromium (playwright-core, never a downloaded browser) with
// the DevTools protocol's virtual authenticator (CTAP2, internal transport, resident keys, user
// verification), on a page the Worker serves at http://localhost:<port> under wrangler dev, using
// the same browser module the hosted pages serve (src/pages-assets/webauthn.js). A user signs in
// with a password (Bearer token), registers a passkey through navigator.credentials.create(), then
// signs in with it without an email (discoverable credential), and the answer is checked: tokens
// for that user with amr ["hwk","user"]; the passkey is listed with its flags. Nothing leaves the
// Worker's origin. The RP id and origin are the development defaults (the request's own).
// Setup, skipping without Chromium and the shared checks: ./support.ts.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WEBAUTHN_JS } from "../../src/pages-assets/webauthn.js";
import type { LocalStack } from "../../scripts/local-stack/index.ts";
import { argon2ParamsFromEnv, hashPasswordPhc, insertApprovedUser, sqlEndpointQuery } from "../../scripts/seed-users.ts";
import { ARGON2, browserTestsEnabled, onlyOrigins, PASSWORD, SCREENSHOTS, startBrowserWorker, type BrowserWorker } from "./support.ts";

const SCREENSHOT = join(SCREENSHOTS, "passkeys.png");

/** The browser module as a script the page can evaluate (through the DevTools protocol: the page's CSP is untouched). */
const MODULE_AS_SCRIPT = `window.webauthn = (() => {\n${WEBAUTHN_JS.replace(/^export /gm, "")}\nreturn { b64urlToBuf, bufToB64url, supported, conditionalMediationAvailable, createPasskey, getPasskey, postJSON };\n})();\nundefined`;

describe.runIf(browserTestsEnabled)("passkeys in Chromium with a virtual authenticator", () => {
  let env: BrowserWorker;
  let stack: LocalStack;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    env = await startBrowserWorker("passkeys", { EMAIL_ENABLED: "false", ...ARGON2 });
    ({ stack, browser } = env);
    // localhost, not 127.0.0.1: an IP address cannot be a WebAuthn RP id (Chromium resolves localhost to loopback itself).
    origin = env.localhostOrigin;
  }, 180_000);

  afterAll(async () => {
    await env?.stop();
  }, 60_000);

  it("registers a passkey and signs in with it (discoverable), on the Worker's origin", { timeout: 120_000 }, async () => {
    const email = `passkey-${Date.now().toString(36)}@browser.test`;
    await insertApprovedUser(sqlEndpointQuery(stack.sql.url), {
      email,
      passwordHash: await hashPasswordPhc(PASSWORD, argon2ParamsFromEnv(ARGON2)),
      fullName: "Passkey Person",
      globalRole: "NONE",
      createdBy: { actorLabel: "test", via: "passkeys.test" },
    });

    const context = await browser.newContext({ serviceWorkers: "block" });
    const foreign: string[] = [];
    const errors: string[] = [];
    await onlyOrigins(context, [origin], (url) => foreign.push(url));
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(e.message));

    // A hosted page of the Worker without a passkey script of its own: /login starts a conditional
    // (autofill) passkey request on load, which would collide with this test's own ceremony
    // ("A request is already pending").
    const landing = await page.goto(`${origin}/forgot-password`);
    expect(landing?.status()).toBeLessThan(500);
    if (landing?.status() !== 200) await page.goto(`${origin}/health`);

    // The virtual authenticator: a platform authenticator with resident keys and user verification.
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable", { enableUI: false });
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });

    await page.evaluate(MODULE_AS_SCRIPT);
    const result = (await page.evaluate(
      async ({ email, password }) => {
        const w = (globalThis as any).webauthn;
        const signIn = await w.postJSON("/auth/login", { email, password });
        const auth = { authorization: `Bearer ${signIn.accessToken}` };
        const regOptions = await w.postJSON("/auth/passkeys/register/options", {}, auth);
        const registration = await w.createPasskey(regOptions.options);
        const registered = await w.postJSON("/auth/passkeys/register/verify", { response: registration, name: "Virtual authenticator" }, auth);
        // Sign in with no email: the options allow any discoverable credential.
        const loginOptions = await w.postJSON("/auth/passkeys/login/options", {});
        const assertion = await w.getPasskey(loginOptions.options);
        const answer = await w.postJSON("/auth/passkeys/login/verify", { challengeId: loginOptions.challengeId, response: assertion });
        const list = (await fetch("/auth/passkeys", { headers: auth }).then((r) => r.json())) as any;
        return {
          supported: w.supported(),
          conditional: await w.conditionalMediationAvailable(),
          rp: regOptions.options.rp,
          allowCredentials: loginOptions.options.allowCredentials ?? [],
          registered: registered.passkey,
          assertionHasUserHandle: typeof assertion.response.userHandle === "string",
          answer: { email: answer.user?.email, accessToken: answer.accessToken, tokenType: answer.tokenType, mfaRequired: answer.mfaRequired ?? false },
          listed: list.data.passkeys,
        };
      },
      { email, password: PASSWORD },
    )) as any;

    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    mkdirSync(join(SCREENSHOT, ".."), { recursive: true });
    await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, "-page.png") });
    await page.setContent(
      `<main style="font:16px system-ui;padding:2rem"><h1>Passkey sign-in</h1><p>Registered: <b>${result.registered?.name}</b> (RP ${result.rp?.id})</p>` +
        `<p>Signed in as <b>${result.answer.email}</b> with a ${result.answer.tokenType} token; amr ${JSON.stringify(decodeAmr(result.answer.accessToken))}</p>` +
        `<p>Authenticator holds ${credentials.length} resident credential(s), sign count ${credentials[0]?.signCount}</p></main>`,
    );
    await page.screenshot({ path: SCREENSHOT });
    await context.close();
    console.log(`passkeys in Chromium (screenshot: ${SCREENSHOT}): ${JSON.stringify({ ...result, answer: { ...result.answer, accessToken: "…" } })}`);

    expect(result.supported).toBe(true);
    expect(result.rp.id).toBe("localhost");
    expect(result.registered).toMatchObject({ name: "Virtual authenticator", rpId: "localhost", transports: expect.any(Array) });
    expect(result.allowCredentials).toEqual([]);
    expect(result.assertionHasUserHandle).toBe(true);
    expect(result.answer.email).toBe(email);
    expect(result.answer.mfaRequired).toBe(false);
    expect(decodeAmr(result.answer.accessToken).sort()).toEqual(["hwk", "user"]);
    expect(result.listed).toHaveLength(1);
    expect(result.listed[0].lastUsedAt).not.toBeNull();
    expect(credentials).toHaveLength(1);
    expect(credentials[0].isResidentCredential).toBe(true);
    expect(credentials[0].rpId).toBe("localhost");
    expect(foreign, "requests to another origin").toEqual([]);
    expect(errors, "script errors").toEqual([]);
  });
});

function decodeAmr(jwt: string | undefined): string[] {
  if (!jwt) return [];
  return (JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8")).amr as string[]) ?? [];
}
