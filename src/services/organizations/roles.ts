// Custom roles of an organization (/auth/organizations/{orgId}/roles). A custom role's key cannot
// shadow a built-in one (400 reserved_role_key); its permissions must be built-in or declared by an
// active application (settings.permissions; 400 unknown_permission), and held by its creator (403
// permission_not_held); a role still assigned to a member or a pending invitation cannot be deleted
// (409 role_in_use).
import type { Deps } from "../../deps";
import { AppError, errors } from "../../http/errors";
import { createRole as insertRole, declaredPermissions, deleteRole as dropRole, listRoles, updateRole as patchRole, type RoleRow } from "../../stores/organizations";
import type { RequestMeta } from "../auth/common";
import type { Principal } from "../auth/bearer";
import { actorOf, callerAccess } from "./organizations";
import { BUILTIN_ROLE_PERMISSIONS, BUILTIN_ROLES, isBuiltinPermission, isBuiltinRole, mayDefineRole, requirePermission } from "./permissions";

export interface RoleView {
  key: string;
  name: string;
  description: string | null;
  permissions: string[];
  builtin: boolean;
}

export function roleView(r: RoleRow): RoleView {
  return { key: r.key, name: r.name, description: r.description, permissions: [...r.permissions].sort(), builtin: false };
}

const BUILTIN_NAMES: Record<string, string> = { owner: "Owner", admin: "Admin", member: "Member", viewer: "Viewer" };

export function builtinRoleViews(): RoleView[] {
  return BUILTIN_ROLES.map((key) => ({
    key,
    name: BUILTIN_NAMES[key],
    description: key === "owner" ? "Every permission, including those applications declare" : null,
    permissions: [...BUILTIN_ROLE_PERMISSIONS[key]].sort(),
    builtin: true,
  }));
}

async function assertKnownPermissions(deps: Deps, permissions: string[]): Promise<void> {
  const custom = permissions.filter((p) => !isBuiltinPermission(p));
  if (custom.length === 0) return;
  const declared = new Set(await declaredPermissions(deps.db));
  const unknown = custom.filter((p) => !declared.has(p));
  if (unknown.length > 0) {
    throw new AppError(400, "unknown_permission", `No active application declares ${unknown.sort().join(", ")} (settings.permissions)`, {
      fields: unknown.map((p) => ({ field: "permissions", message: `${p} is not declared by any application` })),
    });
  }
}

export async function organizationRoles(deps: Deps, principal: Principal, organizationId: string): Promise<RoleView[]> {
  const access = await callerAccess(deps, principal, organizationId);
  requirePermission(access, "roles:read");
  const custom = await listRoles(deps.db, organizationId);
  return [...builtinRoleViews(), ...custom.map(roleView)];
}

export async function createRole(
  deps: Deps,
  principal: Principal,
  organizationId: string,
  body: { key: string; name: string; description?: string | null; permissions: string[] },
  meta: RequestMeta,
): Promise<RoleView> {
  if (isBuiltinRole(body.key)) throw new AppError(400, "reserved_role_key", `"${body.key}" is a built-in role`, { fields: [{ field: "key", message: "is a built-in role" }] });
  const access = await callerAccess(deps, principal, organizationId);
  requirePermission(access, "roles:write");
  mayDefineRole(access, body.permissions);
  await assertKnownPermissions(deps, body.permissions);
  const result = await insertRole(deps.db, {
    organizationId,
    key: body.key,
    name: body.name,
    description: body.description ?? null,
    permissions: [...body.permissions].sort(),
    actor: actorOf(principal, meta),
    now: deps.clock.now(),
  });
  if (result.role) return roleView(result.role);
  if (result.exists) throw new AppError(409, "role_exists", `The organization already has a role "${body.key}"`);
  throw new AppError(409, "conflict", "The organization or your membership changed concurrently; try again");
}

export async function updateRole(
  deps: Deps,
  principal: Principal,
  organizationId: string,
  key: string,
  body: { name?: string; description?: string | null; permissions?: string[] },
  meta: RequestMeta,
): Promise<RoleView> {
  if (isBuiltinRole(key)) throw new AppError(400, "reserved_role_key", "Built-in roles cannot be changed");
  const access = await callerAccess(deps, principal, organizationId);
  requirePermission(access, "roles:write");
  const before = access.state.customRoles[key];
  if (!before) throw errors.notFound(`No custom role "${key}"`);
  if (body.permissions) {
    // Both what is added and what is taken away must be the caller's to grant.
    const changed = [...body.permissions.filter((p) => !before.includes(p)), ...before.filter((p) => !body.permissions!.includes(p))];
    mayDefineRole(access, changed);
    await assertKnownPermissions(deps, body.permissions.filter((p) => !before.includes(p)));
  }
  const result = await patchRole(deps.db, {
    organizationId,
    key,
    name: body.name,
    description: body.description,
    permissions: body.permissions ? [...body.permissions].sort() : undefined,
    actor: actorOf(principal, meta),
    now: deps.clock.now(),
  });
  if (result.role) return roleView(result.role);
  if (!result.found) throw errors.notFound(`No custom role "${key}"`);
  throw new AppError(409, "conflict", "The organization or your membership changed concurrently; try again");
}

export async function deleteRole(deps: Deps, principal: Principal, organizationId: string, key: string, meta: RequestMeta): Promise<void> {
  if (isBuiltinRole(key)) throw new AppError(400, "reserved_role_key", "Built-in roles cannot be deleted");
  const access = await callerAccess(deps, principal, organizationId);
  requirePermission(access, "roles:write");
  const permissions = access.state.customRoles[key];
  if (!permissions) throw errors.notFound(`No custom role "${key}"`);
  mayDefineRole(access, permissions);
  const result = await dropRole(deps.db, { organizationId, key, actor: actorOf(principal, meta), now: deps.clock.now() });
  if (result.deleted) return;
  if (result.assigned) throw new AppError(409, "role_in_use", `The role "${key}" is still assigned to a member or a pending invitation`);
  if (!result.found) throw errors.notFound(`No custom role "${key}"`);
  throw new AppError(409, "conflict", "The organization or your membership changed concurrently; try again");
}
