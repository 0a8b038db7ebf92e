// /portal/applications: the application registry (registry.ts, as /internal/applications) and
// each application's API keys, settings (JSON, validated by ApplicationSettingsSchema) and service
// accounts with their client secrets (m2m/service-accounts.ts, as
// /internal/applications/{id}/service-accounts). A new key or secret is shown once, on the page
// that answers its POST (no-store), never in a URL.
import type { Context } from "hono";
import { requestMeta } from "../../../http/middleware";
import { ApplicationSettingsSchema } from "../../../services/applications/fields";
import { createApiKey, getApplication, listApplications, revokeApiKey, updateApplication } from "../../../services/applications/registry";
import { createSecret, createServiceAccount, deleteSecret, deleteServiceAccount, listSecrets, listServiceAccounts } from "../../../services/m2m/service-accounts";
import type { ApiKeyRecord, ApplicationRecord } from "../../../stores/applications";
import type { ServiceAccount, ServiceAccountSecret } from "../../../stores/service-accounts";
import { pageMiddleware, type PageContext, type PageEnv } from "../../../pages/context";
import { PageError } from "../../../pages/errors";
import { Alert, Field, Form, FormError } from "../../../pages/layout";
import { pageRouter } from "../../../pages/router";
import { requirePageStepUp } from "../../../pages/step-up";
import { staffStepUpSubject } from "../../../services/mfa/step-up";
import { asStaff, noticeOf, UUID } from "../../../pages/portal/handler";
import { ActionButton, Actions, PortalLayout, portalHref, safeBack, Section, withNotice } from "../../../pages/portal/layout";
import { can, type PortalStaff } from "../../../pages/portal/staff";

type Detail = ApplicationRecord & { apiKeys: ApiKeyRecord[]; accounts: (ServiceAccount & { secrets: ServiceAccountSecret[] })[] };

interface Shown {
  notice?: string | null;
  /** A key or secret just created: shown this once. */
  created?: { kind: "key" | "secret"; value: string; clientId?: string } | null;
  settingsText?: string;
  settingsError?: string | null;
  accountProblems?: { form: string | null; fields: Record<string, string> };
}

/** RFC 6749 scope-token, as the JSON route's schema has it. */
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/;

function idParam(c: Context<PageEnv>, name: string): string {
  const id = c.req.param(name) ?? "";
  if (!UUID.test(id)) throw new PageError(404, "not_found", "error.notFound");
  return id;
}

async function loadDetail(c: Context<PageEnv>, staff: PortalStaff, id: string): Promise<Detail> {
  const deps = c.get("deps");
  const [app, accounts] = await Promise.all([getApplication(deps, staff, id), listServiceAccounts(deps, staff, id)]);
  const secrets = await Promise.all(accounts.map((a) => listSecrets(deps, staff, id, a.id)));
  return { ...app, accounts: accounts.map((a, i) => ({ ...a, secrets: secrets[i] })) };
}

function ApplicationView({ page, staff, app, shown }: { page: PageContext; staff: PortalStaff; app: Detail; shown: Shown }) {
  const { t, fmt } = page;
  const write = can.writeApplications(staff);
  const back = portalHref(page, `/portal/applications/${app.id}`);
  const base = `/portal/applications/${app.id}`;
  const settingsText = shown.settingsText ?? JSON.stringify(app.settings ?? {}, null, 2);
  const accountProblems = shown.accountProblems ?? { form: null, fields: {} };
  return (
    <PortalLayout page={page} staff={staff} section="applications" title={t("portal.app.heading", { name: app.name })} notice={shown.notice}>
      {shown.created ? (
        <Alert kind="ok" id="created-secret">
          <p>{shown.created.kind === "key" ? t("portal.app.keyCreated") : t("portal.sa.secretCreated")}</p>
          {shown.created.clientId ? (
            <p>
              {t("portal.sa.clientId")}: <code class="secret">{shown.created.clientId}</code>
            </p>
          ) : null}
          <code class="secret" id="created-value">
            {shown.created.value}
          </code>
        </Alert>
      ) : null}
      {write ? null : (
        <p class="muted" id="read-only">
          {t("portal.readOnly")}
        </p>
      )}
      <Section id="application" title={app.name}>
        <dl class="facts">
          <dt>{t("portal.app.slug")}</dt>
          <dd>{app.slug}</dd>
          <dt>{t("portal.app.type")}</dt>
          <dd>{app.type}</dd>
          <dt>{t("portal.app.status")}</dt>
          <dd>{app.status}</dd>
          <dt>{t("portal.app.redirectUris")}</dt>
          <dd>{app.redirectUris.length ? app.redirectUris.join(", ") : "—"}</dd>
          <dt>{t("portal.app.origins")}</dt>
          <dd>{app.allowedOrigins.length ? app.allowedOrigins.join(", ") : "—"}</dd>
        </dl>
      </Section>

      <Section id="keys" title={t("portal.app.keys")}>
        {app.apiKeys.length ? (
          <ul class="list">
            {app.apiKeys.map((k) => (
              <li data-key={k.prefix}>
                <div>
                  <strong>{k.name ?? t("portal.app.keyPrefix", { prefix: k.prefix })}</strong>
                  <br />
                  <span class="muted">
                    <code>{k.prefix}…</code> · {t("portal.created", { date: fmt.dateTime(k.createdAt) })}
                    {k.lastUsedAt ? ` · ${t("portal.app.keyLastUsed", { date: fmt.dateTime(k.lastUsedAt) })}` : ""}
                  </span>
                </div>
                {k.revokedAt ? (
                  <span class="badge warn">{t("portal.app.keyRevoked", { date: fmt.dateTime(k.revokedAt) })}</span>
                ) : write ? (
                  <ActionButton page={page} action={`${base}/api-keys/${k.id}/revoke`} back={back} kind="danger" label={t("portal.app.revokeKeyLabel", { prefix: k.prefix })} text={t("portal.app.revokeKey")} />
                ) : null}
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">{t("portal.none")}</p>
        )}
        {write ? (
          <Form page={page} action={portalHref(page, `${base}/api-keys`)} id="key-form" label={t("portal.app.createKey")}>
            <Field id="key-name" name="name" label={t("portal.app.keyName")} maxlength={200} />
            <button type="submit">{t("portal.app.createKey")}</button>
          </Form>
        ) : null}
      </Section>

      <Section id="settings" title={t("portal.app.settings")}>
        {write ? (
          <Form page={page} action={portalHref(page, `${base}/settings`)} id="settings-form" label={t("portal.app.settings")}>
            <FormError message={shown.settingsError ? t("error.summary") : null} />
            <div class="field">
              <label for="settings-json">{t("portal.app.settingsLabel")}</label>
              <span class="hint" id="settings-json-hint">
                {t("portal.app.settingsHint")}
              </span>
              <textarea
                id="settings-json"
                name="settings"
                rows={12}
                spellcheck={false}
                aria-invalid={shown.settingsError ? "true" : undefined}
                aria-describedby={shown.settingsError ? "settings-json-hint settings-json-error" : "settings-json-hint"}
              >
                {settingsText}
              </textarea>
              {shown.settingsError ? (
                <span class="field-error" id="settings-json-error">
                  {shown.settingsError}
                </span>
              ) : null}
            </div>
            <button type="submit">{t("portal.app.saveSettings")}</button>
          </Form>
        ) : (
          <pre class="settings" tabindex={0} aria-label={t("portal.app.settingsLabel")}>
            {settingsText}
          </pre>
        )}
      </Section>

      <Section id="service-accounts" title={t("portal.sa.heading")}>
        {app.accounts.length ? (
          <ul class="list">
            {app.accounts.map((a) => (
              <li data-account={a.name}>
                <div>
                  <strong>{a.name}</strong> <span class="badge">{a.status}</span>
                  <br />
                  <span class="muted">
                    {t("portal.sa.clientId")}: <code>{a.id}</code>
                    {a.allowedScopes.length ? ` · ${a.allowedScopes.join(" ")}` : ""}
                  </span>
                  <ul class="list">
                    {a.secrets.map((s) => (
                      <li>
                        <span>
                          {t("portal.sa.secret", { prefix: s.prefix })} · {t("portal.created", { date: fmt.dateTime(s.createdAt) })}
                          {s.expiresAt ? ` · ${t("portal.sa.expires", { date: fmt.dateTime(s.expiresAt) })}` : ""}
                        </span>
                        {write ? (
                          <ActionButton
                            page={page}
                            action={`${base}/service-accounts/${a.id}/secrets/${s.id}/delete`}
                            back={back}
                            kind="danger"
                            label={t("portal.sa.deleteSecretLabel", { prefix: s.prefix })}
                            text={t("portal.sa.deleteSecret")}
                          />
                        ) : null}
                      </li>
                    ))}
                  </ul>
                </div>
                {write ? (
                  <Actions>
                    <ActionButton page={page} action={`${base}/service-accounts/${a.id}/secrets`} back={back} label={t("portal.sa.addSecretLabel", { name: a.name })} text={t("portal.sa.addSecret")} />
                    <ActionButton page={page} action={`${base}/service-accounts/${a.id}/delete`} back={back} kind="danger" label={t("portal.sa.deleteLabel", { name: a.name })} text={t("portal.sa.delete")} />
                  </Actions>
                ) : null}
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">{t("portal.none")}</p>
        )}
        {write ? (
          <Form page={page} action={portalHref(page, `${base}/service-accounts`)} id="account-form" label={t("portal.sa.create")}>
            <FormError message={accountProblems.form} />
            <Field id="sa-name" name="name" label={t("portal.sa.name")} maxlength={200} error={accountProblems.fields.name} required />
            <Field id="sa-scopes" name="scopes" label={t("portal.sa.scopes")} error={accountProblems.fields.scopes} />
            <button type="submit">{t("portal.sa.create")}</button>
          </Form>
        ) : null}
      </Section>
    </PortalLayout>
  );
}

/** The first problem zod found, as "path: message". */
function firstIssue(issues: { path: PropertyKey[]; message: string }[]): string {
  const i = issues[0];
  return i ? `${i.path.map(String).join(".") || "settings"}: ${i.message}` : "";
}

export const portalApplicationRoutes = pageRouter()
  .get("/portal/applications", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const { t } = page;
      const apps = await listApplications(c.get("deps"), staff);
      return c.html(
        <PortalLayout page={page} staff={staff} section="applications" title={t("portal.apps.heading")} notice={noticeOf(c, page)}>
          <Section id="applications" title={t("portal.apps.heading")}>
            <ul class="list">
              {apps.map((a) => (
                <li>
                  <div>
                    <a href={portalHref(page, `/portal/applications/${a.id}`)}>
                      <strong>{a.name}</strong>
                    </a>{" "}
                    {a.builtin ? <span class="badge">{t("portal.apps.builtin")}</span> : null}
                    <br />
                    <span class="muted">
                      {a.slug} · {a.type} · {a.status}
                    </span>
                  </div>
                </li>
              ))}
            </ul>
          </Section>
        </PortalLayout>,
      );
    }),
  )
  .get("/portal/applications/:id", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const app = await loadDetail(c, staff, idParam(c, "id"));
      return c.html(<ApplicationView page={page} staff={staff} app={app} shown={{ notice: noticeOf(c, page) }} />);
    }),
  )
  .post("/portal/applications/:id/api-keys", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const id = idParam(c, "id");
      const name = (page.form.name ?? "").trim().slice(0, 200);
      await requirePageStepUp(c, staffStepUpSubject(staff));
      const created = await createApiKey(c.get("deps"), staff, id, { name: name || undefined }, requestMeta(c));
      const app = await loadDetail(c, staff, id);
      return c.html(<ApplicationView page={page} staff={staff} app={app} shown={{ created: { kind: "key", value: created.key } }} />, 201);
    }),
  )
  .post("/portal/applications/:id/api-keys/:keyId/revoke", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const id = idParam(c, "id");
      await revokeApiKey(c.get("deps"), staff, id, idParam(c, "keyId"), requestMeta(c));
      return c.redirect(withNotice(safeBack(page.form.back, portalHref(page, `/portal/applications/${id}`)), "key_revoked"), 303);
    }),
  )
  .post("/portal/applications/:id/settings", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const { t } = page;
      const id = idParam(c, "id");
      const text = page.form.settings ?? "";
      let parsed: unknown;
      let problem: string | null = null;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        problem = t("portal.app.settingsJson", { detail: (err as Error).message });
      }
      if (problem === null) {
        const checked = ApplicationSettingsSchema.safeParse(parsed);
        if (checked.success) {
          await updateApplication(c.get("deps"), staff, id, { settings: checked.data }, requestMeta(c));
          return c.redirect(withNotice(portalHref(page, `/portal/applications/${id}`), "settings") + "#settings", 303);
        }
        problem = t("portal.app.settingsInvalid", { detail: firstIssue(checked.error.issues) });
      }
      const app = await loadDetail(c, staff, id);
      if (!can.writeApplications(staff)) throw new PageError(403, "forbidden", "portal.error.forbidden");
      return c.html(<ApplicationView page={page} staff={staff} app={app} shown={{ settingsText: text, settingsError: problem }} />, 400);
    }),
  )
  .post("/portal/applications/:id/service-accounts", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const { t } = page;
      const id = idParam(c, "id");
      const name = (page.form.name ?? "").trim();
      const scopes = (page.form.scopes ?? "").split(/\s+/).filter(Boolean);
      const fields: Record<string, string> = {};
      if (!name || name.length > 200) fields.name = t("error.required");
      if (scopes.length > 100 || scopes.some((s) => !SCOPE.test(s))) fields.scopes = t("portal.error.invalid");
      if (Object.keys(fields).length === 0) {
        await createServiceAccount(c.get("deps"), staff, id, { name, allowedScopes: scopes }, requestMeta(c));
        return c.redirect(withNotice(portalHref(page, `/portal/applications/${id}`), "account_created") + "#service-accounts", 303);
      }
      if (!can.writeApplications(staff)) throw new PageError(403, "forbidden", "portal.error.forbidden");
      const app = await loadDetail(c, staff, id);
      return c.html(<ApplicationView page={page} staff={staff} app={app} shown={{ accountProblems: { form: t("error.summary"), fields } }} />, 400);
    }),
  )
  .post("/portal/applications/:id/service-accounts/:sid/delete", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const id = idParam(c, "id");
      await deleteServiceAccount(c.get("deps"), staff, id, idParam(c, "sid"), requestMeta(c));
      return c.redirect(withNotice(safeBack(page.form.back, portalHref(page, `/portal/applications/${id}`)), "account_deleted"), 303);
    }),
  )
  .post("/portal/applications/:id/service-accounts/:sid/secrets", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const id = idParam(c, "id");
      const sid = idParam(c, "sid");
      await requirePageStepUp(c, staffStepUpSubject(staff));
      const created = await createSecret(c.get("deps"), staff, id, sid, {}, requestMeta(c));
      const app = await loadDetail(c, staff, id);
      return c.html(<ApplicationView page={page} staff={staff} app={app} shown={{ created: { kind: "secret", value: created.secret, clientId: sid } }} />, 201);
    }),
  )
  .post("/portal/applications/:id/service-accounts/:sid/secrets/:secretId/delete", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const id = idParam(c, "id");
      await deleteSecret(c.get("deps"), staff, id, idParam(c, "sid"), idParam(c, "secretId"), requestMeta(c));
      return c.redirect(withNotice(safeBack(page.form.back, portalHref(page, `/portal/applications/${id}`)), "secret_deleted"), 303);
    }),
  );
