// edge-auth/verifier/hono: a Hono middleware over the verifier. Reads `Authorization: Bearer`,
// answers as RFC 6750 says (401 with a Bearer challenge, 403 insufficient_scope or
// insufficient_permission), in the service's
// error envelope { error: { code, message } }, and puts the verified token on the context:
//
//   const app = new Hono<AuthEnv>();
//   app.get("/reports", requireAuth(verifier, { requiredScopes: ["reports:read"] }), (c) => c.json(c.get("auth").sub));
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { VerifierError, type Verifier, type VerifiedToken, type VerifyOptions } from "./index.ts";

export type AuthVariables = { auth: VerifiedToken };
export type AuthEnv = { Variables: AuthVariables };

const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)$/i;

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  const m = header ? BEARER.exec(header.trim()) : null;
  return m ? m[1] : null;
}

function reject(c: Context, status: 401 | 403 | 503, code: string, message: string, challenge?: string): Response {
  const headers: Record<string, string> = { "cache-control": "no-store" };
  if (challenge) headers["WWW-Authenticate"] = challenge;
  return c.json({ error: { code, message } }, status, headers);
}

const quoted = (value: string) => `"${value.replace(/[\\"]/g, "")}"`;

export function requireAuth(verifier: Verifier, options: VerifyOptions = {}) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    // RFC 6750 section 3.1: no error code when the request carried no token at all.
    if (!token) return reject(c, 401, "unauthorized", "Send an access token as Authorization: Bearer <token>", "Bearer");
    let verified: VerifiedToken;
    try {
      verified = await verifier.verify(token, options);
    } catch (err) {
      if (!(err instanceof VerifierError)) throw err;
      switch (err.code) {
        case "token_expired":
          return reject(c, 401, "token_expired", "The access token has expired", 'Bearer error="invalid_token", error_description="expired"');
        case "insufficient_scope":
          return reject(
            c,
            403,
            "insufficient_scope",
            "The access token lacks a required scope",
            `Bearer error="insufficient_scope", scope=${quoted((err.requiredScopes ?? []).join(" "))}`,
          );
        case "insufficient_permission":
          return reject(
            c,
            403,
            "insufficient_permission",
            "The access token lacks a required organization permission",
            `Bearer error="insufficient_scope", error_description=${quoted(`organization permission required: ${(err.requiredPermissions ?? []).join(" ")}`)}`,
          );
        case "jwks_unavailable":
          return reject(c, 503, "jwks_unavailable", "The token cannot be checked right now; try again shortly");
        default:
          return reject(c, 401, "invalid_token", "The access token is invalid", 'Bearer error="invalid_token"');
      }
    }
    c.set("auth", verified);
    await next();
  });
}

/**
 * Requires an organization-scoped token (`org_id`) whose `org_permissions` hold `permission` (and
 * any further ones in `options.requiredPermissions`); 403 insufficient_permission otherwise.
 *
 *   app.get("/invoices", requirePermission(verifier, "invoices:read"), (c) => c.json(c.get("auth").organization));
 */
export function requirePermission(verifier: Verifier, permission: string, options: VerifyOptions = {}) {
  return requireAuth(verifier, { ...options, requiredPermissions: [permission, ...(options.requiredPermissions ?? [])] });
}
