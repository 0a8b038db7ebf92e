// The browser-facing edges of social sign-in: the start's refusals (never a redirect to an
// unregistered URI), the state (missing, unknown, replayed, another provider's, N concurrent
// callbacks with one state -> one sign-in), PKCE, and the provider's own error.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { call, callWithEnv, json } from "../../helpers/http";
import { bearer, createUser, deps, login } from "../../helpers/users";
import { REDIRECT, as, fake, atProvider, browser, callback, exchange, landing, person, signIn, socialApp, start, startPath } from "./support";

const userCount = async () => Number(((await deps().db.execute(sql`select count(*)::int as n from users`)).rows[0] as { n: number }).n);

describe("GET /auth/oauth/{provider}: the start", () => {
  it("an unregistered redirectUri is a 400 page for a browser and the envelope otherwise, never a redirect", async () => {
    const app = await socialApp();
    for (const uri of ["https://evil.example/cb", `${REDIRECT}/x`, `${REDIRECT}?a=1`, REDIRECT.replace("https", "http"), REDIRECT.toUpperCase()]) {
      const page = await browser(startPath("google", app, uri), { headers: { accept: "text/html,application/xhtml+xml" } });
      expect(page.status).toBe(400);
      expect(page.headers.get("location")).toBeNull();
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      const html = await page.text();
      expect(html).toContain("redirect_uri_not_registered");
      expect(html).not.toContain("evil.example");
      const api = await browser(startPath("google", app, uri));
      expect(api.status).toBe(400);
      expect(api.headers.get("location")).toBeNull();
      expect((await json(api)).error.code).toBe("redirect_uri_not_registered");
    }
    // The platform application registers no redirect URIs: nothing to redirect to.
    const platform = await browser(`/auth/oauth/google?redirectUri=${encodeURIComponent(REDIRECT)}`);
    expect(platform.status).toBe(400);
  });

  it("an unknown or disabled client_id: 400 invalid_client; an unknown provider: 400 validation_error", async () => {
    const unknown = await browser(`/auth/oauth/google?redirectUri=${encodeURIComponent(REDIRECT)}&client_id=00000000-0000-4000-8000-000000000000`);
    expect(unknown.status).toBe(400);
    expect((await json(unknown)).error.code).toBe("invalid_client");
    const junk = await browser(`/auth/oauth/google?redirectUri=${encodeURIComponent(REDIRECT)}&client_id=${encodeURIComponent("' or 1=1 --")}`);
    expect((await json(junk)).error.code).toBe("invalid_client");
    const app = await socialApp();
    const bad = await browser(`/auth/oauth/facebook?redirectUri=${encodeURIComponent(REDIRECT)}&client_id=${app.id}`);
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe("validation_error");
  });

  it("a provider without credentials: 404 provider_not_configured; one the application does not offer: 403 provider_not_allowed", async () => {
    const app = await socialApp();
    const off = await callWithEnv({ GOOGLE_CLIENT_ID: undefined, GOOGLE_CLIENT_SECRET: undefined }, startPath("google", app));
    expect(off.status).toBe(404);
    expect((await json(off)).error.code).toBe("provider_not_configured");
    const appleOff = await callWithEnv({ APPLE_CLIENT_ID: undefined, APPLE_TEAM_ID: undefined, APPLE_KEY_ID: undefined, APPLE_PRIVATE_KEY: undefined }, startPath("apple", app));
    expect((await json(appleOff)).error.code).toBe("provider_not_configured");

    const onlyGithub = await socialApp({ signIn: { social: ["github"] } });
    const refused = await browser(startPath("google", onlyGithub));
    expect(refused.status).toBe(403);
    expect((await json(refused)).error.code).toBe("provider_not_allowed");
    expect((await browser(startPath("github", onlyGithub))).status).toBe(302);
  });
});

describe("a provider whose discovery fails", () => {
  it("the start sends the browser back with error=provider_unavailable (never a 5xx); the link route answers 503", async () => {
    const app = await socialApp();
    // An issuer whose discovery document is missing (404; a fresh issuer, so nothing cached).
    const dead = { GOOGLE_ISSUER: `${fake.base}/nowhere-${Date.now()}` };
    const res = await callWithEnv(dead, startPath("google", app));
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get("location")!);
    expect(`${to.origin}${to.pathname}`).toBe(REDIRECT);
    expect(to.searchParams.get("error")).toBe("provider_unavailable");
    const user = await createUser();
    const session = await login(user, { "x-api-key": app.key });
    const link = await callWithEnv(dead, "/auth/identities/google/link", { json: { redirectUri: REDIRECT }, headers: { ...bearer(session.accessToken), "x-api-key": app.key } });
    expect(link.status).toBe(503);
    expect((await json(link)).error.code).toBe("provider_unavailable");
  });
});

describe("GET|POST /auth/oauth/{provider}/callback: state", () => {
  it("no state: 400 state_not_found (a page for a browser); an unknown state: 400 state_mismatch", async () => {
    const none = await browser("/auth/oauth/google/callback?code=abc");
    expect(none.status).toBe(400);
    expect((await json(none)).error.code).toBe("state_not_found");
    const page = await browser("/auth/oauth/google/callback?code=abc", { headers: { accept: "text/html" } });
    expect(page.status).toBe(400);
    expect(await page.text()).toContain("state_not_found");
    const unknown = await browser("/auth/oauth/google/callback?code=abc&state=nope");
    expect(unknown.status).toBe(400);
    expect((await json(unknown)).error.code).toBe("state_mismatch");
    const post = await browser("/auth/oauth/apple/callback", { method: "POST", body: "code=abc", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect((await json(post)).error.code).toBe("state_not_found");
    const jsonPost = await browser("/auth/oauth/apple/callback", { method: "POST", body: JSON.stringify({ state: "x" }), headers: { "content-type": "application/json" } });
    expect((await json(jsonPost)).error.code).toBe("state_not_found");
  });

  it("a replayed callback is refused (the state is single use) and signs no one in", async () => {
    const app = await socialApp();
    const step = await atProvider(await start("google", app), as("google", person()));
    const first = await landing(await callback(step));
    expect(first.searchParams.get("code")).toBeTruthy();
    const replay = await callback(step);
    expect(replay.status).toBe(400);
    expect((await json(replay)).error.code).toBe("state_mismatch");
  });

  it("a state issued for one provider does not finish another's callback (and is spent by trying)", async () => {
    const app = await socialApp();
    const step = await atProvider(await start("google", app), as("google", person()));
    const swapped = await callback({ ...step, url: step.url.replace("/auth/oauth/google/", "/auth/oauth/github/") });
    expect((await json(swapped)).error.code).toBe("state_mismatch");
    expect((await json(await callback(step))).error.code).toBe("state_mismatch");
  });

  it("N concurrent callbacks with one state: exactly one reaches the application with a code, one account", async () => {
    const app = await socialApp();
    const who = person("race");
    const before = await userCount();
    const step = await atProvider(await start("google", app), as("google", who));
    const answers = await Promise.all(Array.from({ length: 10 }, () => callback(step)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([302, ...Array(9).fill(400)]);
    const winner = answers.find((r) => r.status === 302)!;
    expect(new URL(winner.headers.get("location")!).searchParams.get("code")).toBeTruthy();
    expect(await userCount()).toBe(before + 1);
  });

  it("an expired state (10 minutes) is refused", async () => {
    const app = await socialApp();
    const step = await atProvider(await start("google", app), as("google", person()));
    const state = new URL(step.url).searchParams.get("state")!;
    // Age it in Redis: the artefact's TTL is what expires it.
    const { sha256 } = await import("../../../src/crypto/random");
    const key = `auth:artefact:oauth-state:${await sha256(`oauth-state:${state}`)}`;
    expect(await deps().redis.ttl(key)).toBeGreaterThan(590);
    expect(await deps().redis.ttl(key)).toBeLessThanOrEqual(600);
    await deps().redis.pexpire(key, 1);
    await new Promise((r) => setTimeout(r, 20));
    expect((await json(await callback(step))).error.code).toBe("state_mismatch");
  });

  it("the provider's error= is passed on to the application (and the state is spent)", async () => {
    const app = await socialApp();
    const authorizationUrl = await start("google", app);
    const step = await atProvider(authorizationUrl, { fake_error: "access_denied" });
    const landed = await landing(await callback(step));
    expect(landed.searchParams.get("error")).toBe("access_denied");
    expect(landed.searchParams.has("code")).toBe(false);
    // A non-OAuth error value is not echoed.
    const odd = await atProvider(await start("github", app), { fake_error: "<script>" });
    expect((await landing(await callback(odd))).searchParams.get("error")).toBe("provider_error");
  });

  it("a callback without a code: error=invalid_callback", async () => {
    const app = await socialApp();
    const authorizationUrl = await start("google", app);
    const state = authorizationUrl.searchParams.get("state")!;
    const landed = await landing(await browser(`/auth/oauth/google/callback?state=${encodeURIComponent(state)}`));
    expect(landed.searchParams.get("error")).toBe("invalid_callback");
  });

  it("PKCE: a code bound to another challenge (an injected authorization request) is refused at the token endpoint", async () => {
    const app = await socialApp();
    const before = await userCount();
    const authorizationUrl = await start("google", app);
    authorizationUrl.searchParams.set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    const landed = await landing(await callback(await atProvider(authorizationUrl, as("google", person()))));
    expect(landed.searchParams.get("error")).toBe("token_exchange_failed");
    expect(await userCount()).toBe(before);
    // GitHub answers a bad code with 200 and an error body: refused all the same.
    const gh = await start("github", app);
    gh.searchParams.set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    expect((await landing(await callback(await atProvider(gh, as("github", person()))))).searchParams.get("error")).toBe("token_exchange_failed");
  });

  it("a code from another sign-in's authorization (swapped into this state's callback) is refused", async () => {
    const app = await socialApp();
    const victim = await atProvider(await start("google", app), as("google", person("victim")));
    const attacker = await atProvider(await start("google", app), as("google", person("attacker")));
    const code = new URL(attacker.url).searchParams.get("code")!;
    const mixed = new URL(victim.url);
    mixed.searchParams.set("code", code);
    const landed = await landing(await callback({ method: "GET", url: mixed.toString() }));
    expect(landed.searchParams.get("error")).toBe("token_exchange_failed");
  });

  it("the one-time code is exchanged once, and by its application only", async () => {
    const app = await socialApp();
    const landed = await signIn("google", app, as("google", person()));
    const other = await socialApp();
    const stolen = await call("/auth/redirect/exchange", { json: { code: landed.searchParams.get("code") }, headers: { "x-api-key": other.key } });
    expect(stolen.status).toBe(400);
    const app2 = await socialApp();
    const landed2 = await signIn("github", app2, as("github", person()));
    await exchange(app2, landed2);
    const again = await call("/auth/redirect/exchange", { json: { code: landed2.searchParams.get("code") }, headers: { "x-api-key": app2.key } });
    expect(again.status).toBe(400);
  });
});
