// The second step of a sign-in through the pages (issue 10's services): the TOTP or recovery-code
// form for mfa_required, and TOTP enrolment for mfa_enrollment_required (an application that
// requires a second factor, a user without one): QR code, the code that turns it on, the recovery
// codes, then on. A remembered device lives in the pages' own cookie (pages_device, HttpOnly,
// SameSite=Lax, the whole site), as the API's auth_device does for /auth.
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { AppError } from "../../http/errors";
import { requestMeta } from "../../http/middleware";
import { signInPolicy } from "../../services/applications/policy";
import type { SignInOutcome } from "../../services/auth/outcome";
import { redirectWithCode } from "../../services/auth/redirect-code";
import { authenticateMfaActor } from "../../services/mfa/actor";
import { verifyMfa } from "../../services/mfa/challenge";
import { enableTotpFactor, setupTotp } from "../../services/mfa/totp";
import { afterSignInHref, pageHref, pageMiddleware, pageOf, type PageContext, type PageEnv } from "../../pages/context";
import type { FormProblems } from "../../pages/errors";
import { completeSignIn } from "../../pages/flow";
import { noProblems } from "../../pages/forms";
import { Alert, Checkbox, Field, Form, FormError, Layout } from "../../pages/layout";
import { pageRouter } from "../../pages/router";
import { startPageSession } from "../../pages/session";

export const DEVICE_COOKIE = "pages_device";

/** The remembered-device token of this browser, for a sign-in. */
export function deviceToken(c: Context<PageEnv>): string | null {
  const v = getCookie(c, DEVICE_COOKIE);
  return v && v.length <= 200 ? v : null;
}

/** A data: URL of the QR code (img-src allows data:; no markup from elsewhere enters the page). */
export function qrDataUrl(svg: string): string {
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

function MfaView({ page, mfaToken, problems = noProblems() }: { page: PageContext; mfaToken: string; problems?: FormProblems }) {
  const { t } = page;
  const remember = signInPolicy(page.app).mfa.rememberDevice;
  return (
    <Layout page={page} title={t("mfa.title")}>
      <div class="card">
        <h1>{t("mfa.heading")}</h1>
        <FormError message={problems.form} />
        <Form page={page} action={pageHref(page, "/login/mfa")} id="mfa-form" label={t("mfa.title")}>
          <input type="hidden" name="mfa_token" value={mfaToken} />
          <Field id="code" name="code" label={t("mfa.totp.label")} hint={t("mfa.totp.hint")} autocomplete="one-time-code" inputmode="numeric" maxlength={6} error={problems.fields.code} autofocus />
          <Field id="recovery" name="recovery" label={t("mfa.recovery.label")} autocomplete="off" error={problems.fields.recovery} />
          {remember ? <Checkbox id="remember" name="remember" label={t("mfa.remember")} /> : null}
          <button type="submit" class="block">
            {t("mfa.submit")}
          </button>
        </Form>
      </div>
    </Layout>
  );
}

export function EnrollView({ page, mfaToken, secret, qr, problems = noProblems() }: { page: PageContext; mfaToken: string; secret: string; qr: string; problems?: FormProblems }) {
  const { t } = page;
  return (
    <Layout page={page} title={t("mfa.enroll.heading")}>
      <div class="card">
        <h1>{t("mfa.enroll.heading")}</h1>
        <p>{t("mfa.enroll.intro")}</p>
        <FormError message={problems.form} />
        <img class="qr" src={qr} alt={t("account.mfa.scan")} width={200} height={200} />
        <p>
          {t("account.mfa.secret")}: <code class="secret">{secret}</code>
        </p>
        <Form page={page} action={pageHref(page, "/login/mfa/enroll")} id="enroll-form" label={t("mfa.enroll.heading")}>
          <input type="hidden" name="mfa_token" value={mfaToken} />
          <input type="hidden" name="secret" value={secret} />
          <Field id="code" name="code" label={t("account.mfa.code")} autocomplete="one-time-code" inputmode="numeric" maxlength={6} error={problems.fields.code} />
          <button type="submit" class="block">
            {t("account.mfa.enable")}
          </button>
        </Form>
      </div>
    </Layout>
  );
}

/** The recovery codes, shown once, and the way on. */
export function RecoveryCodes({ page, codes }: { page: PageContext; codes: string[] }) {
  return (
    <>
      <Alert kind="ok">{page.t("account.mfa.enabled")}</Alert>
      <ul class="codes" id="recovery-codes" aria-label={page.t("mfa.recovery.label")}>
        {codes.map((code) => (
          <li>{code}</li>
        ))}
      </ul>
    </>
  );
}

async function renderEnrollment(c: Context<PageEnv>, page: PageContext, mfaToken: string, problems?: FormProblems, status: 200 | 400 | 401 = 200) {
  const deps = c.get("deps");
  const actor = await authenticateMfaActor(deps, `Bearer ${mfaToken}`, true);
  const setup = await setupTotp(deps, actor);
  return c.html(<EnrollView page={page} mfaToken={mfaToken} secret={setup.secret} qr={qrDataUrl(setup.qrSvg)} problems={problems} />, status);
}

/** Whatever a first factor led to: the session (completeSignIn), or the second step's page. */
export async function answerOutcome(c: Context<PageEnv>, page: PageContext, outcome: SignInOutcome): Promise<Response> {
  switch (outcome.kind) {
    case "signed_in":
      return completeSignIn(c, page, outcome);
    case "mfa_required":
      return c.html(<MfaView page={page} mfaToken={outcome.mfaToken} />);
    case "mfa_enrollment_required":
      return renderEnrollment(c, page, outcome.mfaToken);
  }
}

const TOKEN = /^[A-Za-z0-9_-]{1,200}$/;

export const mfaRoutes = pageRouter()
  .post("/login/mfa", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const mfaToken = page.form.mfa_token ?? "";
    const code = (page.form.code ?? "").replace(/\s+/g, "");
    const recovery = (page.form.recovery ?? "").trim();
    if (!TOKEN.test(mfaToken)) return c.redirect(pageHref(page, "/login"), 303);
    if (!code && !recovery) return c.html(<MfaView page={page} mfaToken={mfaToken} problems={{ form: page.t("error.summary"), fields: { code: page.t("error.required") } }} />, 400);
    let result;
    try {
      result = await verifyMfa(
        c.get("deps"),
        page.app,
        { mfaToken, factor: recovery ? "recovery_code" : "totp", code: recovery || code, rememberDevice: page.form.remember === "1" },
        requestMeta(c),
      );
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      if (err.code === "invalid_mfa_code") {
        const field = recovery ? "recovery" : "code";
        return c.html(<MfaView page={page} mfaToken={mfaToken} problems={{ form: page.t("error.summary"), fields: { [field]: page.t("error.invalid_code") } }} />, 401);
      }
      // The challenge is spent or expired: start again.
      return c.html(<Layout page={page} title={page.t("mfa.title")}><div class="card"><h1>{page.t("mfa.heading")}</h1><Alert kind="error">{page.t("error.session")}</Alert><p><a href={pageHref(page, "/login")}>{page.t("error.back")}</a></p></div></Layout>, err.status);
    }
    if (result.deviceToken) {
      setCookie(c, DEVICE_COOKIE, result.deviceToken, { path: "/", httpOnly: true, secure: c.get("deps").config.cookie.secure, sameSite: "Lax", maxAge: result.deviceExpiresIn });
    }
    return completeSignIn(c, page, result.outcome);
  })
  .post("/login/mfa/enroll", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const deps = c.get("deps");
    const mfaToken = page.form.mfa_token ?? "";
    const code = (page.form.code ?? "").replace(/\s+/g, "");
    if (!TOKEN.test(mfaToken)) return c.redirect(pageHref(page, "/login"), 303);
    const actor = await authenticateMfaActor(deps, `Bearer ${mfaToken}`, true);
    let enabled;
    try {
      enabled = await enableTotpFactor(deps, actor, code, requestMeta(c));
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500 || err.code !== "invalid_mfa_code") throw err;
      return renderEnrollment(c, page, mfaToken, { form: page.t("error.summary"), fields: { code: page.t("error.invalid_code") } }, 400);
    }
    // The codes are shown once; the way on is a link (no automatic move, so they can be kept).
    let next = pageHref(page, "/login");
    if (enabled.signIn) {
      if (page.redirectUri) next = await redirectWithCode(deps, page.app, page.redirectUri, enabled.signIn);
      else {
        startPageSession(c, page.app, enabled.signIn.tokens);
        next = afterSignInHref(page);
      }
    }
    return c.html(
      <Layout page={page} title={page.t("mfa.enroll.heading")}>
        <div class="card">
          <h1>{page.t("mfa.enroll.heading")}</h1>
          <RecoveryCodes page={page} codes={enabled.recoveryCodes} />
          <p>
            <a class="button block" href={next}>
              {page.t("continue.link")}
            </a>
          </p>
        </div>
      </Layout>,
    );
  });
