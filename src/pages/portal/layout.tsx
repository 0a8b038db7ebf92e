// The portal's frame: the hosted pages' Layout (wide) with the portal's section navigation, who is
// signed in, and small building blocks (a one-button form, a section card, a notice).
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import { pageHref, type PageContext } from "../context";
import type { MessageKey } from "../i18n";
import { Alert, Form, Layout } from "../layout";
import type { PortalStaff } from "./staff";

export type PortalSection = "pending" | "users" | "applications" | "organizations" | "audit";

const SECTIONS: { id: PortalSection; path: string; label: MessageKey }[] = [
  { id: "pending", path: "/portal", label: "portal.nav.pending" },
  { id: "users", path: "/portal/users", label: "portal.nav.users" },
  { id: "applications", path: "/portal/applications", label: "portal.nav.applications" },
  { id: "organizations", path: "/portal/organizations", label: "portal.nav.organizations" },
  { id: "audit", path: "/portal/audit", label: "portal.nav.audit" },
];

/** A portal link: the path with the page's locale (and nothing else carried: the portal is the platform's). */
export function portalHref(page: PageContext, path: string, extra: Record<string, string | null | undefined> = {}): string {
  return pageHref({ ...page, clientId: null, redirectUri: null }, path, extra);
}

export const PortalLayout: FC<PropsWithChildren<{ page: PageContext; staff: PortalStaff; section: PortalSection; title: string; notice?: string | null }>> = ({
  page,
  staff,
  section,
  title,
  notice,
  children,
}) => {
  const { t } = page;
  const signOut = staff.pageSession ? (
    <Form page={page} action={portalHref(page, "/logout")} label={t("portal.signOut")}>
      <button type="submit" class="secondary">
        {t("portal.signOut")}
      </button>
    </Form>
  ) : null;
  return (
    <Layout page={page} title={`${title} · ${t("portal.title")}`} wide>
      <nav class="links portal-nav" aria-label={t("portal.nav.label")}>
        {SECTIONS.map((s) => (
          <a href={portalHref(page, s.path)} aria-current={s.id === section ? "page" : undefined}>
            {t(s.label)}
          </a>
        ))}
      </nav>
      <div class="links portal-who">
        <p class="muted" id="signed-in-as">
          {t("portal.signedInAs", { email: staff.email, role: t(`portal.role.${staff.globalRole}`) })}
          {staff.via === "cloudflare-access" ? ` · ${t("portal.viaAccess")}` : ""}
        </p>
        {signOut}
      </div>
      <h1>{title}</h1>
      {notice ? <Alert kind="ok">{notice}</Alert> : null}
      {children}
    </Layout>
  );
};

/** A card with a heading. */
export const Section: FC<PropsWithChildren<{ id: string; title: string }>> = ({ id, title, children }) => (
  <section class="card" id={id} aria-labelledby={`${id}-title`}>
    <h2 id={`${id}-title`}>{title}</h2>
    {children}
  </section>
);

/** A form that is just one button (an action on a row), with the page to come back to. */
export const ActionButton: FC<{ page: PageContext; action: string; back: string; label: string; text: string; kind?: "danger" | "secondary"; fields?: Record<string, string> }> = (p) => (
  <Form page={p.page} action={portalHref(p.page, p.action)} label={p.label}>
    <input type="hidden" name="back" value={p.back} />
    {Object.entries(p.fields ?? {}).map(([name, value]) => (
      <input type="hidden" name={name} value={value} />
    ))}
    <button type="submit" class={p.kind} aria-label={p.label === p.text ? undefined : p.label}>
      {p.text}
    </button>
  </Form>
);

/** A labelled <select>. */
export const Select: FC<{ id: string; name: string; label: string; value?: string; options: { value: string; label: string }[] }> = (p) => (
  <div class="field">
    <label for={p.id}>{p.label}</label>
    <select id={p.id} name={p.name}>
      {p.options.map((o) => (
        <option value={o.value} selected={o.value === (p.value ?? "")}>
          {o.label}
        </option>
      ))}
    </select>
  </div>
);

/** Several actions side by side, wrapping on a phone. */
export const Actions: FC<PropsWithChildren> = ({ children }) => <div class="links actions">{children as Child}</div>;

/** A path inside the portal (what a form may ask to come back to), else the fallback. */
export function safeBack(value: string | undefined, fallback: string): string {
  if (value && /^\/portal(\/[A-Za-z0-9/_-]*)?(\?[A-Za-z0-9=&%._*:+-]*)?(#[a-z-]+)?$/.test(value)) return value;
  return fallback;
}

/** `back` with a notice to show there (?notice=). */
export function withNotice(back: string, notice: string, params: Record<string, string> = {}): string {
  const [pathAndQuery, hash] = back.split("#");
  const [path, query] = pathAndQuery.split("?");
  const q = new URLSearchParams(query ?? "");
  q.set("notice", notice);
  for (const [k, v] of Object.entries(params)) q.set(k, v);
  return `${path}?${q}${hash ? `#${hash}` : ""}`;
}
