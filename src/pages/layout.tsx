// The page frame and the small components every hosted page (and the portal) is built from.
// Server-rendered hono/jsx; no inline event handlers, no style attributes: scripts and the brand
// <style> carry the request's nonce, everything else comes from the hashed stylesheet.
import { raw } from "hono/html";
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import { carried, type PageContext } from "./context";
import { CSRF_FIELD } from "./csrf";
import { LOCALES, translator, type MessageKey } from "./i18n";
import { STYLESHEET_PATH } from "./styles";

export interface LayoutProps {
  page: PageContext;
  /** The document title (the brand is appended). */
  title: string;
  /** A wider column (account, portal). */
  wide?: boolean;
  /** Scripts (same-origin paths) the page needs; they get the nonce. */
  scripts?: string[];
  /** Links in the header, right of the brand (e.g. sign out). */
  nav?: Child;
  /** Extra <head> elements (e.g. the continue page's refresh). */
  head?: Child;
  /** This page's own query parameters the language links keep (e.g. an emailed token). */
  query?: Record<string, string>;
}

export const Layout: FC<PropsWithChildren<LayoutProps>> = ({ page, title, wide, scripts, nav, head, query, children }) => {
  const { t } = page;
  return (
    <>
    {raw("<!doctype html>")}
    <html lang={page.locale}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <meta name="robots" content="noindex" />
        <title>{`${title} · ${page.brand}`}</title>
        <link rel="stylesheet" href={STYLESHEET_PATH} />
        {page.brandCss ? <style nonce={page.nonce}>{page.brandCss}</style> : null}
        {head}
      </head>
      <body>
        <a class="skip" href="#main">
          {t("skip")}
        </a>
        <header class="top">
          <span class="brand">
            {/* Only a data: logo (settings.branding.logoDataUrl): an https logoUrl is another site's image,
                which the page policy (img-src 'self' data:) and "nothing from third parties" keep off. */}
            {page.logoUrl?.startsWith("data:image/") ? <img class="logo" src={page.logoUrl} alt="" width={32} height={32} /> : null}
            <span>{page.brand}</span>
          </span>
          <nav class="langs" aria-label={t("lang.label")}>
            {nav}
            {LOCALES.filter((l) => l !== page.locale).map((l) => (
              <a href={`${page.path}?${carried({ ...page, locale: l }, query)}`} hreflang={l} lang={l}>
                {translator(l)("lang.name")}
              </a>
            ))}
          </nav>
        </header>
        <main id="main" class={wide ? "wide" : undefined} tabindex={-1}>
          {children}
        </main>
        <footer>{t("footer.privacy", { brand: page.brand })}</footer>
        {(scripts ?? []).map((src) => (
          <script src={src} nonce={page.nonce} defer />
        ))}
      </body>
    </html>
    </>
  );
};

/** A form posting to `action` (default: this page with its carried parameters), with the CSRF field. */
export const Form: FC<PropsWithChildren<{ page: PageContext; action?: string; id?: string; class?: string; label?: string }>> = ({ page, action, id, children, label, ...rest }) => (
  <form method="post" action={action ?? `${page.path}?${carried(page)}`} id={id} class={rest.class} aria-label={label} novalidate>
    <input type="hidden" name={CSRF_FIELD} value={page.csrf} />
    {children}
  </form>
);

export interface FieldProps {
  id: string;
  name: string;
  label: string;
  type?: "text" | "email" | "password";
  autocomplete?: string;
  value?: string;
  hint?: string;
  /** The error shown under the field and tied to it (aria-describedby, aria-invalid). */
  error?: string | null;
  required?: boolean;
  inputmode?: "numeric" | "text" | "email";
  maxlength?: number;
  pattern?: string;
  autofocus?: boolean;
}

/** A labelled input with its hint and error tied to it. */
export const Field: FC<FieldProps> = (p) => {
  const hintId = p.hint ? `${p.id}-hint` : null;
  const errorId = p.error ? `${p.id}-error` : null;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div class="field">
      <label for={p.id}>{p.label}</label>
      {p.hint ? (
        <span class="hint" id={hintId!}>
          {p.hint}
        </span>
      ) : null}
      <input
        id={p.id}
        name={p.name}
        type={p.type ?? "text"}
        autocomplete={p.autocomplete}
        value={p.value}
        required={p.required}
        inputmode={p.inputmode}
        maxlength={p.maxlength}
        pattern={p.pattern}
        autofocus={p.autofocus}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={describedBy}
      />
      {p.error ? (
        <span class="field-error" id={errorId!}>
          {p.error}
        </span>
      ) : null}
    </div>
  );
};

/** A labelled checkbox. */
export const Checkbox: FC<{ id: string; name: string; label: string; checked?: boolean }> = (p) => (
  <div class="check">
    <input type="checkbox" id={p.id} name={p.name} value="1" checked={p.checked} />
    <label for={p.id}>{p.label}</label>
  </div>
);

/** A message box: errors are announced (role=alert), confirmations politely (role=status). */
export const Alert: FC<PropsWithChildren<{ kind: "error" | "ok"; id?: string }>> = ({ kind, id, children }) => (
  <div class={`alert ${kind}`} role={kind === "error" ? "alert" : "status"} id={id} tabindex={-1}>
    {children}
  </div>
);

/** The page's error (form-level), if any. */
export const FormError: FC<{ message?: string | null }> = ({ message }) => (message ? <Alert kind="error" id="form-error">{message}</Alert> : null);

/** The page for a refusal or failure. */
export const ErrorPage: FC<{ page: PageContext; message: MessageKey | string; status: number }> = ({ page, message, status }) => {
  const { t } = page;
  const text = message.includes(".") && !message.includes(" ") ? t(message as MessageKey) : message;
  return (
    <Layout page={page} title={t("error.title")}>
      <div class="card">
        <h1>{t("error.title")}</h1>
        <Alert kind="error">{text}</Alert>
        <p class="muted">{`HTTP ${status}`}</p>
        <p>
          <a href={`/login?${carried(page)}`}>{t("error.back")}</a>
        </p>
      </div>
    </Layout>
  );
};
