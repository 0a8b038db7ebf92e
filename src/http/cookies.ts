// The refresh token as a browser cookie (tokenTransport "cookie"): HttpOnly, Secure unless
// COOKIE_SECURE=false (local HTTP), SameSite from COOKIE_SAMESITE, scoped to /auth.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Config } from "../config";
import { AppError } from "./errors";
import type { AppEnv } from "./middleware";

export const REFRESH_COOKIE = "auth_refresh";
const COOKIE_PATH = "/auth";

function options(config: Config) {
  return {
    path: COOKIE_PATH,
    httpOnly: true,
    secure: config.cookie.secure,
    sameSite: config.cookie.sameSite,
    ...(config.cookie.domain ? { domain: config.cookie.domain } : {}),
  } as const;
}

export function setRefreshCookie(c: Context<AppEnv>, token: string, maxAgeSeconds: number): void {
  setCookie(c, REFRESH_COOKIE, token, { ...options(c.get("deps").config), maxAge: maxAgeSeconds });
}

export function clearRefreshCookie(c: Context<AppEnv>): void {
  deleteCookie(c, REFRESH_COOKIE, options(c.get("deps").config));
}

export function readRefreshCookie(c: Context<AppEnv>): string | null {
  return getCookie(c, REFRESH_COOKIE) ?? null;
}

/**
 * A cookie is sent by the browser whoever asks, so a request that uses it must come from this
 * service's own origin or one of the calling application's origins (or carry no Origin at all: not a browser page).
 */
export function assertCookieOrigin(c: Context<AppEnv>): void {
  const origin = c.req.header("origin");
  if (!origin) return;
  const own = new URL(c.req.url).origin;
  // The calling application's origins (the platform's are CORS_ALLOWED_ORIGINS).
  const allowed = c.get("application")?.allowedOrigins ?? c.get("deps").config.http.corsAllowedOrigins;
  if (origin === own || allowed.includes(origin)) return;
  throw new AppError(403, "origin_not_allowed", "This origin may not use the refresh cookie");
}

/** The remembered-device cookie (MFA, issue 10): HttpOnly, Secure per COOKIE_SECURE, SameSite=Lax, scoped to /auth. */
export const DEVICE_COOKIE = "auth_device";

export function setDeviceCookie(c: Context<AppEnv>, token: string, maxAgeSeconds: number): void {
  setCookie(c, DEVICE_COOKIE, token, { ...options(c.get("deps").config), sameSite: "Lax", maxAge: maxAgeSeconds });
}

export function readDeviceCookie(c: Context<AppEnv>): string | null {
  return getCookie(c, DEVICE_COOKIE) ?? null;
}
