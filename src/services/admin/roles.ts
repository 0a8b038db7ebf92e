// The role rules of user administration (/internal/users), as pure functions over the acting
// staff member, the target user as it is now and as it would be. The README section "Staff
// administration" states the same table; test/routes/internal/roles.test.ts checks it.
//
//   - reading (list, one user): PLATFORM_MODERATOR, PLATFORM_ADMIN, PLATFORM_SUPERADMIN.
//   - PLATFORM_MODERATOR: may change approvalStatus only (sending any other field is refused), of
//     users whose role is below its own (NONE); cannot create or delete.
//   - PLATFORM_ADMIN: may create, change and delete users whose role, now and after the change, is
//     below its own (NONE, PLATFORM_MODERATOR).
//   - PLATFORM_SUPERADMIN: any user, any role; only it grants or removes PLATFORM_ADMIN and
//     PLATFORM_SUPERADMIN.
//   - nobody raises a role above their own (implied by the above).
//   - the last active (active and approved) PLATFORM_SUPERADMIN cannot be demoted, deactivated,
//     rejected or deleted: 409 last_superadmin.
//   - oneself: only fullName, phoneNumber and profilePictureUrl; never one's own role, active flag,
//     approval status, email, password (use /auth/change-password) or auth provider, and no
//     deleting oneself.
import type { ApprovalStatus, GlobalRole } from "../../db/schema";
import { AppError } from "../../http/errors";
import { forbidden, isPlatformStaff, roleRank, type StaffPrincipal } from "../staff/principal";

/** The fields of a user that administration can change. */
export const USER_FIELDS = [
  "email",
  "password",
  "fullName",
  "globalRole",
  "isActive",
  "approvalStatus",
  "phoneNumber",
  "profilePictureUrl",
  "authProvider",
  "emailVerified",
] as const;
export type UserField = (typeof USER_FIELDS)[number];

/** What a moderator may send. */
const MODERATOR_FIELDS: ReadonlySet<UserField> = new Set(["approvalStatus"]);
/** What staff may change on their own account through administration. */
const SELF_FIELDS: ReadonlySet<UserField> = new Set(["fullName", "phoneNumber", "profilePictureUrl"]);

/** The facts about a user the rules look at. */
export interface RoleState {
  globalRole: GlobalRole;
  isActive: boolean;
  approvalStatus: ApprovalStatus;
}

type Actor = Pick<StaffPrincipal, "userId" | "globalRole">;

export const lastSuperadmin = () =>
  new AppError(409, "last_superadmin", "This is the last active PLATFORM_SUPERADMIN; make another user a superadmin first");

/** Counts towards "the last superadmin": the role, active and approved (so able to act). */
export function isActiveSuperadmin(s: RoleState): boolean {
  return s.globalRole === "PLATFORM_SUPERADMIN" && s.isActive && s.approvalStatus === "APPROVED";
}

/** Whether a change takes an active superadmin away. */
export function removesActiveSuperadmin(before: RoleState, after: RoleState | null): boolean {
  return isActiveSuperadmin(before) && (after === null || !isActiveSuperadmin(after));
}

/** May an actor with this role manage (change, create, delete) a user holding `role`? */
export function mayManageRole(actorRole: GlobalRole, role: GlobalRole): boolean {
  if (actorRole === "PLATFORM_SUPERADMIN") return true;
  return roleRank(role) < roleRank(actorRole);
}

function assertStaff(actor: Actor): void {
  if (!isPlatformStaff(actor.globalRole)) throw forbidden("User administration is for platform staff");
}

function assertAdmin(actor: Actor, what: string): void {
  assertStaff(actor);
  if (roleRank(actor.globalRole) < roleRank("PLATFORM_ADMIN")) throw forbidden(`Only PLATFORM_ADMIN or PLATFORM_SUPERADMIN may ${what}`);
}

function assertMayHold(actor: Actor, role: GlobalRole, verb: "manage" | "grant"): void {
  if (mayManageRole(actor.globalRole, role)) return;
  if (verb === "grant") throw forbidden(`A ${actor.globalRole} may not grant ${role}`);
  throw forbidden(`A ${actor.globalRole} may not manage a ${role} user`);
}

/** Listing users and reading one. */
export function assertCanRead(actor: Actor): void {
  assertStaff(actor);
}

/** Creating a user with `role`. */
export function assertCanCreate(actor: Actor, role: GlobalRole): void {
  assertAdmin(actor, "create users");
  assertMayHold(actor, role, "grant");
}

/** Fields sent in a change request: decided before the target is read (moderators only send approvalStatus). */
export function assertCanSend(actor: Actor, sent: readonly UserField[]): void {
  assertStaff(actor);
  if (actor.globalRole === "PLATFORM_MODERATOR") {
    const other = sent.filter((f) => !MODERATOR_FIELDS.has(f));
    if (other.length > 0) throw forbidden(`A PLATFORM_MODERATOR may only change approvalStatus (not ${other.join(", ")})`);
  }
}

/**
 * Changing a user: `sent` are the fields in the request, `changed` those whose value differs from
 * the current one (a password always counts), `before`/`after` the user now and as it would be.
 * `otherActiveSuperadmins` counts the active superadmins besides the target.
 */
export function assertCanUpdate(
  actor: Actor,
  target: RoleState & { id: string },
  change: { sent: readonly UserField[]; changed: readonly UserField[]; after: RoleState },
  otherActiveSuperadmins: number,
): void {
  assertCanSend(actor, change.sent);
  const self = target.id === actor.userId;
  if (!self) {
    assertMayHold(actor, target.globalRole, "manage");
    assertMayHold(actor, change.after.globalRole, "grant");
  }
  if (removesActiveSuperadmin(target, change.after) && otherActiveSuperadmins === 0) throw lastSuperadmin();
  if (self) {
    const other = change.changed.filter((f) => !SELF_FIELDS.has(f));
    if (other.length > 0) {
      throw forbidden(`You cannot change your own ${other.join(", ")} here; ask another administrator${other.includes("password") ? " (or use /auth/change-password)" : ""}`);
    }
  }
}

/** Deleting users at all: decided before the target is read. */
export function assertMayDelete(actor: Actor): void {
  assertAdmin(actor, "delete users");
}

/** Deleting (deactivating) this user. */
export function assertCanDelete(actor: Actor, target: RoleState & { id: string }, otherActiveSuperadmins: number): void {
  assertMayDelete(actor);
  const self = target.id === actor.userId;
  if (!self) assertMayHold(actor, target.globalRole, "manage");
  if (removesActiveSuperadmin(target, { ...target, isActive: false }) && otherActiveSuperadmins === 0) throw lastSuperadmin();
  if (self) throw forbidden("You cannot delete your own account; ask another administrator");
}
