// /forgot-password and /reset-password?token=: the same services as POST
// /auth/password-reset/request and /confirm. The request answers the same for every address; the
// reset page shows its form on GET and changes nothing until the form is posted.
import { requestMeta } from "../../http/middleware";
import { confirmPasswordReset, requestPasswordReset } from "../../services/auth/passwords";
import { pageHref, pageMiddleware, pageOf, type PageContext } from "../../pages/context";
import type { FormProblems } from "../../pages/errors";
import { checkFields, hasProblems, noProblems, problemsFrom } from "../../pages/forms";
import { Alert, Field, Form, FormError, Layout } from "../../pages/layout";
import { pageRouter } from "../../pages/router";

function ForgotView({ page, email, problems = noProblems(), sent }: { page: PageContext; email?: string; problems?: FormProblems; sent?: boolean }) {
  const { t } = page;
  return (
    <Layout page={page} title={t("forgot.title")}>
      <div class="card">
        <h1>{t("forgot.heading")}</h1>
        {sent ? <Alert kind="ok">{t("forgot.sent")}</Alert> : <p>{t("forgot.intro")}</p>}
        <FormError message={problems.form} />
        <Form page={page} id="forgot-form" label={t("forgot.title")}>
          <Field id="email" name="email" type="email" label={t("login.email")} autocomplete="email" value={email} error={problems.fields.email} required />
          <button type="submit" class="block">
            {t("forgot.submit")}
          </button>
        </Form>
        <div class="links">
          <a href={pageHref(page, "/login")}>{t("signup.loginLink")}</a>
        </div>
      </div>
    </Layout>
  );
}

function ResetView({ page, token, problems = noProblems(), done }: { page: PageContext; token: string; problems?: FormProblems; done?: boolean }) {
  const { t } = page;
  return (
    <Layout page={page} title={t("reset.title")}>
      <div class="card">
        <h1>{t("reset.heading")}</h1>
        {done ? (
          <>
            <Alert kind="ok">{t("reset.done")}</Alert>
            <p>
              <a class="button block" href={pageHref(page, "/login")}>
                {t("login.submit")}
              </a>
            </p>
          </>
        ) : (
          <>
            <FormError message={problems.form} />
            <Form page={page} id="reset-form" label={t("reset.title")}>
              <input type="hidden" name="token" value={token} />
              <Field
                id="newPassword"
                name="newPassword"
                type="password"
                label={t("reset.password")}
                autocomplete="new-password"
                hint={t("signup.passwordHint", { min: page.passwordMinLength })}
                error={problems.fields.newPassword}
                required
              />
              <button type="submit" class="block">
                {t("reset.submit")}
              </button>
            </Form>
            <div class="links">
              <a href={pageHref(page, "/forgot-password")}>{t("login.forgot")}</a>
            </div>
          </>
        )}
      </div>
    </Layout>
  );
}

export const passwordRoutes = pageRouter()
  .get("/forgot-password", ...pageMiddleware, (c) => c.html(<ForgotView page={pageOf(c)} />))
  .post("/forgot-password", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const email = (page.form.email ?? "").trim();
    const checked = checkFields(page, ["email"], "email");
    if (hasProblems(checked)) return c.html(<ForgotView page={page} email={email} problems={checked} />, 400);
    try {
      // The token never reaches the page (EXPOSE_PASSWORD_RESET_TOKEN is for API tests only).
      await requestPasswordReset(c.get("deps"), { email }, requestMeta(c));
    } catch (err) {
      return c.html(<ForgotView page={page} email={email} problems={problemsFrom(page, err)} />, (err as { status: 400 | 429 }).status);
    }
    return c.html(<ForgotView page={page} sent />);
  })
  .get("/reset-password", ...pageMiddleware, (c) => {
    const page = pageOf(c);
    const token = c.req.query("token") ?? "";
    if (!token) return c.html(<ResetView page={page} token="" problems={{ form: page.t("reset.invalid"), fields: {} }} />, 400);
    return c.html(<ResetView page={page} token={token} />);
  })
  .post("/reset-password", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const token = (page.form.token ?? "").slice(0, 200);
    const checked = checkFields(page, ["newPassword"]);
    if (hasProblems(checked)) return c.html(<ResetView page={page} token={token} problems={checked} />, 400);
    try {
      await confirmPasswordReset(c.get("deps"), { token, newPassword: page.form.newPassword ?? "" }, requestMeta(c));
    } catch (err) {
      const problems = problemsFrom(page, err, { password: "newPassword" });
      if ((err as { code?: string }).code === "invalid_reset_token") problems.form = page.t("reset.invalid");
      return c.html(<ResetView page={page} token={token} problems={problems} />, (err as { status: 400 }).status);
    }
    return c.html(<ResetView page={page} token="" done />);
  });
