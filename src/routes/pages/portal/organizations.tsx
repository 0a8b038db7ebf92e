// /portal/organizations: every organization (organizations/staff.ts, as /internal/organizations),
// its members, and for PLATFORM_ADMIN and up: adding a member or setting its roles, and removing it.
import type { Context } from "hono";
import { requestMeta } from "../../../http/middleware";
import { RoleList } from "../../../http/organization-schemas";
import { listUsers } from "../../../services/admin/users";
import { staffGetOrganization, staffListOrganizations, staffMembers, staffRemoveMember, staffSetMember } from "../../../services/organizations/staff";
import { pageMiddleware, type PageEnv } from "../../../pages/context";
import { PageError } from "../../../pages/errors";
import { Field, Form, FormError } from "../../../pages/layout";
import { pageRouter } from "../../../pages/router";
import { asStaff, noticeOf, UUID } from "../../../pages/portal/handler";
import { ActionButton, PortalLayout, portalHref, Section, withNotice } from "../../../pages/portal/layout";
import { can } from "../../../pages/portal/staff";

const PAGE_SIZE = 50;

function idParam(c: Context<PageEnv>, name: string): string {
  const id = c.req.param(name) ?? "";
  if (!UUID.test(id)) throw new PageError(404, "not_found", "error.notFound");
  return id;
}

function offsetOf(c: Context<PageEnv>): number {
  const n = Number(c.req.query("offset") ?? "0");
  return Number.isSafeInteger(n) && n >= 0 && n <= 1_000_000 ? n : 0;
}

async function renderOrganization(c: Context<PageEnv>, problems: { form: string | null; fields: Record<string, string> } | null, values: { email?: string; roles?: string } = {}) {
  return asStaff(c, async (staff, page) => {
    const { t } = page;
    const id = idParam(c, "id");
    const offset = offsetOf(c);
    const deps = c.get("deps");
    const [org, found] = await Promise.all([staffGetOrganization(deps, staff, id), staffMembers(deps, staff, id, { limit: PAGE_SIZE, offset })]);
    const write = can.writeOrganizations(staff);
    const back = portalHref(page, `/portal/organizations/${id}`);
    return c.html(
      <PortalLayout page={page} staff={staff} section="organizations" title={t("portal.org.heading", { name: org.name })} notice={noticeOf(c, page)}>
        {write ? null : (
          <p class="muted" id="read-only">
            {t("portal.readOnly")}
          </p>
        )}
        <Section id="members" title={t("portal.org.members")}>
          <p class="muted">
            {org.slug}
            {org.externalId ? ` · ${org.externalId}` : ""} · {t("portal.orgs.members", { count: found.total })}
          </p>
          {found.members.length ? (
            <ul class="list">
              {found.members.map((m) => (
                <li data-member={m.email}>
                  <div>
                    <strong>{m.email}</strong> {m.fullName ? <span class="muted">{m.fullName}</span> : null}
                    <br />
                    <span class="muted">
                      {m.roles.join(", ")} · {t("portal.org.sources", { sources: m.sources.join(", ") })}
                    </span>
                  </div>
                  {write ? (
                    <ActionButton page={page} action={`/portal/organizations/${id}/members/${m.userId}/remove`} back={back} kind="danger" label={t("portal.org.removeMemberLabel", { email: m.email })} text={t("portal.org.removeMember")} />
                  ) : null}
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">{t("portal.none")}</p>
          )}
          {found.total > offset + PAGE_SIZE ? (
            <p class="links">
              <a href={portalHref(page, `/portal/organizations/${id}`, { offset: String(offset + PAGE_SIZE) })}>{t("portal.next")}</a>
            </p>
          ) : null}
        </Section>
        {write ? (
          <Section id="add-member" title={t("portal.org.addMember")}>
            <FormError message={problems?.form} />
            <Form page={page} action={portalHref(page, `/portal/organizations/${id}/members`)} id="member-form" label={t("portal.org.addMember")}>
              <Field id="member-email" name="email" type="email" label={t("portal.org.memberEmail")} value={values.email} error={problems?.fields.email} required />
              <Field id="member-roles" name="roles" label={t("portal.org.memberRoles")} hint={t("portal.org.memberRolesHint")} value={values.roles ?? "member"} error={problems?.fields.roles} required />
              <button type="submit">{t("portal.save")}</button>
            </Form>
          </Section>
        ) : null}
      </PortalLayout>,
      problems ? 400 : 200,
    );
  });
}

export const portalOrganizationRoutes = pageRouter()
  .get("/portal/organizations", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const { t } = page;
      const q = (c.req.query("q") ?? "").trim().slice(0, 200);
      const offset = offsetOf(c);
      const found = await staffListOrganizations(c.get("deps"), staff, { q: q || undefined, limit: PAGE_SIZE, offset });
      return c.html(
        <PortalLayout page={page} staff={staff} section="organizations" title={t("portal.orgs.heading")} notice={noticeOf(c, page)}>
          <Section id="search" title={t("portal.search")}>
            <form method="get" action="/portal/organizations" role="search" aria-label={t("portal.search")}>
              <input type="hidden" name="locale" value={page.locale} />
              <Field id="q" name="q" label={t("portal.orgs.query")} value={q} />
              <button type="submit">{t("portal.search")}</button>
            </form>
          </Section>
          <Section id="organizations" title={t("portal.orgs.heading")}>
            {found.organizations.length ? (
              <ul class="list">
                {found.organizations.map((o) => (
                  <li>
                    <div>
                      <a href={portalHref(page, `/portal/organizations/${o.id}`)}>
                        <strong>{o.name}</strong>
                      </a>
                      <br />
                      <span class="muted">
                        {o.slug} · {t("portal.orgs.members", { count: o.memberCount })}
                      </span>
                    </div>
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">{t("portal.none")}</p>
            )}
            {found.total > offset + PAGE_SIZE ? (
              <p class="links">
                <a href={portalHref(page, "/portal/organizations", { q: q || null, offset: String(offset + PAGE_SIZE) })}>{t("portal.next")}</a>
              </p>
            ) : null}
          </Section>
        </PortalLayout>,
      );
    }),
  )
  .get("/portal/organizations/:id", ...pageMiddleware, (c) => renderOrganization(c, null))
  .post("/portal/organizations/:id/members", ...pageMiddleware, async (c) => {
    const page = c.get("page")!;
    const { t } = page;
    const email = (page.form.email ?? "").trim();
    const rolesText = page.form.roles ?? "";
    const roles = rolesText
      .split(",")
      .map((r) => r.trim())
      .filter(Boolean);
    const fields: Record<string, string> = {};
    if (!email) fields.email = t("error.required");
    if (!RoleList.safeParse(roles).success) fields.roles = t("portal.error.invalid");
    if (Object.keys(fields).length === 0) {
      const outcome = await asStaff(c, async (staff) => {
        const id = idParam(c, "id");
        const deps = c.get("deps");
        const matches = (await listUsers(deps, staff, { q: email, limit: 20 })).users.filter((u) => u.email.toLowerCase() === email.toLowerCase());
        if (matches.length !== 1) {
          fields.email = t("portal.org.noUser");
          return new Response(null, { status: 204 });
        }
        await staffSetMember(deps, staff, id, matches[0].id, roles, requestMeta(c));
        return c.redirect(withNotice(portalHref(page, `/portal/organizations/${id}`), "member") + "#members", 303);
      });
      if (outcome.status === 303) return outcome;
    }
    return renderOrganization(c, { form: t("error.summary"), fields }, { email, roles: rolesText });
  })
  .post("/portal/organizations/:id/members/:userId/remove", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const id = idParam(c, "id");
      await staffRemoveMember(c.get("deps"), staff, id, idParam(c, "userId"), requestMeta(c));
      return c.redirect(withNotice(portalHref(page, `/portal/organizations/${id}`), "member_removed") + "#members", 303);
    }),
  );
