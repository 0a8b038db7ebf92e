// Who is acting on /internal/* administration: a user, checked against Postgres at request time
// (active, approved, current token version and session, platform role as stored now, not as the
// token claims it). Two ways in:
//   - a Bearer access token of this service;
//   - Cloudflare Access (Cf-Access-Jwt-Assertion), when CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD
//     are set: the assertion's email maps to a user row (see cf-access.ts).
// Route rules (which roles may do what) live in the admin services; this only says who it is.
import type { GlobalRole } from "../../db/schema";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import { loadStaffById, type StaffState } from "../../stores/staff";
import { assertCurrent, authenticateBearer, tokenRevoked } from "../auth/bearer";

export interface StaffPrincipal {
  via: "bearer" | "cloudflare-access";
  userId: string;
  email: string;
  /** The role stored now (a demoted admin loses rights at once, whatever the token says). */
  globalRole: GlobalRole;
  /** The Bearer token's session; null for Cloudflare Access. */
  sessionId: string | null;
}

export const PLATFORM_STAFF_ROLES: readonly GlobalRole[] = ["PLATFORM_MODERATOR", "PLATFORM_ADMIN", "PLATFORM_SUPERADMIN"];

/** Numeric rank of platform roles: NONE < MODERATOR < ADMIN < SUPERADMIN. */
export function roleRank(role: GlobalRole): number {
  return { NONE: 0, PLATFORM_MODERATOR: 1, PLATFORM_ADMIN: 2, PLATFORM_SUPERADMIN: 3 }[role];
}

export function isPlatformStaff(role: GlobalRole): boolean {
  return roleRank(role) > 0;
}

export const forbidden = (message = "You are not allowed to do this") => new AppError(403, "forbidden", message);

/** A user state that may act at all: active and approved (role checks come later, per route). */
export function assertUsable(state: StaffState | null): asserts state is StaffState {
  if (!state || !state.isActive || state.approvalStatus !== "APPROVED") throw tokenRevoked();
}

/**
 * The principal of a Bearer request, with current state from Postgres. Budget: the Bearer check's
 * Redis round trip (markers) and this one SQL statement.
 */
export async function bearerStaff(deps: Deps, authorization: string | undefined): Promise<StaffPrincipal> {
  const principal = await authenticateBearer(deps, authorization);
  const [, state] = await Promise.all([principal.markers, loadStaffById(deps.db, principal.userId, principal.acting, deps.clock.now())]);
  assertUsable(state);
  assertCurrent(principal, state);
  return { via: "bearer", userId: state.id, email: state.email, globalRole: state.globalRole, sessionId: principal.sessionId };
}
