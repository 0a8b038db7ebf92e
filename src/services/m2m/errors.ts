// Errors of the OAuth endpoints (/oauth/*), shaped as RFC 6749 section 5.2 says:
// { "error", "error_description" } with the status the RFC names, not this service's envelope.
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError } from "../../http/errors";

export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "invalid_target"
  | "unsupported_token_type"
  | "temporarily_unavailable"
  | "server_error";

export class OAuthError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = "OAuthError";
  }

  body(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export const oauthErrors = {
  invalidRequest: (description: string) => new OAuthError(400, "invalid_request", description),
  /** Bad, unknown or missing client credentials: always this one answer (RFC 6749 section 5.2). */
  invalidClient: () => new OAuthError(401, "invalid_client", "client authentication failed", { "WWW-Authenticate": 'Basic realm="oauth", charset="UTF-8"' }),
  invalidScope: (description: string) => new OAuthError(400, "invalid_scope", description),
  invalidTarget: (description: string) => new OAuthError(400, "invalid_target", description),
  unsupportedGrantType: (grant: string) => new OAuthError(400, "unsupported_grant_type", `grant_type "${grant.slice(0, 50)}" is not supported; use client_credentials`),
};

/**
 * Failures from shared code (rate limits, dependencies down) in RFC form: 429 and 503 are
 * temporarily_unavailable with Retry-After where known; anything else is a bare server_error.
 */
export function toOAuthError(err: AppError): OAuthError {
  if (err.status === 429) {
    const retry = err.extra.headers?.["Retry-After"];
    return new OAuthError(429, "temporarily_unavailable", `too many failed client authentications; retry in ${retry ?? "a few"} s`, retry ? { "Retry-After": retry } : {});
  }
  if (err.status === 503) return new OAuthError(503, "temporarily_unavailable", err.message, { "Retry-After": "1" });
  if (err.status === 413) return new OAuthError(413, "invalid_request", err.message);
  if (err.status < 500) return new OAuthError(err.status, "invalid_request", err.message);
  return new OAuthError(500, "server_error", "an unexpected error occurred");
}
