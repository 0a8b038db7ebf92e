// Organizations through HTTP, as their members and platform staff would make them: an owner's
// organization (POST /auth/organizations) and members with given roles (the staff API, PUT
// /internal/organizations/{id}/members/{userId}).
import { admin } from "./app-registry";
import { call, json } from "./http";
import { bearer, createUser, login, outboxFor, type Session, type TestUser } from "./users";

let slugCounter = 0;

export function uniqueSlug(prefix = "org"): string {
  slugCounter += 1;
  return `${prefix}-${Date.now().toString(36)}-${slugCounter}`;
}

export interface Member {
  user: TestUser;
  session: Session;
  headers: Record<string, string>;
}

/** A fresh signed-in user. */
export async function member(opts: { email?: string } = {}): Promise<Member> {
  const user = await createUser(opts);
  const session = await login(user);
  return { user, session, headers: bearer(session.accessToken) };
}

export async function createOrganization(owner: Member, fields: Record<string, unknown> = {}): Promise<{ id: string; slug: string; name: string; [k: string]: unknown }> {
  const res = await call("/auth/organizations", { json: { name: "Test org", slug: uniqueSlug(), ...fields }, headers: owner.headers });
  if (res.status !== 201) throw new Error(`organization not created: ${res.status} ${await res.text()}`);
  return (await json(res)).data;
}

/** Sets a user's roles in an organization through the staff API (adds them when missing). */
export async function setRoles(orgId: string, userId: string, roles: string[]): Promise<void> {
  const res = await call(`/internal/organizations/${orgId}/members/${userId}`, { method: "PUT", json: { roles }, headers: bearer((await admin()).accessToken) });
  if (res.status !== 200) throw new Error(`roles not set: ${res.status} ${await res.text()}`);
}

/** A signed-in user with these roles in the organization. */
export async function memberWith(orgId: string, roles: string[]): Promise<Member> {
  const m = await member();
  await setRoles(orgId, m.user.id, roles);
  return m;
}

/** A custom role through the owner's API. */
export async function defineRole(owner: Member, orgId: string, role: { key: string; name?: string; permissions: string[] }): Promise<void> {
  const res = await call(`/auth/organizations/${orgId}/roles`, { json: { name: role.key, ...role }, headers: owner.headers });
  if (res.status !== 201) throw new Error(`role not created: ${res.status} ${await res.text()}`);
}

/** Invites an address and returns the invitation and the token from the emailed link. */
export async function inviteAndReadToken(inviter: Member, orgId: string, email: string, roles: string[] = ["member"]): Promise<{ invitation: any; token: string }> {
  const sent = (await outboxFor(email)).length;
  const res = await call(`/auth/organizations/${orgId}/invitations`, { json: { email, roles }, headers: inviter.headers });
  if (res.status !== 201) throw new Error(`invitation not created: ${res.status} ${await res.text()}`);
  const invitation = (await json(res)).data;
  // Email goes out after the response: wait for this invitation's message, not an earlier one.
  const deadline = Date.now() + 3000;
  let messages = await outboxFor(email);
  while (messages.length <= sent) {
    if (Date.now() > deadline) throw new Error(`no invitation email to ${email}`);
    await new Promise((r) => setTimeout(r, 50));
    messages = await outboxFor(email);
  }
  const mail = messages.find((m, i) => i >= sent && m.kind === "organization_invitation")!;
  const token = new URL(/https?:\/\/\S+/.exec(mail.text)![0]).searchParams.get("token")!;
  return { invitation, token };
}

export async function orgToken(m: Member, orgId: string): Promise<Response> {
  return call(`/auth/organizations/${orgId}/token`, { method: "POST", headers: m.headers });
}

/** The payload of a JWT, unverified (tests read the claims they were given). */
export function claimsOf(token: string): Record<string, any> {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
}
