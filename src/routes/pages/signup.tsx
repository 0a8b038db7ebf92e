// /signup: self-service sign-up through the same service as POST /auth/register. The answer is the
// same whether or not the address already has an account (its owner is told by email).
import { requestMeta } from "../../http/middleware";
import { register } from "../../services/auth/register";
import { pageHref, pageMiddleware, pageOf, type PageContext } from "../../pages/context";
import type { FormProblems } from "../../pages/errors";
import { checkFields, hasProblems, noProblems, problemsFrom } from "../../pages/forms";
import { Alert, Field, Form, FormError, Layout } from "../../pages/layout";
import { pageRouter } from "../../pages/router";

function SignupView({ page, values = {}, problems = noProblems() }: { page: PageContext; values?: Record<string, string>; problems?: FormProblems }) {
  const { t } = page;
  return (
    <Layout page={page} title={t("signup.title")}>
      <div class="card">
        <h1>{t("signup.heading", { brand: page.brand })}</h1>
        <FormError message={problems.form} />
        <Form page={page} id="signup-form" label={t("signup.title")}>
          <Field id="fullName" name="fullName" label={t("signup.name")} autocomplete="name" value={values.fullName} error={problems.fields.fullName} />
          <Field id="email" name="email" type="email" label={t("signup.email")} autocomplete="email" value={values.email} error={problems.fields.email} required />
          <Field
            id="password"
            name="password"
            type="password"
            label={t("signup.password")}
            autocomplete="new-password"
            hint={t("signup.passwordHint", { min: page.passwordMinLength })}
            error={problems.fields.password}
            required
          />
          <button type="submit" class="block">
            {t("signup.submit")}
          </button>
        </Form>
        <div class="links">
          <span>
            {t("signup.haveAccount")} <a href={pageHref(page, "/login")}>{t("signup.loginLink")}</a>
          </span>
        </div>
      </div>
    </Layout>
  );
}

function SignupDone({ page }: { page: PageContext }) {
  const { t } = page;
  return (
    <Layout page={page} title={t("signup.done.heading")}>
      <div class="card">
        <h1>{t("signup.done.heading")}</h1>
        <Alert kind="ok">{t("signup.done.body")}</Alert>
        <p>
          <a href={pageHref(page, "/login")}>{t("signup.loginLink")}</a>
        </p>
      </div>
    </Layout>
  );
}

export const signupRoutes = pageRouter()
  .get("/signup", ...pageMiddleware, (c) => c.html(<SignupView page={pageOf(c)} />))
  .post("/signup", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const values = { email: (page.form.email ?? "").trim(), fullName: (page.form.fullName ?? "").slice(0, 200) };
    const checked = checkFields(page, ["email", "password"], "email");
    if (hasProblems(checked)) return c.html(<SignupView page={page} values={values} problems={checked} />, 400);
    try {
      await register(c.get("deps"), { email: values.email, password: page.form.password ?? "", fullName: values.fullName || null }, requestMeta(c));
    } catch (err) {
      const problems = problemsFrom(page, err, { password: "password" });
      return c.html(<SignupView page={page} values={values} problems={problems} />, (err as { status: 400 | 403 | 429 }).status);
    }
    return c.html(<SignupDone page={page} />, 202);
  });
