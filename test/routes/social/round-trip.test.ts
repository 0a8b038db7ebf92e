// Each provider's full round trip against the local fake provider: the start's redirect (PKCE
// S256, state, nonce, the callback URL), the provider's answer, the code exchange with the
// verifier, the profile, the new account and its identity, the one-time code and its exchange.
import { decodeJwt } from "jose";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { settle } from "../../helpers/stack";
import { auditEvents, bearer, deps } from "../../helpers/users";
import { call, json } from "../../helpers/http";
import { PROVIDERS, REDIRECT, as, atProvider, browser, callback, exchange, fake, landing, person, signIn, socialApp, start, tokenRequests } from "./support";

async function identitiesOf(userId: string) {
  const r = await deps().db.execute(sql`select provider, issuer, subject, email, email_verified as "emailVerified" from user_identities where user_id = ${userId}::uuid`);
  return r.rows as { provider: string; issuer: string; subject: string; email: string; emailVerified: boolean }[];
}

const ISSUERS: Record<string, string> = {
  google: fake.google.issuer,
  github: fake.github.baseUrl,
  apple: fake.apple.issuer,
  microsoft: `${fake.base}/microsoft/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0`,
};

describe("social sign-in: each provider end to end", () => {
  for (const provider of PROVIDERS) {
    it(`${provider}: a first sign-in creates the account and its identity, and signs in with amr fed`, async () => {
      const app = await socialApp();
      const who = person(provider);
      const authorizationUrl = await start(provider, app);
      const q = authorizationUrl.searchParams;
      expect(q.get("code_challenge_method")).toBe("S256");
      expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(q.get("state")!.length).toBeGreaterThanOrEqual(43);
      expect(q.get("redirect_uri")).toBe(`https://auth.test/auth/oauth/${provider}/callback`);
      if (provider === "github") expect(q.has("nonce")).toBe(false);
      else expect(q.get("nonce")!.length).toBeGreaterThanOrEqual(43);
      if (provider === "apple") expect(q.get("response_mode")).toBe("form_post");

      const controls = as(provider, who, provider === "apple" ? { fake_user: JSON.stringify({ name: { firstName: "Ann", lastName: "Orchard" } }) } : { fake_name: "Ann Orchard" });
      const step = await atProvider(authorizationUrl, controls);
      expect(step.method).toBe(provider === "apple" ? "POST" : "GET");
      const landed = await landing(await callback(step));
      expect([...landed.searchParams.keys()]).toEqual(["code"]);

      // What the Worker sent to the token endpoint: the code verifier of this challenge, and its credentials.
      const sent = (await tokenRequests()).filter((r) => r.provider === provider).at(-1)!;
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(sent.params.code_verifier)));
      const challenge = btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      expect(challenge).toBe(q.get("code_challenge"));
      expect(sent.params.redirect_uri).toBe(q.get("redirect_uri"));
      if (provider === "apple") expect(decodeJwt(sent.params.client_secret)).toMatchObject({ iss: fake.apple.teamId, sub: fake.apple.clientId, aud: fake.apple.issuer });

      const data = await exchange(app, landed);
      expect(data.user.email).toBe(who.email);
      expect(data.user.fullName).toBe("Ann Orchard");
      expect(data.user.approvalStatus).toBe("APPROVED");
      const claims = decodeJwt(data.accessToken);
      expect(claims.amr).toEqual(["fed"]);
      expect(claims.email_verified).toBe(true);
      expect(claims.client_id).toBe(app.id);
      const me = await call("/auth/me", { headers: { ...bearer(data.accessToken), "x-api-key": app.key } });
      expect(me.status).toBe(200);

      expect(await identitiesOf(data.user.id)).toEqual([{ provider, issuer: ISSUERS[provider], subject: who.sub, email: who.email, emailVerified: true }]);
      await settle();
      const logins = (await auditEvents("login.success")).filter((e) => e.targetUserId === data.user.id);
      expect(logins.map((e) => e.metadata)).toMatchObject([{ method: "social", provider, amr: ["fed"] }]);
      expect((await auditEvents("identity.linked")).filter((e) => e.targetUserId === data.user.id)).toHaveLength(1);
      expect((await auditEvents("user.registered")).filter((e) => e.targetUserId === data.user.id)).toHaveLength(1);

      // The second sign-in finds the identity (by subject, whatever the email says now).
      const again = await exchange(app, await signIn(provider, app, as(provider, { sub: who.sub, email: `changed.${who.email}` })));
      expect(again.user.id).toBe(data.user.id);
      expect(await identitiesOf(data.user.id)).toHaveLength(1);
      const list = await call("/auth/identities", { headers: bearer(again.accessToken) });
      expect(list.status).toBe(200);
      const body = await json(list);
      expect(body.data.identities).toHaveLength(1);
      expect(body.data.identities[0]).toMatchObject({ provider, email: `changed.${who.email}`, emailVerified: true });
    });
  }

  it("Apple: the name arrives only with the first sign-in and is kept", async () => {
    const app = await socialApp();
    const who = person("apple");
    const first = await exchange(app, await signIn("apple", app, as("apple", who, { fake_user: JSON.stringify({ name: { firstName: "Zoë", lastName: "Pear" }, email: who.email }) })));
    expect(first.user.fullName).toBe("Zoë Pear");
    const second = await exchange(app, await signIn("apple", app, as("apple", who)));
    expect(second.user.id).toBe(first.user.id);
    expect(second.user.fullName).toBe("Zoë Pear");
  });

  it("Apple: email_verified as the string \"true\" counts as verified", async () => {
    const app = await socialApp();
    const who = person("apple");
    const data = await exchange(app, await signIn("apple", app, as("apple", who, { fake_email_verified: "string" })));
    expect(decodeJwt(data.accessToken).email_verified).toBe(true);
  });

  it("Microsoft: users of different tenants with the same subject are different identities (issuer carries the tenant)", async () => {
    const app = await socialApp();
    const a = person("ms");
    const one = await exchange(app, await signIn("microsoft", app, as("microsoft", a, { fake_tid: "aaaaaaaa-0000-0000-0000-000000000001" })));
    const b = { sub: a.sub, email: `other.${a.email}` };
    const two = await exchange(app, await signIn("microsoft", app, as("microsoft", b, { fake_tid: "aaaaaaaa-0000-0000-0000-000000000002" })));
    expect(two.user.id).not.toBe(one.user.id);
  });

  it("the start also takes the application from X-API-Key (a code for that application)", async () => {
    const app = await socialApp();
    const who = person("key");
    const res = await browser(`/auth/oauth/google?redirectUri=${encodeURIComponent(REDIRECT)}`, { headers: { "x-api-key": app.key } });
    expect(res.status).toBe(302);
    const landed = await landing(await callback(await atProvider(new URL(res.headers.get("location")!), as("google", who))));
    expect((await exchange(app, landed)).user.email).toBe(who.email);
    // client_id and a key of another application: refused.
    const other = await socialApp();
    const mixed = await browser(`/auth/oauth/google?redirectUri=${encodeURIComponent(REDIRECT)}&client_id=${other.id}`, { headers: { "x-api-key": app.key } });
    expect(mixed.status).toBe(400);
    expect((await json(mixed)).error.code).toBe("invalid_client");
  });
});
