// The error envelope: every failure answers { error: { code, message, ... } } with a stable
// snake_case code and the right status; nothing else (no stack, no driver text) reaches a client.
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface FieldProblem {
  field: string;
  message: string;
}

export interface ErrorBody {
  error: { code: string; message: string; fields?: FieldProblem[]; details?: Record<string, unknown> };
}

export class AppError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly extra: { fields?: FieldProblem[]; details?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "AppError";
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.extra.fields ? { fields: this.extra.fields } : {}), ...(this.extra.details ? { details: this.extra.details } : {}) } };
  }
}

export const errors = {
  validation: (fields: FieldProblem[]) =>
    new AppError(400, "validation_error", `Invalid request: ${fields.map((f) => `${f.field}: ${f.message}`).join("; ")}`, { fields }),
  malformedJson: () => new AppError(400, "malformed_json", "The request body is not valid JSON"),
  unsupportedMediaType: () => new AppError(415, "unsupported_media_type", "Send the request body as application/json"),
  payloadTooLarge: (limit: number) => new AppError(413, "payload_too_large", `The request body is larger than ${limit} bytes`),
  notFound: (what = "The requested resource was not found") => new AppError(404, "not_found", what),
  methodNotAllowed: (allow: string[]) =>
    new AppError(405, "method_not_allowed", `Method not allowed; use ${allow.join(", ")}`, { headers: { Allow: allow.join(", ") } }),
  unauthorized: (message = "Authentication required") => new AppError(401, "unauthorized", message),
  forbidden: (message = "You are not allowed to do this") => new AppError(403, "forbidden", message),
  dependencyUnavailable: (dependency: string) =>
    new AppError(503, "dependency_unavailable", `A required service is unavailable (${dependency}); try again shortly`, { details: { dependency } }),
  config: (variables: string[]) =>
    new AppError(500, "config_error", `The service is misconfigured: check ${variables.join(", ")}`, { details: { variables } }),
  internal: () => new AppError(500, "internal_error", "An unexpected error occurred"),
};
