// Organization permissions: `resource:action` strings. One function per concept, used by every
// route, the org-scoped token and the tests:
//   - BUILTIN_ROLES / BUILTIN_PERMISSIONS: the fixed vocabulary.
//   - permissionsOf(roles, customRoles): what a set of role keys grants (owner: everything).
//   - holds(access, permission): whether the caller holds one permission.
//   - mayGrantRoles(access, roles, customRoles): "never grant beyond your own", and only owners
//     grant or take away `owner`.
//   - tokenPermissions(access, applicationPermissions): what goes into `org_permissions`.
import { AppError } from "../../http/errors";

export const BUILTIN_PERMISSIONS = [
  "org:read",
  "org:write",
  "members:read",
  "members:write",
  "invitations:read",
  "invitations:write",
  "roles:read",
  "roles:write",
] as const;

export type BuiltinPermission = (typeof BUILTIN_PERMISSIONS)[number];

export const BUILTIN_ROLES = ["owner", "admin", "member", "viewer"] as const;
export type BuiltinRole = (typeof BUILTIN_ROLES)[number];

/** What each built-in role grants. `owner` also holds every application-declared permission. */
export const BUILTIN_ROLE_PERMISSIONS: Record<BuiltinRole, readonly string[]> = {
  owner: BUILTIN_PERMISSIONS,
  admin: BUILTIN_PERMISSIONS,
  member: ["org:read", "members:read", "invitations:read", "roles:read"],
  viewer: ["org:read"],
};

/** `resource:action`, lowercase, each part 1-40 of a-z 0-9 _ - (e.g. invoices:read, billing:manage). */
export const PERMISSION_PATTERN = /^[a-z][a-z0-9_-]{0,39}:[a-z][a-z0-9_-]{0,39}$/;
/** A role key: lowercase, 1-40 of a-z 0-9 _ -, starting with a letter. */
export const ROLE_KEY_PATTERN = /^[a-z][a-z0-9_-]{0,39}$/;

export function isBuiltinRole(key: string): key is BuiltinRole {
  return (BUILTIN_ROLES as readonly string[]).includes(key);
}

export function isBuiltinPermission(p: string): p is BuiltinPermission {
  return (BUILTIN_PERMISSIONS as readonly string[]).includes(p);
}

/** A custom role's key and permissions, as stored. */
export type CustomRoles = Record<string, readonly string[]>;

/** The caller's standing in one organization, as one statement read it. */
export interface OrgAccess {
  roles: string[];
  /** Owners hold every permission, application-declared ones included. */
  owner: boolean;
  /** Every permission the roles grant (built-in and custom). */
  permissions: Set<string>;
}

export function permissionsOf(roles: readonly string[], custom: CustomRoles): OrgAccess {
  const permissions = new Set<string>();
  for (const role of roles) {
    const granted = isBuiltinRole(role) ? BUILTIN_ROLE_PERMISSIONS[role] : (custom[role] ?? []);
    for (const p of granted) permissions.add(p);
  }
  return { roles: [...roles], owner: roles.includes("owner"), permissions };
}

export function holds(access: OrgAccess, permission: string): boolean {
  return access.owner || access.permissions.has(permission);
}

export const forbiddenIn = (permission: string) =>
  new AppError(403, "forbidden", `You need the ${permission} permission in this organization`);

export function requirePermission(access: OrgAccess, permission: string): void {
  if (!holds(access, permission)) throw forbiddenIn(permission);
}

export function requireOwner(access: OrgAccess): void {
  if (!access.owner) throw new AppError(403, "forbidden", "Only an owner of the organization may do this");
}

/**
 * May `access` give (or take away) these roles? Only owners touch `owner`; every other role may be
 * given only when the granter holds every permission it grants. Unknown role keys: 400.
 */
export function mayGrantRoles(access: OrgAccess, roles: readonly string[], custom: CustomRoles): void {
  for (const role of roles) {
    if (!isBuiltinRole(role) && !(role in custom)) throw new AppError(400, "unknown_role", `No role "${role}" in this organization`);
  }
  if (access.owner) return;
  if (roles.includes("owner")) throw new AppError(403, "forbidden", "Only owners may grant or take away the owner role");
  const granted = permissionsOf(roles, custom).permissions;
  const lacking = [...granted].filter((p) => !access.permissions.has(p));
  if (lacking.length > 0) throw new AppError(403, "permission_not_held", `You cannot grant permissions you do not hold: ${lacking.sort().join(", ")}`);
}

/** A custom role may only hold permissions its creator holds (owners hold all). */
export function mayDefineRole(access: OrgAccess, permissions: readonly string[]): void {
  if (access.owner) return;
  const lacking = permissions.filter((p) => !access.permissions.has(p));
  if (lacking.length > 0) throw new AppError(403, "permission_not_held", `You cannot grant permissions you do not hold: ${[...lacking].sort().join(", ")}`);
}

/**
 * `org_permissions` of a token issued under an application: the built-in permissions the roles
 * grant plus those the application declares (settings.permissions) that the roles grant; an owner
 * gets every one of both.
 */
export function tokenPermissions(access: OrgAccess, applicationPermissions: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of [...BUILTIN_PERMISSIONS, ...applicationPermissions]) if (holds(access, p)) out.add(p);
  return [...out].sort();
}
