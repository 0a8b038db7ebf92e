// DESIGN.md section 7: MFA verify in at most 2 SQL and 2 Redis round trips, as the local endpoints
// count them (deferred work after the response included): the challenge taken out of Redis (1),
// the factor used (TOTP step compare-and-set or recovery code, with the remembered device) and
// the session (2 SQL). A wrong code puts the challenge back (Redis 2) and counts the failure
// against the account after the response (Redis 3) with its audit row (SQL 1).
import { describe, expect, it } from "vitest";
import { countRoundTrips } from "../helpers/stack";
import { challenge, code, createMfaUser, stepNow, verify } from "../routes/mfa/support";

describe("MFA verify round trips", () => {
  it("TOTP: at most 2 SQL and 2 Redis", async () => {
    const u = await createMfaUser();
    const token = await challenge(u);
    const { rt } = await countRoundTrips(async () => verify(token, "totp", await code(u.secret, stepNow())), 200);
    expect(rt.sql).toBeLessThanOrEqual(2);
    expect(rt.redis).toBeLessThanOrEqual(2);
  });

  it("recovery code with rememberDevice: at most 2 SQL and 2 Redis", async () => {
    const u = await createMfaUser();
    const token = await challenge(u);
    const { rt } = await countRoundTrips(() => verify(token, "recovery_code", u.recoveryCodes[0], { rememberDevice: true }), 200);
    expect(rt.sql).toBeLessThanOrEqual(2);
    expect(rt.redis).toBeLessThanOrEqual(2);
  });

  it("a wrong TOTP code: no SQL before the answer; 1 SQL (audit) and 3 Redis in all", async () => {
    const u = await createMfaUser();
    const token = await challenge(u);
    const right = await code(u.secret, stepNow());
    const { rt } = await countRoundTrips(() => verify(token, "totp", right === "000000" ? "111111" : "000000"), 401);
    expect(rt.sql).toBeLessThanOrEqual(1);
    expect(rt.redis).toBeLessThanOrEqual(3);
  });
});
