// Who is using the staff portal, and what the portal offers them.
//
// The principal is the same StaffPrincipal /internal/* acts as: with Cloudflare Access configured
// (CF_ACCESS_TEAM_DOMAIN, CF_ACCESS_AUD) a Cf-Access-Jwt-Assertion header is it; otherwise the
// pages' session (signed in through /login) is, checked against Postgres exactly as a Bearer token
// on /internal/* is (active, approved, current session and token version, the role stored now).
//
// Which buttons are shown is asked of the services' own rule functions (roles.ts, registry.ts,
// ...) with the change the button would make; the services check again on every POST, so a button
// that is hidden is also refused.
import type { Context } from "hono";
import { writeMarkers } from "../../cache/revocation";
import type { GlobalRole } from "../../db/schema";
import { GLOBAL_ROLES } from "../../db/schema";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { assertCanUpdate, assertMayDelete, mayManageRole, type RoleState } from "../../services/admin/roles";
import { getUser } from "../../services/admin/users";
import type { RequestMeta } from "../../services/auth/common";
import { assertCurrent } from "../../services/auth/bearer";
import { assertCanWriteApplications } from "../../services/applications/registry";
import { accessStaff } from "../../services/staff/cf-access";
import { assertUsable, forbidden, isPlatformStaff, roleRank, type StaffPrincipal } from "../../services/staff/principal";
import { revokeAllSessions } from "../../stores/sessions";
import { loadStaffById } from "../../stores/staff";
import type { PageEnv } from "../context";
import { PageError } from "../errors";
import type { MessageKey } from "../i18n";
import { pageUser } from "../session";

export interface PortalStaff extends StaffPrincipal {
  /** Signed in through the pages (a sign-out button makes sense); false for Cloudflare Access. */
  pageSession: boolean;
}

/** The acting staff member, or null when nobody is signed in (the caller sends the browser to /login). */
export async function portalStaff(c: Context<PageEnv>): Promise<PortalStaff | null> {
  const deps = c.get("deps");
  const assertion = c.req.header("cf-access-jwt-assertion");
  if (assertion !== undefined && deps.config.cfAccess) return { ...(await accessStaff(deps, assertion)), pageSession: false };
  const user = await pageUser(c);
  if (!user) return null;
  const { principal } = user;
  const state = await loadStaffById(deps.db, principal.userId, principal.acting, deps.clock.now());
  assertUsable(state);
  assertCurrent(principal, state);
  if (!isPlatformStaff(state.globalRole)) throw new PageError(403, "forbidden", "portal.error.staffOnly");
  return { via: "bearer", userId: state.id, email: state.email, globalRole: state.globalRole, sessionId: principal.sessionId, pageSession: true };
}

/** Whether a rule function lets this through (a 403 from it: no). */
function allowed(check: () => void): boolean {
  try {
    check();
    return true;
  } catch (err) {
    if (err instanceof AppError && err.status === 403) return false;
    throw err;
  }
}

type Target = RoleState & { id: string };

/** A one-field change of the user as PATCH /internal/users/{id} would make it (the last-superadmin count is the service's to check). */
function mayChange(staff: StaffPrincipal, target: Target, field: "approvalStatus" | "isActive" | "globalRole", after: RoleState): boolean {
  return allowed(() => assertCanUpdate(staff, target, { sent: [field], changed: [field], after }, 1));
}

export const can = {
  approve: (s: StaffPrincipal, t: Target) => t.approvalStatus !== "APPROVED" && mayChange(s, t, "approvalStatus", { ...t, approvalStatus: "APPROVED" }),
  reject: (s: StaffPrincipal, t: Target) => t.approvalStatus !== "REJECTED" && mayChange(s, t, "approvalStatus", { ...t, approvalStatus: "REJECTED" }),
  setActive: (s: StaffPrincipal, t: Target) => mayChange(s, t, "isActive", { ...t, isActive: !t.isActive }),
  /** The roles this staff member may give the user (besides the one it holds). */
  roles: (s: StaffPrincipal, t: Target): GlobalRole[] => GLOBAL_ROLES.filter((r) => r !== t.globalRole && mayChange(s, t, "globalRole", { ...t, globalRole: r })),
  /** services/mfa/staff.ts resetUserMfa: PLATFORM_ADMIN and up. */
  resetMfa: (s: StaffPrincipal) => roleRank(s.globalRole) >= roleRank("PLATFORM_ADMIN"),
  revokeSessions: (s: StaffPrincipal, t: Target) => allowed(() => assertCanRevokeSessions(s, t)),
  /** Applications, their keys, settings and service accounts (registry.ts, m2m/service-accounts.ts): PLATFORM_ADMIN and up. */
  writeApplications: (s: StaffPrincipal) => allowed(() => assertCanWriteApplications(s)),
  /** Organizations and memberships (organizations/staff.ts): PLATFORM_ADMIN and up. */
  writeOrganizations: (s: StaffPrincipal) => roleRank(s.globalRole) >= roleRank("PLATFORM_ADMIN"),
};

/**
 * Ending every session of a user is a change to that user: PLATFORM_ADMIN and up (as deleting is),
 * of a user whose role it manages (roles.ts); not oneself (the account page signs out everywhere).
 */
export function assertCanRevokeSessions(staff: StaffPrincipal, target: Target): void {
  assertMayDelete(staff);
  if (target.id === staff.userId) throw forbidden("Sign out your own sessions from your account page");
  if (!mayManageRole(staff.globalRole, target.globalRole)) throw forbidden(`A ${staff.globalRole} may not manage a ${target.globalRole} user`);
}

/**
 * Ends every session of a user (token version bumped, revocation markers written), audited as
 * sessions.revoked_all with the staff member as actor; the same statement as the machine route's.
 */
export async function revokeUserSessions(deps: Deps, staff: StaffPrincipal, userId: string, meta: RequestMeta): Promise<{ revokedSessions: number }> {
  const target = await getUser(deps, staff, userId);
  assertCanRevokeSessions(staff, target);
  const now = deps.clock.now();
  const result = await revokeAllSessions(deps.db, {
    userId,
    reason: "staff_revoke_all",
    now,
    audit: {
      type: "sessions.revoked_all",
      actorUserId: staff.userId,
      actorLabel: staff.via === "cloudflare-access" ? "cloudflare-access" : null,
      targetUserId: userId,
      ip: meta.ip,
      userAgent: meta.userAgent,
      metadata: { via: staff.via },
      at: now,
    },
  });
  if (!result) throw new AppError(404, "not_found", "No user with this id");
  await writeMarkers(deps.redis, deps.config.jwt.accessTokenTtlMs, {
    revokedSessionIds: result.revokedSessionIds,
    tokenVersion: { userId, minimum: result.tokenVersion },
  });
  return { revokedSessions: result.revokedSessionIds.length };
}

/** A service's refusal as the portal shows it (its status kept; a localized message). */
export function portalError(err: unknown): unknown {
  if (!(err instanceof AppError) || err.status >= 500 || err instanceof PageError) return err;
  const key: MessageKey | null =
    err.code === "forbidden"
      ? "portal.error.forbidden"
      : err.code === "last_superadmin"
        ? "portal.error.lastSuperadmin"
        : err.code === "conflict"
          ? "portal.error.conflict"
          : err.code === "last_owner"
            ? "portal.error.lastOwner"
            : err.code === "unknown_role"
              ? "portal.error.unknownRole"
              : err.code === "managed_by_finance"
                ? "portal.error.finance"
                : err.code === "builtin_application"
                  ? "portal.error.builtin"
                  : err.code === "validation_error"
                    ? "portal.error.invalid"
                    : err.code === "not_found"
                      ? "error.notFound"
                      : null;
  return key ? new PageError(err.status as 400, err.code, key) : err;
}
