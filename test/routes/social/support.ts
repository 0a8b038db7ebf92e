// Drives a social sign-in the way a browser does, by hand: the Worker's start (302 to the fake
// provider), the fake's authorization endpoint (302 back, or Apple's auto-posting form), the
// Worker's callback (302 to the application's redirect URI), then the code exchange. The fake is
// test/helpers/fake-oauth-provider.ts, started by test/global-setup.ts.
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { ApplicationSettings } from "../../../src/services/applications/fields";
import type { FakeOAuthProvided } from "../../helpers/fake-oauth-provider";
import { createApiKey, createApplication } from "../../helpers/applications";
import { BASE, call, json, workerFetch } from "../../helpers/http";

export type Provider = "google" | "github" | "microsoft" | "apple";
export const PROVIDERS: Provider[] = ["google", "github", "microsoft", "apple"];

export const fake: FakeOAuthProvided = JSON.parse((env as unknown as Record<string, string>).TEST_OAUTH_FAKE);

export const REDIRECT = "https://app.example.com/auth/done";

export interface SocialApp {
  id: string;
  key: string;
}

export async function socialApp(settings: ApplicationSettings = { signIn: { signUp: { approval: "automatic" } } }, redirectUris = [REDIRECT]): Promise<SocialApp> {
  const app = await createApplication({ type: "web", redirectUris, settings });
  return { id: app.id, key: await createApiKey(app.id) };
}

let counter = 0;
/** A fresh subject (digits: GitHub's ids are numbers) and email for one test. */
export function person(prefix = "p"): { sub: string; email: string } {
  counter += 1;
  const id = String(Date.now() * 100 + counter);
  return { sub: id, email: `${prefix}.${id}@example.com` };
}

export function startPath(provider: Provider, app: SocialApp, redirectUri = REDIRECT): string {
  return `/auth/oauth/${provider}?${new URLSearchParams({ client_id: app.id, redirectUri })}`;
}

/**
 * A browser request into the Worker that does not follow redirects (a service fetch would follow
 * a 302 into the Worker itself, whatever its host).
 */
export function browser(pathOrUrl: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  const url = pathOrUrl.startsWith("/") ? BASE + pathOrUrl : pathOrUrl;
  expect(new URL(url).origin).toBe(BASE);
  return workerFetch(url, { method: init.method ?? "GET", body: init.body, headers: init.headers, redirect: "manual" });
}

function worker(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  return browser(url, init);
}

export interface ProviderStep {
  /** The Worker's answer to the start (302 to the provider). */
  authorizationUrl: URL;
}

/** The start: 302 to the provider's authorization endpoint. */
export async function start(provider: Provider, app: SocialApp, redirectUri = REDIRECT): Promise<URL> {
  const res = await browser(startPath(provider, app, redirectUri));
  expect(res.status, await res.clone().text()).toBe(302);
  return new URL(res.headers.get("location")!);
}

/**
 * The provider's part: the browser at the authorization URL (with fake_* controls), and back to
 * the Worker's callback. Returns the callback request as the browser would send it.
 */
export async function atProvider(authorizationUrl: URL, controls: Record<string, string> = {}): Promise<{ method: "GET" | "POST"; url: string; form?: Record<string, string> }> {
  const url = new URL(authorizationUrl);
  for (const [k, v] of Object.entries(controls)) url.searchParams.set(k, v);
  const res = await fetch(url, { redirect: "manual" });
  if (res.status === 200 && res.headers.get("x-fake-form-post")) {
    const post = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(res.headers.get("x-fake-form-post")!.replace(/-/g, "+").replace(/_/g, "/")), (ch) => ch.charCodeAt(0)))) as { action: string; fields: Record<string, string> };
    await res.text();
    return { method: "POST", url: post.action, form: post.fields };
  }
  expect(res.status, await res.clone().text()).toBe(302);
  await res.text();
  return { method: "GET", url: res.headers.get("location")! };
}

/** The browser arriving at the Worker's callback. */
export function callback(step: { method: "GET" | "POST"; url: string; form?: Record<string, string> }, headers: Record<string, string> = {}): Promise<Response> {
  if (step.method === "POST") {
    return worker(step.url, { method: "POST", body: new URLSearchParams(step.form).toString(), headers: { "content-type": "application/x-www-form-urlencoded", ...headers } });
  }
  return worker(step.url, { headers });
}

/** Where the callback sent the browser (asserting it is the application's redirect URI). */
export async function landing(res: Response, redirectUri = REDIRECT): Promise<URL> {
  expect(res.status, await res.clone().text()).toBe(302);
  const to = new URL(res.headers.get("location")!);
  expect(`${to.origin}${to.pathname}`).toBe(redirectUri);
  return to;
}

/** The whole round trip; returns where the browser lands. */
export async function signIn(provider: Provider, app: SocialApp, controls: Record<string, string> = {}, redirectUri = REDIRECT): Promise<URL> {
  const authorizationUrl = await start(provider, app, redirectUri);
  return landing(await callback(await atProvider(authorizationUrl, controls)), redirectUri);
}

/** The code exchange at POST /auth/redirect/exchange. */
export async function exchange(app: SocialApp, landed: URL): Promise<any> {
  const code = landed.searchParams.get("code");
  expect(code, `landed with ${landed.search}`).toBeTruthy();
  const res = await call("/auth/redirect/exchange", { json: { code }, headers: { "x-api-key": app.key } });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await json(res)).data;
}

/** The controls that make `who` sign in at `provider`. */
export function as(provider: Provider, who: { sub: string; email: string }, extra: Record<string, string> = {}): Record<string, string> {
  return { fake_sub: who.sub, fake_email: who.email, ...extra };
}

export async function tokenRequests(): Promise<{ provider: string; params: Record<string, string> }[]> {
  const res = await fetch(`${fake.base}/__requests`);
  return ((await res.json()) as { requests: { provider: string; params: Record<string, string> }[] }).requests;
}
