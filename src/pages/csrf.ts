// CSRF protection for every form the hosted pages and the portal post: a random value in an
// HttpOnly, SameSite=Lax cookie, and in each form the HMAC of that value under a server key
// (derived from the refresh-successor key, with its own label). A POST must carry both, matching,
// and come from this site (Origin, or Referer when a browser sends no Origin). Refusals are 403
// pages (PageError).
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../http/middleware";
import { PageError } from "./errors";

export const CSRF_COOKIE = "pages_csrf";
export const CSRF_FIELD = "_csrf";

const encoder = new TextEncoder();

function base64url(bytes: ArrayBuffer | Uint8Array): string {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function sign(c: Context<AppEnv>, value: string): Promise<string> {
  const keys = await c.get("deps").keys();
  return base64url(await crypto.subtle.sign("HMAC", keys.refreshKey, encoder.encode(`hosted-pages-csrf\u0000${value}`)));
}

function equal(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The form token of this browser (its cookie set now if it has none yet). */
export async function csrfToken(c: Context<AppEnv>): Promise<string> {
  let value = getCookie(c, CSRF_COOKIE);
  if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
    value = base64url(crypto.getRandomValues(new Uint8Array(32)));
    const { config } = c.get("deps");
    setCookie(c, CSRF_COOKIE, value, { path: "/", httpOnly: true, secure: config.cookie.secure, sameSite: "Lax" });
  }
  return sign(c, value);
}

/** The origins this site's pages are served from: the request's own, and PUBLIC_URL's. */
export function ownOrigins(c: Context<AppEnv>): string[] {
  const own = [new URL(c.req.url).origin];
  const publicUrl = c.get("deps").config.publicUrl;
  if (publicUrl) own.push(new URL(publicUrl).origin);
  return own;
}

/** The request came from one of this site's pages (Origin; without one, Referer); else a 403 page. */
export function assertSameOrigin(c: Context<AppEnv>): void {
  const origin = c.req.header("origin");
  let from: string | null = null;
  if (origin && origin !== "null") from = origin;
  else {
    const referer = c.req.header("referer");
    try {
      from = referer ? new URL(referer).origin : null;
    } catch {
      from = null;
    }
  }
  if (!from || !ownOrigins(c).includes(from)) throw new PageError(403, "origin_not_allowed", "error.origin");
}

/** A POSTed form's token matches this browser's cookie; else a 403 page. */
export async function assertCsrf(c: Context<AppEnv>, presented: unknown): Promise<void> {
  const value = getCookie(c, CSRF_COOKIE);
  if (!value || typeof presented !== "string" || presented === "" || !equal(presented, await sign(c, value))) {
    throw new PageError(403, "csrf_failed", "error.csrf");
  }
}
