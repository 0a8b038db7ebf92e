// Social sign-in passes the same second-factor gate as every other first factor: a user with TOTP
// gets the MFA step (carried by the one-time code), an application that requires MFA gets
// enrolment, and no session starts before the second factor.
import { sql } from "drizzle-orm";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { call, json } from "../../helpers/http";
import { deps } from "../../helpers/users";
import { code, createMfaUser, stepNow } from "../mfa/support";
import { as, exchange, person, signIn, socialApp } from "./support";

const sessionsOf = async (userId: string) =>
  Number(((await deps().db.execute(sql`select count(*)::int as n from sessions where user_id = ${userId}::uuid`)).rows[0] as { n: number }).n);

describe("social sign-in and MFA", () => {
  it("a user with TOTP: the code carries mfaRequired; the second factor finishes with fed and mfa in amr", async () => {
    const app = await socialApp();
    const user = await createMfaUser();
    await deps().db.execute(sql`update users set email_verified = true where id = ${user.id}::uuid`);
    const data = await exchange(app, await signIn("google", app, as("google", { sub: person().sub, email: user.email })));
    expect(data.mfaRequired).toBe(true);
    expect(data.accessToken).toBeUndefined();
    expect(await sessionsOf(user.id)).toBe(0);
    const res = await call("/auth/mfa/verify", { json: { mfaToken: data.mfaToken, factor: "totp", code: await code(user.secret, stepNow()) }, headers: { "x-api-key": app.key } });
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    const amr = decodeJwt(body.data.accessToken).amr as string[];
    expect(amr).toContain("fed");
    expect(amr).toContain("mfa");
  });

  it("an application that requires MFA: a new social user is sent to enrolment, with no session", async () => {
    const app = await socialApp({ signIn: { signUp: { approval: "automatic" } }, mfa: { policy: "required" } });
    const data = await exchange(app, await signIn("github", app, as("github", person("enrol"))));
    expect(data.mfaEnrollmentRequired).toBe(true);
    expect(data.accessToken).toBeUndefined();
  });
});
