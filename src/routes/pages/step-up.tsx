// /account/step-up: "confirm it is you" before a sensitive change (src/pages/step-up.ts). A code
// from the authenticator app (or a recovery code) or the password, proved by the same createStepUp
// as POST /auth/step-up; the token is kept in the pages' step-up cookie, and the browser returns to
// the page the change came from (?back=, this site's /account or /portal pages only).
import type { Context } from "hono";
import { AppError } from "../../http/errors";
import { requestMeta } from "../../http/middleware";
import { createStepUp } from "../../services/mfa/step-up";
import { pageHref, pageMiddleware, pageOf, type PageContext, type PageEnv } from "../../pages/context";
import type { FormProblems } from "../../pages/errors";
import { noProblems } from "../../pages/forms";
import { Field, Form, FormError, Layout } from "../../pages/layout";
import { pageRouter } from "../../pages/router";
import { keepStepUp, safeBack } from "../../pages/step-up";
import { requireUser } from "./account";

function StepUpView({ page, back, problems = noProblems() }: { page: PageContext; back: string; problems?: FormProblems }) {
  const { t } = page;
  return (
    <Layout page={page} title={t("stepUp.title")}>
      <div class="card">
        <h1>{t("stepUp.title")}</h1>
        <FormError message={problems.form} />
        <p>{t("stepUp.intro")}</p>
        <Form page={page} action={pageHref(page, "/account/step-up", { back })} id="step-up-form" label={t("stepUp.title")}>
          <Field id="step-up-code" name="code" label={t("stepUp.code")} autocomplete="one-time-code" inputmode="numeric" maxlength={20} error={problems.fields.code} autofocus />
          <Field id="step-up-password" name="password" type="password" label={t("stepUp.password")} autocomplete="current-password" error={problems.fields.password} />
          <button type="submit" class="block">
            {t("stepUp.submit")}
          </button>
        </Form>
        <p>
          <a href={back}>{t("stepUp.back")}</a>
        </p>
      </div>
    </Layout>
  );
}

const backOf = (c: Context<PageEnv>) => safeBack(c.req.query("back"));

/** Returns to `back` with a confirmation: the account page shows ?notice=stepped_up. */
function returnTo(back: string): string {
  const [path, hash = ""] = back.split("#");
  const sep = path.includes("?") ? "&" : "?";
  return `${path}${sep}notice=stepped_up${hash ? `#${hash}` : ""}`;
}

export const stepUpRoutes = pageRouter()
  .get("/account/step-up", ...pageMiddleware, async (c) => {
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    return c.html(<StepUpView page={pageOf(c)} back={backOf(c)} />);
  })
  .post("/account/step-up", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const back = backOf(c);
    const code = (page.form.code ?? "").replace(/\s+/g, "");
    const password = page.form.password ?? "";
    const problems = noProblems();
    try {
      if (!code && !password) throw new AppError(400, "validation_error", "code or password");
      // Six digits: the authenticator app; anything else typed there: a recovery code.
      const input = code ? { factor: /^\d{6}$/.test(code) ? ("totp" as const) : ("recovery_code" as const), code } : { factor: "password" as const, password };
      const proof = await createStepUp(c.get("deps"), user.principal, input, requestMeta(c));
      keepStepUp(c, proof.stepUpToken, proof.expiresIn);
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      problems.form = page.t("error.summary");
      if (err.code === "validation_error") problems.fields.code = page.t("stepUp.missing");
      else if (err.code === "rate_limited") problems.form = page.t("error.rate_limited");
      else if (code) problems.fields.code = page.t("stepUp.badCode");
      else problems.fields.password = page.t("stepUp.badPassword");
      const status = err.status === 429 ? 429 : 400;
      return c.html(<StepUpView page={page} back={back} problems={problems} />, status);
    }
    return c.redirect(returnTo(back), 303);
  });

