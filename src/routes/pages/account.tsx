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
import { carried, pageHref, pageMiddleware, pageOf, type PageContext, type PageEnv } from "../../pages/context";
import type { FormProblems } from "../../pages/errors";
import { checkFields, hasProblems, noProblems, problemsFrom } from "../../pages/forms";
import type { MessageKey } from "../../pages/i18n";
import { Alert, Field, Form, FormError, Layout } from "../../pages/layout";
import { pageRouter } from "../../pages/router";
import { clearPageSession, pageUser, type PageUser } from "../../pages/session";

/** Confirmations an action may ask the account page to show (?notice=). */
const NOTICES: Record<string, MessageKey> = {
  session_revoked: "account.sessions.revoked",
  resent: "account.resent",
};

type Session = SessionView & { current: boolean };

export interface AccountData {
  user: PageUser;
  me: Me;
  sessions: Session[];
  emailVerified: boolean;
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

export function AccountView({ page, data, notice, passwordProblems = noProblems() }: { page: PageContext; data: AccountData; notice?: string | null; passwordProblems?: FormProblems }) {
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
    <Layout page={page} title={t("account.title")} wide nav={signOut}>
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
                <Form page={page} action={pageHref(page, `/account/sessions/${s.id}/revoke`)} label={t("account.sessions.revokeLabel", { device })}>
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
  const [me, sessions] = await Promise.all([currentUser(deps, user.principal), listSessions(deps, user.principal)]);
  return { user, me, sessions, emailVerified: emailVerifiedOf(user.principal) };
}

function emailVerifiedOf(principal: Principal): boolean {
  return (principal.claims as unknown as Record<string, unknown>).email_verified === true;
}

export const accountRoutes = pageRouter()
  .get("/account", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const key = NOTICES[c.req.query("notice") ?? ""];
    return c.html(<AccountView page={page} data={await loadAccount(c, user)} notice={key ? page.t(key) : null} />);
  })
  .post("/account/password", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const user = await requireUser(c);
    if (user instanceof Response) return user;
    const checked = checkFields(page, ["currentPassword", "newPassword"]);
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
