// What a browser or an attacker can send that must not sign anyone in, add a passkey, or cause a
// 5xx: challenges of another ceremony, user or application; replays (sequential and concurrent);
// another origin or RP id; another user's credential or user handle; a bad signature; a signature
// counter that does not increase (refused and audited), and concurrent assertions with one counter.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { call, json } from "../../helpers/http";
import { createApiKey, createApplication } from "../../helpers/applications";
import { settle } from "../../helpers/stack";
import { auditEvents, bearer, deps } from "../../helpers/users";
import { b64url, fromB64url, SoftAuthenticator } from "../../helpers/webauthn-authenticator";
import { errorCode, loginOptions, loginVerify, ORIGIN, registerOptions, registerPasskey, registerVerify, signedInUser, signInWith } from "./support";

const sessionsOf = async (userId: string) =>
  Number((await deps().db.execute(sql`select count(*)::int as n from sessions where user_id = ${userId}::uuid`)).rows[0].n);
const passkeyCount = async (userId: string) =>
  Number((await deps().db.execute(sql`select count(*)::int as n from passkeys where user_id = ${userId}::uuid`)).rows[0].n);

describe("ceremony binding", () => {
  it("a registration challenge cannot finish a sign-in, and a sign-in challenge cannot finish a registration", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    const before = await sessionsOf(u.id);
    // Registration options' challenge presented as a sign-in's challengeId, with a valid assertion over it.
    const reg = await registerOptions(u);
    const assertion = await u.auth.get({ rpId: "auth.test", challenge: reg.challenge, allowCredentials: [] });
    const asSignIn = await loginVerify(reg.challenge, assertion);
    expect(asSignIn.status).toBe(400);
    expect(await errorCode(asSignIn)).toBe("passkey_challenge_invalid");
    // A sign-in challenge in a registration response.
    const { options } = await loginOptions();
    const created = await u.auth.create({ ...(await registerOptions(u)), challenge: options.challenge });
    const asRegistration = await registerVerify(u, created);
    expect(asRegistration.status).toBe(400);
    expect(await errorCode(asRegistration)).toBe("passkey_challenge_invalid");
    expect(await sessionsOf(u.id)).toBe(before);
    expect(await passkeyCount(u.id)).toBe(1);
  });

  it("a registration challenge is bound to its user: another signed-in user cannot finish it", async () => {
    const a = await signedInUser();
    const b = await signedInUser();
    const optionsForA = await registerOptions(a);
    const res = await registerVerify(b, await b.auth.create(optionsForA));
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("passkey_challenge_invalid");
    expect(await passkeyCount(a.id)).toBe(0);
    expect(await passkeyCount(b.id)).toBe(0);
  });

  it("a sign-in challenge is bound to its application", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    const app = await createApplication({ type: "spa" });
    const { options, challengeId } = await loginOptions();
    const res = await loginVerify(challengeId, await u.auth.get(options), { "x-api-key": await createApiKey(app.id) });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("passkey_challenge_invalid");
  });

  it("the response must sign the challenge it names: a response over another challenge is refused", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    const first = await loginOptions();
    const second = await loginOptions();
    const res = await loginVerify(first.challengeId, await u.auth.get(second.options));
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe("passkey_challenge_invalid");
    // ...and the first challenge is spent by the attempt.
    const retry = await loginVerify(first.challengeId, await u.auth.get(first.options));
    expect(await errorCode(retry)).toBe("passkey_challenge_invalid");
  });
});

describe("replay", () => {
  it("a challenge works once: the same response again is refused", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    const { options, challengeId } = await loginOptions();
    const response = await u.auth.get(options);
    expect((await loginVerify(challengeId, response)).status).toBe(200);
    const again = await loginVerify(challengeId, response);
    expect(again.status).toBe(400);
    expect(await errorCode(again)).toBe("passkey_challenge_invalid");
  });

  it("N concurrent verifies of one challenge: exactly one signs in", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    const before = await sessionsOf(u.id);
    const { options, challengeId } = await loginOptions();
    const response = await u.auth.get(options);
    const results = await Promise.all(Array.from({ length: 8 }, () => loginVerify(challengeId, response)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(await sessionsOf(u.id)).toBe(before + 1);
  });

  it("a registration response works once", async () => {
    const u = await signedInUser();
    const options = await registerOptions(u);
    const response = await u.auth.create(options);
    expect((await registerVerify(u, response)).status).toBe(201);
    const again = await registerVerify(u, response);
    expect(again.status).toBe(400);
    expect(await errorCode(again)).toBe("passkey_challenge_invalid");
  });
});

describe("origin and RP id", () => {
  it("a registration from another origin or for another RP id is refused, nothing stored", async () => {
    const u = await signedInUser();
    const fromEvil = await registerVerify(u, await u.auth.create(await registerOptions(u), { origin: "https://evil.example" }));
    expect(fromEvil.status).toBe(400);
    expect(await errorCode(fromEvil)).toBe("passkey_origin_mismatch");
    const otherRp = await registerVerify(u, await u.auth.create(await registerOptions(u), { rpId: "evil.example" }));
    expect(otherRp.status).toBe(400);
    expect(await errorCode(otherRp)).toBe("passkey_rp_id_mismatch");
    const http = await registerVerify(u, await u.auth.create(await registerOptions(u), { origin: "http://auth.test" }));
    expect(await errorCode(http)).toBe("passkey_origin_mismatch");
    expect(await passkeyCount(u.id)).toBe(0);
  });

  it("a sign-in from another origin or for another RP id is refused, no session", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    const before = await sessionsOf(u.id);
    const evil = await signInWith(u.auth, { bend: { origin: "https://auth.test.evil.example" } });
    expect(evil.status).toBe(400);
    expect(await errorCode(evil)).toBe("passkey_origin_mismatch");
    const otherRp = await signInWith(u.auth, { bend: { rpId: "evil.example" } });
    expect(otherRp.status).toBe(400);
    expect(await errorCode(otherRp)).toBe("passkey_rp_id_mismatch");
    const wrongType = await signInWith(u.auth, { bend: { type: "webauthn.create" } });
    expect(wrongType.status).toBeGreaterThanOrEqual(400);
    expect(wrongType.status).toBeLessThan(500);
    expect(await sessionsOf(u.id)).toBe(before);
  });
});

describe("whose credential", () => {
  it("a sign-in for one email does not accept another account's passkey", async () => {
    const a = await signedInUser();
    const b = await signedInUser();
    await registerPasskey(a);
    await registerPasskey(b);
    const { options, challengeId } = await loginOptions(a.email);
    const res = await loginVerify(challengeId, await b.auth.get({ ...options, allowCredentials: [] }));
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe("passkey_not_found");
    // An unknown email: no credential at all finishes it.
    const unknown = await loginOptions("nobody.here@example.com");
    expect(unknown.options.allowCredentials ?? []).toEqual([]);
    const none = await loginVerify(unknown.challengeId, await a.auth.get(unknown.options));
    expect(await errorCode(none)).toBe("passkey_not_found");
    expect(await sessionsOf(b.id)).toBe(1); // b's password sign-in only
  });

  it("a user handle naming another account is refused", async () => {
    const a = await signedInUser();
    const b = await signedInUser();
    await registerPasskey(a);
    const res = await signInWith(a.auth, { bend: { userHandle: b64url(new TextEncoder().encode(b.id)) } });
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe("passkey_not_found");
  });

  it("an unknown credential, a bad signature and garbage are refused without a 5xx", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    const stranger = new SoftAuthenticator({ origin: ORIGIN });
    await stranger.create({ rp: { id: "auth.test" }, user: { id: b64url(new TextEncoder().encode(u.id)) }, challenge: "x" });
    const unknown = await signInWith(stranger);
    expect(await errorCode(unknown)).toBe("passkey_not_found");

    const { options, challengeId } = await loginOptions();
    const good = await u.auth.get(options);
    const sig = fromB64url(good.response.signature);
    sig[sig.length - 1] ^= 1;
    const forged = await loginVerify(challengeId, { ...good, response: { ...good.response, signature: b64url(sig) } });
    expect(forged.status).toBe(401);
    expect(await errorCode(forged)).toBe("passkey_verification_failed");

    for (const response of [{}, { ...good, rawId: "other" }, { ...good, response: { ...good.response, authenticatorData: "AA" } }, { ...good, response: { ...good.response, clientDataJSON: "bm9wZQ" } }]) {
      const fresh = await loginOptions();
      const res = await loginVerify(fresh.challengeId, response);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    const junk = await call("/auth/passkeys/login/verify", { json: { challengeId: "../../etc", response: good } });
    expect(junk.status).toBe(400);
  });
});

describe("signature counter", () => {
  it("a counter that does not increase is refused and audited as passkey.counter_regression; a higher one works", async () => {
    const u = await signedInUser();
    const passkey = await registerPasskey(u);
    expect((await signInWith(u.auth, { bend: { counter: 5 } })).status).toBe(200);
    const before = await sessionsOf(u.id);
    for (const counter of [5, 3, 0]) {
      const res = await signInWith(u.auth, { bend: { counter } });
      expect(res.status, `counter ${counter}`).toBe(401);
      expect(await errorCode(res)).toBe("passkey_counter_regression");
    }
    expect(await sessionsOf(u.id)).toBe(before);
    const events = (await auditEvents("passkey.counter_regression")).filter((e) => e.targetUserId === u.id);
    expect(events.map((e) => e.metadata.presentedCounter)).toEqual([5, 3, 0]);
    expect(events[0].metadata).toMatchObject({ passkeyId: passkey.id, storedCounter: 5, concurrent: false });
    expect((await signInWith(u.auth, { bend: { counter: 6 } })).status).toBe(200);
  });

  it("takes counters up to 2^32 - 1 (WebAuthn's unsigned 32 bits), still refusing a regression there", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    expect((await signInWith(u.auth, { bend: { counter: 2 ** 31 + 5 } })).status).toBe(200);
    expect((await signInWith(u.auth, { bend: { counter: 2 ** 32 - 1 } })).status).toBe(200);
    const res = await signInWith(u.auth, { bend: { counter: 2 ** 31 } });
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe("passkey_counter_regression");
  });

  it("authenticators without a counter (always 0) keep working", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    for (let i = 0; i < 2; i++) expect((await signInWith(u.auth, { bend: { counter: 0 } })).status).toBe(200);
  });

  it("concurrent assertions carrying the same counter: exactly one is accepted (compare-and-set)", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    const before = await sessionsOf(u.id);
    const prepared = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const { options, challengeId } = await loginOptions();
        return { challengeId, response: await u.auth.get(options, { counter: 7 }) };
      }),
    );
    const results = await Promise.all(prepared.map((p) => loginVerify(p.challengeId, p.response)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    for (const r of results.filter((x) => x.status === 401)) expect(await errorCode(r)).toBe("passkey_counter_regression");
    expect(await sessionsOf(u.id)).toBe(before + 1);
    await settle();
    const stored = (await json(await call("/auth/passkeys", { headers: bearer(u.token) }))).data.passkeys[0];
    expect(stored.lastUsedAt).not.toBeNull();
  });
});
