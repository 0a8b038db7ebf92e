// Platform staff on organizations (/internal/organizations): PLATFORM_MODERATOR and up read,
// PLATFORM_ADMIN and up change (any organization, any membership). The last-owner rule holds for
// staff too (409 last_owner: make someone else an owner first). Every change is audited with the
// staff member as actor (or the Cloudflare Access label).
import type { Deps } from "../../deps";
import { AppError, errors } from "../../http/errors";
import {
  findOrganization,
  listMembers,
  listOrganizations,
  loadAccess,
  removeMember,
  setMemberRoles,
  updateOrganization,
  type Actor,
  type MemberItem,
  type OrganizationPatch,
  type OrganizationRow,
  type StaffOrganizationItem,
} from "../../stores/organizations";
import type { RequestMeta } from "../auth/common";
import { forbidden, roleRank, type StaffPrincipal } from "../staff/principal";
import { lastOwner, managedByFinance, orgNotFound } from "./organizations";
import { isBuiltinRole } from "./permissions";
import { markRevoked } from "./token";

function requireReader(staff: StaffPrincipal): void {
  if (roleRank(staff.globalRole) < roleRank("PLATFORM_MODERATOR")) throw forbidden("Only platform staff may read organizations");
}

function requireAdmin(staff: StaffPrincipal): void {
  if (roleRank(staff.globalRole) < roleRank("PLATFORM_ADMIN")) throw forbidden("Only PLATFORM_ADMIN or PLATFORM_SUPERADMIN may change organizations");
}

function staffActor(staff: StaffPrincipal, meta: RequestMeta): Actor {
  return {
    userId: staff.userId,
    label: staff.via === "cloudflare-access" ? `cloudflare-access:${staff.email}` : null,
    acting: null,
    ip: meta.ip,
    userAgent: meta.userAgent,
  };
}

export async function staffListOrganizations(
  deps: Deps,
  staff: StaffPrincipal,
  query: { q?: string; parentId?: string; limit?: number; offset?: number },
): Promise<{ organizations: StaffOrganizationItem[]; total: number; limit: number; offset: number }> {
  requireReader(staff);
  const limit = Math.min(Math.max(1, query.limit ?? 50), 200);
  const offset = Math.max(0, query.offset ?? 0);
  const found = await listOrganizations(deps.db, { q: query.q, parentId: query.parentId, limit, offset });
  return { ...found, limit, offset };
}

export async function staffGetOrganization(deps: Deps, staff: StaffPrincipal, id: string): Promise<OrganizationRow> {
  requireReader(staff);
  const o = await findOrganization(deps.db, id);
  if (!o) throw orgNotFound();
  return o;
}

export async function staffMembers(deps: Deps, staff: StaffPrincipal, id: string, page: { limit?: number; offset?: number }): Promise<{ members: MemberItem[]; total: number; limit: number; offset: number }> {
  requireReader(staff);
  const limit = Math.min(Math.max(1, page.limit ?? 50), 200);
  const offset = Math.max(0, page.offset ?? 0);
  const [o, found] = await Promise.all([findOrganization(deps.db, id), listMembers(deps.db, { organizationId: id, limit, offset })]);
  if (!o) throw orgNotFound();
  return { ...found, limit, offset };
}

export async function staffUpdateOrganization(deps: Deps, staff: StaffPrincipal, id: string, patch: OrganizationPatch, meta: RequestMeta): Promise<OrganizationRow> {
  requireAdmin(staff);
  const result = await updateOrganization(deps.db, { organizationId: id, patch, actor: staffActor(staff, meta), permission: null, now: deps.clock.now() });
  if (result.organization) return result.organization;
  if (!result.before) throw orgNotFound();
  if (patch.externalId && !patch.slug) throw new AppError(409, "external_id_taken", "Another organization has this externalId", { fields: [{ field: "externalId", message: "is taken" }] });
  throw new AppError(409, "slug_taken", "Another organization has this slug", { fields: [{ field: "slug", message: "is taken" }] });
}

/** Sets a user's roles in the organization, adding the membership when missing. */
export async function staffSetMember(
  deps: Deps,
  staff: StaffPrincipal,
  id: string,
  userId: string,
  roles: string[],
  meta: RequestMeta,
): Promise<{ userId: string; roles: string[]; created: boolean }> {
  requireAdmin(staff);
  const state = await loadAccess(deps.db, { organizationId: id, userId, acting: { sessionId: "00000000-0000-0000-0000-000000000000", tokenVersion: -1 }, now: deps.clock.now() });
  if (!state.organization) throw orgNotFound();
  const unknown = roles.filter((r) => !isBuiltinRole(r) && !(r in state.customRoles));
  if (unknown.length > 0) throw new AppError(400, "unknown_role", `No role "${unknown[0]}" in this organization`);
  const outcome = await setMemberRoles(deps.db, { organizationId: id, userId, roles, create: true, actor: staffActor(staff, meta), permission: null, now: deps.clock.now() });
  if (!outcome.written) {
    if (outcome.lastOwner) throw lastOwner();
    throw errors.notFound("No such user");
  }
  return { userId, roles: [...(outcome.after ?? roles)].sort(), created: outcome.before === null };
}

export async function staffRemoveMember(deps: Deps, staff: StaffPrincipal, id: string, userId: string, meta: RequestMeta): Promise<void> {
  requireAdmin(staff);
  const outcome = await removeMember(deps.db, { organizationId: id, userId, actor: staffActor(staff, meta), permission: null, event: "organization.member_removed", now: deps.clock.now() });
  if (!outcome.written) {
    if (outcome.lastOwner) throw lastOwner();
    if (outcome.targetRoles.length > 0) throw managedByFinance();
    throw errors.notFound("No such member");
  }
  await markRevoked(deps, outcome.revoked);
}
