// /verify-email?token= and /magic-link?token=: confirm pages. Opening the link (GET) consumes
// nothing (mail scanners fetch links); the page's button POSTs the token, which the same services
// as the JSON API consume once.
import { requestMeta } from "../../http/middleware";
import { resolveApplicationById } from "../../services/applications/resolve";
import { redirectWithCode } from "../../services/auth/redirect-code";
import { confirmEmailVerification } from "../../services/passwordless/email-verification";
import { verifyMagicLink } from "../../services/passwordless/magic-link";
import { pageHref, pageMiddleware, pageOf, type PageContext } from "../../pages/context";
import { leaveTo } from "../../pages/flow";
import { answerOutcome } from "./mfa";
import { Alert, Form, Layout } from "../../pages/layout";
import type { MessageKey } from "../../pages/i18n";
import { pageRouter } from "../../pages/router";
import { AppError } from "../../http/errors";

interface ConfirmProps {
  page: PageContext;
  title: MessageKey;
  heading: MessageKey;
  intro: MessageKey;
  submit: MessageKey;
  token: string;
  result?: { kind: "ok" | "error"; message: string } | null;
}

function ConfirmView({ page, title, heading, intro, submit, token, result }: ConfirmProps) {
  const { t } = page;
  return (
    <Layout page={page} title={t(title)} query={token ? { token } : undefined}>
      <div class="card">
        <h1>{t(heading)}</h1>
        {result ? <Alert kind={result.kind}>{result.message}</Alert> : null}
        {result?.kind === "ok" ? (
          <p>
            <a href={pageHref(page, "/account")}>{t("account.title")}</a>
          </p>
        ) : token ? (
          <>
            {result ? null : <p>{t(intro)}</p>}
            <Form page={page} label={t(title)}>
              <input type="hidden" name="token" value={token} />
              <button type="submit" class="block">
                {t(submit)}
              </button>
            </Form>
          </>
        ) : (
          <p>
            <a href={pageHref(page, "/login")}>{t("error.back")}</a>
          </p>
        )}
      </div>
    </Layout>
  );
}

const VERIFY = { title: "verify.title", heading: "verify.heading", intro: "verify.intro", submit: "verify.submit" } as const;
const MAGIC = { title: "magic.title", heading: "magic.heading", intro: "magic.intro", submit: "magic.submit" } as const;

function tokenOf(value: string | undefined): string {
  const token = (value ?? "").trim();
  return /^[A-Za-z0-9_-]{1,200}$/.test(token) ? token : "";
}

export const verifyRoutes = pageRouter()
  .get("/verify-email", ...pageMiddleware, (c) => {
    const page = pageOf(c);
    const token = tokenOf(c.req.query("token"));
    return c.html(<ConfirmView page={page} {...VERIFY} token={token} result={token ? null : { kind: "error", message: page.t("verify.invalid") }} />, token ? 200 : 400);
  })
  .post("/verify-email", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const token = tokenOf(page.form.token);
    try {
      if (!token) throw new AppError(400, "invalid_token", "no token");
      await confirmEmailVerification(c.get("deps"), token, requestMeta(c));
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      const message = err.code === "rate_limited" ? page.t("error.rate_limited") : page.t("verify.invalid");
      return c.html(<ConfirmView page={page} {...VERIFY} token="" result={{ kind: "error", message }} />, err.status);
    }
    return c.html(<ConfirmView page={page} {...VERIFY} token="" result={{ kind: "ok", message: page.t("verify.done") }} />);
  })
  .get("/magic-link", ...pageMiddleware, (c) => {
    const page = pageOf(c);
    const token = tokenOf(c.req.query("token"));
    return c.html(<ConfirmView page={page} {...MAGIC} token={token} result={token ? null : { kind: "error", message: page.t("magic.invalid") }} />, token ? 200 : 400);
  })
  .post("/magic-link", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const token = tokenOf(page.form.token);
    const deps = c.get("deps");
    let verified;
    try {
      if (!token) throw new AppError(400, "invalid_token", "no token");
      verified = await verifyMagicLink(deps, token, (id) => resolveApplicationById(deps, id), requestMeta(c));
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      const message = err.code === "rate_limited" ? page.t("error.rate_limited") : page.t("magic.invalid");
      return c.html(<ConfirmView page={page} {...MAGIC} token="" result={{ kind: "error", message }} />, err.status);
    }
    // The link names its application and redirect URI (checked when it was requested).
    if (verified.redirectUri) return leaveTo(c, page, await redirectWithCode(deps, verified.application, verified.redirectUri, verified.outcome));
    return answerOutcome(c, { ...page, app: verified.application, redirectUri: null }, verified.outcome);
  });
