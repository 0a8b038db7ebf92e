// Security headers on every kind of response (JSON success, JSON errors, the JWKS, the docs page
// and its script), HSTS only in production, the docs page's nonce policy and self-hosted bundle,
// API_DOCS_ENABLED, and CORS for any origin on the public documents.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, callWithEnv, json } from "../helpers/http";

const API_CSP = "default-src 'none'; frame-ancestors 'none'";
const HSTS = "max-age=31536000; includeSubDomains";

/** The headers every response carries, whatever it is. */
function expectBaseHeaders(res: Response): void {
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  expect(res.headers.get("x-frame-options")).toBe("DENY");
}

/** A JSON answer: the base headers, the API policy, and (outside production) no HSTS. */
function expectApiHeaders(res: Response): void {
  expectBaseHeaders(res);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(res.headers.get("content-security-policy")).toBe(API_CSP);
  expect(res.headers.get("strict-transport-security")).toBeNull();
}

/** The directives of a CSP header, by name. */
function directives(csp: string | null): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of (csp ?? "").split(";")) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out[name] = values;
  }
  return out;
}

async function docsPage(): Promise<{ res: Response; html: string; nonce: string; scriptSrc: string }> {
  const res = await call("/docs");
  const html = await res.text();
  const nonce = /<meta property="csp-nonce" content="([^"]+)"/.exec(html)?.[1] ?? "";
  const scriptSrc = /<script src="([^"]+)"/.exec(html)?.[1] ?? "";
  return { res, html, nonce, scriptSrc };
}

describe("security headers on JSON responses", () => {
  it("a JSON success carries nosniff, no-referrer and the API policy", async () => {
    const res = await call("/health");
    expect(res.status).toBe(200);
    expectApiHeaders(res);
  });

  it("a 404 carries them", async () => {
    const res = await call("/no/such/route");
    expect(res.status).toBe(404);
    expectApiHeaders(res);
  });

  it("a 401 carries them", async () => {
    const res = await call("/auth/me");
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("unauthorized");
    expectApiHeaders(res);
  });

  it("a 500 from a configuration error (thrown before any route runs) carries them", async () => {
    const res = await callWithEnv({ ARGON2_TIME: "0" }, "/health");
    expect(res.status).toBe(500);
    expect((await json(res)).error.code).toBe("config_error");
    expectApiHeaders(res);
  });

  it("a CORS preflight carries them", async () => {
    const res = await callWithEnv({ CORS_ALLOWED_ORIGINS: "https://app.example.com" }, "/auth/login", {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(204);
    expectBaseHeaders(res);
    expect(res.headers.get("content-security-policy")).toBe(API_CSP);
  });
});

/** A production deployment as far as these tests need one: no local SQL endpoint (refused there), an MFA key (required there). */
const PRODUCTION = { APP_ENV: "production", LOCAL_SQL_ENDPOINT: undefined, MFA_ENCRYPTION_KEY: btoa("p".repeat(32)) } as Record<string, string | undefined>;

describe("Strict-Transport-Security", () => {
  it("is sent in production only, on successes and errors", async () => {
    // Production refuses the local SQL endpoint: without it, /health still answers (no database).
    const ok = await callWithEnv({ ...PRODUCTION }, "/health");
    expect(ok.status).toBe(200);
    expect(ok.headers.get("strict-transport-security")).toBe(HSTS);
    expectBaseHeaders(ok);

    const notFound = await callWithEnv({ ...PRODUCTION }, "/no/such/route");
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get("strict-transport-security")).toBe(HSTS);

    // A configuration error in production (the local endpoint is refused there) still gets HSTS.
    const broken = await callWithEnv({ ...PRODUCTION, LOCAL_SQL_ENDPOINT: (env as unknown as Record<string, string>).LOCAL_SQL_ENDPOINT }, "/health");
    expect(broken.status).toBe(500);
    expect(broken.headers.get("strict-transport-security")).toBe(HSTS);

    for (const appEnv of ["development", "test", "staging"]) {
      const res = await callWithEnv({ APP_ENV: appEnv }, "/health");
      expect(res.status, appEnv).toBe(200);
      expect(res.headers.get("strict-transport-security"), appEnv).toBeNull();
    }
  });
});

describe("the JWKS", () => {
  it("carries the API headers and its own caching", async () => {
    const res = await call("/.well-known/jwks.json");
    expect(res.status).toBe(200);
    expectApiHeaders(res);
    expect(res.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
  });

  it("answers CORS for any origin, without credentials, even one CORS_ALLOWED_ORIGINS lists", async () => {
    for (const origin of ["https://verifier.example.org", "https://app.example.com"]) {
      const res = await callWithEnv({ CORS_ALLOWED_ORIGINS: "https://app.example.com" }, "/.well-known/jwks.json", { headers: { origin } });
      expect(res.status, origin).toBe(200);
      expect(res.headers.get("access-control-allow-origin"), origin).toBe("*");
      expect(res.headers.get("access-control-allow-credentials"), origin).toBeNull();
    }
  });

  it("answers a preflight from any origin", async () => {
    const res = await call("/.well-known/jwks.json", {
      method: "OPTIONS",
      headers: { origin: "https://verifier.example.org", "access-control-request-method": "GET" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("access-control-allow-methods")).toContain("GET");
  });

  it("leaves every other route on per-origin CORS", async () => {
    const res = await callWithEnv({ CORS_ALLOWED_ORIGINS: "https://app.example.com" }, "/health", { headers: { origin: "https://verifier.example.org" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await callWithEnv({ CORS_ALLOWED_ORIGINS: "https://app.example.com" }, "/auth/refresh", {
      method: "OPTIONS",
      headers: { origin: "https://verifier.example.org", "access-control-request-method": "POST" },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("the docs page", () => {
  it("is HTML under a nonce policy that allows only this origin", async () => {
    const { res, html, nonce } = await docsPage();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expectBaseHeaders(res);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(nonce.length).toBeGreaterThanOrEqual(16);

    const csp = directives(res.headers.get("content-security-policy"));
    expect(csp).toEqual({
      "default-src": ["'none'"],
      "script-src": ["'self'", `'nonce-${nonce}'`],
      "style-src": ["'self'", `'nonce-${nonce}'`],
      // Scalar writes highlighted code as HTML with style attributes; <style> still needs the nonce.
      "style-src-attr": ["'unsafe-inline'"],
      "connect-src": ["'self'"],
      "img-src": ["'self'", "data:"],
      "font-src": ["'self'", "data:"],
      "frame-ancestors": ["'none'"],
      "base-uri": ["'none'"],
      "form-action": ["'self'"],
    });
    // Every script on the page carries the nonce, and nothing is loaded from another origin.
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    // The bootstrap (before the bundle), the bundle from this origin, the call that renders.
    expect(scripts.length).toBe(3);
    for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).toContain('"url":"/openapi.json"');
    expect(html).toContain('"withDefaultFonts":false');
  });

  it("gets a fresh nonce on every request", async () => {
    const a = await docsPage();
    const b = await docsPage();
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.res.headers.get("content-security-policy")).toContain(`'nonce-${a.nonce}'`);
    expect(b.res.headers.get("content-security-policy")).toContain(`'nonce-${b.nonce}'`);
  });

  it("loads Scalar's bundle from this Worker under a content-hashed name, cached for good", async () => {
    const { scriptSrc } = await docsPage();
    const m = /^\/docs\/assets\/scalar-([0-9a-f]{16})\.js$/.exec(scriptSrc);
    expect(m, scriptSrc).not.toBeNull();

    const res = await call(scriptSrc);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expectBaseHeaders(res);
    const body = await res.text();
    expect(body).toContain("createApiReference");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(hex.slice(0, 16)).toBe(m![1]);

    const stale = await call("/docs/assets/scalar-0000000000000000.js");
    expect(stale.status).toBe(404);
    expectApiHeaders(stale);
  });

  it("is off when API_DOCS_ENABLED=false, and by default in production", async () => {
    const { scriptSrc } = await docsPage();
    for (const overrides of [{ API_DOCS_ENABLED: "false" }, { ...PRODUCTION }]) {
      for (const path of ["/docs", scriptSrc]) {
        const res = await callWithEnv(overrides, path);
        expect(res.status, `${JSON.stringify(overrides)} ${path}`).toBe(404);
        expect((await json(res)).error.code).toBe("not_found");
        expectBaseHeaders(res);
        expect(res.headers.get("content-security-policy")).toBe(API_CSP);
      }
    }
    const on = await callWithEnv({ ...PRODUCTION, API_DOCS_ENABLED: "true" }, "/docs");
    expect(on.status).toBe(200);
    expect(on.headers.get("strict-transport-security")).toBe(HSTS);
    expect(on.headers.get("content-security-policy")).toContain("script-src 'self' 'nonce-");
  });

  it("the OpenAPI document it renders is JSON under the API policy", async () => {
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    expectApiHeaders(res);
  });
});
