// Adversarial suite, races: a sign-in in flight while the password changes. Sign-in has one
// statement on its critical path: it reads the account (row locked) and starts the session, and
// the password is verified after it. Whatever the order, a sign-in proven only by the OLD password
// must end with no usable session and must not store a re-hash of the old password:
//   - the statement lands after the change (held by the local SQL endpoint: slow, count: 1): it
//     reads the new hash, the old password fails, and the session it started is removed;
//   - the statement ran before the change, and the change lands before the sign-in answers (its
//     answer held: answerLate): the sign-in answers 200, but the change ended that session;
//   - the statement is held past DEPENDENCY_TIMEOUT_MS: the sign-in answers 503, and the statement,
//     running after its deadline, starts nothing.
// Both backends matter (PGlite serializes statements, a real Postgres does not).
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { hashPassword, type Argon2Params } from "../../src/crypto/password";
import { call, callWithEnv, json } from "../helpers/http";
import { settle, setFault, waitForEndpoint, type Fault } from "../helpers/stack";
import { bearer, createUser, deps, login, type TestUser } from "../helpers/users";
import { challenge, code, createMfaUser, mfaLogin, stepNow, verify } from "../routes/mfa/support";

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

/** Until the login.success row of the session `sessionId` (written after the sign-in's answer) is there. */
async function waitForSignInRecorded(sessionId: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await deps().db.execute(sql`select 1 from auth_audit_logs where event_type = 'login.success' and metadata->>'sessionId' = ${sessionId}`);
    if (r.rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no login.success row for session ${sessionId}`);
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
 * Signs `user` in with its (old) password while the sign-in's statement (or its answer) is held;
 * meanwhile signs in elsewhere and changes the password. Returns the held sign-in's answer once its
 * statement has landed, and the session that changed the password.
 */
async function signInRacingChange(user: TestUser, env: Record<string, string> = {}, hold: Partial<Extract<Fault, { mode: "slow" }>> = {}) {
  await setFault("sql", { mode: "slow", delayMs: HOLD_MS, count: 1, ...hold });
  try {
    const held = callWithEnv(env, "/auth/login", { json: { email: user.email, password: user.password }, headers: nextIp() });
    // The sign-in's statement (or its answer) is now held.
    await waitForEndpoint("sql", (s) => s.faulted === 1);

    const elsewhere = await login(user, nextIp());
    // That sign-in's own re-hash (other parameters) lands just after its answer, with its audit
    // row; a change racing it would get 409 password_changed_concurrently (the change's
    // compare-and-set) and be retried. Wait for it (not for the held statement).
    await waitForSignInRecorded(elsewhere.refreshToken.split(".")[0]);
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
  // A refused sign-in removes its session just after its answer.
  await settle();
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
    it(`with ${label}: a sign-in whose statement lands after the change is refused as invalid_credentials and leaves no session`, async () => {
      const password = "Old-Password-for-race-1";
      const user = await createUser({ password, ...(rehash ? { passwordHash: await hashPassword(password, OTHER_PARAMS) } : {}) });
      const { status, body, elsewhere } = await signInRacingChange(user);

      expect(status).toBe(401);
      expect(body.error.code).toBe("invalid_credentials");
      expect(body.data).toBeUndefined();
      await expectOnlyNewPasswordWorks(user, elsewhere.refreshToken);
    });

    it(`with ${label}: a sign-in statement landing after DEPENDENCY_TIMEOUT_MS (503) starts nothing`, async () => {
      const password = "Old-Password-for-race-2";
      const user = await createUser({ password, ...(rehash ? { passwordHash: await hashPassword(password, OTHER_PARAMS) } : {}) });
      const { status, body, elsewhere } = await signInRacingChange(user, { DEPENDENCY_TIMEOUT_MS: "800" });

      expect(status).toBe(503);
      expect(body.error.code).toBe("dependency_unavailable");
      await expectOnlyNewPasswordWorks(user, elsewhere.refreshToken);
    });
  }

  it("a sign-in whose session started before the change answers 200, and the change ends that session", async () => {
    const password = "Old-Password-for-race-5";
    const user = await createUser({ password, passwordHash: await hashPassword(password, OTHER_PARAMS) });
    const { status, body, elsewhere } = await signInRacingChange(user, {}, { answerLate: true });
    expect(status).toBe(200);
    // Its tokens are dead: the session was revoked by the change, the access token with it.
    expect((await call("/auth/refresh", { json: { refreshToken: body.data.refreshToken } })).status).toBe(401);
    expect((await call("/auth/me", { headers: bearer(body.data.accessToken) })).status).toBe(401);
    // And its deferred re-hash (the stored hash had other parameters) did not write the old password back.
    await expectOnlyNewPasswordWorks(user, elsewhere.refreshToken);
  });

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
    await setFault("sql", { mode: "slow", delayMs: 300, count: 1 });
    try {
      const res = await call("/auth/login", { json: { email: user.email, password: user.password }, headers: nextIp() });
      expect(res.status).toBe(200);
      const { data } = await json(res);
      expect((await call("/auth/refresh", { json: { refreshToken: data.refreshToken } })).status).toBe(200);
    } finally {
      await setFault("sql", { mode: "none" });
    }
  });

  it("a second step begun with the old password completes nothing after the password changed (TOTP verify)", async () => {
    const user = await createMfaUser({ password: "Old-Password-for-race-4" });
    const held = await challenge(user, nextIp());
    // Elsewhere: the same user signs in fully (within 5 minutes: no step-up) and changes the password.
    const changer = await mfaLogin(user);
    const changed = await call("/auth/change-password", { json: { currentPassword: user.password, newPassword: NEW_PASSWORD }, headers: bearer(changer.accessToken) });
    expect(changed.status, await changed.clone().text()).toBe(200);
    const before = (await userState(user.id)).liveSessions;
    const res = await verify(held, "totp", await code(user.secret, stepNow() + 1));
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("invalid_credentials");
    expect((await userState(user.id)).liveSessions).toEqual(before);
    // Control: a second step begun with the new password completes.
    const fresh = await challenge({ email: user.email, password: NEW_PASSWORD }, nextIp());
    expect((await verify(fresh, "recovery_code", user.recoveryCodes[0])).status).toBe(200);
  });
});
