// Invitations: emailed single-use tokens (stored hashed, 7 days), one pending per address,
// accepted only by the invited address's account; expired, revoked, wrong email, accepted twice
// and accepted concurrently (N accepts, exactly one success).
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "../../../src/crypto/random";
import { resetAdmin } from "../../helpers/app-registry";
import { call, json } from "../../helpers/http";
import { createOrganization, inviteAndReadToken, member } from "../../helpers/organizations";
import { auditEvents, deps, uniqueEmail } from "../../helpers/users";

beforeAll(() => resetAdmin());

const accept = (token: string, headers: Record<string, string>) => call("/auth/organization-invitations/accept", { json: { token }, headers });
const decline = (token: string, headers: Record<string, string>) => call("/auth/organization-invitations/decline", { json: { token }, headers });

async function membersOf(orgId: string): Promise<Record<string, string[]>> {
  const r = await deps().db.execute(sql`select user_id::text as id, roles from organization_members where organization_id = ${orgId}::uuid`);
  return Object.fromEntries((r.rows as any[]).map((x) => [x.id, typeof x.roles === "string" ? JSON.parse(x.roles) : x.roles]));
}

async function emailVerified(userId: string): Promise<boolean> {
  const r = await deps().db.execute(sql`select email_verified from users where id = ${userId}::uuid`);
  return (r.rows[0] as { email_verified: boolean }).email_verified;
}

describe("invitations", () => {
  it("emails a link with a 256-bit token stored only as its hash, valid 7 days; the invitee accepts and joins with the roles", async () => {
    const owner = await member();
    const org = await createOrganization(owner, { name: "Acme Widgets" });
    const email = uniqueEmail("invitee");
    const { invitation, token } = await inviteAndReadToken(owner, org.id, email, ["viewer"]);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(invitation).toMatchObject({ email, roles: ["viewer"], status: "pending", invitedBy: owner.user.id });
    expect(JSON.stringify(invitation)).not.toContain(token);
    const days = (Date.parse(invitation.expiresAt) - Date.parse(invitation.createdAt)) / 86_400_000;
    expect(days).toBeCloseTo(7, 5);
    const stored = await deps().db.execute(sql`select token_hash from organization_invitations where id = ${invitation.id}::uuid`);
    expect((stored.rows[0] as any).token_hash).toBe(await sha256(token));

    // Someone without an account signs up with that address (here: the account exists, its email not verified), then accepts.
    const invitee = await member({ email: email.toUpperCase() });
    expect(await emailVerified(invitee.user.id)).toBe(false);
    const res = await accept(token, invitee.headers);
    expect(res.status).toBe(200);
    expect((await json(res)).data).toMatchObject({ organization: { id: org.id, name: "Acme Widgets" }, roles: ["viewer"], status: "accepted" });
    expect((await membersOf(org.id))[invitee.user.id]).toEqual(["viewer"]);
    // The token reached that mailbox only: accepting with it proves the address.
    expect(await emailVerified(invitee.user.id)).toBe(true);
    const listed = await json(await call(`/auth/organizations/${org.id}/invitations`, { headers: owner.headers }));
    expect(listed.data.invitations[0]).toMatchObject({ id: invitation.id, status: "accepted" });
    expect((await auditEvents("organization.invitation_accepted")).filter((e) => e.metadata.invitationId === invitation.id)).toMatchObject([
      { actorUserId: invitee.user.id, targetUserId: invitee.user.id },
    ]);
    expect((await auditEvents("organization.invitation_created")).filter((e) => e.metadata.invitationId === invitation.id)).toMatchObject([
      { actorUserId: owner.user.id },
    ]);
  });

  it("refuses another account (403 not_the_recipient) and leaves the invitation pending", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const { token } = await inviteAndReadToken(owner, org.id, uniqueEmail("someone"));
    const other = await member();
    for (const res of [await accept(token, other.headers), await decline(token, other.headers)]) {
      expect(res.status).toBe(403);
      expect((await json(res)).error.code).toBe("not_the_recipient");
    }
    expect(Object.keys(await membersOf(org.id))).toEqual([owner.user.id]);
  });

  it("refuses an expired invitation (410 invitation_expired), and a new one to the address can then be sent", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const email = uniqueEmail("late");
    const { invitation, token } = await inviteAndReadToken(owner, org.id, email);
    await deps().db.execute(sql`update organization_invitations set expires_at = now() - interval '1 minute' where id = ${invitation.id}::uuid`);
    const invitee = await member({ email });
    const res = await accept(token, invitee.headers);
    expect(res.status).toBe(410);
    expect((await json(res)).error.code).toBe("invitation_expired");
    expect(Object.keys(await membersOf(org.id))).toEqual([owner.user.id]);
    const again = await call(`/auth/organizations/${org.id}/invitations`, { json: { email, roles: ["member"] }, headers: owner.headers });
    expect(again.status).toBe(201);
  });

  it("one pending invitation per address (409 invitation_pending); a revoked one cannot be accepted (410)", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const email = uniqueEmail("twice");
    const { invitation, token } = await inviteAndReadToken(owner, org.id, email);
    const dup = await call(`/auth/organizations/${org.id}/invitations`, { json: { email: email.toUpperCase(), roles: ["member"] }, headers: owner.headers });
    expect(dup.status).toBe(409);
    expect((await json(dup)).error.code).toBe("invitation_pending");
    const revoked = await call(`/auth/organizations/${org.id}/invitations/${invitation.id}/revoke`, { method: "POST", headers: owner.headers });
    expect(revoked.status).toBe(200);
    expect((await json(revoked)).data.status).toBe("revoked");
    const again = await call(`/auth/organizations/${org.id}/invitations/${invitation.id}/revoke`, { method: "POST", headers: owner.headers });
    expect(again.status).toBe(409);
    const invitee = await member({ email });
    const res = await accept(token, invitee.headers);
    expect(res.status).toBe(410);
    expect((await json(res)).error.code).toBe("invitation_revoked");
    expect((await auditEvents("organization.invitation_revoked")).filter((e) => e.metadata.invitationId === invitation.id)).toHaveLength(1);
  });

  it("accepted twice: the second answers 409 invitation_used; an unknown token 404", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const email = uniqueEmail("once");
    const { token } = await inviteAndReadToken(owner, org.id, email);
    const invitee = await member({ email });
    expect((await accept(token, invitee.headers)).status).toBe(200);
    const second = await accept(token, invitee.headers);
    expect(second.status).toBe(409);
    expect((await json(second)).error.code).toBe("invitation_used");
    const unknown = await accept("A".repeat(43), invitee.headers);
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error.code).toBe("invitation_not_found");
  });

  it("accepted concurrently: of 10 accepts exactly one succeeds and one membership is written", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const email = uniqueEmail("race");
    const { invitation, token } = await inviteAndReadToken(owner, org.id, email, ["member"]);
    const invitee = await member({ email });
    const results = await Promise.all(Array.from({ length: 10 }, () => accept(token, invitee.headers)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 200).every((s) => s === 409)).toBe(true);
    expect((await membersOf(org.id))[invitee.user.id]).toEqual(["member"]);
    expect((await auditEvents("organization.invitation_accepted")).filter((e) => e.metadata.invitationId === invitation.id)).toHaveLength(1);
  });

  it("declining ends the invitation without joining", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const email = uniqueEmail("no");
    const { token } = await inviteAndReadToken(owner, org.id, email);
    const invitee = await member({ email });
    const res = await decline(token, invitee.headers);
    expect(res.status).toBe(200);
    expect((await json(res)).data.status).toBe("declined");
    expect((await accept(token, invitee.headers)).status).toBe(409);
    expect(Object.keys(await membersOf(org.id))).toEqual([owner.user.id]);
    expect(await emailVerified(invitee.user.id)).toBe(false);
    expect((await auditEvents("organization.invitation_declined")).filter((e) => e.metadata.organizationId === org.id)).toMatchObject([{ actorUserId: invitee.user.id }]);
  });

  it("accepting adds the invited roles to an existing membership", async () => {
    const owner = await member();
    const org = await createOrganization(owner);
    const email = uniqueEmail("more");
    const invitee = await member({ email });
    const first = await inviteAndReadToken(owner, org.id, email, ["viewer"]);
    expect((await accept(first.token, invitee.headers)).status).toBe(200);
    const second = await inviteAndReadToken(owner, org.id, email, ["member"]);
    expect((await accept(second.token, invitee.headers)).status).toBe(200);
    expect((await membersOf(org.id))[invitee.user.id].sort()).toEqual(["member", "viewer"]);
  });
});
