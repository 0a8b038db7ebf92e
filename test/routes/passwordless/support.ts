// Shared steps of the passwordless tests: request a link or code, read it from the development
// outbox as the user would, and drive the magic-link page as a browser would (its CSRF cookie and field).
import { expect } from "vitest";
import { freshIp } from "../../helpers/applications";
import { BASE, call, json, workerFetch } from "../../helpers/http";
import { outboxFor, waitForEmail } from "../../helpers/users";

export const LINK = /https:\/\/auth\.test\/auth\/magic-link\/verify\?token=([A-Za-z0-9_-]+)/;

export function headers(key?: string, ip = freshIp()): Record<string, string> {
  return { "cf-connecting-ip": ip, ...(key ? { "x-api-key": key } : {}) };
}

export function requestLink(email: string, opts: { key?: string; redirectUri?: string; ip?: string } = {}): Promise<Response> {
  return call("/auth/magic-link/request", {
    json: { email, ...(opts.redirectUri !== undefined ? { redirectUri: opts.redirectUri } : {}) },
    headers: headers(opts.key, opts.ip),
  });
}

/** Waits for the n-th magic link mail to `email` (1-based) and returns its token. */
export async function linkToken(email: string, n = 1): Promise<string> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const mails = (await outboxFor(email)).filter((m) => m.kind === "magic_link");
    if (mails.length >= n) {
      const m = LINK.exec(mails[n - 1].text);
      expect(m, mails[n - 1].text).not.toBeNull();
      return m![1];
    }
    if (Date.now() > deadline) throw new Error(`no magic link #${n} to ${email}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}

/** Requests a link (202) and returns its token from the mail. */
export async function issueLink(email: string, opts: { key?: string; redirectUri?: string } = {}): Promise<string> {
  const before = (await outboxFor(email)).filter((m) => m.kind === "magic_link").length;
  const res = await requestLink(email, opts);
  expect(res.status).toBe(202);
  return linkToken(email, before + 1);
}

export function verifyJson(token: string, key?: string, extra: Record<string, unknown> = {}): Promise<Response> {
  return call("/auth/magic-link/verify", { json: { token, ...extra }, headers: headers(key) });
}

/** Opens the link page as a browser (or a scanner) does: the CSRF value of its form and its cookie. */
export async function openPage(token: string): Promise<{ res: Response; html: string; csrf: string; cookie: string }> {
  const res = await call(`/auth/magic-link/verify?token=${encodeURIComponent(token)}`);
  const html = await res.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
  const setCookie = res.headers.get("set-cookie") ?? "";
  const cookie = /magic_link_csrf=([^;]+)/.exec(setCookie)?.[1] ?? "";
  return { res, html, csrf, cookie };
}

/** Posts the page's form as the browser does (a redirect is returned, not followed). */
export function postForm(token: string, csrf: string, cookie: string, extraHeaders: Record<string, string> = {}): Promise<Response> {
  return workerFetch(BASE + "/auth/magic-link/verify", {
    method: "POST",
    redirect: "manual",
    body: new URLSearchParams({ token, csrf }).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://auth.test", cookie: `magic_link_csrf=${cookie}`, ...headers(undefined), ...extraHeaders },
  });
}

export function requestCode(email: string, key?: string, ip?: string): Promise<Response> {
  return call("/auth/email-otp/request", { json: { email }, headers: headers(key, ip) });
}

/** Requests a code (202) and returns the n-th code mailed to `email`. */
export async function issueCode(email: string, key?: string): Promise<string> {
  const before = (await outboxFor(email)).filter((m) => m.kind === "email_otp").length;
  const res = await requestCode(email, key);
  expect(res.status).toBe(202);
  const deadline = Date.now() + 3000;
  for (;;) {
    const mails = (await outboxFor(email)).filter((m) => m.kind === "email_otp");
    if (mails.length > before) {
      const m = /sign-in code is (\d{6})/.exec(mails[before].subject);
      expect(m).not.toBeNull();
      expect(mails[before].text).toContain(m![1]);
      return m![1];
    }
    if (Date.now() > deadline) throw new Error(`no code to ${email}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}

export function verifyCode(email: string, code: string, key?: string, extra: Record<string, unknown> = {}): Promise<Response> {
  return call("/auth/email-otp/verify", { json: { email, code, ...extra }, headers: headers(key) });
}

export async function errorCode(res: Response): Promise<string> {
  return (await json(res)).error?.code;
}

export { waitForEmail };
