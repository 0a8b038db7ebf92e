// A refusal or failure a page answers with an HTML page (status, a stable code for logs and tests,
// and the catalogue message to show). AppErrors thrown by services are shown the same way.
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError } from "../http/errors";
import type { MessageKey } from "./i18n";

export class PageError extends AppError {
  constructor(
    status: ContentfulStatusCode,
    code: string,
    readonly messageKey: MessageKey,
  ) {
    super(status, code, messageKey);
    this.name = "PageError";
  }
}

/** The catalogue message for a service error's code, when the catalogue has one. */
export function messageKeyFor(err: AppError): MessageKey {
  if (err instanceof PageError) return err.messageKey;
  switch (err.code) {
    case "invalid_credentials":
    case "pending_approval":
    case "registration_rejected":
    case "account_inactive":
    case "email_not_verified":
    case "rate_limited":
    case "invalid_current_password":
    case "invalid_code":
    case "dependency_unavailable":
      return `error.${err.code}`;
    case "redirect_uri_not_registered":
      return "error.redirect";
    case "invalid_client":
      return "error.client";
    case "not_found":
      return "error.notFound";
    case "origin_not_allowed":
      return "error.origin";
    case "token_revoked":
    case "invalid_token":
    case "token_expired":
    case "session_revoked":
      return "error.session";
    default:
      return "error.generic";
  }
}

/** A service error as a form shows it: a message for the form and, where it names one, a field's. */
export interface FormProblems {
  form: string | null;
  fields: Record<string, string>;
}
