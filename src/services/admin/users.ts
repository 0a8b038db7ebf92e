// User administration by platform staff (/internal/users): list, read, create, change, delete
// (soft). Role rules are in ./roles.ts. Budget per request, after the staff check (1 SQL + 1 Redis):
// list and read 1 SQL; create 1 SQL; change and delete 1 read + 1 write statement, plus one Redis
// round trip for revocation markers when sessions were revoked. Email goes out after the response.
import { writeMarkers } from "../../cache/revocation";
import { hashPassword } from "../../crypto/password";
import type { ApprovalStatus, AuthProvider, GlobalRole } from "../../db/schema";
import type { Deps } from "../../deps";
import { AppError, errors } from "../../http/errors";
import type { AuditEvent } from "../../stores/audit";
import {
  changeUser,
  findAdminTarget,
  insertAdminUser,
  isEmailConflict,
  listUsers as storeListUsers,
  type AdminTarget,
  type AdminUserRow,
  type UserColumnChanges,
} from "../../stores/admin-users";
import type { RequestMeta } from "../auth/common";
import { normalizeEmail } from "../auth/common";
import { notify } from "../notify";
import { assertPasswordAllowed } from "../password-policy";
import { roleRank, type StaffPrincipal } from "../staff/principal";
import {
  assertCanCreate,
  assertCanDelete,
  assertCanRead,
  assertMayDelete,
  assertCanSend,
  assertCanUpdate,
  lastSuperadmin,
  removesActiveSuperadmin,
  USER_FIELDS,
  type RoleState,
  type UserField,
} from "./roles";

export type AdminUser = AdminUserRow;

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

const emailTaken = () =>
  new AppError(409, "email_taken", "Another account already uses this email address", { fields: [{ field: "email", message: "is already in use" }] });
const userNotFound = () => errors.notFound("No user with this id");
const concurrentChange = () => new AppError(409, "conflict", "The user was changed by someone else meanwhile; read it again and retry");

const blankToNull = (v: string | null | undefined): string | null => (v === undefined || v === null || v.trim() === "" ? null : v.trim());

function auditBase(staff: StaffPrincipal, meta: RequestMeta, at: Date): Omit<AuditEvent, "type"> {
  return {
    actorUserId: staff.userId,
    actorLabel: staff.via === "cloudflare-access" ? "cloudflare-access" : null,
    ip: meta.ip,
    userAgent: meta.userAgent,
    at,
  };
}

// ---- list and read -------------------------------------------------------------------------------

export interface ListQuery {
  q?: string;
  globalRole?: GlobalRole;
  approvalStatus?: ApprovalStatus;
  isActive?: boolean;
  companyId?: string;
  limit?: number;
  cursor?: string;
}

export interface UserPage {
  users: AdminUser[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function base64url(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

function fromBase64url(text: string): string {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return new TextDecoder().decode(Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)));
}

/** Opaque to clients: the keyset position (created_at at microsecond precision, id). */
export function encodeCursor(position: { createdAt: string; id: string }): string {
  return base64url(JSON.stringify([position.createdAt, position.id]));
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const value = JSON.parse(fromBase64url(cursor)) as unknown;
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string") {
      if (CURSOR_AT.test(value[0]) && UUID.test(value[1])) return { createdAt: value[0], id: value[1] };
    }
  } catch {
    // fall through
  }
  throw errors.validation([{ field: "cursor", message: "is not a cursor from this list" }]);
}

export async function listUsers(deps: Deps, staff: StaffPrincipal, query: ListQuery): Promise<UserPage> {
  assertCanRead(staff);
  const after = query.cursor ? decodeCursor(query.cursor) : undefined;
  const limit = Math.min(Math.max(query.limit ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
  const page = await storeListUsers(deps.db, {
    q: query.q?.trim() || undefined,
    globalRole: query.globalRole,
    approvalStatus: query.approvalStatus,
    isActive: query.isActive,
    companyId: query.companyId,
    after,
    limit,
  });
  return { users: page.users, nextCursor: page.next ? encodeCursor(page.next) : null };
}

export async function getUser(deps: Deps, staff: StaffPrincipal, id: string): Promise<AdminUser> {
  assertCanRead(staff);
  const target = await findAdminTarget(deps.db, id);
  if (!target) throw userNotFound();
  return toAdminUser(target);
}

function toAdminUser(t: AdminUserRow): AdminUser {
  return {
    id: t.id,
    email: t.email,
    fullName: t.fullName,
    phoneNumber: t.phoneNumber,
    profilePictureUrl: t.profilePictureUrl,
    authProvider: t.authProvider,
    globalRole: t.globalRole,
    approvalStatus: t.approvalStatus,
    isActive: t.isActive,
    emailVerified: t.emailVerified,
    lastLoginAt: t.lastLoginAt,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

// ---- create --------------------------------------------------------------------------------------

export interface CreateUserInput {
  email: string;
  password?: string;
  fullName?: string | null;
  globalRole?: GlobalRole;
  isActive?: boolean;
  approvalStatus?: ApprovalStatus;
  phoneNumber?: string | null;
  profilePictureUrl?: string | null;
  authProvider?: AuthProvider;
  /** Staff may mark the address verified (or not); on update only. */
  emailVerified?: boolean;
}

/**
 * Admin-created users default to APPROVED, active, role NONE, provider "password". A password is
 * required for the "password" provider (policy-checked) and optional otherwise.
 */
export async function createUser(deps: Deps, staff: StaffPrincipal, input: CreateUserInput, meta: RequestMeta): Promise<AdminUser> {
  const globalRole = input.globalRole ?? "NONE";
  assertCanCreate(staff, globalRole);
  const { config } = deps;
  const email = normalizeEmail(input.email);
  const authProvider = input.authProvider ?? "password";
  if (authProvider === "password" && input.password === undefined) {
    throw errors.validation([{ field: "password", message: 'is required when authProvider is "password"' }]);
  }
  if (input.password !== undefined) assertPasswordAllowed(input.password, { minLength: config.passwordMinLength, email });
  const passwordHash = input.password !== undefined ? await hashPassword(input.password, config.argon2) : null;
  const values = {
    email,
    fullName: blankToNull(input.fullName),
    phoneNumber: blankToNull(input.phoneNumber),
    profilePictureUrl: blankToNull(input.profilePictureUrl),
    authProvider,
    globalRole,
    approvalStatus: input.approvalStatus ?? "APPROVED",
    isActive: input.isActive ?? true,
  } as const;
  const changes: Record<string, unknown> = {};
  for (const [field, after] of Object.entries(values)) changes[field] = { before: null, after };
  if (passwordHash) changes.password = "set";

  const now = deps.clock.now();
  let created: AdminUserRow | null;
  try {
    created = await insertAdminUser(
      deps.db,
      { ...values, passwordHash, passwordChangedAt: passwordHash ? now : null },
      { ...auditBase(staff, meta, now), type: "user.created", metadata: { changes } },
    );
  } catch (err) {
    if (isEmailConflict(err)) throw emailTaken();
    throw err;
  }
  if (!created) throw emailTaken();
  if (created.isActive && created.approvalStatus === "APPROVED") {
    notify(deps, "admin_welcome", created.email, { name: created.fullName ?? undefined, email: created.email });
  }
  return created;
}

// ---- change --------------------------------------------------------------------------------------

/** The fields of a create, each optional: only those sent are changed. */
export type UpdateUserInput = Partial<CreateUserInput>;

type Changes = Record<string, { before: unknown; after: unknown } | "changed">;

/** Why sessions end with a change, or null when they stay (most important reason first). */
function revocationReason(before: RoleState, after: RoleState, passwordChanged: boolean): string | null {
  if (before.isActive && !after.isActive) return "deactivated";
  if (before.approvalStatus !== "REJECTED" && after.approvalStatus === "REJECTED") return "rejected";
  if (before.approvalStatus === "APPROVED" && after.approvalStatus !== "APPROVED") return "approval_withdrawn";
  if (roleRank(after.globalRole) < roleRank(before.globalRole)) return "role_lowered";
  if (passwordChanged) return "password_set_by_admin";
  return null;
}

/** The audit event type of a change: its most significant effect. */
function eventType(before: RoleState, after: RoleState): string {
  if (before.isActive && !after.isActive) return "user.deactivated";
  if (before.approvalStatus !== "REJECTED" && after.approvalStatus === "REJECTED") return "user.rejected";
  if (before.approvalStatus !== "APPROVED" && after.approvalStatus === "APPROVED") return "user.approved";
  return "user.updated";
}

/**
 * Partial update: omitted fields stay as they are. A password change, deactivation, rejection
 * (or any loss of approval) and a lowered role bump the token version and end every session.
 */
export async function updateUser(deps: Deps, staff: StaffPrincipal, id: string, input: UpdateUserInput, meta: RequestMeta): Promise<AdminUser> {
  const sent = USER_FIELDS.filter((f) => input[f] !== undefined);
  // Refusals that need no read first (a moderator sending other fields, non-staff).
  assertCanSend(staff, sent);
  const { config } = deps;
  const email = input.email !== undefined ? normalizeEmail(input.email) : undefined;

  const target = await findAdminTarget(deps.db, id, email);
  if (!target) throw userNotFound();

  const set: UserColumnChanges = {};
  const changes: Changes = {};
  const changed: UserField[] = [];
  const note = <K extends keyof UserColumnChanges & keyof AdminTarget>(field: K & UserField, value: UserColumnChanges[K] | undefined) => {
    if (value === undefined) return;
    const same = field === "email" ? target.email === value : target[field] === value;
    if (same) return;
    (set as Record<string, unknown>)[field] = value;
    changes[field] = { before: target[field], after: value };
    changed.push(field);
  };
  note("email", email);
  note("fullName", input.fullName !== undefined ? blankToNull(input.fullName) : undefined);
  note("phoneNumber", input.phoneNumber !== undefined ? blankToNull(input.phoneNumber) : undefined);
  note("profilePictureUrl", input.profilePictureUrl !== undefined ? blankToNull(input.profilePictureUrl) : undefined);
  note("authProvider", input.authProvider);
  note("globalRole", input.globalRole);
  note("approvalStatus", input.approvalStatus);
  note("isActive", input.isActive);
  // A new address is unproven until its owner confirms it (or staff say it is verified).
  note("emailVerified", input.emailVerified ?? (set.email !== undefined && target.emailVerified ? false : undefined));
  if (input.password !== undefined) {
    changed.push("password");
    changes.password = "changed";
  }

  const before: RoleState = { globalRole: target.globalRole, isActive: target.isActive, approvalStatus: target.approvalStatus };
  const after: RoleState = {
    globalRole: set.globalRole ?? before.globalRole,
    isActive: set.isActive ?? before.isActive,
    approvalStatus: set.approvalStatus ?? before.approvalStatus,
  };
  assertCanUpdate(staff, target, { sent, changed, after }, target.otherActiveSuperadmins);
  if (changed.length === 0) return toAdminUser(target);
  if (set.email !== undefined && target.emailTaken) throw emailTaken();
  if (input.password !== undefined) {
    assertPasswordAllowed(input.password, { minLength: config.passwordMinLength, email: set.email ?? target.email });
    set.passwordHash = await hashPassword(input.password, config.argon2);
  }

  const now = deps.clock.now();
  const reason = revocationReason(before, after, input.password !== undefined);
  const user = await applyChange(deps, {
    id,
    version: target.version,
    set,
    revokeReason: reason,
    guardLastSuperadmin: removesActiveSuperadmin(before, after),
    now,
    audit: { ...auditBase(staff, meta, now), type: eventType(before, after), metadata: { changes } },
  });

  const name = { name: user.fullName ?? undefined };
  if (before.approvalStatus !== "APPROVED" && after.approvalStatus === "APPROVED") notify(deps, "account_approved", user.email, name);
  if (before.approvalStatus !== "REJECTED" && after.approvalStatus === "REJECTED") notify(deps, "account_rejected", user.email, name);
  if (before.isActive && !after.isActive) notify(deps, "account_deactivated", user.email, name);
  if (input.password !== undefined) notify(deps, "password_changed", user.email, { ...name, changedAt: now });
  return user;
}

// ---- delete --------------------------------------------------------------------------------------

/**
 * Soft delete: inactive, token version bumped, every session ended. Deleting an already inactive
 * user is allowed (its sessions are ended again) and sends no second email.
 */
export async function deleteUser(deps: Deps, staff: StaffPrincipal, id: string, meta: RequestMeta): Promise<AdminUser> {
  assertMayDelete(staff);
  const target = await findAdminTarget(deps.db, id);
  if (!target) throw userNotFound();
  assertCanDelete(staff, target, target.otherActiveSuperadmins);
  const now = deps.clock.now();
  const changes: Changes = target.isActive ? { isActive: { before: true, after: false } } : {};
  const user = await applyChange(deps, {
    id,
    version: target.version,
    set: { isActive: false },
    revokeReason: "deleted",
    guardLastSuperadmin: removesActiveSuperadmin(target, { ...target, isActive: false }),
    now,
    audit: { ...auditBase(staff, meta, now), type: "user.deactivated", metadata: { changes, deleted: true } },
  });
  if (target.isActive) notify(deps, "account_deactivated", user.email, { name: user.fullName ?? undefined });
  return user;
}

// ---- shared --------------------------------------------------------------------------------------

async function applyChange(deps: Deps, input: Parameters<typeof changeUser>[1]): Promise<AdminUser> {
  let result;
  try {
    result = await changeUser(deps.db, input);
  } catch (err) {
    if (isEmailConflict(err)) throw emailTaken();
    throw err;
  }
  if (result.outcome === "last_superadmin") throw lastSuperadmin();
  if (result.outcome === "stale") throw concurrentChange();
  if (input.revokeReason !== null) {
    await writeMarkers(deps.redis, deps.config.jwt.accessTokenTtlMs, {
      revokedSessionIds: result.revokedSessionIds,
      tokenVersion: { userId: result.user.id, minimum: result.tokenVersion },
    });
  }
  return result.user;
}
