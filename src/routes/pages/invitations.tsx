// /invitations/accept?token=: the page the organization invitation email links to. Opening it
// (GET) consumes nothing (mail scanners fetch links): signed out, it says to sign in (or sign up)
// with the invited address and links to /login with ?next= back here; signed in, it offers Accept
// and Decline, two forms that POST the token to the same service as the JSON API
// (POST /auth/organization-invitations/accept|decline), which consumes it once.
import type { Context } from "hono";
import type { FC, PropsWithChildren } from "hono/jsx";
import { AppError } from "../../http/errors";
import { requestMeta } from "../../http/middleware";
import { respond, type AcceptedInvitation } from "../../services/organizations/invitations";
import { pageHref, pageMiddleware, pageOf, seeOther, type PageContext, type PageEnv } from "../../pages/context";
import type { MessageKey } from "../../pages/i18n";
import { Alert, Form, Layout } from "../../pages/layout";
import { pageRouter } from "../../pages/router";
import { pageUser } from "../../pages/session";

/** The service's refusals a person can act on, and what the page says for each. */
const REFUSALS = new Map<string, MessageKey>([
  ["invitation_not_found", "invitation.notFound"],
  ["not_the_recipient", "invitation.notRecipient"],
  ["invitation_expired", "invitation.expired"],
  ["invitation_revoked", "invitation.revoked"],
  ["invitation_used", "invitation.used"],
]);

function tokenOf(value: string | undefined): string {
  const token = (value ?? "").trim();
  return /^[A-Za-z0-9_-]{1,200}$/.test(token) ? token : "";
}

/** This page's own address for a token: the `next` of a sign-in that should come back here. */
function invitationPath(token: string): string {
  return `/invitations/accept?${new URLSearchParams({ token })}`;
}

/** The POST /logout form, coming back to the invitation after signing in again. */
function SignOut({ page, token }: { page: PageContext; token: string }) {
  const { t } = page;
  return (
    <Form page={page} action={pageHref(page, "/logout", { next: invitationPath(token) })} class="inline" label={t("account.signOut")}>
      <button type="submit" class="secondary">
        {t("account.signOut")}
      </button>
    </Form>
  );
}

/** The page frame; its language links reopen the invitation (GET, with the token) in the other language. */
const Card: FC<PropsWithChildren<{ page: PageContext; token?: string }>> = ({ page, token, children }) => (
  <Layout page={{ ...page, path: "/invitations/accept" }} title={page.t("invitation.title")} query={token ? { token } : undefined}>
    <div class="card">{children}</div>
  </Layout>
);

/** "Not the invited address?" and the sign-out form. */
function NotYou({ page, token }: { page: PageContext; token: string }) {
  return (
    <div class="links">
      <span>{page.t("invitation.notYou")}</span>
      <SignOut page={page} token={token} />
    </div>
  );
}

function MalformedView({ page }: { page: PageContext }) {
  const { t } = page;
  return (
    <Card page={page}>
      <h1>{t("invitation.title")}</h1>
      <Alert kind="error">{t("invitation.malformed")}</Alert>
      <p>
        <a href={pageHref(page, "/account")}>{t("account.title")}</a>
      </p>
    </Card>
  );
}

function SignedOutView({ page, token }: { page: PageContext; token: string }) {
  const { t } = page;
  const next = invitationPath(token);
  return (
    <Card page={page} token={token}>
      <h1>{t("invitation.heading")}</h1>
      <p>{t("invitation.intro")}</p>
      <p>{t("invitation.signInFirst")}</p>
      <p>
        <a class="button block" id="invitation-sign-in" href={pageHref(page, "/login", { next })}>
          {t("invitation.signIn")}
        </a>
      </p>
      <div class="links">
        <span>
          {t("login.noAccount")} <a href={pageHref(page, "/signup", { next })}>{t("invitation.signUp")}</a>
        </span>
      </div>
    </Card>
  );
}

function ConfirmView({ page, token, email }: { page: PageContext; token: string; email: string }) {
  const { t } = page;
  return (
    <Card page={page} token={token}>
      <h1>{t("invitation.heading")}</h1>
      <p>{t("invitation.intro")}</p>
      <p id="signed-in-as">{t("invitation.signedInAs", { email })}</p>
      <div class="stack">
        <Form page={page} action={pageHref(page, "/invitations/accept")} id="accept-form" label={t("invitation.accept")}>
          <input type="hidden" name="token" value={token} />
          <button type="submit" class="block">
            {t("invitation.accept")}
          </button>
        </Form>
        <Form page={page} action={pageHref(page, "/invitations/decline")} id="decline-form" label={t("invitation.decline")}>
          <input type="hidden" name="token" value={token} />
          <button type="submit" class="secondary block">
            {t("invitation.decline")}
          </button>
        </Form>
      </div>
      <NotYou page={page} token={token} />
    </Card>
  );
}

function DoneView({ page, token, result }: { page: PageContext; token: string; result: AcceptedInvitation }) {
  const { t } = page;
  const organization = result.organization.name;
  const roles = new Intl.ListFormat(page.locale, { style: "long", type: "conjunction" }).format(result.roles);
  return (
    <Card page={page} token={token}>
      <h1>{t("invitation.title")}</h1>
      <Alert kind="ok">{result.status === "accepted" ? t("invitation.accepted", { organization, roles }) : t("invitation.declined", { organization })}</Alert>
      <p>
        <a class="button block" href={`${pageHref(page, "/account")}#organizations`}>
          {t("invitation.toAccount")}
        </a>
      </p>
    </Card>
  );
}

function RefusedView({ page, message, token, email }: { page: PageContext; message: MessageKey; token: string; email: string }) {
  const { t } = page;
  const wrongAccount = message === "invitation.notRecipient";
  return (
    <Card page={page} token={token}>
      <h1>{t("invitation.title")}</h1>
      <Alert kind="error">{t(message)}</Alert>
      <p>{t("invitation.signedInAs", { email })}</p>
      {wrongAccount ? (
        <NotYou page={page} token={token} />
      ) : (
        <p>
          <a href={`${pageHref(page, "/account")}#organizations`}>{t("invitation.toAccount")}</a>
        </p>
      )}
    </Card>
  );
}

async function answer(c: Context<PageEnv>, accept: boolean): Promise<Response> {
  const page = pageOf(c);
  const token = tokenOf(page.form.token);
  if (!token) return c.html(<MalformedView page={page} />, 400);
  const user = await pageUser(c);
  if (!user) return seeOther(c, pageHref(page, "/login", { next: invitationPath(token) }));
  let result: AcceptedInvitation;
  try {
    result = await respond(c.get("deps"), user.principal, token, accept, requestMeta(c));
  } catch (err) {
    const message = err instanceof AppError && err.status < 500 ? REFUSALS.get(err.code) : undefined;
    // Anything else (a session that ended: 401, the router signs in again; a failure: >= 500) is the router's.
    if (!message || !(err instanceof AppError)) throw err;
    return c.html(<RefusedView page={page} message={message} token={token} email={user.principal.email} />, err.status as 403 | 404 | 409 | 410);
  }
  return c.html(<DoneView page={page} token={token} result={result} />);
}

export const invitationRoutes = pageRouter()
  .get("/invitations/accept", ...pageMiddleware, async (c) => {
    const page = pageOf(c);
    const token = tokenOf(c.req.query("token"));
    if (!token) return c.html(<MalformedView page={page} />, 400);
    const user = await pageUser(c);
    if (!user) return c.html(<SignedOutView page={page} token={token} />);
    return c.html(<ConfirmView page={page} token={token} email={user.principal.email} />);
  })
  .post("/invitations/accept", ...pageMiddleware, (c) => answer(c, true))
  .post("/invitations/decline", ...pageMiddleware, (c) => answer(c, false));
