// The one Hono app: middleware, the routers, the OpenAPI document and the error envelope for
// every failure (404, 405, malformed JSON, wrong content type, oversize body, validation errors,
// config errors, dependencies down, and anything unexpected as a bare 500 internal_error).
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "./config";
import { AppError, errors } from "./http/errors";
import { bodyGuard, cors, dependencies, requestContext, type AppEnv } from "./http/middleware";
import { securityHeaders } from "./http/security-headers";
import { describeError, log } from "./runtime/log";
import { dependencyFailure } from "./runtime/metrics";
import { authRoutes } from "./routes/auth";
import { docsRoutes } from "./routes/docs";
import { healthRoutes } from "./routes/health";
import { internalApplicationRoutes } from "./routes/internal/applications";
import { internalAuditRoutes } from "./routes/internal/audit";
import { internalCompanyRoutes } from "./routes/internal/companies";
import { internalFinanceRoutes } from "./routes/internal/finance";
import { internalMachineRoutes } from "./routes/internal/machine";
import { internalOrganizationRoutes } from "./routes/internal/organizations";
import { internalServiceAccountRoutes } from "./routes/internal/service-accounts";
import { internalUserRoutes } from "./routes/internal/users";
import { oauthErrorResponse, oauthRoutes } from "./routes/oauth";
import { organizationRoutes } from "./routes/organizations";
import { connectErrorResponse, tokenServiceRoutes, VALIDATE_TOKEN_PATH } from "./routes/token-service";
import { wellKnownRoutes } from "./routes/well-known";
import { mfaRoutes } from "./routes/mfa";
import { pageRoutes } from "./routes/pages";
import { passkeyRoutes } from "./routes/passkeys";
import { passwordlessRoutes } from "./routes/passwordless";
import { redirectRoutes } from "./routes/redirect";
import { socialRoutes } from "./routes/social";

const SERVICE_VERSION = "0.1.0";

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ConfigError) return errors.config(err.variables);
  if (err instanceof HTTPException) {
    switch (err.status) {
      case 400:
        return /malformed json/i.test(err.message) ? errors.malformedJson() : new AppError(400, "bad_request", "The request is invalid");
      case 401:
        return errors.unauthorized();
      case 413:
        return new AppError(413, "payload_too_large", "The request body is too large");
      case 415:
        return errors.unsupportedMediaType();
      default:
        return err.status >= 500 ? errors.internal() : new AppError(err.status, "bad_request", "The request is invalid");
    }
  }
  const dependency = dependencyFailure(err);
  if (dependency) return errors.dependencyUnavailable(dependency);
  return errors.internal();
}

function errorResponse(c: Context<AppEnv>, err: AppError): Response {
  c.set("errorCode", err.code);
  const res = c.json(err.body(), err.status);
  for (const [k, v] of Object.entries(err.extra.headers ?? {})) res.headers.set(k, v);
  return res;
}

function compilePath(path: string): RegExp {
  const pattern = path
    .split("/")
    .map((seg) => (seg.startsWith(":") ? "[^/]+" : seg === "*" ? ".*" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${pattern}/?$`);
}

/** An error on /oauth/* or the Connect service, in that protocol's shape; null elsewhere. */
function protocolErrorResponse(c: Context<AppEnv>, err: unknown): Response | null {
  const path = new URL(c.req.url).pathname;
  if (path.startsWith("/oauth/")) return oauthErrorResponse(c, err);
  if (path.startsWith(VALIDATE_TOKEN_PATH.slice(0, VALIDATE_TOKEN_PATH.lastIndexOf("/") + 1))) return connectErrorResponse(c, err);
  return null;
}

export function createApp() {
  const app = new OpenAPIHono<AppEnv>();

  // Outermost: every response gets the security headers, errors and preflights included.
  app.use("*", securityHeaders);
  app.use("*", requestContext);
  app.use("*", dependencies);
  app.use("*", cors);
  app.use("*", bodyGuard);

  // Chained so the app's type carries every route (AppType, for hono/client).
  const routes = app
    .route("/", healthRoutes)
    .route("/", wellKnownRoutes)
    .route("/", authRoutes)
    .route("/", organizationRoutes)
    .route("/", internalUserRoutes)
    .route("/", internalApplicationRoutes)
    .route("/", internalCompanyRoutes)
    .route("/", internalOrganizationRoutes)
    .route("/", internalMachineRoutes)
    .route("/", internalFinanceRoutes)
    .route("/", internalAuditRoutes)
    .route("/", internalServiceAccountRoutes)
    .route("/", oauthRoutes)
    .route("/", redirectRoutes)
    .route("/", passwordlessRoutes)
    .route("/", mfaRoutes)
    .route("/", socialRoutes)
    .route("/", passkeyRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "Bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "An access token from /auth/login or /auth/refresh",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "ApiKey", {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
    description: "An application's API key (POST /internal/applications/{id}/api-keys); names the calling application on app-initiated routes",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Edge auth service",
      version: SERVICE_VERSION,
      description:
        "Identity, sessions, RS256 access tokens with rotating refresh tokens, JWKS, password reset, staff approval and admin APIs. Success bodies are `{ data }`; errors are `{ error: { code, message } }`.",
    },
  });
  // The API reference, self-hosted (src/routes/docs.ts); not part of AppType.
  app.route("/", docsRoutes);
  // The hosted pages (src/routes/pages/); HTML, not part of AppType.
  app.route("/", pageRoutes);
  // Connect unary JSON (/auth.v1.TokenService/*): its dotted path is no hono/client path, so not part of AppType.
  app.route("/", tokenServiceRoutes);

  // 405 for a known path with another method; 404 for everything else.
  let routeTable: { method: string; regex: RegExp }[] | null = null;
  app.notFound((c) => {
    routeTable ??= app.routes.filter((r) => r.method !== "ALL").map((r) => ({ method: r.method, regex: compilePath(r.path) }));
    const path = new URL(c.req.url).pathname;
    const allow = [...new Set(routeTable.filter((r) => r.regex.test(path)).map((r) => r.method))];
    if (allow.length > 0) {
      if (allow.includes("GET")) allow.push("HEAD");
      return errorResponse(c, errors.methodNotAllowed(allow));
    }
    return errorResponse(c, errors.notFound(`No route for ${c.req.method} ${path}`));
  });

  app.onError((err, c) => {
    // The OAuth endpoints and the Connect service answer every failure (body limits in the guard,
    // dependencies down) in their own protocol's shape.
    const ownProtocol = protocolErrorResponse(c, err);
    if (ownProtocol) return ownProtocol;
    const appError = toAppError(err);
    if (appError.status >= 500) {
      log({
        level: "error",
        msg: appError.code === "internal_error" ? "unhandled error" : appError.message,
        requestId: c.get("requestId"),
        code: appError.code,
        ...describeError(err, { stack: appError.code === "internal_error" }),
      });
    }
    return errorResponse(c, appError);
  });

  return routes;
}
