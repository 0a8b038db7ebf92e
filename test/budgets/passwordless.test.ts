// DESIGN.md section 7: magic-link and email-code verify cost 1 Redis round trip (the atomic
// consume) and at most 2 SQL statements (the proof of the address, the session), with a critical
// path of at most 3 sequential waits (consume, proof, session); for an address verified before
// the link or code was sent, 1 SQL statement and a critical path of 2 (consume, session). What the request itself waited
// for is read from its Server-Timing; the endpoints' counters must agree when nothing is deferred.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { countRoundTrips } from "../helpers/stack";
import { createUser, deps } from "../helpers/users";
import { issueCode, issueLink, verifyCode, verifyJson } from "../routes/passwordless/support";

function reported(res: Response): { sql: number; redis: number; path: number } {
  const header = res.headers.get("server-timing") ?? "";
  const count = (name: string) => Number(new RegExp(`${name};dur=[\\d.]+;desc="(\\d+) round trips?"`).exec(header)?.[1]);
  const path = /path;dur=[\d.]+;desc="(\d+) sequential waits"/.exec(header);
  if (!path) throw new Error(`no critical path in Server-Timing: ${header}`);
  return { sql: count("sql"), redis: count("redis"), path: Number(path[1]) };
}

const markVerified = (id: string) => deps().db.execute(sql`update users set email_verified = true where id = ${id}::uuid`);

describe("passwordless verify round trips", () => {
  it("magic link (JSON): 1 Redis and 2 SQL for an unverified address, 1 Redis and 1 SQL (path 2) for a verified one", async () => {
    const user = await createUser();
    // Unverified, with a password set before: the proof also clears it (revocation markers written after the answer).
    const firstToken = await issueLink(user.email);
    const first = await countRoundTrips(() => verifyJson(firstToken));
    expect(first.res.status).toBe(200);
    expect(reported(first.res)).toEqual({ sql: 2, redis: 1, path: 3 });

    const token = await issueLink(user.email);
    const second = await countRoundTrips(() => verifyJson(token));
    expect(second.res.status).toBe(200);
    const own = reported(second.res);
    expect(own).toEqual({ sql: 1, redis: 1, path: 2 });
    expect(second.rt).toEqual({ sql: own.sql, redis: own.redis });
  });

  it("email code (verified address): 1 Redis, 1 SQL, path 2; a wrong code waits only on the one Redis round trip", async () => {
    const user = await createUser();
    await markVerified(user.id);
    const code = await issueCode(user.email);
    const wrong = await countRoundTrips(() => verifyCode(user.email, code === "000000" ? "000001" : "000000"));
    expect(wrong.res.status).toBe(400);
    expect(reported(wrong.res)).toEqual({ sql: 0, redis: 1, path: 1 });
    const ok = await countRoundTrips(() => verifyCode(user.email, code));
    expect(ok.res.status).toBe(200);
    const own = reported(ok.res);
    expect(own).toEqual({ sql: 1, redis: 1, path: 2 });
    expect(ok.rt).toEqual({ sql: own.sql, redis: own.redis });
  });
});
