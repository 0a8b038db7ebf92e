// Everything a provider sends that does not hold is refused with its own code, signs no one in and
// is never a 5xx: id_tokens signed by another key or with alg none, for another audience or
// issuer, expired, with another sign-in's nonce or none, Entra tokens whose tenant does not match
// their issuer; and missing or unverified emails (GitHub: the verified primary address only).
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { deps } from "../../helpers/users";
import { as, exchange, person, signIn, socialApp, type Provider } from "./support";

const counts = async () => {
  const r = await deps().db.execute(sql`select (select count(*)::int from users) as users, (select count(*)::int from sessions) as sessions, (select count(*)::int from user_identities) as identities`);
  return r.rows[0] as { users: number; sessions: number; identities: number };
};

const OIDC: Provider[] = ["google", "microsoft", "apple"];
const TAMPERS = ["wrong_key", "unknown_kid", "alg_none", "wrong_aud", "wrong_iss", "expired", "wrong_nonce", "no_nonce", "no_id_token"];

describe("id_token checks", () => {
  for (const provider of OIDC) {
    for (const tamper of TAMPERS) {
      it(`${provider}: ${tamper} is refused with error=invalid_id_token, nothing written`, async () => {
        const app = await socialApp();
        const before = await counts();
        const landed = await signIn(provider, app, as(provider, person(), { fake_tamper: tamper }));
        expect(landed.searchParams.get("error")).toBe("invalid_id_token");
        expect(landed.searchParams.has("code")).toBe(false);
        expect(await counts()).toEqual(before);
      });
    }
  }

  it("microsoft: a token whose tid does not match the tenant in its issuer is refused", async () => {
    const app = await socialApp();
    const landed = await signIn("microsoft", app, as("microsoft", person(), { fake_tamper: "tid_mismatch" }));
    expect(landed.searchParams.get("error")).toBe("invalid_id_token");
  });

  it("an id_token for an existing identity is still checked (a forged token cannot reach an account)", async () => {
    const app = await socialApp();
    const who = person();
    await exchange(app, await signIn("google", app, as("google", who)));
    const forged = await signIn("google", app, as("google", who, { fake_tamper: "wrong_key" }));
    expect(forged.searchParams.get("error")).toBe("invalid_id_token");
  });
});

describe("emails", () => {
  for (const provider of ["google", "github", "microsoft", "apple"] as Provider[]) {
    it(`${provider}: no email -> error=missing_email; unverified -> error=email_not_verified; no account created`, async () => {
      const app = await socialApp();
      const before = await counts();
      const none = await signIn(provider, app, as(provider, person(), { fake_email: "" }));
      expect(none.searchParams.get("error")).toBe("missing_email");
      const unverified = await signIn(provider, app, as(provider, person(), { fake_email_verified: "false" }));
      expect(unverified.searchParams.get("error")).toBe("email_not_verified");
      const omitted = await signIn(provider, app, as(provider, person(), { fake_email_verified: "omit" }));
      expect(omitted.searchParams.get("error")).toBe("email_not_verified");
      expect(await counts()).toEqual(before);
    });
  }

  it("github: only the verified primary address counts (a verified secondary does not stand in for an unverified primary)", async () => {
    const app = await socialApp();
    const who = person("gh");
    const emails = [
      { email: `other.${who.email}`, primary: false, verified: true },
      { email: who.email, primary: true, verified: false },
    ];
    const landed = await signIn("github", app, as("github", who, { fake_emails: JSON.stringify(emails) }));
    expect(landed.searchParams.get("error")).toBe("email_not_verified");
    const good = [
      { email: `other.${who.email}`, primary: false, verified: true },
      { email: who.email, primary: true, verified: true },
    ];
    const data = await exchange(app, await signIn("github", app, as("github", who, { fake_emails: JSON.stringify(good) })));
    expect(data.user.email).toBe(who.email);
  });

  it("github: a malformed /user/emails answer is refused, not a 5xx", async () => {
    const app = await socialApp();
    const landed = await signIn("github", app, as("github", person(), { fake_emails: JSON.stringify({ not: "a list" }) }));
    expect(landed.searchParams.get("error")).toBe("missing_email");
  });
});
