// TOTP setup, enable and disable through HTTP (issue 10 item 2): nothing is on until a code proves
// the secret; the secret is sealed at rest; enable answers 10 recovery codes once; disable needs
// the password (or a code without one) and forgets recovery codes and devices; emails and audit.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createApiKey, createApplication } from "../../helpers/applications";
import { call, json } from "../../helpers/http";
import { settle } from "../../helpers/stack";
import { auditEvents, bearer, createUser, deps, login, waitForEmail } from "../../helpers/users";
import { challenge, code, freshStep, ip, signedIn, stepNow, verify } from "./support";

async function setup(accessToken: string, headers: Record<string, string> = {}) {
  const res = await call("/auth/mfa/totp/setup", { method: "POST", headers: { ...bearer(accessToken), ...headers } });
  const body = await json(res);
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.data as { secret: string; otpauthUri: string; qrSvg: string };
}

function enable(accessToken: string, c: string) {
  return call("/auth/mfa/totp/enable", { json: { code: c }, headers: bearer(accessToken) });
}

describe("POST /auth/mfa/totp/setup and /enable", () => {
  it("setup gives a secret, its otpauth URI and a QR code; the secret is stored sealed and nothing is on yet", async () => {
    const u = await signedIn();
    const s = await setup(u.accessToken);
    expect(s.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(s.otpauthUri);
    expect(uri.protocol).toBe("otpauth:");
    expect(s.otpauthUri.startsWith("otpauth://totp/")).toBe(true);
    const label = decodeURIComponent(s.otpauthUri.slice("otpauth://totp/".length, s.otpauthUri.indexOf("?")));
    expect(label).toBe(`${uri.searchParams.get("issuer")}:${u.email}`);
    expect(uri.searchParams.get("secret")).toBe(s.secret);
    expect(uri.searchParams.get("issuer")).toBeTruthy();
    expect(s.qrSvg).toMatch(/^<svg[\s\S]*<\/svg>$/);
    const row = (await deps().db.execute(sql`select secret_ciphertext as c, key_id as k, enabled_at as e from mfa_totp where user_id = ${u.id}::uuid`)).rows[0] as any;
    expect(row.c).not.toContain(s.secret);
    expect(row.c).toMatch(/^v1\.dev\./);
    expect(row.k).toBe("dev");
    expect(row.e).toBeNull();
    // Not on: the password alone still signs in.
    const res = await call("/auth/login", { json: { email: u.email, password: u.password }, headers: ip() });
    expect((await json(res)).data.accessToken).toEqual(expect.any(String));
  });

  it("the issuer is the application's brand name", async () => {
    const app = await createApplication({ type: "spa", name: "Shop", settings: { branding: { displayName: "Acme Shop" } } as any });
    const key = await createApiKey(app.id);
    const user = await createUser();
    const s = await login(user, { ...ip(), "x-api-key": key });
    const res = await call("/auth/mfa/totp/setup", { method: "POST", headers: { ...bearer(s.accessToken), "x-api-key": key } });
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(new URL(body.data.otpauthUri).searchParams.get("issuer")).toBe("Acme Shop");
  });

  it("enable refuses a wrong code, then turns TOTP on with a right one: 10 recovery codes once, email, audit; sign-in asks for it", async () => {
    const u = await signedIn();
    const s = await setup(u.accessToken);
    const step = await freshStep();
    const right = await code(s.secret, step);
    const wrong = await enable(u.accessToken, right === "000000" ? "111111" : "000000");
    expect(wrong.status).toBe(400);
    expect((await json(wrong)).error.code).toBe("invalid_mfa_code");
    const res = await enable(u.accessToken, right);
    const body = await json(res);
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(res.headers.get("cache-control")).toContain("no-store");
    expect(body.data.recoveryCodes).toHaveLength(10);
    expect(new Set(body.data.recoveryCodes).size).toBe(10);
    for (const c of body.data.recoveryCodes) expect(c).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    const stored = (await deps().db.execute(sql`select code_hash from mfa_recovery_codes where user_id = ${u.id}::uuid`)).rows as any[];
    expect(stored).toHaveLength(10);
    for (const r of stored) expect(body.data.recoveryCodes).not.toContain(r.code_hash);
    await waitForEmail(u.email, "mfa_enabled");
    await settle();
    expect((await auditEvents("mfa.totp.enabled")).some((e) => e.targetUserId === u.id)).toBe(true);
    // Again: already on.
    expect((await enable(u.accessToken, await code(s.secret, step + 1))).status).toBe(409);
    const again = await call("/auth/mfa/totp/setup", { method: "POST", headers: bearer(u.accessToken) });
    expect(again.status).toBe(409);
    expect((await json(again)).error.code).toBe("totp_already_enabled");
    // Sign-in now asks for the second factor; the code used to enable does not work again, the next one does.
    const token = await challenge(u);
    expect((await verify(token, "totp", right)).status).toBe(401);
    expect((await verify(token, "totp", await code(s.secret, step + 1))).status).toBe(200);
    // A recovery code from enable works.
    expect((await verify(await challenge(u), "recovery_code", body.data.recoveryCodes[3])).status).toBe(200);
  });

  it("enable before setup is 409 totp_not_set_up; no token is 401", async () => {
    const u = await signedIn();
    const res = await enable(u.accessToken, "123456");
    expect(res.status).toBe(409);
    expect((await json(res)).error.code).toBe("totp_not_set_up");
    expect((await call("/auth/mfa/totp/setup", { method: "POST" })).status).toBe(401);
    expect((await call("/auth/mfa/totp/enable", { json: { code: "123456" } })).status).toBe(401);
  });

  it("a new setup replaces an unfinished one: the old secret's codes no longer enable", async () => {
    const u = await signedIn();
    const first = await setup(u.accessToken);
    const second = await setup(u.accessToken);
    expect(second.secret).not.toBe(first.secret);
    expect((await enable(u.accessToken, await code(first.secret, stepNow()))).status).toBe(400);
    expect((await enable(u.accessToken, await code(second.secret, stepNow()))).status).toBe(200);
  });
});

describe("POST /auth/mfa/totp/disable", () => {
  async function enrolled() {
    const u = await signedIn();
    const s = await setup(u.accessToken);
    const step = await freshStep();
    expect((await enable(u.accessToken, await code(s.secret, step))).status).toBe(200);
    return { ...u, secret: s.secret, step };
  }

  it("needs the password: a wrong one is 400; the right one turns it off, removes recovery codes, emails and audits", async () => {
    const u = await enrolled();
    const wrong = await call("/auth/mfa/totp/disable", { json: { password: "wrong-Tractor-61" }, headers: bearer(u.accessToken) });
    expect(wrong.status).toBe(400);
    expect((await json(wrong)).error.code).toBe("invalid_password");
    const missing = await call("/auth/mfa/totp/disable", { json: {}, headers: bearer(u.accessToken) });
    expect(missing.status).toBe(400);
    const res = await call("/auth/mfa/totp/disable", { json: { password: u.password }, headers: bearer(u.accessToken) });
    expect(res.status, await res.clone().text()).toBe(200);
    const left = (await deps().db.execute(sql`select (select count(*)::int from mfa_totp where user_id = ${u.id}::uuid) as t, (select count(*)::int from mfa_recovery_codes where user_id = ${u.id}::uuid) as r`)).rows[0] as any;
    expect(left).toEqual({ t: 0, r: 0 });
    await waitForEmail(u.email, "mfa_disabled");
    await settle();
    expect((await auditEvents("mfa.totp.disabled")).some((e) => e.targetUserId === u.id)).toBe(true);
    const login = await call("/auth/login", { json: { email: u.email, password: u.password }, headers: ip() });
    expect((await json(login)).data.accessToken).toEqual(expect.any(String));
    const twice = await call("/auth/mfa/totp/disable", { json: { password: u.password }, headers: bearer(u.accessToken) });
    expect(twice.status).toBe(409);
  });

  it("an account without a password disables with a current (unused) code", async () => {
    const u = await enrolled();
    await deps().db.execute(sql`update users set password_hash = null where id = ${u.id}::uuid`);
    const used = await call("/auth/mfa/totp/disable", { json: { code: await code(u.secret, u.step) }, headers: bearer(u.accessToken) });
    expect(used.status).toBe(400);
    expect((await json(used)).error.code).toBe("invalid_mfa_code");
    const res = await call("/auth/mfa/totp/disable", { json: { code: await code(u.secret, u.step + 1) }, headers: bearer(u.accessToken) });
    expect(res.status, await res.clone().text()).toBe(200);
  });
});
