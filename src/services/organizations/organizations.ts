// Organizations as their members use them (/auth/organizations/*). Each route first reads the
// caller's standing in one statement (loadAccess: session live, membership from every source,
// custom roles, the organization), decides with the rules in permissions.ts, then makes the change
// in one statement that checks the permission again as it writes (with its audit row). Rules:
//   - a non-member learns nothing about an organization: 404 not_found;
//   - the last owner cannot be removed, demoted or leave (409 last_owner); only owners grant or
//     take away `owner`; nobody grants permissions they do not hold;
//   - memberships that come from Finance (seed 000's companies and business units) are changed
//     through /internal/companies, not here (409 managed_by_finance); the organization of a Finance
//     company or business unit cannot be deleted here either.
import type { Deps } from "../../deps";
import { AppError, errors } from "../../http/errors";
import {
  createOrganization as insertOrganization,
  deleteOrganization as dropOrganization,
  listMembers,
  listUserOrganizations,
  loadAccess,
  removeMember as dropMember,
  setMemberRoles,
  updateOrganization as patchOrganization,
  type AccessState,
  type Actor,
  type MemberChangeOutcome,
  type MemberItem,
  type OrganizationPatch,
  type OrganizationRow,
  type UserOrganization,
} from "../../stores/organizations";
import type { RequestMeta } from "../auth/common";
import { tokenRevoked, type Principal } from "../auth/bearer";
import { mayGrantRoles, permissionsOf, requireOwner, requirePermission, type OrgAccess } from "./permissions";
import { markRevoked } from "./token";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export const orgNotFound = () => errors.notFound("No such organization");
export const lastOwner = () => new AppError(409, "last_owner", "An organization keeps at least one owner: make someone else an owner first");
export const managedByFinance = () =>
  new AppError(409, "managed_by_finance", "This membership comes from Finance (a company or business unit); change it through /internal/companies");
const slugTaken = () => new AppError(409, "slug_taken", "Another organization has this slug", { fields: [{ field: "slug", message: "is taken" }] });

export function actorOf(principal: Principal, meta: RequestMeta): Actor {
  return { userId: principal.userId, acting: principal.acting, ip: meta.ip, userAgent: meta.userAgent };
}

export interface CallerAccess extends OrgAccess {
  organization: OrganizationRow;
  state: AccessState;
}

/** The caller's standing in the organization: 401 when the session ended, 404 for non-members. */
export async function callerAccess(deps: Deps, principal: Principal, organizationId: string): Promise<CallerAccess> {
  const [, state] = await Promise.all([
    principal.markers,
    loadAccess(deps.db, { organizationId, userId: principal.userId, acting: principal.acting, now: deps.clock.now() }),
  ]);
  if (!state.live) throw tokenRevoked();
  if (!state.organization || state.roles.length === 0) throw orgNotFound();
  return { ...permissionsOf(state.roles, state.customRoles), organization: state.organization, state };
}

export function isFinanceOrganization(o: OrganizationRow): boolean {
  return o.externalId?.startsWith("finance:") ?? false;
}

// ---- organizations ---------------------------------------------------------------------------------

export async function myOrganizations(deps: Deps, principal: Principal): Promise<UserOrganization[]> {
  const [, found] = await Promise.all([principal.markers, listUserOrganizations(deps.db, { userId: principal.userId, acting: principal.acting, now: deps.clock.now() })]);
  if (!found.live) throw tokenRevoked();
  return found.organizations;
}

export async function createOrganization(
  deps: Deps,
  principal: Principal,
  body: { name: string; slug: string; externalId?: string | null; metadata?: Record<string, unknown> },
  meta: RequestMeta,
): Promise<OrganizationRow> {
  const [, result] = await Promise.all([
    principal.markers,
    insertOrganization(deps.db, { ...body, actor: actorOf(principal, meta), ownerId: principal.userId, now: deps.clock.now() }),
  ]);
  if (!result.live) throw tokenRevoked();
  if (result.organization) return result.organization;
  if (result.externalIdTaken && !result.slugTaken) {
    throw new AppError(409, "external_id_taken", "Another organization has this externalId", { fields: [{ field: "externalId", message: "is taken" }] });
  }
  throw slugTaken();
}

export async function getOrganization(deps: Deps, principal: Principal, organizationId: string) {
  const access = await callerAccess(deps, principal, organizationId);
  requirePermission(access, "org:read");
  return { organization: access.organization, roles: [...access.roles].sort(), permissions: [...effectivePermissions(access)].sort() };
}

function effectivePermissions(access: OrgAccess): Set<string> {
  return access.owner ? new Set([...access.permissions]) : access.permissions;
}

export async function updateOrganization(deps: Deps, principal: Principal, organizationId: string, patch: OrganizationPatch, meta: RequestMeta): Promise<OrganizationRow> {
  const access = await callerAccess(deps, principal, organizationId);
  requirePermission(access, "org:write");
  if (Object.keys(patch).length === 0) return access.organization;
  const result = await patchOrganization(deps.db, { organizationId, patch, actor: actorOf(principal, meta), permission: "org:write", now: deps.clock.now() });
  if (result.organization) return result.organization;
  if (result.conflict) {
    if (patch.externalId && !patch.slug) throw new AppError(409, "external_id_taken", "Another organization has this externalId", { fields: [{ field: "externalId", message: "is taken" }] });
    throw slugTaken();
  }
  // The permission or the session went away between the two statements.
  throw new AppError(409, "conflict", "The organization or your membership changed concurrently; try again");
}

export async function deleteOrganization(deps: Deps, principal: Principal, organizationId: string, meta: RequestMeta): Promise<void> {
  const access = await callerAccess(deps, principal, organizationId);
  requireOwner(access);
  if (isFinanceOrganization(access.organization)) throw new AppError(409, "managed_by_finance", "A Finance company or business unit cannot be deleted here");
  const result = await dropOrganization(deps.db, { organizationId, actor: actorOf(principal, meta), now: deps.clock.now() });
  if (result.hasChildren) throw new AppError(409, "has_children", "Delete the organization's child organizations first");
  if (!result.deleted) throw new AppError(409, "conflict", "The organization or your membership changed concurrently; try again");
  await markRevoked(deps, result.revoked);
}

// ---- members ------------------------------------------------------------------------------------------

export async function organizationMembers(
  deps: Deps,
  principal: Principal,
  organizationId: string,
  page: { limit?: number; offset?: number },
): Promise<{ members: MemberItem[]; total: number; limit: number; offset: number }> {
  const access = await callerAccess(deps, principal, organizationId);
  requirePermission(access, "members:read");
  const limit = Math.min(Math.max(1, page.limit ?? DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE);
  const offset = Math.max(0, page.offset ?? 0);
  const found = await listMembers(deps.db, { organizationId, limit, offset });
  return { ...found, limit, offset };
}

/** What went wrong when a member change wrote nothing. */
function unwritten(outcome: MemberChangeOutcome): AppError {
  if (outcome.lastOwner) return lastOwner();
  if (outcome.before === null) return outcome.targetRoles.length > 0 ? managedByFinance() : errors.notFound("No such member");
  return new AppError(409, "conflict", "The organization or your membership changed concurrently; try again");
}

export interface MemberView {
  userId: string;
  roles: string[];
}

export async function updateMember(
  deps: Deps,
  principal: Principal,
  organizationId: string,
  userId: string,
  roles: string[],
  meta: RequestMeta,
): Promise<MemberView> {
  const access = await callerAccess(deps, principal, organizationId);
  requirePermission(access, "members:write");
  const custom = access.state.customRoles;
  // Granting and taking away alike: the roles that change must be ones the caller may grant.
  const target = await loadAccess(deps.db, { organizationId, userId, acting: principal.acting, now: deps.clock.now() });
  if (target.roles.length === 0) throw errors.notFound("No such member");
  if (!target.native) throw managedByFinance();
  const current = new Set(target.roles);
  const next = new Set(roles);
  const changed = [...new Set([...roles.filter((r) => !current.has(r)), ...target.roles.filter((r) => !next.has(r))])];
  mayGrantRoles(access, changed, custom);
  const outcome = await setMemberRoles(deps.db, { organizationId, userId, roles, create: false, actor: actorOf(principal, meta), permission: "members:write", now: deps.clock.now() });
  if (!outcome.written) throw unwritten(outcome);
  return { userId, roles: [...(outcome.after ?? roles)].sort() };
}

export async function removeMember(deps: Deps, principal: Principal, organizationId: string, userId: string, meta: RequestMeta): Promise<void> {
  const access = await callerAccess(deps, principal, organizationId);
  requirePermission(access, "members:write");
  const target = await loadAccess(deps.db, { organizationId, userId, acting: principal.acting, now: deps.clock.now() });
  if (target.roles.length === 0) throw errors.notFound("No such member");
  if (!target.native) throw managedByFinance();
  // Taking away roles is granting in reverse: only owners remove an owner, and nobody removes a
  // member whose roles grant more than they hold.
  mayGrantRoles(access, target.roles, target.customRoles);
  const outcome = await dropMember(deps.db, { organizationId, userId, actor: actorOf(principal, meta), permission: "members:write", event: "organization.member_removed", now: deps.clock.now() });
  if (!outcome.written) throw unwritten(outcome);
  await markRevoked(deps, outcome.revoked);
}

export async function leaveOrganization(deps: Deps, principal: Principal, organizationId: string, meta: RequestMeta): Promise<void> {
  const access = await callerAccess(deps, principal, organizationId);
  if (!access.state.native) throw managedByFinance();
  const outcome = await dropMember(deps.db, { organizationId, userId: principal.userId, actor: actorOf(principal, meta), permission: null, event: "organization.member_left", now: deps.clock.now() });
  if (!outcome.written) throw unwritten(outcome);
  await markRevoked(deps, outcome.revoked);
}
