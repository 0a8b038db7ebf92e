// A passkey as the second factor: POST /auth/mfa/passkey/options {mfaToken} then POST
// /auth/mfa/verify {factor: "passkey", mfaToken, challengeId, response}. The MFA challenge is
// taken once; a wrong passkey answer names what was wrong and puts the challenge back with one
// attempt more; the passkey challenge belongs to that MFA challenge and user only.
import { describe, expect, it } from "vitest";
import { call, json } from "../../helpers/http";
import { challenge, createMfaUser, mfaLogin } from "../mfa/support";
import { SoftAuthenticator } from "../../helpers/webauthn-authenticator";
import { amrOf, errorCode, loginOptions, ORIGIN, registerPasskey, signedInUser } from "./support";

async function mfaUserWithPasskey(userVerified = true) {
  const m = await createMfaUser();
  const { accessToken } = await mfaLogin(m);
  const auth = new SoftAuthenticator({ origin: ORIGIN, userVerified });
  const passkey = await registerPasskey({ ...m, token: accessToken, auth });
  return { m, auth, passkey };
}

const passkeyOptions = (mfaToken: string) => call("/auth/mfa/passkey/options", { json: { mfaToken } });
const verifyPasskey = (mfaToken: string, challengeId: string, response: unknown) =>
  call("/auth/mfa/verify", { json: { mfaToken, factor: "passkey", challengeId, response } });

describe("passkey as the second factor", () => {
  it("a challenge offers factor passkey to a user who has one (and not to one who has none)", async () => {
    const { m } = await mfaUserWithPasskey();
    const withPasskey = await json(await call("/auth/login", { json: { email: m.email, password: m.password }, headers: { "cf-connecting-ip": "198.51.100.77" } }));
    expect(withPasskey.data.factors).toEqual(["totp", "recovery_code", "passkey"]);
    const plain = await createMfaUser();
    const without = await json(await call("/auth/login", { json: { email: plain.email, password: plain.password }, headers: { "cf-connecting-ip": "198.51.100.78" } }));
    expect(without.data.factors).toEqual(["totp", "recovery_code"]);
  });

  it("password, then the passkey: tokens with amr pwd + hwk + mfa; the MFA challenge is then used up", async () => {
    const { m, auth, passkey } = await mfaUserWithPasskey(false);
    const mfaToken = await challenge(m);
    const res = await passkeyOptions(mfaToken);
    expect(res.status, await res.clone().text()).toBe(200);
    const { options, challengeId } = (await json(res)).data;
    expect(options.allowCredentials.map((c: any) => c.id)).toEqual([passkey.credentialId]);
    const response = await auth.get(options);
    const done = await verifyPasskey(mfaToken, challengeId, response);
    expect(done.status, await done.clone().text()).toBe(200);
    const body = await json(done);
    expect(body.data.user.email).toBe(m.email);
    expect(amrOf(body.data.accessToken).sort()).toEqual(["hwk", "mfa", "pwd"]);
    const again = await verifyPasskey(mfaToken, challengeId, response);
    expect(again.status).toBe(401);
    expect(await errorCode(again)).toBe("invalid_mfa_token");
  });

  it("another account's passkey is refused with its own code, the challenge survives (one attempt spent), the right passkey then works", async () => {
    const { m, auth } = await mfaUserWithPasskey();
    const stranger = await signedInUser();
    await registerPasskey(stranger);
    const mfaToken = await challenge(m);
    const { options, challengeId } = (await json(await passkeyOptions(mfaToken))).data;
    const wrong = await verifyPasskey(mfaToken, challengeId, await stranger.auth.get({ ...options, allowCredentials: [] }));
    expect(wrong.status).toBe(401);
    expect(await errorCode(wrong)).toBe("passkey_not_found");
    // The passkey challenge was spent; new options for the same MFA challenge.
    const fresh = (await json(await passkeyOptions(mfaToken))).data;
    const ok = await verifyPasskey(mfaToken, fresh.challengeId, await auth.get(fresh.options));
    expect(ok.status, await ok.clone().text()).toBe(200);
  });

  it("a passkey challenge of another ceremony or another MFA challenge is refused", async () => {
    const { m, auth } = await mfaUserWithPasskey();
    const mfaToken = await challenge(m);
    const signIn = await loginOptions();
    const asMfa = await verifyPasskey(mfaToken, signIn.challengeId, await auth.get(signIn.options));
    expect(asMfa.status).toBe(400);
    expect(await errorCode(asMfa)).toBe("passkey_challenge_invalid");
    const otherMfaToken = await challenge(m);
    const forOther = (await json(await passkeyOptions(otherMfaToken))).data;
    const crossed = await verifyPasskey(mfaToken, forOther.challengeId, await auth.get(forOther.options));
    expect(crossed.status).toBe(400);
    expect(await errorCode(crossed)).toBe("passkey_challenge_invalid");
  });

  it("options need a live MFA challenge and an account with a passkey; the verify body needs its fields", async () => {
    const bad = await passkeyOptions("not-a-real-token-aaaaaaaaaaaaaaaaaaaaaa");
    expect(bad.status).toBe(401);
    expect(await errorCode(bad)).toBe("invalid_mfa_token");
    const noPasskey = await createMfaUser();
    const none = await passkeyOptions(await challenge(noPasskey));
    expect(none.status).toBe(409);
    expect(await errorCode(none)).toBe("passkey_not_registered");
    const { m } = await mfaUserWithPasskey();
    const mfaToken = await challenge(m);
    const missing = await call("/auth/mfa/verify", { json: { mfaToken, factor: "passkey" } });
    expect(missing.status).toBe(400);
    expect(await errorCode(missing)).toBe("validation_error");
    const noCode = await call("/auth/mfa/verify", { json: { mfaToken, factor: "totp" } });
    expect(noCode.status).toBe(400);
    expect(await errorCode(noCode)).toBe("validation_error");
  });
});
