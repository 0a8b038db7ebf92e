// Adversarial suite, races: a sign-in held between its read and its write while the password
// changes. The sign-in verified the OLD password against the hash it read; when its write lands
// after the change, it must not start a session nor store a re-hash of the old password. The
// local SQL endpoint holds exactly that write (slow fault, after: 1, count: 1) while the change
// goes through; both backends matter (PGlite serializes statements, a real Postgres does not).
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { hashPassword, type Argon2Params } from "../../src/crypto/password";
import { call, callWithEnv, json } from "../helpers/http";
import { setFault, waitForEndpoint } from "../helpers/stack";
import { bearer, createUser, deps, login, type TestUser } from "../helpers/users";

const NEW_PASSWORD = "Copper-Lantern-72-ridge";
/** How long the sign-in's write is held: long enough for a sign-in and a password change elsewhere. */
const HOLD_MS = 2_500;

let ipCounter = 0;
function nextIp(): Record<string, string> {
  ipCounter += 1;
  return { "cf-connecting-ip": `10.16.${(ipCounter >> 8) & 255}.${ipCounter & 255}` };
}

const ROOMY_LIMITS = { RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL: "1000/15m" };
async function passwordWorks(email: string, password: string): Promise<boolean> {
  const res = await callWithEnv(ROOMY_LIMITS, "/auth/login", { json: { email, password }, headers: nextIp() });
  if (res.status !== 200 && res.status !== 401) throw new Error(`unexpected login answer ${res.status} ${await res.text()}`);
  return res.status === 200;
}

async function userState(userId: string): Promise<{ hash: string; liveSessions: string[] }> {
  const db = deps().db;
  const [u, s] = await Promise.all([
    db.execute(sql`select password_hash as h from users where id = ${userId}::uuid`),
    db.execute(sql`select id from sessions where user_id = ${userId}::uuid and revoked_at is null order by created_at`),
  ]);
  return { hash: (u.rows[0] as { h: string }).h, liveSessions: s.rows.map((r) => (r as { id: string }).id) };
}

/**
 * Signs `user` in with its (old) password while the sign-in's second statement is held; meanwhile
 * signs in elsewhere and changes the password. Returns the held sign-in's answer once its
 * statement has landed, and the session that changed the password.
 */
async function signInRacingChange(user: TestUser, env: Record<string, string> = {}) {
  await setFault("sql", { mode: "slow", delayMs: HOLD_MS, after: 1, count: 1 });
  try {
    const held = callWithEnv(env, "/auth/login", { json: { email: user.email, password: user.password }, headers: nextIp() });
    // The sign-in has read the hash and verified the password; its write is now held.
    await waitForEndpoint("sql", (s) => s.faulted === 1);

    const elsewhere = await login(user, nextIp());
    const changed = await call("/auth/change-password", {
      json: { currentPassword: user.password, newPassword: NEW_PASSWORD },
      headers: { ...bearer(elsewhere.accessToken), ...nextIp() },
    });
    expect(changed.status).toBe(200);

    const res = await held;
    const body = await json(res);
    // The held statement has run (it may land after the sign-in gave up waiting for it).
    await waitForEndpoint("sql", (s) => s.inFlight === 0);
    return { status: res.status, body, elsewhere };
  } finally {
    await setFault("sql", { mode: "none" });
  }
}

/** After the race: the new password works, the old one does not, and no session but the changer's is live. */
async function expectOnlyNewPasswordWorks(user: TestUser, changerRefreshToken: string) {
  const state = await userState(user.id);
  // A hash made by the change (the Worker's parameters), not one the held sign-in wrote back.
  expect(state.hash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
  expect(state.liveSessions).toEqual([changerRefreshToken.split(".")[0]]);
  expect(await passwordWorks(user.email, NEW_PASSWORD)).toBe(true);
  expect(await passwordWorks(user.email, user.password)).toBe(false);
}

const OTHER_PARAMS: Argon2Params = { memoryKiB: 512, iterations: 1, parallelism: 1, hashLength: 32 };

describe("a sign-in racing a password change", () => {
  for (const rehash of [false, true]) {
    const label = rehash ? "a hash with other Argon2id parameters (re-hash due)" : "a current hash";
    it(`with ${label}: the held sign-in is refused as invalid_credentials and writes nothing`, async () => {
      const password = "Old-Password-for-race-1";
      const user = await createUser({ password, ...(rehash ? { passwordHash: await hashPassword(password, OTHER_PARAMS) } : {}) });
      const { status, body, elsewhere } = await signInRacingChange(user);

      expect(status).toBe(401);
      expect(body.error.code).toBe("invalid_credentials");
      expect(body.data).toBeUndefined();
      await expectOnlyNewPasswordWorks(user, elsewhere.refreshToken);
    });

    it(`with ${label}: a held write landing after DEPENDENCY_TIMEOUT_MS (503) still changes nothing`, async () => {
      const password = "Old-Password-for-race-2";
      const user = await createUser({ password, ...(rehash ? { passwordHash: await hashPassword(password, OTHER_PARAMS) } : {}) });
      const { status, body, elsewhere } = await signInRacingChange(user, { DEPENDENCY_TIMEOUT_MS: "800" });

      expect(status).toBe(503);
      expect(body.error.code).toBe("dependency_unavailable");
      await expectOnlyNewPasswordWorks(user, elsewhere.refreshToken);
    });
  }

  it("ten sign-ins with the old password racing the change: afterwards only the changer's session is live", async () => {
    const user = await createUser({ password: "Old-Password-for-race-4" });
    const changer = await login(user, nextIp());
    const signIns = Array.from({ length: 10 }, () =>
      call("/auth/login", { json: { email: user.email, password: user.password }, headers: nextIp() }),
    );
    const change = call("/auth/change-password", {
      json: { currentPassword: user.password, newPassword: NEW_PASSWORD },
      headers: { ...bearer(changer.accessToken), ...nextIp() },
    });
    const [changed, ...answers] = await Promise.all([change, ...signIns]);
    expect(changed.status).toBe(200);
    for (const res of answers) {
      // Before the change: 200 (and then revoked by it); after it: refused as a wrong password.
      expect([200, 401]).toContain(res.status);
      const body = await json(res);
      if (res.status === 401) expect(body.error.code).toBe("invalid_credentials");
      else expect((await call("/auth/refresh", { json: { refreshToken: body.data.refreshToken } })).status).toBe(401);
    }
    await expectOnlyNewPasswordWorks(user, changer.refreshToken);
  });

  it("control: without a change in between, the held sign-in succeeds and its session refreshes", async () => {
    const user = await createUser({ password: "Old-Password-for-race-3" });
    await setFault("sql", { mode: "slow", delayMs: 300, after: 1, count: 1 });
    try {
      const res = await call("/auth/login", { json: { email: user.email, password: user.password }, headers: nextIp() });
      expect(res.status).toBe(200);
      const { data } = await json(res);
      expect((await call("/auth/refresh", { json: { refreshToken: data.refreshToken } })).status).toBe(200);
    } finally {
      await setFault("sql", { mode: "none" });
    }
  });
});
