// What every portal route does first: the page context, the staff member (or /login), and service
// refusals turned into localized portal errors.
import type { Context } from "hono";
import { carried, pageOf, type PageContext, type PageEnv } from "../context";
import type { MessageKey } from "../i18n";
import { portalError, portalStaff, type PortalStaff } from "./staff";

export async function asStaff(c: Context<PageEnv>, handler: (staff: PortalStaff, page: PageContext) => Promise<Response>): Promise<Response> {
  const page = pageOf(c);
  const staff = await portalStaff(c);
  if (!staff) return c.redirect(`/login?${carried({ ...page, clientId: null, redirectUri: null })}`, 303);
  try {
    return await handler(staff, page);
  } catch (err) {
    throw portalError(err);
  }
}

/** Confirmations an action may ask a portal page to show (?notice=, ?count=). */
const NOTICES: Record<string, MessageKey> = {
  approved: "portal.notice.approved",
  rejected: "portal.notice.rejected",
  activated: "portal.notice.activated",
  deactivated: "portal.notice.deactivated",
  role: "portal.notice.role",
  mfa_reset: "portal.notice.mfaReset",
  sessions_revoked: "portal.notice.sessionsRevoked",
  key_revoked: "portal.notice.keyRevoked",
  settings: "portal.notice.settings",
  secret_deleted: "portal.notice.secretDeleted",
  account_deleted: "portal.notice.accountDeleted",
  account_created: "portal.notice.accountCreated",
  member: "portal.notice.member",
  member_removed: "portal.notice.memberRemoved",
};

export function noticeOf(c: Context<PageEnv>, page: PageContext): string | null {
  const key = NOTICES[c.req.query("notice") ?? ""];
  if (!key) return null;
  const count = Number(c.req.query("count") ?? "0");
  return page.t(key, { count: Number.isSafeInteger(count) && count >= 0 ? count : 0 });
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
