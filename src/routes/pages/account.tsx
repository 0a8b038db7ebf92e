// /account: the signed-in user's own page (the pages' session cookie): profile and email status,
// password change, sessions (sign out one or all), organizations. Every action is a POST form with
// the CSRF token, calling the same service as the JSON API, and answers with a redirect back here
// (?notice= names the confirmation to show).
import type { Context } from "hono";
import { requestMeta } from "../../http/middleware";
import type { Principal } from "../../services/auth/bearer";
import { logoutAll } from "../../services/auth/logout";
import { currentUser, type Me } from "../../services/auth/me";
import { changePassword } from "../../services/auth/passwords";
import { endSession, listSessions } from "../../services/auth/sessions";
import type { SessionView } from "../../stores/sessions";
import type { DeviceView } from "../../stores/mfa";
import { devicesOf, forgetOwnDevice } from "../../services/mfa/devices";
import { recoveryCodesRemaining } from "../../services/mfa/recovery";
import { createStepUp } from "../../services/mfa/step-up";
import { disableTotpFactor, enableTotpFactor, setupTotp } from "../../services/mfa/totp";
import { requestEmailVerification } from "../../services/passwordless/email-verification";
import { AppError } from "../../http/errors";
import { renderSVG } from "uqr";
import { otpauthUri } from "../../crypto/totp";
import type { Deps } from "../../deps";
import { brandName } from "../../services/applications/policy";
import { resolveApplicationById } from "../../services/applications/resolve";
import { qrDataUrl, RecoveryCodes } from "./mfa";
import { carried, pageHref, pageMiddleware, pageOf, type PageContext, type PageEnv } from "../../pages/context";
import type { FormProblems } from "../../pages/errors";
import { checkFields, hasProblems, noProblems, problemsFrom } from "../../pages/forms";
import type { MessageKey } from "../../pages/i18n";
import { Alert, Field, Form, FormError, Layout } from "../../pages/layout";
import { pageRouter } from "../../pages/router";
import { CSRF_FIELD } from "../../pages/csrf";
import { PASSKEY_ACCOUNT_JS_PATH } from "../../pages/passkey-login";
import { listPasskeys, removeOwnPasskey, renameOwnPasskey, type PasskeyView } from "../../services/passkeys/manage";
import { listMyIdentities, unlinkMyIdentity } from "../../services/social/identities";
import { offeredProviders, startLink } from "../../services/social/sign-in";
import { PROVIDER_NAMES, SOCIAL_PROVIDERS, type SocialProvider } from "../../services/applications/fields";
import type { IdentityView } from "../../stores/identities";
import { requirePageStepUp, stepUpHref } from "../../pages/step-up";
import { registrationOptions, verifyRegistration } from "../../services/passkeys/register";
import { relyingParty } from "../../services/passkeys/relying-party";
import { signInPolicy } from "../../services/applications/policy";
import type { RegistrationResponseJSON } from "@simplewebauthn/server";
import { clearPageSession, pageUser, type PageUser } from "../../pages/session";
import { leaveTo } from "../../pages/flow";

/** Confirmations an action may ask the account page to show (?notice=). */
const NOTICES: Record<string, MessageKey> = {
  session_revoked: "account.sessions.revoked",
  resent: "account.resent",
  mfa_disabled: "account.mfa.disabled",
  device_forgotten: "account.devices.forgotten",
  passkey_added: "account.passkeys.added",
  passkey_removed: "account.passkeys.removed",
  passkey_renamed: "account.passkeys.renamed",
  identity_unlinked: "account.identities.unlinked",
  stepped_up: "stepUp.done",
};



type Session = SessionView & { current: boolean };

export interface AccountData {
  user: PageUser;
  me: Me;
  sessions: Session[];
  emailVerified: boolean;
  mfa: { totp: boolean; remaining: number };
  devices: DeviceView[];
  passkeys: PasskeyView[];
  identities: IdentityView[];
  /** Providers that can be connected (configured and offered by the application). */
  linkable: SocialProvider[];
}

/** A refusal shown in one section (its form's error), e.g. the last sign-in method, a bad passkey name. */
export interface SectionProblem {
  section: "identities" | "passkeys";
  message: string;
  /** The passkey whose rename failed. */
  id?: string;
}

/** What the two-step section shows besides its state: a setup in progress, or the new recovery codes. */
export interface MfaPanel {
  setup?: { secret: string; qr: string };
  recoveryCodes?: string[];
  problems?: FormProblems;
}

/** A short, readable name for a session's device (its user agent), never raw markup. */
function deviceName(ua: string | null, page: PageContext): string {
  if (!ua) return page.t("account.sessions.unknownDevice");
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : null;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : null;
  return [browser, os].filter(Boolean).join(" · ") || ua.slice(0, 60);
}

function Section({ id, title, children }: { id: string; title: string; children?: unknown }) {
  return (
    <section class="card" id={id} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      {children}
    </section>
  );
}

export function AccountView({
  page,
  data,
  notice,
  passwordProblems = noProblems(),
  mfaPanel = {},
  problem = null,
}: {
  page: PageContext;
  data: AccountData;
  notice?: string | null;
  passwordProblems?: FormProblems;
  mfaPanel?: MfaPanel;
  problem?: SectionProblem | null;
}) {
  const { t, fmt } = page;
  const { me, sessions } = data;
  const signOut = (
    <Form page={page} action={pageHref(page, "/logout")} class="inline" label={t("account.signOut")}>
      <button type="submit" class="secondary">
        {t("account.signOut")}
      </button>
    </Form>
  );
  return (
    <Layout
      page={page}
      title={t("account.title")}
      wide
      nav={signOut}
      head={signInPolicy(page.app).passkey ? <script type="module" src={PASSKEY_ACCOUNT_JS_PATH} nonce={page.nonce} /> : null}
    >
      <h1>{t("account.heading")}</h1>
      {notice ? <Alert kind="ok">{notice}</Alert> : null}
      <Section id="profile" title={t("account.profile")}>
        <dl class="facts">
          <dt>{t("account.name")}</dt>
          <dd>{me.fullName ?? "—"}</dd>
          <dt>{t("account.email")}</dt>
          <dd>
            {me.email}{" "}
            <span class={`badge ${data.emailVerified ? "ok" : "warn"}`} id="email-status">
              {data.emailVerified ? t("account.verified") : t("account.notVerified")}
            </span>
            {data.emailVerified ? null : (
              <Form page={page} action={pageHref(page, "/account/verify-email")} class="inline" label={t("account.resend")}>
                <button type="submit" class="secondary">
                  {t("account.resend")}
                </button>
              </Form>
            )}
          </dd>
          <dt>{t("account.role")}</dt>
          <dd>{me.globalRole}</dd>
          <dt>{t("account.memberSince")}</dt>
          <dd>{fmt.date(me.createdAt)}</dd>
          {me.lastLoginAt ? (
            <>
              <dt>{t("account.lastLogin")}</dt>
              <dd>{fmt.dateTime(me.lastLoginAt)}</dd>
            </>
          ) : null}
        </dl>
      </Section>

      <Section id="password" title={t("account.password")}>
        <FormError message={passwordProblems.form} />
        <Form page={page} action={pageHref(page, "/account/password")} id="password-form" label={t("account.changePassword")}>
          <Field id="currentPassword" name="currentPassword" type="password" label={t("account.currentPassword")} autocomplete="current-password" error={passwordProblems.fields.currentPassword} required />
          <Field
            id="newPassword"
            name="newPassword"
            type="password"
            label={t("account.newPassword")}
            autocomplete="new-password"
            hint={t("signup.passwordHint", { min: page.passwordMinLength })}
            error={passwordProblems.fields.newPassword}
            required
          />
          <button type="submit">{t("account.changePassword")}</button>
        </Form>
      </Section>

      <Section id="two-step" title={t("account.mfa")}>
        <p>
          <span class={`badge ${data.mfa.totp ? "ok" : "warn"}`} id="mfa-status">
            {data.mfa.totp ? t("account.mfa.on") : t("account.mfa.off")}
          </span>
        </p>
        <FormError message={mfaPanel.problems?.form} />
        {mfaPanel.recoveryCodes ? <RecoveryCodes page={page} codes={mfaPanel.recoveryCodes} /> : null}
        {data.mfa.totp ? (
          <>
            <p class="muted">{t("account.mfa.recoveryLeft", { count: data.mfa.remaining })}</p>
            <Form page={page} action={pageHref(page, "/account/mfa/disable")} id="mfa-disable-form" label={t("account.mfa.disable")}>
              <Field id="mfa-password" name="password" type="password" label={t("account.currentPassword")} autocomplete="current-password" error={mfaPanel.problems?.fields.password} />
              <button type="submit" class="danger">
                {t("account.mfa.disable")}
              </button>
            </Form>
          </>
        ) : mfaPanel.setup ? (
          <>
            <p>{t("account.mfa.scan")}</p>
            <img class="qr" src={mfaPanel.setup.qr} alt={t("account.mfa.scan")} width={200} height={200} />
            <p>
              {t("account.mfa.secret")}: <code class="secret" id="totp-secret">{mfaPanel.setup.secret}</code>
            </p>
            <Form page={page} action={pageHref(page, "/account/mfa/enable")} id="mfa-enable-form" label={t("account.mfa.enable")}>
              <input type="hidden" name="secret" value={mfaPanel.setup.secret} />
              <Field id="totp-code" name="code" label={t("account.mfa.code")} autocomplete="one-time-code" inputmode="numeric" maxlength={6} error={mfaPanel.problems?.fields.code} />
              <button type="submit">{t("account.mfa.enable")}</button>
            </Form>
          </>
        ) : (
          <Form page={page} action={pageHref(page, "/account/mfa/setup")} label={t("account.mfa.setup")}>
            <button type="submit">{t("account.mfa.setup")}</button>
          </Form>
        )}
      </Section>

      {signInPolicy(page.app).passkey ? (
        <Section id="passkeys" title={t("account.passkeys")}>
          {data.passkeys.length ? (
            <ul class="list">
              {data.passkeys.map((p) => {
                const name = p.name ?? t("account.passkeys.unnamed");
                return (
                  <li data-passkey={p.id}>
                    <div>
                      <strong>{name}</strong> {p.backedUp ? <span class="badge ok">{t("account.passkeys.backedUp")}</span> : null}
                      <br />
                      <span class="muted">
                        {t("account.passkeys.created", { date: fmt.dateTime(p.createdAt) })} ·{" "}
                        {p.lastUsedAt ? t("account.passkeys.lastUsed", { date: fmt.dateTime(p.lastUsedAt) }) : t("account.passkeys.neverUsed")}
                      </span>
                    </div>
                    <div class="actions">
                      <Form page={page} action={pageHref(page, `/account/passkeys/${p.id}/rename`)} class="inline rename">
                        <Field
                          id={`passkey-name-${p.id}`}
                          name="name"
                          label={t("account.passkeys.name")}
                          value={p.name ?? ""}
                          maxlength={100}
                          error={problem?.section === "passkeys" && problem.id === p.id ? problem.message : null}
                        />
                        <button type="submit" class="secondary" aria-label={t("account.passkeys.renameLabel", { name })}>
                          {t("account.passkeys.rename")}
                        </button>
                      </Form>
                      <Form page={page} action={pageHref(page, `/account/passkeys/${p.id}/remove`)}>
                        <button type="submit" class="danger" aria-label={t("account.passkeys.removeLabel", { name })}>
                          {t("account.passkeys.remove")}
                        </button>
                      </Form>
                    </div>
                  </li>
                );
              })}
            </ul>
          ) : (
            <p class="muted">{t("account.passkeys.none")}</p>
          )}
          <form
            method="post"
            action={pageHref(page, "/account/passkeys")}
            id="passkey-add-form"
            aria-label={t("account.passkeys.add")}
            data-options={pageHref(page, "/account/passkeys/options")}
            data-failed={t("account.passkeys.failed")}
            data-step-up={stepUpHref(page, "/account#passkeys")}
          >
            <input type="hidden" name={CSRF_FIELD} value={page.csrf} />
            <input type="hidden" name="response" value="" />
            <p id="passkey-add-status" class="alert error" role="alert" hidden />
            <button type="button" id="passkey-add-button">
              {t("account.passkeys.add")}
            </button>
          </form>
        </Section>
      ) : null}

      {data.identities.length || data.linkable.length ? (
        <Section id="identities" title={t("account.identities")}>
          {problem?.section === "identities" ? (
            <Alert kind="error" id="identities-error">
              {problem.message}
            </Alert>
          ) : null}
          {data.identities.length ? (
            <ul class="list">
              {data.identities.map((i) => {
                const provider = providerName(i.provider);
                return (
                  <li data-identity={i.id}>
                    <div>
                      <strong>{provider}</strong> {i.email ? <span>{i.email}</span> : null}
                      <br />
                      <span class="muted">{t("account.identities.linkedOn", { date: fmt.dateTime(i.createdAt) })}</span>
                    </div>
                    <Form page={page} action={pageHref(page, `/account/identities/${i.id}/unlink`)}>
                      <button type="submit" class="secondary" aria-label={t("account.identities.unlinkLabel", { provider })}>
                        {t("account.identities.unlink")}
                      </button>
                    </Form>
                  </li>
                );
              })}
            </ul>
          ) : (
            <p class="muted">{t("account.identities.none")}</p>
          )}
          {data.linkable.filter((p) => !data.identities.some((i) => i.provider === p)).length ? (
            <div class="stack">
              {data.linkable
                .filter((p) => !data.identities.some((i) => i.provider === p))
                .map((p) => (
                  <Form page={page} action={pageHref(page, `/account/identities/${p}/link`)}>
                    <button type="submit" class="secondary block">
                      {t("account.identities.link", { provider: PROVIDER_NAMES[p] })}
                    </button>
                  </Form>
                ))}
            </div>
          ) : null}
        </Section>
      ) : null}

      <Section id="devices" title={t("account.devices")}>
        {data.devices.length ? (
          <ul class="list">
            {data.devices.map((d) => {
              const device = deviceName(d.userAgent, page);
              return (
                <li>
                  <div>
                    <strong>{device}</strong>
                    <br />
                    <span class="muted">{t("account.sessions.started", { date: fmt.dateTime(d.createdAt) })}</span>
                  </div>
                  <Form page={page} action={pageHref(page, `/account/devices/${d.id}/forget`)}>
                    <button type="submit" class="secondary" aria-label={`${t("account.devices.forget")}: ${device}`}>
                      {t("account.devices.forget")}
                    </button>
                  </Form>
                </li>
              );
            })}
          </ul>
        ) : (
          <p class="muted">{t("account.devices.none")}</p>
        )}
      </Section>

      <Section id="sessions" title={t("account.sessions")}>
        <p class="muted">{t("account.sessions.count", { count: sessions.length })}</p>
        <ul class="list">
          {sessions.map((s) => {
            const device = deviceName(s.userAgent, page);
            return (
              <li data-session={s.id}>
                <div>
                  <strong>{device}</strong> {s.current ? <span class="badge ok">{t("account.sessions.current")}</span> : null}
                  <br />
                  <span class="muted">
                    {s.application.name} · {t("account.sessions.lastUsed", { date: fmt.dateTime(s.lastUsedAt) })}
                  </span>
                </div>
                <Form page={page} action={pageHref(page, `/account/sessions/${s.id}/revoke`)}>
                  <button type="submit" class="danger" aria-label={t("account.sessions.revokeLabel", { device })}>
                    {t("account.sessions.revoke")}
                  </button>
                </Form>
              </li>
            );
          })}
        </ul>
        <Form page={page} action={pageHref(page, "/account/sessions/revoke-all")} label={t("account.sessions.revokeAll")}>
          <button type="submit" class="danger">
            {t("account.sessions.revokeAll")}
          </button>
        </Form>
      </Section>

      <Section id="organizations" title={t("account.organizations")}>
        {me.organizations && me.organizations.length ? (
          <ul class="list">
            {me.organizations.map((o) => (
              <li>
                <strong>{o.name}</strong>
                <span class="muted">{o.roles.join(", ")}</span>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">{t("account.organizations.none")}</p>
        )}
      </Section>
    </Layout>
  );
}

/** The signed-in user, or a redirect to /login (returning here afterwards is the account page's default). */
export async function requireUser(c: Context<PageEnv>): Promise<PageUser | Response> {
  const user = await pageUser(c);
  if (user) return user;
  return c.redirect(`/login?${carried(pageOf(c))}`, 303);
}

export async function loadAccount(c: Context<PageEnv>, user: PageUser): Promise<AccountData> {
  const deps = c.get("deps");
  const [me, sessions, mfa, devices, passkeys, identities] = await Promise.all([
    currentUser(deps, user.principal),
    listSessions(deps, user.principal),
    recoveryCodesRemaining(deps, user.principal),
    devicesOf(deps, user.principal),
    listPasskeys(deps, user.principal),
    listMyIdentities(deps, user.principal),
  ]);
  return { user, me, sessions, emailVerified: emailVerifiedOf(user.principal), mfa, devices, passkeys, identities, linkable: offeredProviders(deps, pageOf(c).app) };
}

function providerName(provider: string): string {
  return (SOCIAL_PROVIDERS as readonly string[]).includes(provider) ? PROVIDER_NAMES[provider as SocialProvider] : provider;
}

/** The notice for ?notice=, or what a provider link that came back (?linked= / ?error=) says. */
function noticeOf(c: Context<PageEnv>, page: PageContext): { notice: string | null; problem: SectionProblem | null } {
  const linked = c.req.query("linked");
  if (linked && (SOCIAL_PROVIDERS as readonly string[]).includes(linked)) return { notice: page.t("account.identities.linked", { provider: providerName(linked) }), problem: null };
  const error = c.req.query("error");
  if (error) {
    const code = /^[a-z0-9_]{1,64}$/.test(error) ? error : "provider_error";
    const message = code === "identity_in_use" ? page.t("account.identities.inUse") : page.t("account.identities.failed", { code });
    return { notice: null, problem: { section: "identities", message } };
  }
  const key = NOTICES[c.req.query("notice") ?? ""];
  return { notice: key ? page.t(key) : null, problem: null };
}

const isUuid = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);

function emailVerifiedOf(principal: Principal): boolean {
  return (principal.claims as unknown as Record<string, unknown>).email_verified === true;
}

export const accountRoutes = pageRouter()
  .get("/account", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const { notice, problem } = noticeOf(c, page);
    return c.html(<AccountView page={page} data={await loadAccount(c, user)} notice={notice} problem={problem} />);
  })
  .post("/account/password", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const checked = checkFields(page, ["currentPassword", "newPassword"]);
    // The API's change-password asks for a step-up where the user has a second factor; so does this form.
    await requirePageStepUp(c, user.principal);
    let problems = checked;
    let revoked: number | null = null;
    if (!hasProblems(checked)) {
      try {
        revoked = (await changePassword(c.get("deps"), user.principal, { currentPassword: page.form.currentPassword ?? "", newPassword: page.form.newPassword ?? "" }, requestMeta(c))).revokedSessions;
      } catch (err) {
        problems = problemsFrom(page, err, { password: "newPassword" });
      }
    }
    const data = await loadAccount(c, user);
    if (revoked !== null) return c.html(<AccountView page={page} data={data} notice={page.t("account.passwordChanged", { count: revoked })} />);
    return c.html(<AccountView page={page} data={data} passwordProblems={problems} />, 400);
  })
  .post("/account/verify-email", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    try {
      await requestEmailVerification(c.get("deps"), user.principal);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== "rate_limited") throw err;
      return c.html(<AccountView page={page} data={await loadAccount(c, user)} notice={page.t("error.rate_limited")} />, 429);
    }
    return c.redirect(pageHref(page, "/account", { notice: "resent" }), 303);
  })
  .post("/account/mfa/setup", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const p = user.principal;
    const setup = await setupTotp(c.get("deps"), { kind: "session", principal: p, userId: p.userId, applicationId: p.clientId });
    return c.html(<AccountView page={page} data={await loadAccount(c, user)} mfaPanel={{ setup: { secret: setup.secret, qr: qrDataUrl(setup.qrSvg) } }} />);
  })
  .post("/account/mfa/enable", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const p = user.principal;
    const deps = c.get("deps");
    const code = (page.form.code ?? "").replace(/\s+/g, "");
    try {
      const enabled = await enableTotpFactor(deps, { kind: "session", principal: p, userId: p.userId, applicationId: p.clientId }, code, requestMeta(c));
      return c.html(<AccountView page={page} data={await loadAccount(c, user)} mfaPanel={{ recoveryCodes: enabled.recoveryCodes }} />);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== "invalid_mfa_code") throw err;
      // The secret set up a moment ago (this user's own, posted back by their own page) is shown again.
      const secret = /^[A-Z2-7]{16,128}$/.test(page.form.secret ?? "") ? page.form.secret! : null;
      const setup = secret ? { secret, qr: "" } : undefined;
      return c.html(
        <AccountView page={page} data={await loadAccount(c, user)} mfaPanel={{ setup: setup && { ...setup, qr: qrDataUrl(await qrFor(deps, p, secret!)) }, problems: { form: page.t("error.summary"), fields: { code: page.t("error.invalid_code") } } }} />,
        400,
      );
    }
  })
  .post("/account/mfa/disable", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const deps = c.get("deps");
    const password = page.form.password ?? "";
    try {
      if (!password) throw new AppError(400, "validation_error", "password", { fields: [{ field: "password", message: "is required" }] });
      // The password proves it again (a step-up), then turns TOTP off: the API's two calls in one form.
      const { stepUpToken } = await createStepUp(deps, user.principal, { factor: "password", password }, requestMeta(c));
      await disableTotpFactor(deps, user.principal, { password }, stepUpToken, requestMeta(c));
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      const field = page.t(err.code === "validation_error" ? "error.required" : err.code === "rate_limited" ? "error.rate_limited" : "error.invalid_current_password");
      return c.html(<AccountView page={page} data={await loadAccount(c, user)} mfaPanel={{ problems: { form: page.t("error.summary"), fields: { password: field } } }} />, 400);
    }
    return c.redirect(pageHref(page, "/account", { notice: "mfa_disabled" }) + "#two-step", 303);
  })
  .post("/account/devices/:id/forget", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const id = c.req.param("id");
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) await forgetOwnDevice(c.get("deps"), user.principal, id, requestMeta(c));
    return c.redirect(pageHref(page, "/account", { notice: "device_forgotten" }) + "#devices", 303);
  })
  .post("/account/passkeys/options", ...pageMiddleware, async (c) => {
    // For the page's script: registration options for the signed-in user.
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    try {
      await requirePageStepUp(c, user.principal);
    } catch (err) {
      // The script sends the browser to the step-up page (data-step-up) on this answer.
      if (err instanceof AppError && err.code === "step_up_required") return c.json({ error: { code: err.code, message: err.message } }, 403);
      throw err;
    }
    const rp = relyingParty(c.get("deps"), page.app, { url: c.req.url, origin: c.req.header("origin") });
    const options = await registrationOptions(c.get("deps"), page.app, user.principal, rp);
    return c.json({ data: { options } });
  })
  .post("/account/passkeys", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    let response: RegistrationResponseJSON;
    try {
      response = JSON.parse(page.form.response ?? "") as RegistrationResponseJSON;
    } catch {
      throw new AppError(400, "validation_failed", "The passkey response is not JSON");
    }
    if (typeof response !== "object" || response === null || typeof response.response !== "object") throw new AppError(400, "validation_failed", "The passkey response is malformed");
    await verifyRegistration(c.get("deps"), page.app, user.principal, { response }, requestMeta(c));
    return c.redirect(`/account?${carried(page, { notice: "passkey_added" })}`, 303);
  })
  .post("/account/passkeys/:id/remove", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const id = c.req.param("id");
    if (isUuid(id)) {
      await requirePageStepUp(c, user.principal);
      await removeOwnPasskey(c.get("deps"), user.principal, id, requestMeta(c));
    }
    return c.redirect(`/account?${carried(page, { notice: "passkey_removed" })}#passkeys`, 303);
  })
  .post("/account/passkeys/:id/rename", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const id = c.req.param("id");
    const name = (page.form.name ?? "").trim();
    if (!isUuid(id)) return c.redirect(pageHref(page, "/account") + "#passkeys", 303);
    if (!name || name.length > 100) {
      const problem: SectionProblem = { section: "passkeys", id, message: page.t("account.passkeys.nameInvalid") };
      return c.html(<AccountView page={page} data={await loadAccount(c, user)} problem={problem} />, 400);
    }
    await renameOwnPasskey(c.get("deps"), user.principal, id, name, requestMeta(c));
    return c.redirect(`/account?${carried(page, { notice: "passkey_renamed" })}#passkeys`, 303);
  })
  .post("/account/identities/:id/unlink", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const id = c.req.param("id");
    if (!isUuid(id)) return c.redirect(pageHref(page, "/account") + "#identities", 303);
    try {
      await unlinkMyIdentity(c.get("deps"), user.principal, id, requestMeta(c));
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== "last_sign_in_method") throw err;
      const problem: SectionProblem = { section: "identities", message: page.t("account.identities.lastMethod") };
      return c.html(<AccountView page={page} data={await loadAccount(c, user)} problem={problem} />, 409);
    }
    return c.redirect(`/account?${carried(page, { notice: "identity_unlinked" })}#identities`, 303);
  })
  .post("/account/identities/:provider/link", ...pageMiddleware, async (c) => {
    // To the provider, and back to this page (?linked= or ?error=): the same linking as POST /auth/identities/{provider}/link.
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const provider = c.req.param("provider") as SocialProvider;
    if (!SOCIAL_PROVIDERS.includes(provider)) return c.redirect(pageHref(page, "/account") + "#identities", 303);
    const origin = new URL(c.req.url).origin;
    const p = user.principal;
    const url = await startLink(c.get("deps"), {
      provider,
      application: page.app,
      redirectUri: `${origin}${pageHref(page, "/account")}`,
      userId: p.userId,
      sessionId: p.sessionId,
      tokenVersion: p.tokenVersion,
      origin,
      returnToPage: true,
    });
    return leaveTo(c, page, url);
  })
  .post("/account/sessions/revoke-all", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    await logoutAll(c.get("deps"), user.principal, requestMeta(c));
    clearPageSession(c);
    return c.redirect(`/login?${carried(page, { signed_out: "1" })}`, 303);
  })
  .post("/account/sessions/:id/revoke", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const id = c.req.param("id");
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return c.redirect(pageHref(page, "/account"), 303);
    await endSession(c.get("deps"), user.principal, id, requestMeta(c));
    if (id === user.principal.sessionId) {
      clearPageSession(c);
      return c.redirect(`/login?${carried(page, { signed_out: "1" })}`, 303);
    }
    return c.redirect(pageHref(page, "/account", { notice: "session_revoked" }) + "#sessions", 303);
  });

/** The QR code of a secret being set up (shown again after a wrong code). */
async function qrFor(deps: Deps, principal: Principal, secret: string): Promise<string> {
  const application = await resolveApplicationById(deps, principal.clientId);
  return renderSVG(otpauthUri(secret, brandName(application, deps.config), principal.email));
}
