// Malformed bodies at the routes that answer in other protocols' shapes (the envelope suites in
// test/adversarial leave them out): /oauth/* answers RFC 6749 errors, ValidateToken Connect errors.
// Bytes that are not UTF-8, near-JSON, deep nesting (under a 1 MiB limit, so it is parsed),
// oversize bodies and other media types: always a clean 4xx in the route's own shape, never a 5xx,
// and nothing written but the audit row of a failed client authentication.
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { PLATFORM_APPLICATION_ID } from "../../../src/db/schema";
import { basic, createServiceAccount, type TestServiceAccount } from "../../helpers/applications";
import { callWithEnv } from "../../helpers/http";
import { deps } from "../../helpers/users";

let sa: TestServiceAccount;
const BIG = { MAX_BODY_BYTES: "1048576" };

beforeAll(async () => {
  sa = await createServiceAccount(PLATFORM_APPLICATION_ID);
});

const enc = new TextEncoder();
const bytes = (...parts: (string | number[])[]) => {
  const chunks = parts.map((p) => (typeof p === "string" ? enc.encode(p) : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

const ROUTES = ["/oauth/token", "/oauth/introspect", "/oauth/revoke", "/auth.v1.TokenService/ValidateToken"];

async function writes(): Promise<number> {
  const r = await deps().db.execute(
    sql`select (select count(*) from sessions) + (select count(*) from revoked_access_tokens) + (select count(*) from service_account_secrets) as n`,
  );
  return Number((r.rows[0] as { n: number }).n);
}

async function expectClean(route: string, res: Response, label: string): Promise<void> {
  const text = await res.text();
  expect(res.status, `${label} at ${route}: ${text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(res.status, `${label} at ${route}`).toBeLessThan(500);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = JSON.parse(text);
  if (route.startsWith("/oauth/")) {
    expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
    expect(body.error).toMatch(/^[a-z_]+$/);
    expect(res.headers.get("cache-control")).toBe("no-store");
  } else {
    expect(Object.keys(body).sort()).toEqual(["code", "message"]);
    expect(body.code).toMatch(/^[a-z_]+$/);
  }
  expect(text).not.toMatch(/node_modules|\.ts:\d+/);
}

describe("malformed bodies at /oauth/* and ValidateToken", () => {
  // A form decoder takes "%ZZ" literally (as URLSearchParams does): then the route decides (200 at
  // introspection and revocation: an unknown token), which is fine; only a 5xx would not be.
  const lenient = new Set(["a bad percent escape in a form"]);
  const cases: [string, Uint8Array | string, string][] = [
    ["C3 28 in JSON", bytes('{"token":"', [0xc3, 0x28], '"}'), "application/json"],
    ["a lone FF", bytes([0xff]), "application/json"],
    ["UTF-16LE with its BOM", bytes([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]), "application/json"],
    ["trailing garbage", '{"token":"x"} x', "application/json"],
    ["two documents", "{}{}", "application/json"],
    ["a JSON array", "[1,2]", "application/json"],
    ["null", "null", "application/json"],
    ["100,000 nested arrays", "[".repeat(100_000) + "]".repeat(100_000), "application/json"],
    ["100,000 nested objects", '{"a":'.repeat(100_000) + "1" + "}".repeat(100_000), "application/json"],
    ["invalid UTF-8 in a form", bytes("grant_type=client_credentials&token=", [0xc3, 0x28]), "application/x-www-form-urlencoded"],
    ["a bad percent escape in a form", "grant_type=%ZZ&token=%E0%A4%A", "application/x-www-form-urlencoded"],
    ["NUL in a form value", "grant_type=client_credentials&token=a%00b&scope=a%00", "application/x-www-form-urlencoded"],
    ["plain text", "token=x", "text/plain"],
    ["multipart without a boundary", "token=x", "multipart/form-data"],
  ];
  for (const [label, body, type] of cases) {
    it(`${label}: a clean 4xx in the route's own shape`, async () => {
      const before = await writes();
      for (const route of ROUTES) {
        // With credentials (so a body error is what remains) and, for /oauth/*, without.
        const res = await callWithEnv(BIG, route, { method: "POST", body, headers: { "content-type": type, ...basic(sa.id, sa.secret) } });
        if (lenient.has(label) && res.status === 200) continue;
        await expectClean(route, res, label);
      }
      expect(await writes()).toBe(before);
    });
  }

  it("over MAX_BODY_BYTES, with and without Content-Length: 413 in the route's shape", async () => {
    for (const route of ROUTES) {
      const res = await callWithEnv({}, route, {
        method: "POST",
        body: `token=${"a".repeat(20_000)}`,
        headers: { "content-type": "application/x-www-form-urlencoded", ...basic(sa.id, sa.secret) },
      });
      expect(res.status).toBe(413);
      await expectClean(route, res, "oversize");
    }
  });
});
