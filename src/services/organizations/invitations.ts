// Invitations to an organization. The token is 256 random bits, emailed in the accept link and
// stored only as its SHA-256; it lives 7 days and is consumed once, by a conditional UPDATE ...
// RETURNING (of N concurrent accepts exactly one wins). One pending invitation per address and
// organization. Accepting requires a Bearer session whose account email equals the invited address
// (compared case-insensitively). The token reached that mailbox only, so holding it proves control
// of the address: an account whose email was not verified yet may accept, and accepting marks the
// email verified (in the same statement). Someone without an account signs up from the link with
// that address, then accepts.
import { randomSecret, sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { AppError, errors } from "../../http/errors";
import { consumeInvitation, createInvitation, listInvitations, revokeInvitation, type InvitationRow, type InvitationStatus } from "../../stores/organizations";
import { notify } from "../notify";
import type { RequestMeta } from "../auth/common";
import { tokenRevoked, type Principal } from "../auth/bearer";
import { actorOf, callerAccess } from "./organizations";
import { mayGrantRoles, requirePermission } from "./permissions";

export const INVITATION_VALID_DAYS = 7;

export interface InvitationView {
  id: string;
  organizationId: string;
  email: string;
  roles: string[];
  status: InvitationStatus;
  invitedBy: string | null;
  expiresAt: string;
  createdAt: string;
  endedAt: string | null;
}

export function invitationView(i: InvitationRow): InvitationView {
  return {
    id: i.id,
    organizationId: i.organizationId,
    email: i.email,
    roles: [...i.roles].sort(),
    status: i.status,
    invitedBy: i.invitedBy,
    expiresAt: i.expiresAt.toISOString(),
    createdAt: i.createdAt.toISOString(),
    endedAt: i.endedAt ? i.endedAt.toISOString() : null,
  };
}

export async function organizationInvitations(deps: Deps, principal: Principal, organizationId: string): Promise<InvitationView[]> {
  const access = await callerAccess(deps, principal, organizationId);
  requirePermission(access, "invitations:read");
  return (await listInvitations(deps.db, { organizationId, now: deps.clock.now() })).map(invitationView);
}

export async function invite(
  deps: Deps,
  principal: Principal,
  organizationId: string,
  body: { email: string; roles: string[] },
  meta: RequestMeta,
): Promise<InvitationView> {
  const access = await callerAccess(deps, principal, organizationId);
  requirePermission(access, "invitations:write");
  mayGrantRoles(access, body.roles, access.state.customRoles);
  const token = randomSecret(32);
  const now = deps.clock.now();
  const result = await createInvitation(deps.db, {
    organizationId,
    email: body.email,
    roles: [...body.roles].sort(),
    tokenHash: await sha256(token),
    expiresAt: new Date(now.getTime() + INVITATION_VALID_DAYS * 86_400_000),
    actor: actorOf(principal, meta),
    now,
  });
  if (!result.invitation) {
    if (result.pendingExists) throw new AppError(409, "invitation_pending", "This address already has a pending invitation to this organization; revoke it first");
    throw new AppError(409, "conflict", "The organization or your membership changed concurrently; try again");
  }
  notify(deps, "organization_invitation", body.email, {
    organizationName: access.organization.name,
    inviterEmail: principal.email,
    token,
    validDays: INVITATION_VALID_DAYS,
  });
  return invitationView(result.invitation);
}

export async function revoke(deps: Deps, principal: Principal, organizationId: string, invitationId: string, meta: RequestMeta): Promise<InvitationView> {
  const access = await callerAccess(deps, principal, organizationId);
  requirePermission(access, "invitations:write");
  const result = await revokeInvitation(deps.db, { organizationId, invitationId, actor: actorOf(principal, meta), now: deps.clock.now() });
  if (result.invitation) return invitationView(result.invitation);
  if (!result.current) throw errors.notFound("No such invitation");
  throw new AppError(409, "invitation_not_pending", `The invitation is ${result.current.status}, not pending`);
}

export interface AcceptedInvitation {
  organization: { id: string; slug: string; name: string };
  roles: string[];
  status: "accepted" | "declined";
}

/** Accept or decline with the emailed token; the signed-in account must be the invited address. */
export async function respond(deps: Deps, principal: Principal, token: string, accept: boolean, meta: RequestMeta): Promise<AcceptedInvitation> {
  const [, result] = await Promise.all([
    principal.markers,
    consumeInvitation(deps.db, {
      tokenHash: await sha256(token),
      userId: principal.userId,
      acting: principal.acting,
      accept,
      ip: meta.ip,
      userAgent: meta.userAgent,
      now: deps.clock.now(),
    }),
  ]);
  if (!result.live) throw tokenRevoked();
  if (result.consumed && result.organization) {
    return { organization: result.organization, roles: [...result.consumed.roles].sort(), status: accept ? "accepted" : "declined" };
  }
  const found = result.found;
  if (!found) throw new AppError(404, "invitation_not_found", "The invitation is unknown");
  if (!result.emailMatches) throw new AppError(403, "not_the_recipient", "This invitation was sent to another email address; sign in with that address");
  if (found.status === "expired") throw new AppError(410, "invitation_expired", "The invitation has expired; ask for a new one");
  if (found.status === "revoked") throw new AppError(410, "invitation_revoked", "The invitation was revoked");
  throw new AppError(409, "invitation_used", `The invitation was already ${found.status}`);
}
