// /docs in a real browser, offline: Debian's Chromium (driven by playwright-core, never a
// downloaded browser) loads the page from the Worker under `wrangler dev` with every request to
// any other origin aborted, and must render the operations from /openapi.json with nothing
// aborted, no CSP violation and no script error. Every request the page made is recorded.
// Setup, skipping without Chromium and the shared checks: ./support.ts.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserTestsEnabled, cspViolations, onlyOrigins, RECORD_CSP_VIOLATIONS, SCREENSHOTS, startBrowserWorker, type BrowserWorker } from "./support.ts";

/** Where the screenshot of the rendered page goes (kept after the run, for a human to look at). */
const SCREENSHOT = join(SCREENSHOTS, "docs.png");

describe.runIf(browserTestsEnabled)("/docs in Chromium, offline", () => {
  let env: BrowserWorker;

  beforeAll(async () => {
    // The embedded stack (nothing else needed: the page reads only /openapi.json).
    env = await startBrowserWorker("docs", { EMAIL_ENABLED: "false" });
  }, 180_000);

  afterAll(async () => {
    await env?.stop();
  }, 60_000);

  it("renders the operations with every request to the Worker and nothing aborted, blocked or broken", { timeout: 120_000 }, async () => {
    const { origin, browser } = env;
    const context = await browser.newContext({ serviceWorkers: "block" });
    const requests: { method: string; url: string; type: string; status?: number }[] = [];
    const aborted: string[] = [];
    const failed: string[] = [];
    const errors: string[] = [];
    const cspReports: string[] = [];

    // The network is the Worker's origin and nothing else.
    await onlyOrigins(context, [origin], (url) => aborted.push(url));
    context.on("request", (r) => requests.push({ method: r.method(), url: r.url(), type: r.resourceType() }));
    context.on("response", (r) => {
      const entry = requests.find((q) => q.url === r.url() && q.status === undefined);
      if (entry) entry.status = r.status();
    });
    context.on("requestfailed", (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
    // Violations reported from inside the page (the init script runs outside the page's CSP).
    await context.addInitScript(RECORD_CSP_VIOLATIONS);

    const page = await context.newPage();
    page.on("websocket", (ws) => aborted.push(`websocket ${ws.url()}`));
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
      if (/Content Security Policy/i.test(m.text())) cspReports.push(m.text());
    });

    const res = await page.goto(`${origin}/docs`, { waitUntil: "networkidle" });
    expect(res?.status()).toBe(200);
    // The document from /openapi.json, rendered: its title, then the "auth" tag opened from the
    // sidebar lists its operations.
    const rendered = await (async () => {
      await page.getByRole("heading", { name: "Edge auth service" }).first().waitFor({ timeout: 30_000 });
      await page.getByText("auth", { exact: true }).first().click();
      await page.getByText("/auth/login", { exact: true }).first().waitFor({ timeout: 30_000 });
    })().then(
      () => null,
      (err: Error) => err,
    );
    const text = await page.locator("body").innerText();
    mkdirSync(join(SCREENSHOT, ".."), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: false });
    // Down to the end of the reference: whatever renders lazily is loaded (and recorded) too.
    await page.keyboard.press("End");
    await page.mouse.wheel(0, 100_000);
    await page.waitForTimeout(1_000);
    await page.waitForLoadState("networkidle");
    const inPage = await cspViolations(page);
    await context.close();

    console.log(
      `/docs made ${requests.length} request(s) (screenshot: ${SCREENSHOT}):\n` +
        requests.map((r) => `  ${r.status ?? "---"} ${r.method} ${r.url} (${r.type})`).join("\n") +
        (aborted.length ? `\naborted: ${aborted.join(", ")}` : "") +
        (failed.length ? `\nfailed: ${failed.join(", ")}` : "") +
        ([...inPage, ...cspReports].length ? `\nCSP: ${[...inPage, ...cspReports].join(" | ")}` : "") +
        (errors.length ? `\nerrors: ${errors.join(" | ")}` : ""),
    );
    expect(rendered, "operations rendered").toBeNull();
    for (const path of ["/auth/login", "/auth/refresh", "/auth/me"]) expect(text).toContain(path);
    expect(text).toContain("Edge auth service");
    expect(aborted, "requests to another origin").toEqual([]);
    expect(requests.filter((r) => new URL(r.url).origin !== origin)).toEqual([]);
    const paths = requests.map((r) => new URL(r.url).pathname);
    expect(paths).toContain("/docs");
    expect(paths).toContain("/openapi.json");
    expect(paths.some((p) => /^\/docs\/assets\/scalar-[0-9a-f]{16}\.js$/.test(p))).toBe(true);
    expect(failed, "failed requests").toEqual([]);
    expect(requests.filter((r) => r.status !== undefined && r.status >= 400), "error answers").toEqual([]);
    expect([...inPage, ...cspReports], "CSP violations").toEqual([]);
    expect(errors, "script errors").toEqual([]);
  });
});
