import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { call, callWithEnv, json } from "../../helpers/http";
import { auditEvents, createUser, deps, GOOD_PASSWORD, outboxFor, uniqueEmail, waitForEmail } from "../../helpers/users";

const ip = (n: number) => ({ "cf-connecting-ip": `192.0.2.${n}` });
const ENABLED = { PUBLIC_REGISTRATION_ENABLED: "true" };

function register(body: unknown, headers: Record<string, string>, env: Record<string, string | undefined> = ENABLED): Promise<Response> {
  return callWithEnv(env, "/auth/register", { json: body, headers });
}

interface UserRow {
  id: string;
  email: string;
  passwordHash: string | null;
  approvalStatus: string;
  isActive: boolean;
  fullName: string | null;
  authProvider: string;
}

/** Every user row whose address matches case-insensitively (and in NFC, as stored). */
async function usersByEmail(email: string): Promise<UserRow[]> {
  const r = await deps().db.execute(
    sql`select id, email, password_hash as "passwordHash", approval_status as "approvalStatus", is_active as "isActive",
          full_name as "fullName", auth_provider as "authProvider"
        from users where lower(email) = lower(${email.normalize("NFC")})`,
  );
  return r.rows as unknown as UserRow[];
}

async function userCount(): Promise<number> {
  const r = await deps().db.execute(sql`select count(*)::int as n from users`);
  return Number((r.rows[0] as { n: number }).n);
}

async function registeredEventsFor(userId: string): Promise<number> {
  return (await auditEvents("user.registered")).filter((e) => e.targetUserId === userId).length;
}

function fieldNames(body: any): string[] {
  return (body.error.fields ?? []).map((f: { field: string }) => f.field).sort();
}

describe("POST /auth/register", () => {
  it("is 403 registration_disabled while PUBLIC_REGISTRATION_ENABLED is unset", async () => {
    const email = uniqueEmail("disabled");
    const res = await register({ email, password: GOOD_PASSWORD }, ip(1), { PUBLIC_REGISTRATION_ENABLED: undefined });
    expect(res.status).toBe(403);
    const body = await json(res);
    expect(body.error.code).toBe("registration_disabled");
    expect(typeof body.error.message).toBe("string");
    // The default bindings (no override) behave the same.
    const plain = await call("/auth/register", { json: { email, password: GOOD_PASSWORD }, headers: ip(1) });
    expect(plain.status).toBe(403);
    expect((await json(plain)).error.code).toBe("registration_disabled");
    expect(await usersByEmail(email)).toHaveLength(0);
  });

  it("creates a PENDING, inactive account with an argon2id hash and no tokens", async () => {
    const email = uniqueEmail("signup");
    const password = "Velvet-harbor-93-lamp";
    const res = await register({ email, password, fullName: "  Katherine Johnson  ", phoneNumber: "" }, { ...ip(2), "user-agent": "register-test" });
    expect(res.status).toBe(202);
    const body = await json(res);
    expect(body).toEqual({ data: { status: "PENDING", message: expect.any(String) } });
    const raw = JSON.stringify(body);
    expect(raw).not.toMatch(/accessToken|refreshToken|eyJ/);
    expect(res.headers.get("set-cookie")).toBeNull();

    const rows = await usersByEmail(email);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row).toMatchObject({ email, approvalStatus: "PENDING", isActive: false, fullName: "Katherine Johnson", authProvider: "password" });
    expect(row.passwordHash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(row.passwordHash).not.toContain(password);

    // Signing in before approval says so (only after the right password).
    const signIn = await call("/auth/login", { json: { email, password }, headers: ip(2) });
    expect(signIn.status).toBe(403);
    expect((await json(signIn)).error.code).toBe("pending_approval");
    const wrong = await call("/auth/login", { json: { email, password: "Not-the-password-42" }, headers: ip(2) });
    expect(wrong.status).toBe(401);

    const mail = await waitForEmail(email, "registration_pending");
    expect(mail.to).toBe(email);
    expect(mail.text).toContain("Katherine Johnson");
    const events = (await auditEvents("user.registered")).filter((e) => e.targetUserId === row.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actorUserId: row.id, metadata: { authProvider: "password" } });
  });

  it("answers an address that already has an account exactly like a new one, and tells its owner", async () => {
    const owner = await createUser({ email: uniqueEmail("owner") });
    const fresh = await register({ email: uniqueEmail("fresh"), password: GOOD_PASSWORD }, ip(3));
    const taken = await register({ email: owner.email, password: "Another-pass-phrase-7" }, ip(3));
    expect(taken.status).toBe(fresh.status);
    expect(taken.status).toBe(202);
    expect(await json(taken)).toEqual(await json(fresh));

    const rows = await usersByEmail(owner.email);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: owner.id, approvalStatus: "APPROVED", isActive: true });
    expect(await registeredEventsFor(owner.id)).toBe(0);

    const mail = await waitForEmail(owner.email, "registration_exists");
    expect(mail.to).toBe(owner.email);
    expect((await outboxFor(owner.email)).map((m) => m.kind)).toEqual(["registration_exists"]);
    // The owner's account is untouched: the old password still works, the attempted one does not.
    expect((await call("/auth/login", { json: { email: owner.email, password: owner.password }, headers: ip(3) })).status).toBe(200);
    expect((await call("/auth/login", { json: { email: owner.email, password: "Another-pass-phrase-7" }, headers: ip(3) })).status).toBe(401);
  });

  it("treats an address differing only in letter case as the same account", async () => {
    const email = uniqueEmail("CaseOwner");
    const first = await register({ email, password: GOOD_PASSWORD }, ip(4));
    expect(first.status).toBe(202);
    const [original] = await usersByEmail(email);
    await waitForEmail(email, "registration_pending");

    for (const variant of [email.toUpperCase(), email.toLowerCase()]) {
      const again = await register({ email: variant, password: "Different-secret-55" }, ip(4));
      expect(again.status).toBe(202);
      expect(await json(again)).toEqual(await json(await register({ email: uniqueEmail("case-new"), password: GOOD_PASSWORD }, ip(4))));
    }
    const rows = await usersByEmail(email);
    expect(rows).toHaveLength(1);
    expect(rows[0].id).toBe(original.id);
    expect(rows[0].email).toBe(email);
    expect(rows[0].passwordHash).toBe(original.passwordHash);
    expect(await registeredEventsFor(original.id)).toBe(1);
    await waitForEmail(email, "registration_exists");
    const mails = await outboxFor(email);
    expect(mails.map((m) => m.kind).sort()).toEqual(["email_verification", "registration_exists", "registration_exists", "registration_pending"]);
    // The owner is written to at the address of the account, not the variant typed.
    expect(mails.map((m) => m.to)).toEqual([email, email, email, email]);
  });

  it("treats an accented address differing only in letter case as the same account", async () => {
    const email = `\u00c9lodie.${Date.now().toString(36)}@example.com`; // "Élodie..."
    expect((await register({ email, password: GOOD_PASSWORD }, ip(6))).status).toBe(202);
    const again = await register({ email: email.toLowerCase(), password: "Different-secret-55" }, ip(6));
    expect(again.status).toBe(202);
    const rows = await usersByEmail(email);
    expect(rows).toHaveLength(1);
    expect(rows[0].email).toBe(email);
    const mail = await waitForEmail(email, "registration_exists");
    expect(mail.to).toBe(email);
  });

  it("treats NFD and NFC forms of an accented address as the same account", async () => {
    const suffix = `${Date.now().toString(36)}@example.com`;
    const nfc = `jos\u00e9.nfc.${suffix}`;
    const nfd = `jose\u0301.nfc.${suffix}`;
    expect(nfd).not.toBe(nfc);
    expect(nfd.normalize("NFC")).toBe(nfc);

    const first = await register({ email: nfd, password: GOOD_PASSWORD }, ip(5));
    expect(first.status).toBe(202);
    const second = await register({ email: nfc, password: "Different-secret-55" }, ip(5));
    expect(second.status).toBe(202);
    expect(await json(second)).toEqual(await json(first));

    const r = await deps().db.execute(sql`select id, email from users where email like ${"jos%.nfc." + suffix}`);
    expect(r.rows).toHaveLength(1);
    // Stored in NFC whichever form was sent.
    expect((r.rows[0] as { email: string }).email).toBe(nfc);
    await waitForEmail(nfc, "registration_pending");
    const exists = await waitForEmail(nfc, "registration_exists");
    expect(exists.to).toBe(nfc);

    // And the other way round: NFC first, then NFD.
    const nfc2 = `ren\u00e9e.${suffix}`;
    const nfd2 = `rene\u0301e.${suffix}`;
    expect((await register({ email: nfc2, password: GOOD_PASSWORD }, ip(5))).status).toBe(202);
    expect((await register({ email: nfd2, password: "Different-secret-55" }, ip(5))).status).toBe(202);
    const r2 = await deps().db.execute(sql`select email from users where email like ${"ren%e." + suffix}`);
    expect(r2.rows).toEqual([{ email: nfc2 }]);
    await waitForEmail(nfc2, "registration_exists");
  });

  describe("password policy", () => {
    const cases = [
      { name: "too_short (7 characters)", password: () => "Ab3$xyz", rule: "too_short" },
      { name: "too_long (129 characters)", password: () => "Aq7-".repeat(32) + "z", rule: "too_long" },
      { name: "common_password", password: () => "password123", rule: "common_password" },
      { name: "contains_email", password: (local: string) => `My-${local.toUpperCase()}-pass!`, rule: "contains_email" },
    ];
    for (const [i, c] of cases.entries()) {
      it(`rejects ${c.name} with 400 weak_password and stores nothing`, async () => {
        const email = uniqueEmail(`policy${i}`);
        const password = c.password(email.split("@")[0]);
        if (c.rule === "too_short") expect([...password]).toHaveLength(7);
        if (c.rule === "too_long") expect([...password]).toHaveLength(129);
        const before = await userCount();
        const res = await register({ email, password }, ip(10 + i));
        expect(res.status).toBe(400);
        const body = await json(res);
        expect(body.error.code).toBe("weak_password");
        expect(fieldNames(body)).toEqual(["password"]);
        expect(body.error.details).toEqual({ rule: c.rule });
        expect(JSON.stringify(body)).not.toContain(password);
        expect(await usersByEmail(email)).toHaveLength(0);
        expect(await userCount()).toBe(before);
      });
    }

    it("counts the length after Unicode normalisation (a decomposed 7-character password is too short)", async () => {
      const nfc = "\u00e9\u00e8\u00ea" + "Zx9!"; // 7 characters
      const nfd = nfc.normalize("NFD"); // 10 code points, the same password once normalised
      expect([...nfd]).toHaveLength(10);
      const email = uniqueEmail("nfdpass");
      const res = await register({ email, password: nfd }, ip(16));
      expect(res.status).toBe(400);
      const body = await json(res);
      expect(body.error.code).toBe("weak_password");
      expect(body.error.details).toEqual({ rule: "too_short" });
      expect(await usersByEmail(email)).toHaveLength(0);
      // And a 128-character password is not too long just because it arrives decomposed.
      const long = ("\u00e9" + "Aq7").repeat(32);
      expect([...long]).toHaveLength(128);
      const email2 = uniqueEmail("nfdlong");
      expect((await register({ email: email2, password: long.normalize("NFD") }, ip(16))).status).toBe(202);
      expect(await usersByEmail(email2)).toHaveLength(1);
    });

    it("accepts a password exactly at the limits (8 and 128 characters)", async () => {
      for (const password of ["Qz8-Lm4!", "Aq7-".repeat(32)]) {
        const email = uniqueEmail("limits");
        const res = await register({ email, password }, ip(15));
        expect(res.status).toBe(202);
        expect(await usersByEmail(email)).toHaveLength(1);
      }
    });
  });

  describe("validation", () => {
    const cases: { name: string; body: Record<string, unknown>; fields: string[] }[] = [
      { name: "a missing email", body: { password: GOOD_PASSWORD }, fields: ["email"] },
      { name: "a malformed email", body: { email: "not-an-email", password: GOOD_PASSWORD }, fields: ["email"] },
      { name: "an unknown field", body: { email: "valid.unknown@example.com", password: GOOD_PASSWORD, isAdmin: true }, fields: ["isAdmin"] },
      { name: "a missing password and a bad email", body: { email: "nope@" }, fields: ["email", "password"] },
    ];
    for (const [i, c] of cases.entries()) {
      it(`answers ${c.name} with 400 validation_error naming the fields`, async () => {
        const before = await userCount();
        const res = await register(c.body, ip(20 + i));
        expect(res.status).toBe(400);
        const body = await json(res);
        expect(body.error.code).toBe("validation_error");
        expect(fieldNames(body)).toEqual(c.fields);
        expect(await userCount()).toBe(before);
      });
    }

    it("does not let a client choose its own approval state", async () => {
      const email = uniqueEmail("sneaky");
      const res = await register({ email, password: GOOD_PASSWORD, approvalStatus: "APPROVED", isActive: true }, ip(25));
      expect(res.status).toBe(400);
      expect(fieldNames(await json(res))).toEqual(["approvalStatus", "isActive"]);
      expect(await usersByEmail(email)).toHaveLength(0);
    });
  });

  it("limits registrations per IP: the third is 429 rate_limited with Retry-After", async () => {
    const env = { ...ENABLED, RATE_LIMIT_REGISTER_PER_IP: "2/1m" };
    for (let i = 0; i < 2; i++) {
      const ok = await register({ email: uniqueEmail("limited"), password: GOOD_PASSWORD }, ip(30), env);
      expect(ok.status).toBe(202);
    }
    const email = uniqueEmail("limited");
    const limited = await register({ email, password: GOOD_PASSWORD }, ip(30), env);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = await json(limited);
    expect(body.error.code).toBe("rate_limited");
    expect(body.error.details.retryAfterSeconds).toBe(retryAfter);
    expect(await usersByEmail(email)).toHaveLength(0);
    // Another IP is not affected.
    const other = await register({ email, password: GOOD_PASSWORD }, ip(31), env);
    expect(other.status).toBe(202);
  });
});
