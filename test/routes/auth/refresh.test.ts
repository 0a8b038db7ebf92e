import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { call, callWithEnv, json } from "../../helpers/http";
import { auditEvents, bearer, createUser, deps, login } from "../../helpers/users";

const refreshWith = (refreshToken: string, env?: Record<string, string>) =>
  env ? callWithEnv(env, "/auth/refresh", { json: { refreshToken } }) : call("/auth/refresh", { json: { refreshToken } });

async function liveRefreshHashes(sessionId: string): Promise<{ refreshHash: string; revokedAt: unknown }> {
  const r = await deps().db.execute(sql`select refresh_hash as "refreshHash", revoked_at as "revokedAt" from sessions where id = ${sessionId}::uuid`);
  return r.rows[0] as { refreshHash: string; revokedAt: unknown };
}

describe("POST /auth/refresh", () => {
  it("rotates: a new refresh token and access token, the old one no longer current", async () => {
    const user = await createUser();
    const s = await login(user);
    const res = await refreshWith(s.refreshToken);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { data } = await json(res);
    expect(data.refreshToken).not.toBe(s.refreshToken);
    expect(data.refreshToken.split(".")[0]).toBe(s.refreshToken.split(".")[0]);
    expect(data.accessToken).not.toBe(s.accessToken);
    expect(data.tokenTransport).toBe("json");
    const me = await call("/auth/me", { headers: bearer(data.accessToken) });
    expect(me.status).toBe(200);
    // The successor works in turn.
    expect((await refreshWith(data.refreshToken)).status).toBe(200);
  });

  it("of concurrent refreshes with one token, exactly one rotates and all get the same successor", async () => {
    const user = await createUser();
    const s = await login(user);
    const answers = await Promise.all(Array.from({ length: 5 }, () => refreshWith(s.refreshToken)));
    const bodies = await Promise.all(answers.map((r) => json(r)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const successors = new Set(bodies.map((b) => b.data.refreshToken));
    expect(successors.size).toBe(1);
    const [successor] = successors;
    // One rotation: the stored hash is the successor's and the family has one live token.
    const r = await deps().db.execute(sql`select generation from sessions where id = ${s.refreshToken.split(".")[0]}::uuid`);
    expect((r.rows[0] as { generation: number }).generation).toBe(1);
    expect((await refreshWith(successor as string)).status).toBe(200);
  });

  it("answers a retry of the just-rotated token within the grace window with the same successor", async () => {
    const user = await createUser();
    const s = await login(user);
    const first = await json(await refreshWith(s.refreshToken));
    const retry = await refreshWith(s.refreshToken);
    expect(retry.status).toBe(200);
    const again = await json(retry);
    expect(again.data.refreshToken).toBe(first.data.refreshToken);
    expect(again.data.accessToken).not.toBe(first.data.accessToken);
  });

  it("treats reuse after the grace window as theft: the family is revoked and audited", async () => {
    const env = { REFRESH_REUSE_GRACE: "1s" };
    const user = await createUser();
    const s = await login(user);
    const rotated = await json(await refreshWith(s.refreshToken, env));
    await new Promise((r) => setTimeout(r, 1200));
    const reuse = await refreshWith(s.refreshToken, env);
    expect(reuse.status).toBe(401);
    expect((await json(reuse)).error.code).toBe("refresh_token_reused");
    // The whole family is gone: the successor and the access tokens of the session too.
    const successor = await refreshWith(rotated.data.refreshToken, env);
    expect(successor.status).toBe(401);
    expect((await json(successor)).error.code).toBe("session_revoked");
    const me = await call("/auth/me", { headers: bearer(rotated.data.accessToken) });
    expect(me.status).toBe(401);
    expect((await json(me)).error.code).toBe("token_revoked");
    const events = await auditEvents("refresh.reuse_detected");
    expect(events.some((e) => e.actorUserId === user.id && e.targetUserId === user.id)).toBe(true);
    expect((await liveRefreshHashes(s.refreshToken.split(".")[0])).revokedAt).not.toBeNull();
  });

  it("treats a retry within the grace window as reuse once the successor has rotated", async () => {
    const user = await createUser();
    const s = await login(user);
    const first = await json(await refreshWith(s.refreshToken));
    expect((await refreshWith(first.data.refreshToken)).status).toBe(200);
    const stale = await refreshWith(s.refreshToken);
    expect(stale.status).toBe(401);
    expect((await json(stale)).error.code).toBe("refresh_token_reused");
  });

  it("refuses malformed, unknown and forged tokens without ending the session", async () => {
    const user = await createUser();
    const s = await login(user);
    const [sid] = s.refreshToken.split(".");
    for (const token of ["garbage", `${sid}.short`, `00000000-0000-4000-8000-000000000000.${"A".repeat(43)}`, `${sid}.${"B".repeat(43)}`]) {
      const res = await refreshWith(token);
      expect(res.status).toBe(401);
      expect((await json(res)).error.code).toBe("invalid_refresh_token");
    }
    expect((await refreshWith(s.refreshToken)).status).toBe(200);
  });

  it("fails for an expired session", async () => {
    const user = await createUser();
    const s = await login(user);
    await deps().db.execute(sql`update sessions set expires_at = now() - interval '1 second' where id = ${s.refreshToken.split(".")[0]}::uuid`);
    const res = await refreshWith(s.refreshToken);
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("refresh_token_expired");
  });

  it("fails for a deactivated or unapproved user, and after a token version bump", async () => {
    for (const change of [sql`is_active = false`, sql`approval_status = 'REJECTED'`, sql`token_version = token_version + 1`]) {
      const user = await createUser();
      const s = await login(user);
      await deps().db.execute(sql`update users set ${change} where id = ${user.id}::uuid`);
      const res = await refreshWith(s.refreshToken);
      expect(res.status).toBe(401);
      expect(["account_inactive", "session_revoked"]).toContain((await json(res)).error.code);
    }
  });

  it("fails for a logged-out session", async () => {
    const user = await createUser();
    const s = await login(user);
    expect((await call("/auth/logout", { json: { refreshToken: s.refreshToken } })).status).toBe(200);
    const res = await refreshWith(s.refreshToken);
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("session_revoked");
  });

  it("asks for a token when none is sent", async () => {
    const res = await call("/auth/refresh", { json: {} });
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe("invalid_refresh_token");
  });
});

describe("reuse of earlier generations", () => {
  it("ends the family when a token from several rotations ago comes back", async () => {
    const user = await createUser();
    const s = await login(user);
    let current = s.refreshToken;
    for (let i = 0; i < 4; i++) current = (await json(await refreshWith(current))).data.refreshToken;
    const old = await refreshWith(s.refreshToken);
    expect(old.status).toBe(401);
    expect((await json(old)).error.code).toBe("refresh_token_reused");
    expect((await json(await refreshWith(current))).error.code).toBe("session_revoked");
  });
});
