// Adversarial suite, part 2: races. Many requests at once against one refresh token, one reset
// token, one account; logout-all racing refreshes. On PGlite the SQL endpoint serializes
// statements; on a real Postgres (DATABASE_URL) they really run concurrently, so both runs matter.
// The invariants asserted here hold for every interleaving, so the tests are not timing-dependent:
// whichever request wins, exactly one change happens and no token outlives what revoked it.
import { neon } from "@neondatabase/serverless";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { sha256 } from "../../src/crypto/random";
import { call, callWithEnv, json } from "../helpers/http";
import { withFault } from "../helpers/stack";
import { auditEvents, bearer, createUser, deps, GOOD_PASSWORD, login, outboxFor, uniqueEmail, type Session, type TestUser } from "../helpers/users";

// ---- helpers ---------------------------------------------------------------------------------

let ipCounter = 0;
/** A fresh client address per sign-in, so per-IP limits never interfere with what a test proves. */
function nextIp(): Record<string, string> {
  ipCounter += 1;
  return { "cf-connecting-ip": `10.2.${(ipCounter >> 8) & 255}.${ipCounter & 255}` };
}

const signIn = (u: TestUser): Promise<Session> => login(u, nextIp());

/** Password checks after a race try many wrong passwords on purpose: a roomy failure limit. */
const ROOMY_LIMITS = { RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL: "1000/15m" };
const passwordWorks = async (email: string, password: string): Promise<boolean> => {
  const res = await callWithEnv(ROOMY_LIMITS, "/auth/login", { json: { email, password }, headers: nextIp() });
  if (res.status !== 200 && res.status !== 401) throw new Error(`unexpected login answer ${res.status} ${await res.text()}`);
  return res.status === 200;
};

const refreshWith = (refreshToken: string) => call("/auth/refresh", { json: { refreshToken } });
const sidOf = (refreshToken: string) => refreshToken.split(".")[0];
const hashOf = (refreshToken: string) => sha256(refreshToken.split(".")[1]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  body: any;
  cacheControl: string | null;
}

async function answers(responses: (Response | Promise<Response>)[]): Promise<Answer[]> {
  return Promise.all(
    responses.map(async (p) => {
      const res = await p;
      return { status: res.status, cacheControl: res.headers.get("cache-control"), body: await json(res) };
    }),
  );
}

/** An error answer in the envelope: { error: { code, message } } with a snake_case code and nothing else leaking. */
function expectEnvelope(a: Answer, status: number, codes?: string[]): void {
  expect(a.status).toBe(status);
  expect(Object.keys(a.body)).toEqual(["error"]);
  expect(a.body.error.code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  expect(typeof a.body.error.message).toBe("string");
  if (codes) expect(codes).toContain(a.body.error.code);
  expect(JSON.stringify(a.body)).not.toMatch(/stack|NeonDbError|at \w+ \(/);
}

interface SessionRow {
  refreshHash: string;
  previousRefreshHash: string | null;
  generation: number;
  revokedAt: unknown;
  tokenVersion: number;
}

async function sessionRow(sessionId: string): Promise<SessionRow> {
  const r = await deps().db.execute(
    sql`select refresh_hash as "refreshHash", previous_refresh_hash as "previousRefreshHash", generation, revoked_at as "revokedAt",
          token_version as "tokenVersion"
        from sessions where id = ${sessionId}::uuid`,
  );
  const row = r.rows[0] as Record<string, unknown>;
  return { ...(row as unknown as SessionRow), generation: Number(row.generation), tokenVersion: Number(row.tokenVersion) };
}

async function userTokenVersion(userId: string): Promise<number> {
  const r = await deps().db.execute(sql`select token_version as v from users where id = ${userId}::uuid`);
  return Number((r.rows[0] as { v: number }).v);
}

/** Moves the session's last rotation out of the reuse grace window (as if REFRESH_REUSE_GRACE had passed). */
async function leaveGraceWindow(sessionId: string): Promise<void> {
  await deps().db.execute(sql`update sessions set rotated_at = rotated_at - interval '1 hour' where id = ${sessionId}::uuid`);
}

async function meStatus(accessToken: string): Promise<{ status: number; code?: string }> {
  const res = await call("/auth/me", { headers: bearer(accessToken) });
  return { status: res.status, code: res.status === 200 ? undefined : (await json(res)).error.code };
}

/** Runs the given starts at once, each after a small random delay, so interleavings vary between rounds. */
function jittered<T>(starts: (() => Promise<T>)[], maxDelayMs = 4): Promise<T[]> {
  return Promise.all(starts.map(async (start) => {
    const delay = Math.floor(Math.random() * (maxDelayMs + 1));
    if (delay > 0) await sleep(delay);
    return start();
  }));
}

// ---- refresh -----------------------------------------------------------------------------------

describe("concurrent refreshes with one refresh token", () => {
  it("20 at once: exactly one rotation, one successor for every 200, and afterwards only that successor is live", async () => {
    const user = await createUser();
    const s = await signIn(user);
    const sid = sidOf(s.refreshToken);

    const all = await answers(Array.from({ length: 20 }, () => refreshWith(s.refreshToken)));

    // Every answer is a 200 with the successor (the rotation itself, a lost race, or a retry within
    // the grace window), or a 401 in the envelope; never anything else.
    const ok = all.filter((a) => a.status === 200);
    for (const a of all.filter((a) => a.status !== 200)) expectEnvelope(a, 401);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    const successors = new Set(ok.map((a) => a.body.data.refreshToken as string));
    expect(successors.size).toBe(1);
    const [successor] = successors;
    expect(successor).not.toBe(s.refreshToken);
    expect(sidOf(successor)).toBe(sid);
    for (const a of ok) {
      expect(a.cacheControl).toBe("no-store");
      expect(a.body.data.tokenType).toBe("Bearer");
    }

    // Exactly one rotation: the generation advanced by one, the stored hash is the successor's and
    // the one before it is the presented token's. One column holds the one live token.
    const row = await sessionRow(sid);
    expect(row.generation).toBe(1);
    expect(row.refreshHash).toBe(await hashOf(successor));
    expect(row.previousRefreshHash).toBe(await hashOf(s.refreshToken));
    expect(row.revokedAt).toBeNull();

    // Every access token handed out belongs to the one live session.
    const accessTokens = [...new Set(ok.map((a) => a.body.data.accessToken as string))];
    for (const t of accessTokens) expect((await meStatus(t)).status).toBe(200);

    // After the grace window: every distinct token returned is live (there is only the successor),
    // the original is not: presenting it again is reuse, and it ends the family.
    await leaveGraceWindow(sid);
    const next = await refreshWith(successor);
    expect(next.status).toBe(200);
    const third = (await json(next)).data.refreshToken as string;
    const replay = (await answers([refreshWith(s.refreshToken)]))[0];
    expectEnvelope(replay, 401, ["refresh_token_reused"]);
    // The reuse ended the whole family: nothing of it works any more.
    for (const token of [successor, third]) expectEnvelope((await answers([refreshWith(token)]))[0], 401, ["session_revoked"]);
    for (const t of accessTokens) expect(await meStatus(t)).toEqual({ status: 401, code: "token_revoked" });
    expect((await auditEvents("refresh.reuse_detected")).filter((e) => e.targetUserId === user.id)).toHaveLength(1);
  });

  it("three generations in a row of 20-way races: each rotates exactly once and hands out one successor", async () => {
    const user = await createUser();
    const s = await signIn(user);
    const sid = sidOf(s.refreshToken);
    let current = s.refreshToken;
    for (let generation = 1; generation <= 3; generation++) {
      const all = await answers(Array.from({ length: 20 }, () => refreshWith(current)));
      for (const a of all.filter((a) => a.status !== 200)) expectEnvelope(a, 401);
      const successors = new Set(all.filter((a) => a.status === 200).map((a) => a.body.data.refreshToken as string));
      expect(successors.size).toBe(1);
      const [successor] = successors;
      const row = await sessionRow(sid);
      expect(row.generation).toBe(generation);
      expect(row.refreshHash).toBe(await hashOf(successor));
      expect(row.revokedAt).toBeNull();
      current = successor;
    }
    expect((await refreshWith(current)).status).toBe(200);
    expect((await auditEvents("refresh.reuse_detected")).filter((e) => e.targetUserId === user.id)).toEqual([]);
  });

  it("retries of the previous token racing rotations of its successor never leave two live tokens", async () => {
    const user = await createUser();
    const s = await signIn(user);
    const sid = sidOf(s.refreshToken);
    const first = await json(await refreshWith(s.refreshToken));
    const s1 = first.data.refreshToken as string;

    // Within the grace window, 10 retries of the original (a tab that lost the answer) race 10
    // refreshes of its successor.
    const starts = Array.from({ length: 20 }, (_, i) => () => refreshWith(i % 2 === 0 ? s.refreshToken : s1));
    const all = await answers(await jittered(starts));
    const fromOriginal = all.filter((_, i) => i % 2 === 0);
    const fromS1 = all.filter((_, i) => i % 2 === 1);

    // The successor rotated exactly once (a reuse can only be detected after that rotation, and it
    // stops any further one): generation 2 whatever the interleaving.
    const row = await sessionRow(sid);
    expect(row.generation).toBe(2);

    // Refreshes of s1 all got the same s2, or 401 once the family was ended.
    const s2s = new Set(fromS1.filter((a) => a.status === 200).map((a) => a.body.data.refreshToken as string));
    expect(s2s.size).toBe(1);
    const [s2] = s2s;
    expect(row.refreshHash).toBe(await hashOf(s2));
    for (const a of fromS1.filter((a) => a.status !== 200)) expectEnvelope(a, 401, ["session_revoked"]);
    // Retries of the original got s1 (while s1 was still current) or were caught as reuse.
    for (const a of fromOriginal) {
      if (a.status === 200) expect(a.body.data.refreshToken).toBe(s1);
      else expectEnvelope(a, 401, ["refresh_token_reused", "session_revoked"]);
    }

    await leaveGraceWindow(sid);
    if (row.revokedAt !== null) {
      // A retry of the original came after s1 had rotated: that is reuse and the family is over.
      expect(fromOriginal.some((a) => a.status === 401 && a.body.error.code === "refresh_token_reused")).toBe(true);
      for (const token of [s.refreshToken, s1, s2]) expect((await refreshWith(token)).status).toBe(401);
    } else {
      // Every retry of the original was served while s1 was current: s2 is the one live token.
      expect((await refreshWith(s2)).status).toBe(200);
      for (const token of [s1, s.refreshToken]) {
        const a = (await answers([refreshWith(token)]))[0];
        expectEnvelope(a, 401, ["refresh_token_reused", "session_revoked"]);
      }
    }
  });
});

// ---- logout-all against refresh -------------------------------------------------------------------

describe("logout-all racing refreshes", () => {
  it("10 rounds of logout-all against 1 to 5 refreshes: afterwards no token of the user works, whatever the order", async () => {
    for (let round = 0; round < 10; round++) {
      const user = await createUser();
      const count = 1 + (round % 5);
      const sessions: Session[] = [];
      for (let i = 0; i < count; i++) sessions.push(await signIn(user));
      const tokenVersionBefore = await userTokenVersion(user.id);

      const logoutAll = () => call("/auth/logout-all", { method: "POST", headers: bearer(sessions[0].accessToken) });
      const refreshes = sessions.map((s) => () => refreshWith(s.refreshToken));
      // The logout-all goes in at a different place in each round, and every start is jittered.
      const starts = [...refreshes];
      starts.splice(round % (count + 1), 0, logoutAll);
      const all = await answers(await jittered(starts));
      const logoutAnswer = all[round % (count + 1)];
      const refreshAnswers = all.filter((_, i) => i !== round % (count + 1));

      // logout-all ran with a valid token and ended every session (a refresh never ends one).
      expect(logoutAnswer.status).toBe(200);
      expect(logoutAnswer.body.data.revokedSessions).toBe(count);
      expect(await userTokenVersion(user.id)).toBe(tokenVersionBefore + 1);

      const accessTokens = sessions.map((s) => s.accessToken);
      const refreshTokens = sessions.map((s) => s.refreshToken);
      for (const [i, a] of refreshAnswers.entries()) {
        const row = await sessionRow(sidOf(sessions[i].refreshToken));
        if (a.status === 200) {
          // A refresh answered 200 only if it really rotated the session before logout-all ended it:
          // a successor that was never stored would be a token for a session that no longer exists.
          expect(row.generation).toBe(1);
          expect(row.refreshHash).toBe(await hashOf(a.body.data.refreshToken));
          accessTokens.push(a.body.data.accessToken);
          refreshTokens.push(a.body.data.refreshToken);
        } else {
          expectEnvelope(a, 401, ["session_revoked"]);
          expect(row.generation).toBe(0);
        }
        expect(row.revokedAt).not.toBeNull();
      }

      // No access token survives: not through the Redis markers, not through Postgres alone.
      for (const t of accessTokens) expect(await meStatus(t)).toEqual({ status: 401, code: "token_revoked" });
      await withFault("redis", { mode: "down" }, async () => {
        for (const t of accessTokens) expect(await meStatus(t)).toEqual({ status: 401, code: "token_revoked" });
      });
      // No refresh token survives either (every session is revoked, so none of these is a reuse).
      for (const rt of refreshTokens) expectEnvelope((await answers([refreshWith(rt)]))[0], 401, ["session_revoked"]);
      const live = await deps().db.execute(
        sql`select count(*)::int as n from sessions s join users u on u.id = s.user_id
            where s.user_id = ${user.id}::uuid and s.revoked_at is null and s.token_version = u.token_version`,
      );
      expect(Number((live.rows[0] as { n: number }).n)).toBe(0);
    }
  });

  it("a refresh held up behind a concurrent logout-all's commit answers 401, not a successor for the ended session", async () => {
    // Real Postgres only shows this interleaving when the logout-all's transaction holds the
    // session row while the refresh's statement starts: a transaction that revokes everything as
    // logout-all does and then takes a while to commit makes that window wide and certain.
    // (PGlite runs one statement at a time, so there the refresh simply comes after the commit.)
    const user = await createUser();
    const s = await signIn(user);
    const sid = sidOf(s.refreshToken);
    const client = neon(deps().config.database.url);
    const slowLogoutAll = client.transaction((tx) => [
      tx`update users set token_version = token_version + 1 where id = ${user.id}::uuid`,
      tx`update sessions set revoked_at = now(), revoked_reason = 'logout_all' where user_id = ${user.id}::uuid and revoked_at is null`,
      tx`select pg_sleep(0.6)`,
    ]);
    await sleep(150);
    const refreshed = refreshWith(s.refreshToken);
    await slowLogoutAll;
    const a = (await answers([refreshed]))[0];
    expectEnvelope(a, 401, ["session_revoked"]);
    const row = await sessionRow(sid);
    expect(row.generation).toBe(0);
    expect(row.revokedAt).not.toBeNull();
  });
});

// ---- password reset --------------------------------------------------------------------------------

describe("concurrent password-reset confirms with one token", () => {
  it("10 at once with different passwords: one 200, nine 400 invalid_reset_token, one new password in force, the token used", async () => {
    const user = await createUser();
    const a = await signIn(user);
    const b = await signIn(user);
    const issued = await callWithEnv({ EXPOSE_PASSWORD_RESET_TOKEN: "true" }, "/auth/password-reset/request", { json: { email: user.email }, headers: nextIp() });
    expect(issued.status).toBe(200);
    const token = (await json(issued)).data.token as string;

    const candidates = Array.from({ length: 10 }, (_, i) => `Racing-Granite-${i}-meadow`);
    const all = await answers(candidates.map((newPassword) => call("/auth/password-reset/confirm", { json: { token, newPassword }, headers: nextIp() })));
    const winners = all.flatMap((r, i) => (r.status === 200 ? [i] : []));
    expect(winners).toHaveLength(1);
    for (const r of all.filter((r) => r.status !== 200)) expectEnvelope(r, 400, ["invalid_reset_token"]);
    const winner = candidates[winners[0]];

    // Exactly one of the new passwords works (the winner's); the old one no longer does.
    expect(await passwordWorks(user.email, winner)).toBe(true);
    for (const p of [...candidates.filter((p) => p !== winner), user.password]) expect(await passwordWorks(user.email, p)).toBe(false);

    // The token is used, once: one completion, one token-version bump, every earlier session ended.
    const t = await deps().db.execute(sql`select used_at as "usedAt" from password_reset_tokens where token_hash = ${await sha256(token)}`);
    expect((t.rows[0] as { usedAt: unknown }).usedAt).not.toBeNull();
    expect((await auditEvents("password_reset.completed")).filter((e) => e.targetUserId === user.id)).toHaveLength(1);
    expect(await userTokenVersion(user.id)).toBe(1);
    for (const s of [a, b]) {
      expect(await meStatus(s.accessToken)).toEqual({ status: 401, code: "token_revoked" });
      expect((await refreshWith(s.refreshToken)).status).toBe(401);
    }
    const again = (await answers([call("/auth/password-reset/confirm", { json: { token, newPassword: "Another-Granite-99-meadow" } })]))[0];
    expectEnvelope(again, 400, ["invalid_reset_token"]);
    expect(await passwordWorks(user.email, winner)).toBe(true);
  });
});

// ---- change-password and registration --------------------------------------------------------------

describe("concurrent change-password with the same current password", () => {
  it("6 at once from one session: one 200, the rest 409 or 400 in the envelope, exactly one new password in force", async () => {
    const user = await createUser();
    const current = await signIn(user);
    const other = await signIn(user);
    const candidates = Array.from({ length: 6 }, (_, i) => `Parallel-Quartz-${i}-lantern`);
    const all = await answers(
      candidates.map((newPassword) =>
        call("/auth/change-password", { json: { currentPassword: user.password, newPassword }, headers: bearer(current.accessToken) }),
      ),
    );
    const winners = all.flatMap((r, i) => (r.status === 200 ? [i] : []));
    expect(winners).toHaveLength(1);
    // The losers either saw the winner's write land under them (409) or read the new hash already (400).
    for (const r of all.filter((r) => r.status !== 200)) {
      expectEnvelope(r, r.status, ["password_changed_concurrently", "invalid_current_password"]);
      expect([400, 409]).toContain(r.status);
    }
    const winner = candidates[winners[0]];
    expect(await passwordWorks(user.email, winner)).toBe(true);
    for (const p of [...candidates.filter((p) => p !== winner), user.password]) expect(await passwordWorks(user.email, p)).toBe(false);
    expect((await auditEvents("password.changed")).filter((e) => e.targetUserId === user.id)).toHaveLength(1);
    // The caller's session stays; the other one ended.
    expect((await meStatus(current.accessToken)).status).toBe(200);
    expect(await meStatus(other.accessToken)).toEqual({ status: 401, code: "token_revoked" });
  });
});

describe("concurrent registrations of one address", () => {
  it("10 at once (in varied letter case): the same 202 for all, one account, one registration event", async () => {
    const env = { PUBLIC_REGISTRATION_ENABLED: "true" };
    const email = uniqueEmail("racer");
    const variants = Array.from({ length: 10 }, (_, i) => (i % 3 === 0 ? email : i % 3 === 1 ? email.toUpperCase() : email[0].toUpperCase() + email.slice(1)));
    const registeredBefore = (await auditEvents("user.registered")).length;
    const all = await answers(
      variants.map((v) => callWithEnv(env, "/auth/register", { json: { email: v, password: GOOD_PASSWORD, fullName: "Race Runner" }, headers: nextIp() })),
    );
    expect(all.map((a) => a.status)).toEqual(Array(10).fill(202));
    expect(new Set(all.map((a) => JSON.stringify(a.body))).size).toBe(1);

    const r = await deps().db.execute(sql`select id, approval_status as "approvalStatus" from users where lower(email) = lower(${email})`);
    expect(r.rows).toHaveLength(1);
    expect((r.rows[0] as { approvalStatus: string }).approvalStatus).toBe("PENDING");
    const registered = await auditEvents("user.registered");
    expect(registered.length - registeredBefore).toBe(1);
    expect(registered.at(-1)!.targetUserId).toBe((r.rows[0] as { id: string }).id);

    // One "pending" mail for the account created, an "exists" mail for each of the others.
    const deadline = Date.now() + 3000;
    let mail = await outboxFor(email);
    while (mail.length < 10 && Date.now() < deadline) {
      await sleep(50);
      mail = await outboxFor(email);
    }
    expect(mail.filter((m) => m.kind === "registration_pending")).toHaveLength(1);
    expect(mail.filter((m) => m.kind === "registration_exists")).toHaveLength(9);
  });
});
