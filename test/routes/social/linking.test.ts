// Identities and accounts: automatic linking only when the provider and this service both
// consider the email verified (account_exists otherwise), sign-up per the application's policy
// (automatic approval, staff approval -> pending_approval, off -> signup_disabled), explicit
// linking while signed in, listing, and unlinking (never the last way to sign in: 409).
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { call, json } from "../../helpers/http";
import { settle } from "../../helpers/stack";
import { auditEvents, bearer, createUser, deps, login, waitForEmail } from "../../helpers/users";
import { REDIRECT, as, atProvider, callback, exchange, landing, person, signIn, socialApp } from "./support";

const markVerified = (userId: string) => deps().db.execute(sql`update users set email_verified = true, email_verified_at = now() where id = ${userId}::uuid`);
const identityCount = async (userId: string) =>
  Number(((await deps().db.execute(sql`select count(*)::int as n from user_identities where user_id = ${userId}::uuid`)).rows[0] as { n: number }).n);

/** Links `provider` to the signed-in user through the API and the provider; returns where the browser lands. */
async function link(app: { key: string }, accessToken: string, provider: "google" | "github" | "microsoft" | "apple", controls: Record<string, string>) {
  const res = await call(`/auth/identities/${provider}/link`, { json: { redirectUri: REDIRECT }, headers: { ...bearer(accessToken), "x-api-key": app.key } });
  expect(res.status, await res.clone().text()).toBe(200);
  const { authorizationUrl } = (await json(res)).data;
  return landing(await callback(await atProvider(new URL(authorizationUrl), controls)));
}

describe("automatic linking by email", () => {
  it("links when both the provider and the account say the email is verified", async () => {
    const app = await socialApp();
    const user = await createUser();
    await markVerified(user.id);
    const data = await exchange(app, await signIn("google", app, as("google", { sub: person().sub, email: user.email.toUpperCase() })));
    expect(data.user.id).toBe(user.id);
    expect(await identityCount(user.id)).toBe(1);
    await settle();
    expect((await auditEvents("identity.linked")).find((e) => e.targetUserId === user.id)?.metadata).toMatchObject({ via: "verified_email", provider: "google" });
  });

  it("account_exists when the local email is not verified (no link, no session)", async () => {
    const app = await socialApp();
    const user = await createUser();
    const landed = await signIn("google", app, as("google", { sub: person().sub, email: user.email }));
    expect(landed.searchParams.get("error")).toBe("account_exists");
    expect(landed.searchParams.get("error_description")).toMatch(/link/);
    expect(await identityCount(user.id)).toBe(0);
  });

  it("account_exists when the provider does not vouch for the email", async () => {
    const app = await socialApp();
    const user = await createUser();
    await markVerified(user.id);
    for (const provider of ["google", "microsoft", "apple", "github"] as const) {
      const landed = await signIn(provider, app, as(provider, { sub: person().sub, email: user.email }, { fake_email_verified: "false" }));
      expect(landed.searchParams.get("error"), provider).toBe("account_exists");
    }
    expect(await identityCount(user.id)).toBe(0);
  });
});

describe("sign-up", () => {
  it("staff approval (the default): the account is created PENDING, the browser gets error=pending_approval, and the user is told by email", async () => {
    const app = await socialApp({});
    const who = person("pending");
    const landed = await signIn("github", app, as("github", who));
    expect(landed.searchParams.get("error")).toBe("pending_approval");
    const row = (await deps().db.execute(sql`select approval_status as s, is_active as a, email_verified as v, password_hash as p from users where email = ${who.email}`)).rows[0] as any;
    expect(row).toEqual({ s: "PENDING", a: false, v: true, p: null });
    await waitForEmail(who.email, "registration_pending");
    // Signing in again while pending: the same answer, no second account.
    expect((await signIn("github", app, as("github", who))).searchParams.get("error")).toBe("pending_approval");
    expect(Number(((await deps().db.execute(sql`select count(*)::int as n from users where lower(email) = lower(${who.email})`)).rows[0] as any).n)).toBe(1);
  });

  it("sign-up off: error=signup_disabled, nothing created", async () => {
    const app = await socialApp({ signIn: { signUp: { social: false } } });
    const who = person("nosignup");
    const landed = await signIn("google", app, as("google", who));
    expect(landed.searchParams.get("error")).toBe("signup_disabled");
    expect((await deps().db.execute(sql`select 1 from users where email = ${who.email}`)).rows).toHaveLength(0);
  });

  it("an inactive account's identity: error=account_inactive", async () => {
    const app = await socialApp();
    const who = person("inactive");
    const data = await exchange(app, await signIn("google", app, as("google", who)));
    await deps().db.execute(sql`update users set is_active = false where id = ${data.user.id}::uuid`);
    expect((await signIn("google", app, as("google", who))).searchParams.get("error")).toBe("account_inactive");
  });
});

describe("explicit linking, listing and unlinking", () => {
  it("a signed-in user links a provider; its sign-in then reaches that account; identity_in_use for another user's", async () => {
    const app = await socialApp();
    const user = await createUser();
    const session = await login(user, { "x-api-key": app.key });
    const who = person("linked");
    // The provider's email may differ from the account's and need not be verified for an explicit link.
    const landed = await link(app, session.accessToken, "github", as("github", who, { fake_email_verified: "false" }));
    expect(landed.searchParams.get("linked")).toBe("github");
    expect(landed.searchParams.has("code")).toBe(false);

    const list = await json(await call("/auth/identities", { headers: bearer(session.accessToken) }));
    expect(list.data.identities).toMatchObject([{ provider: "github", email: who.email, emailVerified: false }]);
    await settle();
    expect((await auditEvents("identity.linked")).find((e) => e.targetUserId === user.id)?.metadata).toMatchObject({ via: "explicit", provider: "github" });

    const data = await exchange(app, await signIn("github", app, as("github", who, { fake_email_verified: "false" })));
    expect(data.user.id).toBe(user.id);

    // Linking the same provider account again: nothing changes.
    expect((await link(app, session.accessToken, "github", as("github", who))).searchParams.get("linked")).toBe("github");
    // Another user cannot take it.
    const other = await createUser();
    const otherSession = await login(other, { "x-api-key": app.key });
    const taken = await link(app, otherSession.accessToken, "github", as("github", who));
    expect(taken.searchParams.get("error")).toBe("identity_in_use");
    expect(await identityCount(other.id)).toBe(0);
  });

  it("a link whose session ended meanwhile is refused", async () => {
    const app = await socialApp();
    const user = await createUser();
    const session = await login(user, { "x-api-key": app.key });
    const res = await call("/auth/identities/google/link", { json: { redirectUri: REDIRECT }, headers: { ...bearer(session.accessToken), "x-api-key": app.key } });
    const { authorizationUrl } = (await json(res)).data;
    await call("/auth/logout-all", { method: "POST", headers: bearer(session.accessToken) });
    const landed = await landing(await callback(await atProvider(new URL(authorizationUrl), as("google", person()))));
    expect(landed.searchParams.get("error")).toBe("session_ended");
    expect(await identityCount(user.id)).toBe(0);
  });

  it("the link route: Bearer required; the token's application must be the key's; unregistered redirect URI 400; provider not offered 403", async () => {
    const app = await socialApp();
    const user = await createUser();
    const session = await login(user, { "x-api-key": app.key });
    expect((await call("/auth/identities/google/link", { json: { redirectUri: REDIRECT } })).status).toBe(401);
    const other = await socialApp();
    const wrongApp = await call("/auth/identities/google/link", { json: { redirectUri: REDIRECT }, headers: { ...bearer(session.accessToken), "x-api-key": other.key } });
    expect(wrongApp.status).toBe(401);
    const badUri = await call("/auth/identities/google/link", { json: { redirectUri: "https://evil.example/" }, headers: { ...bearer(session.accessToken), "x-api-key": app.key } });
    expect(badUri.status).toBe(400);
    expect((await json(badUri)).error.code).toBe("redirect_uri_not_registered");
    const narrow = await socialApp({ signIn: { social: ["apple"] } });
    const s2 = await login(user, { "x-api-key": narrow.key });
    const notOffered = await call("/auth/identities/google/link", { json: { redirectUri: REDIRECT }, headers: { ...bearer(s2.accessToken), "x-api-key": narrow.key } });
    expect(notOffered.status).toBe(403);
    expect((await json(notOffered)).error.code).toBe("provider_not_allowed");
  });

  it("unlink: the last way to sign in cannot be removed (409); with a second identity or a password it can", async () => {
    const app = await socialApp();
    const who = person("solo");
    const data = await exchange(app, await signIn("google", app, as("google", who)));
    const headers = bearer(data.accessToken);
    const [only] = (await json(await call("/auth/identities", { headers }))).data.identities;
    const last = await call(`/auth/identities/${only.id}`, { method: "DELETE", headers });
    expect(last.status).toBe(409);
    expect((await json(last)).error.code).toBe("last_sign_in_method");

    expect((await link(app, data.accessToken, "apple", as("apple", person("second")))).searchParams.get("linked")).toBe("apple");
    const ok = await call(`/auth/identities/${only.id}`, { method: "DELETE", headers });
    expect(ok.status).toBe(200);
    expect((await json(ok)).data).toEqual({ unlinked: true });
    await settle();
    expect((await auditEvents("identity.unlinked")).find((e) => e.targetUserId === data.user.id)?.metadata).toMatchObject({ provider: "google", identityId: only.id });
    const [apple] = (await json(await call("/auth/identities", { headers }))).data.identities;
    expect(apple.provider).toBe("apple");
    expect((await call(`/auth/identities/${apple.id}`, { method: "DELETE", headers })).status).toBe(409);

    // A password is another way in.
    await deps().db.execute(sql`update users set password_hash = 'x' where id = ${data.user.id}::uuid`);
    expect((await call(`/auth/identities/${apple.id}`, { method: "DELETE", headers })).status).toBe(200);
    // Gone now: 404.
    expect((await call(`/auth/identities/${apple.id}`, { method: "DELETE", headers })).status).toBe(404);
  });

  it("two concurrent unlinks of a passwordless user's two identities: exactly one succeeds", async () => {
    const app = await socialApp();
    const data = await exchange(app, await signIn("google", app, as("google", person("pair"))));
    await link(app, data.accessToken, "github", as("github", person("pair2")));
    const headers = bearer(data.accessToken);
    const ids = (await json(await call("/auth/identities", { headers }))).data.identities.map((i: { id: string }) => i.id);
    expect(ids).toHaveLength(2);
    const answers = await Promise.all(ids.map((id: string) => call(`/auth/identities/${id}`, { method: "DELETE", headers })));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(await identityCount(data.user.id)).toBe(1);
  });

  it("another user's identity is 404; a revoked token cannot list or unlink", async () => {
    const app = await socialApp();
    const a = await exchange(app, await signIn("google", app, as("google", person("a"))));
    const b = await exchange(app, await signIn("google", app, as("google", person("b"))));
    const [aId] = (await json(await call("/auth/identities", { headers: bearer(a.accessToken) }))).data.identities;
    expect((await call(`/auth/identities/${aId.id}`, { method: "DELETE", headers: bearer(b.accessToken) })).status).toBe(404);
    expect((await call(`/auth/identities/not-a-uuid`, { method: "DELETE", headers: bearer(b.accessToken) })).status).toBe(400);
    await call("/auth/logout-all", { method: "POST", headers: bearer(a.accessToken) });
    expect((await call("/auth/identities", { headers: bearer(a.accessToken) })).status).toBe(401);
    expect((await call(`/auth/identities/${aId.id}`, { method: "DELETE", headers: bearer(a.accessToken) })).status).toBe(401);
  });
});
