// The one error type the verifier throws. `code` is stable and safe to branch on (and to send to a
// client); `message` is for logs. Written without parameter properties or enums so Node's type
// stripping can run this file as it is.

export type VerifierErrorCode =
  /** Malformed, forged, wrongly typed or addressed, not yet valid, or signed by a key we do not trust. */
  | "invalid_token"
  /** Well formed and correctly signed, but past `exp` (beyond the clock tolerance). */
  | "token_expired"
  /** Valid, but without every scope the caller required. */
  | "insufficient_scope"
  /** Valid, but without every organization permission the caller required (org_permissions, only with org_id). */
  | "insufficient_permission"
  /** The JWKS could not be fetched or parsed and no usable cached copy exists: not the token's fault. */
  | "jwks_unavailable";

const STATUS: Record<VerifierErrorCode, number> = {
  invalid_token: 401,
  token_expired: 401,
  insufficient_scope: 403,
  insufficient_permission: 403,
  jwks_unavailable: 503,
};

export class VerifierError extends Error {
  readonly code: VerifierErrorCode;
  /** For insufficient_scope: the scopes the caller required (for a WWW-Authenticate scope="..."). */
  readonly requiredScopes: readonly string[] | undefined;
  /** For insufficient_permission: the organization permissions the caller required. */
  readonly requiredPermissions: readonly string[] | undefined;

  constructor(
    code: VerifierErrorCode,
    message: string,
    options: { cause?: unknown; requiredScopes?: readonly string[]; requiredPermissions?: readonly string[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VerifierError";
    this.code = code;
    this.requiredScopes = options.requiredScopes;
    this.requiredPermissions = options.requiredPermissions;
  }

  /** The HTTP status a resource server should answer with: 401, 403 or 503. */
  get status(): number {
    return STATUS[this.code];
  }
}
