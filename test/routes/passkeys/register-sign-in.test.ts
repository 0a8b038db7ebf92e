// Registration and sign-in with a software authenticator through HTTP: the passkey is stored with
// its flags, signs in with and without an email (discoverable), with amr ["hwk","user"] when the
// user was verified; GET, PATCH and DELETE manage it; every change is audited.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { call, json } from "../../helpers/http";
import { createApplication, createApiKey } from "../../helpers/applications";
import { settle } from "../../helpers/stack";
import { decodeJwt } from "jose";
import { auditEvents, bearer, createUser, deps, login } from "../../helpers/users";
import { createMfaUser, mfaLogin } from "../mfa/support";
import { SoftAuthenticator } from "../../helpers/webauthn-authenticator";
import { amrOf, errorCode, ORIGIN, loginOptions, registerOptions, registerPasskey, registerVerify, signedInUser, signInWith } from "./support";

describe("passkey registration", () => {
  it("options name this RP and user, ask for a resident key, offer EdDSA, ES256, RS256 and PS256, exclude the user's passkeys", async () => {
    const u = await signedInUser();
    const first = await registerOptions(u);
    expect(first.rp).toEqual({ id: "auth.test", name: expect.any(String) });
    expect(first.user.name).toBe(u.email);
    expect(first.attestation).toBe("none");
    expect(first.authenticatorSelection).toMatchObject({ residentKey: "required", userVerification: "preferred" });
    expect(first.pubKeyCredParams.map((p: any) => p.alg)).toEqual([-8, -7, -257, -37]);
    expect(first.excludeCredentials).toEqual([]);
    const passkey = await registerPasskey(u);
    const second = await registerOptions(u);
    expect(second.excludeCredentials.map((c: any) => c.id)).toEqual([passkey.credentialId]);
    expect(second.challenge).not.toBe(first.challenge);
  });

  it("stores the passkey with its flags and name, shows it in GET, records passkey.added", async () => {
    const u = await signedInUser({}, { backupEligible: true, backedUp: true });
    const passkey = await registerPasskey(u, {}, "Laptop");
    expect(passkey).toMatchObject({ name: "Laptop", rpId: "auth.test", backupEligible: true, backedUp: true, attestationFormat: "none", transports: ["internal"] });
    const list = await json(await call("/auth/passkeys", { headers: bearer(u.token) }));
    expect(list.data.passkeys).toEqual([passkey]);
    const added = (await auditEvents("passkey.added")).filter((e) => e.actorUserId === u.id);
    expect(added).toHaveLength(1);
    expect(added[0].metadata).toMatchObject({ passkeyId: passkey.id, name: "Laptop", rpId: "auth.test" });
  });

  it("a credential registered twice is refused (409), the first one kept", async () => {
    const u = await signedInUser();
    const options = await registerOptions(u);
    const response = await u.auth.create(options);
    expect((await registerVerify(u, response)).status).toBe(201);
    const again = await registerOptions(u);
    // An authenticator answering with the same credential id (a fresh challenge): already registered.
    const sameId = await u.auth.create(again, { id: u.auth.credentials[0].id });
    const res = await registerVerify(u, sameId);
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe("passkey_already_registered");
    const list = await json(await call("/auth/passkeys", { headers: bearer(u.token) }));
    expect(list.data.passkeys.map((p: any) => p.credentialId)).toEqual([response.id]);
  });

  it("requires a Bearer token, and malformed responses are 400 envelopes, never 500", async () => {
    expect((await call("/auth/passkeys/register/options", { method: "POST", json: {} })).status).toBe(401);
    const u = await signedInUser();
    const options = await registerOptions(u);
    const good = await u.auth.create(options);
    const bad = [
      {},
      { ...good, type: "other" },
      { ...good, response: { ...good.response, clientDataJSON: "%%%" } },
      { ...good, response: { ...good.response, clientDataJSON: "e30" } },
      { ...good, response: { ...good.response, attestationObject: "AAAA" } },
      { ...good, id: "x".repeat(2000) },
    ];
    for (const response of bad) {
      const res = await registerVerify(u, response);
      expect(res.status, JSON.stringify(response).slice(0, 80)).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect((await json(res)).error.code).toEqual(expect.any(String));
    }
  });
});

describe("passkey sign-in", () => {
  it("with an email: allowCredentials lists the account's passkeys; verified user -> tokens with amr hwk,user; passkey.used", async () => {
    const u = await signedInUser();
    const passkey = await registerPasskey(u);
    const { options } = await loginOptions(u.email);
    expect(options.allowCredentials.map((c: any) => c.id)).toEqual([passkey.credentialId]);
    expect(options.rpId).toBe("auth.test");
    const res = await signInWith(u.auth, { email: u.email });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await json(res);
    expect(body.data.user.email).toBe(u.email);
    expect(res.headers.get("cache-control")).toContain("no-store");
    expect(amrOf(body.data.accessToken).sort()).toEqual(["hwk", "user"]);
    const me = await call("/auth/me", { headers: bearer(body.data.accessToken) });
    expect(me.status).toBe(200);
    await settle();
    const used = (await auditEvents("passkey.used")).filter((e) => e.actorUserId === u.id);
    expect(used).toHaveLength(1);
    expect(used[0].metadata).toMatchObject({ passkeyId: passkey.id, purpose: "sign_in", userVerified: true, counter: 1 });
    const list = await json(await call("/auth/passkeys", { headers: bearer(u.token) }));
    expect(list.data.passkeys[0].lastUsedAt).not.toBeNull();
  });

  it("discoverable (no email): empty allowCredentials, the credential names the account", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    const { options } = await loginOptions();
    expect(options.allowCredentials ?? []).toEqual([]);
    const res = await signInWith(u.auth);
    expect(res.status).toBe(200);
    expect((await json(res)).data.user.email).toBe(u.email);
  });

  it("without user verification it is one factor: a user with TOTP gets mfaRequired, not tokens", async () => {
    const m = await createMfaUser();
    const { accessToken } = await mfaLogin(m);
    const auth = new SoftAuthenticator({ origin: ORIGIN, userVerified: false });
    await registerPasskey({ ...m, token: accessToken, auth });
    const res = await signInWith(auth);
    expect(res.status, await res.clone().text()).toBe(200);
    const body = await json(res);
    expect(body.data.mfaRequired).toBe(true);
    expect(body.data.accessToken).toBeUndefined();
    // With user verification the same passkey is enough.
    const uv = await signInWith(auth, { bend: { userVerified: true } });
    expect(uv.status).toBe(200);
    expect(amrOf((await json(uv)).data.accessToken).sort()).toEqual(["hwk", "user"]);
  });

  it("an inactive or pending account does not sign in with its passkey", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    await deps().db.execute(sql`update users set is_active = false where id = ${u.id}::uuid`);
    const res = await signInWith(u.auth);
    expect([401, 403]).toContain(res.status);
    expect((await json(res)).data).toBeUndefined();
  });

  it("per application: settings.webauthn names another RP id and origins; its passkeys sign in there only; passkey sign-in can be off", async () => {
    const app = await createApplication({ type: "spa", settings: { webauthn: { rpId: "example.org", rpName: "Shop", origins: ["https://shop.example.org"] } } });
    const key = { "x-api-key": await createApiKey(app.id) };
    const user = await createUser();
    const session = await login(user, key);
    const u = { ...user, token: session.accessToken, auth: new SoftAuthenticator({ origin: "https://shop.example.org" }) };
    const options = await registerOptions(u, key);
    expect(options.rp).toEqual({ id: "example.org", name: "Shop" });
    const created = await registerVerify(u, await u.auth.create(options), {}, key);
    expect(created.status, await created.clone().text()).toBe(201);
    expect((await json(created)).data.passkey.rpId).toBe("example.org");
    // The platform's origin is not one of this application's.
    const elsewhere = await registerOptions(u, key);
    const wrongOrigin = await registerVerify(u, await new SoftAuthenticator({ origin: ORIGIN }).create(elsewhere), {}, key);
    expect(await errorCode(wrongOrigin)).toBe("passkey_origin_mismatch");
    const here = await signInWith(u.auth, { headers: key });
    expect(here.status, await here.clone().text()).toBe(200);
    // At the platform (RP id auth.test), the example.org passkey is not one of its credentials.
    const there = await signInWith(u.auth, { bend: { credential: u.auth.credentials[0], origin: ORIGIN } });
    expect(there.status).toBe(401);
    expect(await errorCode(there)).toBe("passkey_not_found");
    const off = await createApplication({ type: "spa", settings: { signIn: { passkey: false } } });
    const res = await call("/auth/passkeys/login/options", { json: {}, headers: { "x-api-key": await createApiKey(off.id) } });
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("passkey_sign_in_disabled");
  });
});

describe("managing passkeys", () => {
  it("rename and delete one's own; another user's is 404 and untouched; events recorded; a deleted passkey signs no one in", async () => {
    const u = await signedInUser();
    const other = await signedInUser();
    const passkey = await registerPasskey(u);
    const renamed = await call(`/auth/passkeys/${passkey.id}`, { method: "PATCH", json: { name: "  Phone " }, headers: bearer(u.token) });
    expect(renamed.status).toBe(200);
    expect((await json(renamed)).data.passkey.name).toBe("Phone");
    const foreignRename = await call(`/auth/passkeys/${passkey.id}`, { method: "PATCH", json: { name: "mine" }, headers: bearer(other.token) });
    expect(foreignRename.status).toBe(404);
    const foreignDelete = await call(`/auth/passkeys/${passkey.id}`, { method: "DELETE", headers: bearer(other.token) });
    expect(foreignDelete.status).toBe(404);
    expect((await call(`/auth/passkeys/not-a-uuid`, { method: "DELETE", headers: bearer(u.token) })).status).toBe(400);
    expect((await call(`/auth/passkeys/${passkey.id}`, { method: "PATCH", json: { name: "" }, headers: bearer(u.token) })).status).toBe(400);
    const removed = await call(`/auth/passkeys/${passkey.id}`, { method: "DELETE", headers: bearer(u.token) });
    expect(removed.status).toBe(200);
    expect((await call(`/auth/passkeys/${passkey.id}`, { method: "DELETE", headers: bearer(u.token) })).status).toBe(404);
    expect((await json(await call("/auth/passkeys", { headers: bearer(u.token) }))).data.passkeys).toEqual([]);
    const renamedEvents = (await auditEvents("passkey.renamed")).filter((e) => e.actorUserId === u.id);
    const removedEvents = (await auditEvents("passkey.removed")).filter((e) => e.actorUserId === u.id);
    expect(renamedEvents.map((e) => e.metadata.name)).toEqual(["Phone"]);
    expect(removedEvents.map((e) => e.metadata.passkeyId)).toEqual([passkey.id]);
    const res = await signInWith(u.auth);
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe("passkey_not_found");
  });

  it("deleting needs a step-up when the user has a second factor and signed in more than 5 minutes ago", async () => {
    const m = await createMfaUser();
    const { accessToken } = await mfaLogin(m);
    const passkey = await registerPasskey({ ...m, token: accessToken, auth: new SoftAuthenticator({ origin: ORIGIN }) });
    await deps().db.execute(sql`update sessions set auth_time = now() - interval '1 hour' where id = ${decodeJwt(accessToken).sid as string}::uuid`);
    const res = await call(`/auth/passkeys/${passkey.id}`, { method: "DELETE", headers: bearer(accessToken) });
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("step_up_required");
    const options = await call("/auth/passkeys/register/options", { method: "POST", json: {}, headers: bearer(accessToken) });
    expect(await errorCode(options)).toBe("step_up_required");
    expect((await json(await call("/auth/passkeys", { headers: bearer(accessToken) }))).data.passkeys).toHaveLength(1);
  });
});
