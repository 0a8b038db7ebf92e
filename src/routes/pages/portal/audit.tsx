// /portal/audit: the audit log (listAuditEvents, as GET /internal/audit-events), newest first, with
// its filters (event type or prefix*, target user, actor, from, to) in a GET form, and the next
// page through the service's cursor. Filter values that are not what the service takes are shown
// as field errors (never sent on).
import { listAuditEvents, type AuditListInput } from "../../../services/admin/audit";
import { pageMiddleware } from "../../../pages/context";
import { Field, FormError } from "../../../pages/layout";
import { pageRouter } from "../../../pages/router";
import { asStaff, noticeOf, UUID } from "../../../pages/portal/handler";
import { PortalLayout, portalHref, Section } from "../../../pages/portal/layout";

const FILTERS = ["eventType", "userId", "actorUserId", "from", "to"] as const;
type FilterName = (typeof FILTERS)[number];
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const EVENT_TYPE = /^[a-z0-9_.]{1,100}\*?$/i;

export const portalAuditRoutes = pageRouter().get("/portal/audit", ...pageMiddleware, (c) =>
  asStaff(c, async (staff, page) => {
    const { t, fmt } = page;
    const values = Object.fromEntries(FILTERS.map((f) => [f, (c.req.query(f) ?? "").trim().slice(0, 200)])) as Record<FilterName, string>;
    const fields: Partial<Record<FilterName, string>> = {};
    if (values.eventType && !EVENT_TYPE.test(values.eventType)) fields.eventType = t("portal.error.invalid");
    for (const f of ["userId", "actorUserId"] as const) if (values[f] && !UUID.test(values[f])) fields[f] = t("portal.audit.uuid");
    const dates: { from?: Date; to?: Date } = {};
    for (const f of ["from", "to"] as const) {
      if (!values[f]) continue;
      const d = new Date(values[f]);
      if (!DATE.test(values[f]) || Number.isNaN(d.getTime())) fields[f] = t("portal.audit.date");
      else dates[f] = d;
    }
    if (dates.from && dates.to && dates.to < dates.from) fields.to = t("portal.audit.order");
    const invalid = Object.keys(fields).length > 0;
    const cursor = c.req.query("cursor") || undefined;
    const input: AuditListInput = { limit: 50, cursor };
    for (const f of FILTERS) if (values[f]) input[f] = f === "from" || f === "to" ? dates[f]!.toISOString() : values[f];
    const found = invalid ? { items: [], nextCursor: null } : await listAuditEvents(c.get("deps"), staff, input);
    const filterQuery = Object.fromEntries(FILTERS.map((f) => [f, values[f] || null]));
    const anyFilter = FILTERS.some((f) => values[f]);
    return c.html(
      <PortalLayout page={page} staff={staff} section="audit" title={t("portal.audit.heading")} notice={noticeOf(c, page)}>
        <Section id="filters" title={t("portal.audit.filter")}>
          <FormError message={invalid ? t("error.summary") : null} />
          <form method="get" action="/portal/audit" role="search" aria-label={t("portal.audit.filter")} id="audit-filter">
            <input type="hidden" name="locale" value={page.locale} />
            <Field id="eventType" name="eventType" label={t("portal.audit.eventType")} hint={t("portal.audit.eventTypeHint")} value={values.eventType} error={fields.eventType} />
            <Field id="userId" name="userId" label={t("portal.audit.userId")} value={values.userId} error={fields.userId} />
            <Field id="actorUserId" name="actorUserId" label={t("portal.audit.actorUserId")} value={values.actorUserId} error={fields.actorUserId} />
            <Field id="from" name="from" label={t("portal.audit.from")} hint={t("portal.audit.dateHint")} value={values.from} error={fields.from} />
            <Field id="to" name="to" label={t("portal.audit.to")} hint={t("portal.audit.dateHint")} value={values.to} error={fields.to} />
            <div class="links actions">
              <button type="submit">{t("portal.audit.filter")}</button>
              {anyFilter ? <a href={portalHref(page, "/portal/audit")}>{t("portal.audit.clear")}</a> : null}
            </div>
          </form>
        </Section>
        <Section id="events" title={t("portal.audit.heading")}>
          {found.items.length ? (
            <ul class="list" id="audit-events">
              {found.items.map((e) => (
                <li data-event={e.eventType}>
                  <div>
                    <strong>{e.eventType}</strong> <span class="muted">{fmt.dateTime(e.createdAt)}</span>
                    <br />
                    <span class="muted">
                      {[
                        e.actorUserId || e.actorLabel ? t("portal.audit.actor", { actor: e.actorLabel ?? e.actorUserId ?? "" }) : null,
                        e.targetUserId ? t("portal.audit.target", { target: e.targetUserId }) : null,
                        e.ip,
                      ]
                        .filter(Boolean)
                        .join(" · ")}
                    </span>
                  </div>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">{t("portal.none")}</p>
          )}
          {found.nextCursor ? (
            <p class="links">
              <a href={portalHref(page, "/portal/audit", { ...filterQuery, cursor: found.nextCursor })}>{t("portal.next")}</a>
            </p>
          ) : null}
        </Section>
      </PortalLayout>,
      invalid ? 400 : 200,
    );
  }),
);
