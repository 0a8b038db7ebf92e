// /portal (the PENDING queue) and /portal/users: search, one user, and the staff actions on it:
// approve, reject, activate, deactivate, change the role (updateUser, as PATCH /internal/users/{id}),
// reset two-step verification (resetUserMfa, as DELETE /internal/users/{id}/mfa) and sign out every
// session. Each action is a POST form (CSRF token, origin checked) answered with a 303 back.
import type { Context } from "hono";
import { APPROVAL_STATUSES, GLOBAL_ROLES, type ApprovalStatus, type GlobalRole } from "../../../db/schema";
import { requestMeta } from "../../../http/middleware";
import { getUser, listUsers, updateUser, type AdminUser } from "../../../services/admin/users";
import { resetUserMfa } from "../../../services/mfa/staff";
import { pageMiddleware, type PageContext, type PageEnv } from "../../../pages/context";
import { PageError } from "../../../pages/errors";
import { Field, Form } from "../../../pages/layout";
import { pageRouter } from "../../../pages/router";
import { asStaff, noticeOf, UUID } from "../../../pages/portal/handler";
import { ActionButton, Actions, PortalLayout, portalHref, safeBack, Section, Select, withNotice } from "../../../pages/portal/layout";
import { can, revokeUserSessions, type PortalStaff } from "../../../pages/portal/staff";

function statusBadge(page: PageContext, u: AdminUser) {
  const kind = u.approvalStatus === "APPROVED" && u.isActive ? "ok" : "warn";
  return (
    <span class={`badge ${kind}`}>
      {page.t(`portal.status.${u.approvalStatus}`)}
      {u.isActive ? "" : ` · ${page.t("portal.users.inactive")}`}
    </span>
  );
}

/** One user in a list: who, state, and the approval buttons this staff member may use. */
function UserRow({ page, staff, user, back }: { page: PageContext; staff: PortalStaff; user: AdminUser; back: string }) {
  const { t } = page;
  return (
    <li data-user={user.email}>
      <div>
        <a href={portalHref(page, `/portal/users/${user.id}`)} aria-label={t("portal.user.open", { email: user.email })}>
          <strong>{user.email}</strong>
        </a>{" "}
        {statusBadge(page, user)}
        <br />
        <span class="muted">
          {user.fullName ? `${user.fullName} · ` : ""}
          {t(`portal.role.${user.globalRole}`)} · {t("portal.created", { date: page.fmt.dateTime(user.createdAt) })}
        </span>
      </div>
      <Actions>
        {can.approve(staff, user) ? (
          <ActionButton page={page} action={`/portal/users/${user.id}/approval`} back={back} fields={{ decision: "APPROVED" }} label={t("portal.user.approveLabel", { email: user.email })} text={t("portal.user.approve")} />
        ) : null}
        {can.reject(staff, user) ? (
          <ActionButton page={page} action={`/portal/users/${user.id}/approval`} back={back} fields={{ decision: "REJECTED" }} kind="danger" label={t("portal.user.rejectLabel", { email: user.email })} text={t("portal.user.reject")} />
        ) : null}
      </Actions>
    </li>
  );
}

function UserList({ page, staff, users, back, empty }: { page: PageContext; staff: PortalStaff; users: AdminUser[]; back: string; empty: string }) {
  if (users.length === 0) return <p class="muted">{empty}</p>;
  return (
    <ul class="list" id="user-list">
      {users.map((u) => (
        <UserRow page={page} staff={staff} user={u} back={back} />
      ))}
    </ul>
  );
}

function oneOf<T extends string>(values: readonly T[], v: string | undefined): T | undefined {
  return values.includes(v as T) ? (v as T) : undefined;
}

function UserView({ page, staff, user, notice }: { page: PageContext; staff: PortalStaff; user: AdminUser; notice: string | null }) {
  const { t, fmt } = page;
  const back = portalHref(page, `/portal/users/${user.id}`);
  const roles = can.roles(staff, user);
  const actions = [
    can.approve(staff, user) ? (
      <ActionButton page={page} action={`/portal/users/${user.id}/approval`} back={back} fields={{ decision: "APPROVED" }} label={t("portal.user.approve")} text={t("portal.user.approve")} />
    ) : null,
    can.reject(staff, user) ? (
      <ActionButton page={page} action={`/portal/users/${user.id}/approval`} back={back} fields={{ decision: "REJECTED" }} kind="danger" label={t("portal.user.reject")} text={t("portal.user.reject")} />
    ) : null,
    can.setActive(staff, user) ? (
      <ActionButton
        page={page}
        action={`/portal/users/${user.id}/active`}
        back={back}
        fields={{ active: user.isActive ? "0" : "1" }}
        kind={user.isActive ? "danger" : undefined}
        label={user.isActive ? t("portal.user.deactivate") : t("portal.user.activate")}
        text={user.isActive ? t("portal.user.deactivate") : t("portal.user.activate")}
      />
    ) : null,
    can.revokeSessions(staff, user) ? (
      <ActionButton page={page} action={`/portal/users/${user.id}/sessions/revoke`} back={back} kind="danger" label={t("portal.user.revokeSessions")} text={t("portal.user.revokeSessions")} />
    ) : null,
  ].filter(Boolean);
  return (
    <PortalLayout page={page} staff={staff} section="users" title={t("portal.user.heading", { email: user.email })} notice={notice}>
      <Section id="user" title={t("portal.users.heading")}>
        <dl class="facts">
          <dt>{t("portal.user.email")}</dt>
          <dd>{user.email}</dd>
          <dt>{t("portal.user.name")}</dt>
          <dd>{user.fullName ?? "—"}</dd>
          <dt>{t("portal.user.role")}</dt>
          <dd id="user-role">{t(`portal.role.${user.globalRole}`)}</dd>
          <dt>{t("portal.user.approval")}</dt>
          <dd id="user-approval">{t(`portal.status.${user.approvalStatus}`)}</dd>
          <dt>{t("portal.user.active")}</dt>
          <dd id="user-active">{user.isActive ? t("portal.yes") : t("portal.no")}</dd>
          <dt>{t("portal.user.emailVerified")}</dt>
          <dd>{user.emailVerified ? t("portal.yes") : t("portal.no")}</dd>
          <dt>{t("portal.user.lastLogin")}</dt>
          <dd>{user.lastLoginAt ? fmt.dateTime(user.lastLoginAt) : t("portal.user.never")}</dd>
          <dt>{t("portal.user.created")}</dt>
          <dd>{fmt.dateTime(user.createdAt)}</dd>
        </dl>
      </Section>
      {actions.length || roles.length || can.resetMfa(staff) ? (
        <Section id="actions" title={t("portal.user.actions")}>
          <div class="stack">
          {actions.length ? <Actions>{actions}</Actions> : null}
          {roles.length ? (
            <Form page={page} action={portalHref(page, `/portal/users/${user.id}/role`)} id="role-form" label={t("portal.user.setRole")}>
              <input type="hidden" name="back" value={back} />
              <Select id="role" name="role" label={t("portal.user.newRole")} options={roles.map((r) => ({ value: r, label: t(`portal.role.${r}`) }))} />
              <button type="submit" class="secondary">
                {t("portal.user.setRole")}
              </button>
            </Form>
          ) : null}
          {can.resetMfa(staff) ? (
            <Form page={page} action={portalHref(page, `/portal/users/${user.id}/mfa/reset`)} id="mfa-form" label={t("portal.user.resetMfa")}>
              <input type="hidden" name="back" value={back} />
              <p class="muted" id="mfa-hint">
                {t("portal.user.resetMfaHint")}
              </p>
              <button type="submit" class="danger" aria-describedby="mfa-hint">
                {t("portal.user.resetMfa")}
              </button>
            </Form>
          ) : null}
          </div>
        </Section>
      ) : (
        <p class="muted" id="read-only">
          {t("portal.readOnly")}
        </p>
      )}
    </PortalLayout>
  );
}

function userIdOf(c: Context<PageEnv>): string {
  const id = c.req.param("id") ?? "";
  if (!UUID.test(id)) throw new PageError(404, "not_found", "error.notFound");
  return id;
}

export const portalUserRoutes = pageRouter()
  .get("/portal", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const { t } = page;
      const found = await listUsers(c.get("deps"), staff, { approvalStatus: "PENDING", limit: 100 });
      const back = portalHref(page, "/portal");
      return c.html(
        <PortalLayout page={page} staff={staff} section="pending" title={t("portal.pending.heading")} notice={noticeOf(c, page)}>
          <Section id="pending" title={t("portal.pending.count", { count: found.users.length })}>
            <p class="muted">{t("portal.pending.intro")}</p>
            <UserList page={page} staff={staff} users={found.users} back={back} empty={t("portal.pending.empty")} />
          </Section>
        </PortalLayout>,
      );
    }),
  )
  .get("/portal/users", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const { t } = page;
      const q = (c.req.query("q") ?? "").slice(0, 200);
      const approvalStatus = oneOf<ApprovalStatus>(APPROVAL_STATUSES, c.req.query("approval"));
      const globalRole = oneOf<GlobalRole>(GLOBAL_ROLES, c.req.query("role"));
      const cursor = c.req.query("cursor") || undefined;
      const found = await listUsers(c.get("deps"), staff, { q: q || undefined, approvalStatus, globalRole, cursor, limit: 50 });
      const filters = { q: q || null, approval: approvalStatus ?? null, role: globalRole ?? null };
      const back = portalHref(page, "/portal/users", { ...filters, cursor: cursor ?? null });
      return c.html(
        <PortalLayout page={page} staff={staff} section="users" title={t("portal.users.heading")} notice={noticeOf(c, page)}>
          <Section id="search" title={t("portal.search")}>
            <form method="get" action="/portal/users" role="search" aria-label={t("portal.search")}>
              <input type="hidden" name="locale" value={page.locale} />
              <Field id="q" name="q" label={t("portal.users.query")} value={q} />
              <Select
                id="approval"
                name="approval"
                label={t("portal.users.status")}
                value={approvalStatus ?? ""}
                options={[{ value: "", label: t("portal.users.any") }, ...APPROVAL_STATUSES.map((s) => ({ value: s, label: t(`portal.status.${s}`) }))]}
              />
              <Select
                id="role"
                name="role"
                label={t("portal.users.role")}
                value={globalRole ?? ""}
                options={[{ value: "", label: t("portal.users.any") }, ...GLOBAL_ROLES.map((r) => ({ value: r, label: t(`portal.role.${r}`) }))]}
              />
              <button type="submit">{t("portal.search")}</button>
            </form>
          </Section>
          <Section id="results" title={t("portal.users.heading")}>
            <UserList page={page} staff={staff} users={found.users} back={back} empty={t("portal.none")} />
            {found.nextCursor ? (
              <p class="links">
                <a href={portalHref(page, "/portal/users", { ...filters, cursor: found.nextCursor })}>{t("portal.next")}</a>
              </p>
            ) : null}
          </Section>
        </PortalLayout>,
      );
    }),
  )
  .get("/portal/users/:id", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const user = await getUser(c.get("deps"), staff, userIdOf(c));
      return c.html(<UserView page={page} staff={staff} user={user} notice={noticeOf(c, page)} />);
    }),
  )
  .post("/portal/users/:id/approval", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const id = userIdOf(c);
      const decision = oneOf<ApprovalStatus>(["APPROVED", "REJECTED"], page.form.decision);
      if (!decision) throw new PageError(400, "validation_error", "portal.error.invalid");
      const deps = c.get("deps");
      // A self-service sign-up waits PENDING and inactive: approving it also activates it (as the
      // README's curl does), when this staff member may change isActive; a moderator sends the
      // approval alone (roles.ts), and the service decides either way.
      const target = decision === "APPROVED" ? await getUser(deps, staff, id) : null;
      const activate = target !== null && target.approvalStatus === "PENDING" && !target.isActive && can.setActive(staff, target);
      await updateUser(deps, staff, id, activate ? { approvalStatus: decision, isActive: true } : { approvalStatus: decision }, requestMeta(c));
      const back = safeBack(page.form.back, portalHref(page, `/portal/users/${id}`));
      return c.redirect(withNotice(back, decision === "APPROVED" ? "approved" : "rejected"), 303);
    }),
  )
  .post("/portal/users/:id/active", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const id = userIdOf(c);
      if (page.form.active !== "1" && page.form.active !== "0") throw new PageError(400, "validation_error", "portal.error.invalid");
      const isActive = page.form.active === "1";
      await updateUser(c.get("deps"), staff, id, { isActive }, requestMeta(c));
      const back = safeBack(page.form.back, portalHref(page, `/portal/users/${id}`));
      return c.redirect(withNotice(back, isActive ? "activated" : "deactivated"), 303);
    }),
  )
  .post("/portal/users/:id/role", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const id = userIdOf(c);
      const globalRole = oneOf<GlobalRole>(GLOBAL_ROLES, page.form.role);
      if (!globalRole) throw new PageError(400, "validation_error", "portal.error.invalid");
      await updateUser(c.get("deps"), staff, id, { globalRole }, requestMeta(c));
      const back = safeBack(page.form.back, portalHref(page, `/portal/users/${id}`));
      return c.redirect(withNotice(back, "role"), 303);
    }),
  )
  .post("/portal/users/:id/mfa/reset", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const id = userIdOf(c);
      await resetUserMfa(c.get("deps"), staff, id, requestMeta(c));
      const back = safeBack(page.form.back, portalHref(page, `/portal/users/${id}`));
      return c.redirect(withNotice(back, "mfa_reset"), 303);
    }),
  )
  .post("/portal/users/:id/sessions/revoke", ...pageMiddleware, (c) =>
    asStaff(c, async (staff, page) => {
      const id = userIdOf(c);
      const { revokedSessions } = await revokeUserSessions(c.get("deps"), staff, id, requestMeta(c));
      const back = safeBack(page.form.back, portalHref(page, `/portal/users/${id}`));
      return c.redirect(withNotice(back, "sessions_revoked", { count: String(revokedSessions) }), 303);
    }),
  );
