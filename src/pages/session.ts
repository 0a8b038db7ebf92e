// The pages' own session: the refresh token of a session started through the pages, in an
// HttpOnly, SameSite=Lax cookie (Secure unless COOKIE_SECURE=false) scoped to the whole site, with
// the application it belongs to; and its short-lived access token in a second cookie of the same
// kind. A page that needs the user verifies the access token exactly as the API's Bearer check
// does; when it has expired, the refresh token is rotated by the same service as POST /auth/refresh.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../http/middleware";
import { requestMeta } from "../http/middleware";
import { AppError } from "../http/errors";
import { authenticateBearer, type Principal } from "../services/auth/bearer";
import type { IssuedTokens } from "../services/auth/common";
import { logout } from "../services/auth/logout";
import { refresh } from "../services/auth/refresh";
import { resolveApplicationById, type CallingApplication } from "../services/applications/resolve";

export const SESSION_COOKIE = "pages_session";
export const ACCESS_COOKIE = "pages_access";
/** A step-up token of the pages' session (src/pages/step-up.ts). */
export const STEP_UP_COOKIE = "pages_step_up";

/** The attributes of the pages' cookies: the whole site, HttpOnly, SameSite=Lax, Secure unless COOKIE_SECURE=false. */
export function cookieOptions(c: Context<AppEnv>) {
  const { config } = c.get("deps");
  return { path: "/", httpOnly: true, secure: config.cookie.secure, sameSite: "Lax" as const };
}

/** Keeps a session started through the pages (tokens of `application`) in the browser. */
export function startPageSession(c: Context<AppEnv>, application: Pick<CallingApplication, "id">, tokens: IssuedTokens): void {
  const options = cookieOptions(c);
  setCookie(c, SESSION_COOKIE, `${application.id}~${tokens.refreshToken}`, { ...options, maxAge: tokens.refreshExpiresIn });
  setCookie(c, ACCESS_COOKIE, tokens.accessToken, { ...options, maxAge: Math.max(1, tokens.expiresIn - 5) });
}

export function clearPageSession(c: Context<AppEnv>): void {
  const options = cookieOptions(c);
  deleteCookie(c, SESSION_COOKIE, options);
  deleteCookie(c, ACCESS_COOKIE, options);
  if (getCookie(c, STEP_UP_COOKIE)) deleteCookie(c, STEP_UP_COOKIE, options);
}

function readSession(c: Context<AppEnv>): { applicationId: string; refreshToken: string } | null {
  const raw = getCookie(c, SESSION_COOKIE);
  const m = raw ? /^([0-9a-f-]{36})~(.{1,4096})$/i.exec(raw) : null;
  return m ? { applicationId: m[1], refreshToken: m[2] } : null;
}

export interface PageUser {
  principal: Principal;
  /** The application the pages' session belongs to. */
  application: CallingApplication;
}

/**
 * The signed-in user of this browser, or null. The access cookie first; when it is missing or no
 * longer good, one refresh with the session cookie (new cookies set on this response); when that
 * fails too, the cookies are dropped. Revocation markers are awaited here, so a revoked session
 * is seen as signed out on its next page (Postgres still decides in each service).
 */
export async function pageUser(c: Context<AppEnv>): Promise<PageUser | null> {
  const deps = c.get("deps");
  const session = readSession(c);
  if (!session) {
    if (getCookie(c, ACCESS_COOKIE)) clearPageSession(c);
    return null;
  }
  let application: CallingApplication;
  try {
    application = await resolveApplicationById(deps, session.applicationId);
  } catch {
    clearPageSession(c);
    return null;
  }
  const access = getCookie(c, ACCESS_COOKIE);
  if (access) {
    try {
      const principal = await authenticateBearer(deps, `Bearer ${access}`);
      await principal.markers;
      if (principal.clientId === application.id) return { principal, application };
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 401) throw err;
    }
  }
  try {
    const tokens = await refresh(deps, application, session.refreshToken, requestMeta(c));
    startPageSession(c, application, tokens);
    const principal = await authenticateBearer(deps, `Bearer ${tokens.accessToken}`);
    return { principal, application };
  } catch (err) {
    if (!(err instanceof AppError) || err.status !== 401) throw err;
    clearPageSession(c);
    return null;
  }
}

/** Ends the pages' session (the same service as POST /auth/logout) and drops its cookies. */
export async function endPageSession(c: Context<AppEnv>): Promise<void> {
  const session = readSession(c);
  clearPageSession(c);
  if (!session) return;
  try {
    const application = await resolveApplicationById(c.get("deps"), session.applicationId);
    await logout(c.get("deps"), application, session.refreshToken, requestMeta(c));
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) throw err;
  }
}
