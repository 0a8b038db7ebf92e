// What the browser tests share: Debian's Chromium (driven by playwright-core, never a downloaded
// browser) and when the tests run without it, the Worker under `wrangler dev` on the embedded
// local stack with a test's own variables, the browser launched with nothing fetched on its own
// behalf, and the checks every page gets (axe-core, CSP reports, script errors, requests to
// another origin). Each test keeps its own flows and assertions.
//
// Without /usr/bin/chromium (or CHROMIUM_PATH) the tests are skipped and say why; with
// REQUIRE_BROWSER_TESTS=1 (as .ci/run sets) a missing browser is a failure instead.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { startLocalStack, type LocalStack } from "../../scripts/local-stack/index.ts";
import { writeDevVars } from "../../scripts/dev-vars.ts";
import { freePorts, localWorkerVars, startWranglerDev, type WranglerDev } from "../../scripts/local-worker.ts";

export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const required = process.env.REQUIRE_BROWSER_TESTS === "1";
const SKIP_REASON = `browser tests skipped: no Chromium at ${CHROMIUM} (install Debian's: apt-get install chromium; or set CHROMIUM_PATH)`;
if (!haveChromium && !required) console.warn(SKIP_REASON);

/** Whether a browser test's describe runs: with Chromium, or without it when it is required (then startBrowserWorker fails). */
export const browserTestsEnabled = haveChromium || required;

/** Where screenshots go (kept after the run, for a human to look at): $BROWSER_SCREENSHOT_DIR, default <tmp>/edge-auth-browser. */
export const SCREENSHOTS = process.env.BROWSER_SCREENSHOT_DIR || join(tmpdir(), "edge-auth-browser");

/** Cheap Argon2 parameters for the Worker and for users seeded with scripts/seed-users.ts. */
export const ARGON2 = { ARGON2_MEMORY: "1024", ARGON2_TIME: "1", ARGON2_PARALLELISM: "1" };
/** The password of seeded and signed-up test users. */
export const PASSWORD = "correct horse battery staple 1";
export const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 360, height: 740 } } as const;
export type ViewportName = keyof typeof VIEWPORTS;

/** Debian's Chromium, headless, without a sandbox (CI runs as root) and with nothing it would fetch on its own behalf. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export interface BrowserWorker {
  /** The Worker's origin, http://127.0.0.1:<port>. */
  origin: string;
  /** The same Worker as http://localhost:<port>: an IP address cannot be a WebAuthn relying party id (Chromium resolves localhost to loopback itself). */
  localhostOrigin: string;
  stack: LocalStack;
  worker: WranglerDev;
  browser: Browser;
  /** Closes the browser, stops the Worker and the stack, removes the temporary directory. */
  stop(): Promise<void>;
}

/**
 * The embedded stack, the Worker under `wrangler dev` with `vars` (over APP_ENV=development and
 * the stack's bindings; written to an env file in a fresh temporary directory, with its state
 * there too), and Chromium. `name` is the test file's (test/browser/<name>.test.ts). Fails when
 * Chromium is missing (the describe only runs then under REQUIRE_BROWSER_TESTS=1). On a failure
 * part-way, what was started is stopped.
 */
export async function startBrowserWorker(name: string, vars: Record<string, string>): Promise<BrowserWorker> {
  if (!haveChromium) throw new Error(`REQUIRE_BROWSER_TESTS=1 but there is no Chromium at ${CHROMIUM}`);
  const dir = mkdtempSync(join(tmpdir(), `edge-auth-${name}-`));
  let stack: LocalStack | undefined;
  let worker: WranglerDev | undefined;
  let browser: Browser | undefined;
  const stop = async () => {
    await browser?.close();
    await worker?.stop();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    stack = await startLocalStack({ finance: false });
    const [port, inspectorPort] = await freePorts(2);
    const envFile = join(dir, "vars.env");
    writeDevVars(envFile, localWorkerVars({ APP_ENV: "development", ...vars }, stack.workerVars), `# Written by test/browser/${name}.test.ts\n`);
    worker = startWranglerDev({ port, inspectorPort, envFile, persistTo: join(dir, "state"), logLevel: "warn", stdio: ["ignore", "ignore", "inherit"] });
    if (!(await worker.waitForReady("/health", 120_000))) throw new Error("the Worker did not start under wrangler dev");
    browser = await launchChromium();
    return { origin: new URL(worker.url).origin, localhostOrigin: `http://localhost:${port}`, stack, worker, browser, stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/** An init script (it runs outside the page's CSP) that records the page's CSP violations; read them with cspViolations. */
export const RECORD_CSP_VIOLATIONS = {
  content: `window.__csp = []; document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
};

/** The CSP violations recorded in the page (RECORD_CSP_VIOLATIONS). */
export async function cspViolations(page: Page): Promise<string[]> {
  return (await page.evaluate("window.__csp")) as string[];
}

/**
 * Lets requests to `allowed` origins through and aborts any other, reporting its URL to
 * `blocked`; `stub` may answer a request to another origin instead (e.g. an application's
 * registered redirect URI).
 */
export async function onlyOrigins(
  context: BrowserContext,
  allowed: string[],
  blocked: (url: string) => void,
  stub?: (url: URL) => { status: number; contentType: string; body: string } | undefined,
): Promise<void> {
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (allowed.includes(new URL(url).origin)) return route.continue();
    const answer = stub?.(new URL(url));
    if (answer) return route.fulfill(answer);
    blocked(url);
    return route.abort("blockedbyclient");
  });
}

/** Records the page's script errors and console errors (but the browser's own log of a 40x answer) in `problems`. */
export function watchForProblems(page: Page, problems: string[]): void {
  page.on("pageerror", (e) => problems.push(`script error on ${page.url()}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 40[0-9]/.test(m.text())) problems.push(`console error on ${page.url()}: ${m.text()}`);
  });
}

let axeSource: string | undefined;
/** axe-core's violations on the page as it is, one line each (injected through the DevTools protocol: the page's CSP is untouched). */
export async function axeViolations(page: Page): Promise<string[]> {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(`${axeSource}\n;undefined`);
  const result = (await page.evaluate(`axe.run(document, { resultTypes: ["violations"] })`)) as { violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] };
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}
