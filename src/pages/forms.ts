// Turning form input and service errors into what a form page shows, in the page's language.
import { Email } from "../http/auth-schemas";
import { AppError } from "../http/errors";
import { MAX_PASSWORD_LENGTH } from "../services/password-policy";
import type { PageContext } from "./context";
import { messageKeyFor, type FormProblems } from "./errors";
import type { MessageKey } from "./i18n";

export const noProblems = (): FormProblems => ({ form: null, fields: {} });

/** Required fields that are blank, and an email field that is not an address. */
export function checkFields(page: PageContext, required: string[], emailField?: string): FormProblems {
  const problems = noProblems();
  for (const name of required) if (!(page.form[name] ?? "").trim()) problems.fields[name] = page.t("error.required");
  if (emailField && !problems.fields[emailField] && !Email.safeParse((page.form[emailField] ?? "").trim()).success) problems.fields[emailField] = page.t("error.email");
  if (Object.keys(problems.fields).length) problems.form = page.t("error.summary");
  return problems;
}

export const hasProblems = (p: FormProblems) => p.form !== null || Object.keys(p.fields).length > 0;

/**
 * A 4xx service error as the form's problems (5xx errors are rethrown for the error page). A weak
 * password is shown at `passwordField` with its rule; invalid credentials at the password too.
 */
export function problemsFrom(page: PageContext, err: unknown, fields: { password?: string } = {}): FormProblems {
  if (!(err instanceof AppError) || err.status >= 500) throw err;
  const { t } = page;
  const problems = noProblems();
  if (err.code === "weak_password") {
    const rule = String(err.extra.details?.rule ?? "too_short");
    const detail = t(`password.${rule}` as MessageKey, { min: page.passwordMinLength, max: MAX_PASSWORD_LENGTH });
    const field = err.extra.fields?.[0]?.field ?? "password";
    problems.fields[fields.password ?? field] = t("error.weak_password", { detail });
    problems.form = t("error.summary");
    return problems;
  }
  if (err.code === "invalid_current_password") {
    problems.fields.currentPassword = t("error.invalid_current_password");
    problems.form = t("error.summary");
    return problems;
  }
  if (err.code === "validation_error") {
    for (const f of err.extra.fields ?? []) problems.fields[f.field] = t("error.required");
    problems.form = t("error.summary");
    return problems;
  }
  const key = err.code === "registration_disabled" ? "error.registration_disabled" : messageKeyFor(err);
  problems.form = t(key);
  if (err.code === "invalid_credentials" && fields.password) problems.fields[fields.password] = t("error.invalid_credentials");
  return problems;
}

