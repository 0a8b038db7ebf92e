// /login: the sign-in page. The methods shown follow the application's sign-in policy
// (signInPolicy): password, and each configured social provider (a link to
// /auth/oauth/{provider}); the second step when the account needs one. Signing out: POST /logout.
import { PROVIDER_NAMES } from "../../services/applications/fields";
import { offeredProviders } from "../../services/social/sign-in";
import type { Context } from "hono";
import { requestMeta } from "../../http/middleware";
import { signInPolicy } from "../../services/applications/policy";
import { login } from "../../services/auth/login";
import { requestEmailOtp, verifyEmailOtp } from "../../services/passwordless/email-otp";
import { requestMagicLink } from "../../services/passwordless/magic-link";
import type { SocialProvider } from "../../services/applications/fields";
import { carried, pageHref, pageMiddleware, pageOf, type PageContext, type PageEnv } from "../../pages/context";
import type { FormProblems } from "../../pages/errors";
import { checkFields, hasProblems, noProblems, problemsFrom } from "../../pages/forms";
import { Alert, Field, Form, FormError, Layout } from "../../pages/layout";
import { endPageSession } from "../../pages/session";
import { pageRouter } from "../../pages/router";
import { answerOutcome, deviceToken } from "./mfa";
import { signInOptions, signInWithPasskey } from "../../services/passkeys/sign-in";
import { relyingParty } from "../../services/passkeys/relying-party";
import { PASSKEY_LOGIN_JS_PATH } from "../../pages/passkey-login";
import { CSRF_FIELD } from "../../pages/csrf";
import type { AuthenticationResponseJSON } from "@simplewebauthn/server";

/** The social providers this page offers: in the application's policy and configured here. */
function socialProviders(c: Context<PageEnv>, page: PageContext): SocialProvider[] {
  return offeredProviders(c.get("deps"), page.app);
}

interface LoginViewProps {
  page: PageContext;
  social: SocialProvider[];
  email?: string;
  problems?: FormProblems;
  notice?: string | null;
}

export function LoginView({ page, social, email, problems = noProblems(), notice }: LoginViewProps) {
  const { t } = page;
  const policy = signInPolicy(page.app);
  const head = policy.passkey ? <script type="module" src={PASSKEY_LOGIN_JS_PATH} nonce={page.nonce} /> : null;
  return (
    <Layout page={page} title={t("login.title")} head={head}>
      <div class="card">
        <h1>{t("login.heading", { brand: page.brand })}</h1>
        {notice ? <Alert kind="ok">{notice}</Alert> : null}
        <FormError message={problems.form} />
        {policy.password ? (
          <Form page={page} action={pageHref(page, "/login")} id="password-form" label={t("login.title")}>
            <Field id="email" name="email" type="email" label={t("login.email")} autocomplete="username webauthn" value={email} error={problems.fields.email} required />
            <Field id="password" name="password" type="password" label={t("login.password")} autocomplete="current-password" error={problems.fields.password} required />
            <button type="submit" class="block">
              {t("login.submit")}
            </button>
          </Form>
        ) : null}
        {policy.passkey ? (
          <>
            <div class="divider">{t("login.or")}</div>
            <form
              method="post"
              action={pageHref(page, "/login/passkey")}
              id="passkey-form"
              aria-label={t("login.passkey.heading")}
              data-options={pageHref(page, "/login/passkey/options")}
              data-failed={t("login.passkey.failed")}
              data-unsupported={t("login.passkey.unsupported")}
            >
              <input type="hidden" name={CSRF_FIELD} value={page.csrf} />
              <input type="hidden" name="challengeId" value="" />
              <input type="hidden" name="response" value="" />
              <p id="passkey-status" class="alert error" role="alert" hidden />
              <button type="button" id="passkey-button" class="secondary block">
                {t("login.passkey.submit")}
              </button>
            </form>
          </>
        ) : null}
        {policy.magicLink || policy.emailOtp ? (
          <>
            <div class="divider">{t("login.or")}</div>
            <Form page={page} action={pageHref(page, "/login/email")} id="email-form" label={t(policy.magicLink ? "login.magic.heading" : "login.code.heading")}>
              <Field id="passwordless-email" name="email" type="email" label={t("login.passwordless.email")} autocomplete="email" value={email} error={problems.fields.passwordlessEmail} />
              <div class="stack">
                {policy.magicLink ? (
                  <button type="submit" name="method" value="magic_link" class="secondary block">
                    {t("login.magic.submit")}
                  </button>
                ) : null}
                {policy.emailOtp ? (
                  <button type="submit" name="method" value="email_otp" class="secondary block">
                    {t("login.code.submit")}
                  </button>
                ) : null}
              </div>
            </Form>
          </>
        ) : null}
        {social.length ? (
          <>
            <div class="divider">{t("login.or")}</div>
            <div class="stack">
              {social.map((p) => {
                const q = new URLSearchParams({ client_id: page.app.id });
                if (page.redirectUri) q.set("redirectUri", page.redirectUri);
                return (
                  <a class="button secondary block" href={`/auth/oauth/${p}?${q}`}>
                    {t("login.social", { provider: PROVIDER_NAMES[p] })}
                  </a>
                );
              })}
            </div>
          </>
        ) : null}
        <div class="links">
          <a href={pageHref(page, "/forgot-password")}>{t("login.forgot")}</a>
          <span>
            {t("login.noAccount")} <a href={pageHref(page, "/signup")}>{t("login.signupLink")}</a>
          </span>
        </div>
      </div>
    </Layout>
  );
}

function EmailCodeView({ page, email, problems = noProblems() }: { page: PageContext; email: string; problems?: FormProblems }) {
  const { t } = page;
  return (
    <Layout page={page} title={t("login.code.heading")}>
      <div class="card">
        <h1>{t("login.code.heading")}</h1>
        {problems.form ? <FormError message={problems.form} /> : <Alert kind="ok">{t("login.code.sent")}</Alert>}
        <Form page={page} action={pageHref(page, "/login/email-code")} id="code-form" label={t("login.code.heading")}>
          <input type="hidden" name="email" value={email} />
          <Field id="code" name="code" label={t("login.code.label")} autocomplete="one-time-code" inputmode="numeric" maxlength={6} error={problems.fields.code} autofocus />
          <button type="submit" class="block">
            {t("login.code.verify")}
          </button>
        </Form>
        <div class="links">
          <a href={pageHref(page, "/login")}>{t("error.back")}</a>
        </div>
      </div>
    </Layout>
  );
}

export const loginRoutes = pageRouter()
  .get("/login", ...pageMiddleware, (c) => {
    const page = pageOf(c);
    const notice = c.req.query("signed_out") === "1" ? page.t("login.signedOut") : null;
    return c.html(<LoginView page={page} social={socialProviders(c, page)} notice={notice} />);
  })
  .post("/login", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const email = (page.form.email ?? "").trim();
    const social = socialProviders(c, page);
    const checked = checkFields(page, ["email", "password"], "email");
    if (hasProblems(checked)) return c.html(<LoginView page={page} social={social} email={email} problems={checked} />, 400);
    if (!signInPolicy(page.app).password) return c.html(<LoginView page={page} social={social} email={email} problems={{ form: page.t("error.unavailable"), fields: {} }} />, 403);
    let outcome;
    try {
      outcome = await login(c.get("deps"), page.app, { email, password: page.form.password ?? "", deviceToken: deviceToken(c) }, requestMeta(c));
    } catch (err) {
      const problems = problemsFrom(page, err, { password: "password" });
      const status = (err as { status: 400 | 401 | 403 | 429 }).status;
      const retry = (err as { extra?: { headers?: Record<string, string> } }).extra?.headers?.["Retry-After"];
      if (retry) c.header("Retry-After", retry);
      return c.html(<LoginView page={page} social={social} email={email} problems={problems} />, status);
    }
    return answerOutcome(c, page, outcome);
  })
  .post("/login/passkey/options", ...pageMiddleware, async (c) => {
    // For the page's script: a sign-in challenge (discoverable credentials; the email field's autofill).
    const page = pageOf(c);
    const rp = relyingParty(c.get("deps"), page.app, { url: c.req.url, origin: c.req.header("origin") });
    const result = await signInOptions(c.get("deps"), page.app, rp, undefined);
    return c.json({ data: { options: result.options, challengeId: result.challengeId } });
  })
  .post("/login/passkey", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const social = socialProviders(c, page);
    const failed = (status: 400 | 401 | 403 | 429) => c.html(<LoginView page={page} social={social} problems={{ form: page.t("login.passkey.failed"), fields: {} }} />, status);
    const challengeId = page.form.challengeId ?? "";
    let response: AuthenticationResponseJSON;
    try {
      response = JSON.parse(page.form.response ?? "") as AuthenticationResponseJSON;
    } catch {
      return failed(400);
    }
    if (!challengeId || challengeId.length > 200 || typeof response !== "object" || response === null || typeof response.response !== "object") return failed(400);
    let outcome;
    try {
      outcome = await signInWithPasskey(c.get("deps"), page.app, { challengeId, response, deviceToken: deviceToken(c) }, requestMeta(c));
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (typeof status !== "number" || status >= 500) throw err;
      const retry = (err as { extra?: { headers?: Record<string, string> } }).extra?.headers?.["Retry-After"];
      if (retry) c.header("Retry-After", retry);
      return failed(status === 429 || status === 403 || status === 401 ? status : 400);
    }
    return answerOutcome(c, page, outcome);
  })
  .post("/login/email", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const deps = c.get("deps");
    const email = (page.form.email ?? "").trim();
    const social = socialProviders(c, page);
    const method = page.form.method === "email_otp" ? "email_otp" : "magic_link";
    const checked = checkFields(page, ["email"], "email");
    if (hasProblems(checked)) {
      return c.html(<LoginView page={page} social={social} email={email} problems={{ form: checked.form, fields: { passwordlessEmail: checked.fields.email } }} />, 400);
    }
    try {
      if (method === "magic_link") await requestMagicLink(deps, page.app, { email, redirectUri: page.redirectUri ?? undefined }, c.req.url, requestMeta(c));
      else await requestEmailOtp(deps, page.app, { email }, requestMeta(c));
    } catch (err) {
      return c.html(<LoginView page={page} social={social} email={email} problems={problemsFrom(page, err)} />, (err as { status: 400 | 403 | 429 }).status);
    }
    if (method === "email_otp") return c.html(<EmailCodeView page={page} email={email} />);
    return c.html(<LoginView page={page} social={social} email={email} notice={page.t("login.magic.sent")} />);
  })
  .post("/login/email-code", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const email = (page.form.email ?? "").trim();
    const code = (page.form.code ?? "").replace(/\s+/g, "");
    if (!/^[0-9]{6}$/.test(code)) return c.html(<EmailCodeView page={page} email={email} problems={{ form: page.t("error.summary"), fields: { code: page.t("error.invalid_code") } }} />, 400);
    let outcome;
    try {
      outcome = await verifyEmailOtp(c.get("deps"), page.app, { email, code }, requestMeta(c));
    } catch (err) {
      const problems = problemsFrom(page, err);
      const limited = (err as { code?: string }).code === "rate_limited";
      const shown = limited ? problems : { form: page.t("error.summary"), fields: { code: page.t("error.invalid_code") } };
      return c.html(<EmailCodeView page={page} email={email} problems={shown} />, (err as { status: 400 | 401 | 403 | 429 }).status);
    }
    return answerOutcome(c, page, outcome);
  })
  .post("/logout", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    await endPageSession(c);
    return c.redirect(`/login?${carried(page, { signed_out: "1" })}`, 303);
  });
