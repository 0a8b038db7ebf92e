// Route middleware for app-initiated routes (sign-in, sign-up, refresh, logout, reset requests):
// X-API-Key names the calling application (none: the platform application, unless
// REQUIRE_APPLICATION); a browser request from an origin the application does not list is refused.
// Sets c.var.application for the handler and for per-application CORS.
import type { MiddlewareHandler } from "hono";
import { assertOriginAllowed, resolveApplication } from "../services/applications/resolve";
import { AppError } from "./errors";
import type { AppEnv } from "./middleware";

export const API_KEY_HEADER = "X-API-Key";

export const application: MiddlewareHandler<AppEnv> = async (c, next) => {
  const app = await resolveApplication(c.get("deps"), c.req.header(API_KEY_HEADER));
  c.set("application", app);
  assertOriginAllowed(app, c.req.header("origin"));
  await next();
};

/**
 * After `bearer` on routes that act on the caller's sessions: the request names (X-API-Key, or
 * none for the platform) the application the token's session belongs to. A token used through
 * another application is refused and nothing changes.
 */
export const tokenApplication: MiddlewareHandler<AppEnv> = async (c, next) => {
  const app = await resolveApplication(c.get("deps"), c.req.header(API_KEY_HEADER));
  c.set("application", app);
  assertOriginAllowed(app, c.req.header("origin"));
  if (c.get("principal").clientId !== app.id) {
    throw new AppError(401, "invalid_token", "This access token belongs to another application", {
      headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
    });
  }
  await next();
};
