// Passkeys in a real browser: Debian's Chromium (playwright-core, never a downloaded browser) with
// the DevTools protocol's virtual authenticator (CTAP2, internal transport, resident keys, user
// verification), on a page the Worker serves at http://localhost:<port> under wrangler dev, using
// the same browser module the hosted pages serve (src/pages-assets/webauthn.js). A user signs in
// with a password (Bearer token), registers a passkey through navigator.credentials.create(), then
// signs in with it without an email (discoverable credential), and the answer is checked: tokens
// for that user with amr ["hwk","user"]; the passkey is listed with its flags. Nothing leaves the
// Worker's origin. The RP id and origin are the development defaults (the request's own).
//
// Without /usr/bin/chromium (or CHROMIUM_PATH) the test is skipped and says why; with
// REQUIRE_BROWSER_TESTS=1 (as .ci/run sets) a missing browser is a failure instead.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WEBAUTHN_JS } from "../../src/pages-assets/webauthn.js";
import { startLocalStack, type LocalStack } from "../../scripts/local-stack/index.ts";
import { writeDevVars } from "../../scripts/dev-vars.ts";
import { freePorts, localWorkerVars, startWranglerDev, type WranglerDev } from "../../scripts/local-worker.ts";
import { argon2ParamsFromEnv, hashPasswordPhc, insertApprovedUser, sqlEndpointQuery } from "../../scripts/seed-users.ts";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const required = process.env.REQUIRE_BROWSER_TESTS === "1";
const SKIP_REASON = `browser tests skipped: no Chromium at ${CHROMIUM} (install Debian's: apt-get install chromium; or set CHROMIUM_PATH)`;
if (!haveChromium && !required) console.warn(SKIP_REASON);

const SCREENSHOT = join(process.env.BROWSER_SCREENSHOT_DIR || join(tmpdir(), "edge-auth-browser"), "passkeys.png");
const ARGON2 = { ARGON2_MEMORY: "1024", ARGON2_TIME: "1", ARGON2_PARALLELISM: "1" };
const PASSWORD = "correct horse battery staple 1";

/** The browser module as a script the page can evaluate (through the DevTools protocol: the page's CSP is untouched). */
const MODULE_AS_SCRIPT = `window.webauthn = (() => {\n${WEBAUTHN_JS.replace(/^export /gm, "")}\nreturn { b64urlToBuf, bufToB64url, supported, conditionalMediationAvailable, createPasskey, getPasskey, postJSON };\n})();\nundefined`;

describe.runIf(haveChromium || required)("passkeys in Chromium with a virtual authenticator", () => {
  let stack: LocalStack;
  let worker: WranglerDev;
  let browser: Browser;
  let origin: string;
  const dir = mkdtempSync(join(tmpdir(), "edge-auth-passkeys-"));

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`REQUIRE_BROWSER_TESTS=1 but there is no Chromium at ${CHROMIUM}`);
    stack = await startLocalStack({ finance: false });
    const [port, inspectorPort] = await freePorts(2);
    const envFile = join(dir, "vars.env");
    writeDevVars(envFile, localWorkerVars({ APP_ENV: "development", EMAIL_ENABLED: "false", ...ARGON2 }, stack.workerVars), "# Written by test/browser/passkeys.test.ts\n");
    worker = startWranglerDev({ port, inspectorPort, envFile, persistTo: join(dir, "state"), logLevel: "warn", stdio: ["ignore", "ignore", "inherit"] });
    if (!(await worker.waitForReady("/health", 120_000))) throw new Error("the Worker did not start under wrangler dev");
    // localhost, not 127.0.0.1: an IP address cannot be a WebAuthn RP id (Chromium resolves localhost to loopback itself).
    origin = `http://localhost:${port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
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
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      foreign.push(url);
      return route.abort("blockedbyclient");
    });
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(e.message));

    // A page the Worker serves (the hosted sign-in page when there is one; any same-origin page would do).
    const landing = await page.goto(`${origin}/login`);
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
