// Passkey sign-in round trips, as the local endpoints count them (deferred work included):
// options without an email: 0 SQL, 1 Redis (the challenge); with an email: 1 SQL (the account's
// passkeys) and 1 Redis. Verify: 1 Redis (the challenge taken once) and 3 SQL in sequence: the
// credential, the counter compare-and-set with passkey.used, and the session (startSessionForProvenUser).
import { describe, expect, it } from "vitest";
import { countRoundTrips } from "../helpers/stack";
import { loginOptions, loginVerify, registerPasskey, signedInUser } from "../routes/passkeys/support";
import { call } from "../helpers/http";

describe("passkey sign-in round trips", () => {
  it("options: 0 SQL and 1 Redis without an email, 1 SQL and 1 Redis with one", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    const { rt: bare } = await countRoundTrips(() => call("/auth/passkeys/login/options", { json: {} }), 200);
    expect(bare).toEqual({ sql: 0, redis: 1 });
    const { rt: withEmail } = await countRoundTrips(() => call("/auth/passkeys/login/options", { json: { email: u.email } }), 200);
    expect(withEmail).toEqual({ sql: 1, redis: 1 });
  });

  it("verify (user verified): 1 Redis and at most 3 SQL", async () => {
    const u = await signedInUser();
    await registerPasskey(u);
    const { options, challengeId } = await loginOptions();
    const response = await u.auth.get(options);
    const { rt } = await countRoundTrips(() => loginVerify(challengeId, response), 200);
    expect(rt.redis).toBe(1);
    expect(rt.sql).toBeLessThanOrEqual(3);
  });
});
