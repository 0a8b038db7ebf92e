// Identity and stored text under generated input (DESIGN.md §5, §8):
//   - one address is one account: addresses that differ only in letter case or in Unicode
//     normalisation form (NFC / NFD) register or are created once, the stored address is the NFC
//     form first given, and sign-in works with any variant. That is what the service intends
//     (src/services/auth/common.ts normalizeEmail: trim + NFC; users.lower(email) is unique).
//     Compatibility forms are NOT folded (no NFKC): a fullwidth "ａ" is another address, as it is for
//     a mail server, so it is another account; the last test pins that decision.
//   - hostile text (SQL, script, template, path, control characters) in every free-text field a
//     client can write (fullName, phoneNumber via register, staff create and update; company names
//     via Finance) is stored and returned exactly as sent (after the documented trim of surrounding
//     whitespace), searched as data, and executed nowhere: every table still exists afterwards.
//   - text Postgres cannot store (U+0000, unpaired surrogates) is refused as a validation error
//     naming the field, and nothing is written (this was a 500 before; see src/http/openapi.ts).
import { neon } from "@neondatabase/serverless";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { GOOD_PASSWORD, deps } from "../helpers/users";
import {
  assertNothingWritten,
  checkAnswer,
  createActors,
  freshIp,
  MACHINE_KEY,
  publicTables,
  request,
  SEED,
  send,
  snapshot,
  type Actors,
} from "./input-support";

const NUM_RUNS = 25;
let actors: Actors;
let tablesAtStart: string[];

beforeAll(async () => {
  actors = await createActors();
  tablesAtStart = await publicTables();
  expect(tablesAtStart).toEqual(expect.arrayContaining(["users", "sessions", "auth_audit_logs", "password_reset_tokens"]));
});

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter += 1)}`;

async function api(method: string, path: string, body?: unknown, opts: { token?: string | null; ip?: string } = {}): Promise<{ status: number; code: string | null; body: any }> {
  const headers = new Headers({ "cf-connecting-ip": opts.ip ?? freshIp() });
  const token = opts.token === undefined ? actors.staff.accessToken : opts.token;
  if (token) headers.set("authorization", `Bearer ${token}`);
  if (body !== undefined) headers.set("content-type", "application/json");
  const res = await send("configured", request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
  return checkAnswer(res, method, () => `${method} ${path} ${JSON.stringify(body)?.slice(0, 300)}`);
}

async function rowsFor(email: string): Promise<{ id: string; email: string }[]> {
  const r = await deps().db.execute(sql`select id, email from users where lower(email) = lower(${email.normalize("NFC")})`);
  return r.rows as { id: string; email: string }[];
}

// ---- one address, one account -----------------------------------------------------------------

/**
 * Letters whose case mapping is one code point each way and round-trips (so "differs only in
 * case" is well defined and Postgres' lower() agrees with it): ASCII, Latin-1, Greek, Cyrillic,
 * many with canonical decompositions (é, Å, Ç, Й...). Excluded by the filter: ß, ſ, ς, µ, ı, ÿ-like
 * one-way mappings.
 */
const LETTERS = (() => {
  const out: string[] = [];
  const ranges: [number, number][] = [
    [0x41, 0x5a],
    [0x61, 0x7a],
    [0xc0, 0xff],
    [0x391, 0x3a9],
    [0x3b1, 0x3c9],
    [0x400, 0x44f],
  ];
  for (const [from, to] of ranges) {
    for (let c = from; c <= to; c++) {
      const ch = String.fromCodePoint(c);
      const up = ch.toUpperCase();
      const low = ch.toLowerCase();
      if (!/\p{L}/u.test(ch) || [...up].length !== 1 || [...low].length !== 1) continue;
      if (up.toLowerCase() !== low || low.toUpperCase() !== up) continue;
      out.push(ch);
    }
  }
  return out;
})();

interface Variant {
  /** Per character: upper case? */
  upper: boolean[];
  form: "NFC" | "NFD";
}

function variant(local: string, domain: string, v: Variant): string {
  const chars = [...`${local}@${domain}`];
  return chars.map((c, i) => (v.upper[i % v.upper.length] ? c.toUpperCase() : c.toLowerCase())).join("").normalize(v.form);
}

const variantArb = fc.record({ upper: fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), form: fc.constantFrom<"NFC" | "NFD">("NFC", "NFD") });
const localArb = fc.array(fc.constantFrom(...LETTERS), { minLength: 2, maxLength: 12 }).map((cs) => cs.join(""));

describe("one address, one account: letter case and Unicode normalisation form", () => {
  it("uses letters with canonical decompositions, so NFC and NFD really differ", () => {
    expect(LETTERS.length).toBeGreaterThan(150);
    expect(LETTERS.filter((c) => c.normalize("NFD") !== c).length).toBeGreaterThan(40);
    expect(LETTERS).not.toContain("ß");
    expect(LETTERS).not.toContain("ς");
  });

  it("staff create, then any variant: create again is 409 email_taken, register adds nothing, sign-in works", async () => {
    await fc.assert(
      fc.asyncProperty(localArb, fc.tuple(variantArb, variantArb, variantArb, variantArb), async (local, [a, b, c, d]) => {
        const tag = unique();
        const base = `${local}.${tag}`;
        const domain = "Example.COM";
        const [va, vb, vc, vd] = [a, b, c, d].map((v) => variant(base, domain, v));
        const created = await api("POST", "/internal/users", { email: va, password: GOOD_PASSWORD });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        const id = created.body.data.id;
        expect(created.body.data.email).toBe(va.normalize("NFC"));

        const again = await api("POST", "/internal/users", { email: vb, password: GOOD_PASSWORD });
        expect([again.status, again.code]).toEqual([409, "email_taken"]);

        const registered = await api("POST", "/auth/register", { email: vc, password: "Another-Secret-pass-93" }, { token: null });
        expect(registered.status).toBe(202);

        const rows = await rowsFor(va);
        expect(rows).toEqual([{ id, email: va.normalize("NFC") }]);

        const signedIn = await api("POST", "/auth/login", { email: vd, password: GOOD_PASSWORD }, { token: null });
        expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(200);
        expect(signedIn.body.data.user.id).toBe(id);
        // The password the register attempt sent did not replace it.
        const other = await api("POST", "/auth/login", { email: vd, password: "Another-Secret-pass-93" }, { token: null });
        expect([other.status, other.code]).toEqual([401, "invalid_credentials"]);
      }),
      { seed: SEED, numRuns: NUM_RUNS },
    );
  });

  it("register, then any variant: register again adds nothing, staff create is 409, sign-in finds the same (pending) account", async () => {
    await fc.assert(
      fc.asyncProperty(localArb, fc.tuple(variantArb, variantArb, variantArb, variantArb), async (local, [a, b, c, d]) => {
        const base = `${local}.${unique()}`;
        const [va, vb, vc, vd] = [a, b, c, d].map((v) => variant(base, "example.com", v));
        expect((await api("POST", "/auth/register", { email: va, password: GOOD_PASSWORD }, { token: null })).status).toBe(202);
        const [row] = await rowsFor(va);
        expect(row.email).toBe(va.normalize("NFC"));

        expect((await api("POST", "/auth/register", { email: vb, password: "Another-Secret-pass-93" }, { token: null })).status).toBe(202);
        const created = await api("POST", "/internal/users", { email: vc, password: GOOD_PASSWORD });
        expect([created.status, created.code]).toEqual([409, "email_taken"]);
        expect(await rowsFor(va)).toEqual([row]);

        // Pending approval is only told after the right password: so this is the first account's password.
        const signIn = await api("POST", "/auth/login", { email: vd, password: GOOD_PASSWORD }, { token: null });
        expect([signIn.status, signIn.code]).toEqual([403, "pending_approval"]);
        const wrong = await api("POST", "/auth/login", { email: vd, password: "Another-Secret-pass-93" }, { token: null });
        expect([wrong.status, wrong.code]).toEqual([401, "invalid_credentials"]);
      }),
      { seed: SEED + 1, numRuns: NUM_RUNS },
    );
  });

  it("does not fold compatibility forms: a fullwidth address is another address (and another account)", async () => {
    const tag = unique();
    const ascii = `abc.${tag}@example.com`;
    const fullwidth = `ａｂｃ.${tag}@example.com`; // U+FF41.. : NFKC would make it `ascii`; NFC leaves it alone
    expect(fullwidth.normalize("NFKC")).toBe(ascii);
    expect(fullwidth.normalize("NFC")).toBe(fullwidth);
    const first = await api("POST", "/internal/users", { email: ascii, password: GOOD_PASSWORD });
    const second = await api("POST", "/internal/users", { email: fullwidth, password: GOOD_PASSWORD });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.data.id).not.toBe(first.body.data.id);
    expect(second.body.data.email).toBe(fullwidth);
  });
});

// ---- hostile text is data --------------------------------------------------------------------------

const FRAGMENTS = [
  "'); drop table users; --",
  "Robert'); DROP TABLE sessions;--",
  "' or '1'='1",
  "\\'; select pg_sleep(10); --",
  "$$; truncate auth_audit_logs; $$",
  "E'\\x41'",
  "<script>alert(1)</script>",
  '"><img src=x onerror=alert(document.cookie)>',
  "javascript:alert(1)",
  "{{7*7}}",
  "${7*7}",
  "#{7*7}",
  "<%= 7*7 %>",
  "{{constructor.constructor('return process')()}}",
  "../../../../etc/passwd",
  "%00",
  "%s%n%x",
  "\u0001\u0008\u001b[31mred\u001b[0m\u007f",
  "line\nbreak\r\n\ttab",
  "\u202eRTL\u200b\u200d",
  "👩🏽‍💻 ñ é 中文 עברית",
  "\\u0000",
  "NULL",
  "null",
];

/** Text a client may send: fragments glued together with arbitrary (storable) text. */
const hostileText = (max: number) =>
  fc
    .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ unit: "binary", maxLength: 12 }), fc.string({ unit: "grapheme", maxLength: 8 })), { minLength: 1, maxLength: 6 })
    .map((parts) => parts.join(""))
    .map((s) => s.replace(/\u0000/g, "\u2400")) // U+0000 is refused (see below), not stored
    .filter((s) => [...s].length <= max && s.length <= max && s.trim() !== "");

/** What the service stores for free text: surrounding whitespace trimmed (blankToNull). */
const stored = (s: string) => s.trim();

describe("hostile text is stored and returned verbatim, and executed nowhere", () => {
  it("staff create and update: fullName and phoneNumber round-trip exactly, search treats them as data", async () => {
    await fc.assert(
      fc.asyncProperty(hostileText(200), hostileText(50), hostileText(200), async (fullName, phoneNumber, renamed) => {
        const email = `payload.${unique()}@example.com`;
        const created = await api("POST", "/internal/users", { email, password: GOOD_PASSWORD, fullName, phoneNumber });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        expect(created.body.data.fullName).toBe(stored(fullName));
        expect(created.body.data.phoneNumber).toBe(stored(phoneNumber));
        const id = created.body.data.id;

        const read = await api("GET", `/internal/users/${id}`);
        expect(read.body.data).toMatchObject({ fullName: stored(fullName), phoneNumber: stored(phoneNumber) });

        // The user sees the same through /auth/me.
        const login = await api("POST", "/auth/login", { email, password: GOOD_PASSWORD }, { token: null });
        expect(login.status).toBe(200);
        expect(login.body.data.user.fullName).toBe(stored(fullName));
        const me = await api("GET", "/auth/me", undefined, { token: login.body.data.accessToken });
        expect(me.body.data).toMatchObject({ fullName: stored(fullName), phoneNumber: stored(phoneNumber) });

        // Searching with the payload is a substring match on data: exactly the users a bound-parameter
        // query of the same condition finds (no injection widens, narrows or breaks it).
        const q = stored(fullName);
        const foundIds: string[] = [];
        let cursor: string | null = null;
        do {
          const page = await api("GET", `/internal/users?q=${encodeURIComponent(q)}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
          expect(page.status, JSON.stringify(page.body)).toBe(200);
          foundIds.push(...page.body.data.users.map((u: { id: string }) => u.id));
          cursor = page.body.data.nextCursor;
        } while (cursor);
        expect(foundIds).toContain(id);
        const expected = await deps().db.execute(
          sql`select id from users where strpos(lower(email), lower(${q})) > 0 or strpos(lower(coalesce(full_name, '')), lower(${q})) > 0`,
        );
        expect(foundIds.sort()).toEqual((expected.rows as { id: string }[]).map((r) => r.id).sort());

        const updated = await api("PATCH", `/internal/users/${id}`, { fullName: renamed });
        expect(updated.status, JSON.stringify(updated.body)).toBe(200);
        expect(updated.body.data.fullName).toBe(stored(renamed));
        expect((await api("GET", `/internal/users/${id}`)).body.data.fullName).toBe(stored(renamed));
      }),
      { seed: SEED + 2, numRuns: NUM_RUNS },
    );
    expect(await publicTables()).toEqual(tablesAtStart);
  });

  it("register: fullName and phoneNumber are stored exactly as sent", async () => {
    await fc.assert(
      fc.asyncProperty(hostileText(200), hostileText(50), async (fullName, phoneNumber) => {
        const email = `register.${unique()}@example.com`;
        const res = await api("POST", "/auth/register", { email, password: GOOD_PASSWORD, fullName, phoneNumber }, { token: null });
        expect(res.status).toBe(202);
        const [row] = await rowsFor(email);
        const read = await api("GET", `/internal/users/${row.id}`);
        expect(read.body.data).toMatchObject({ email, fullName: stored(fullName), phoneNumber: stored(phoneNumber), approvalStatus: "PENDING" });
      }),
      { seed: SEED + 3, numRuns: NUM_RUNS },
    );
    expect(await publicTables()).toEqual(tablesAtStart);
  });

  it("Finance company names: resolved by name and returned exactly; Finance's tables survive", async () => {
    deps(); // points the Neon driver at the local SQL endpoint
    const finance = neon((env as unknown as Record<string, string>).TEST_FINANCE_DATABASE_URL);
    const resolve = async (raw: string) => {
      const res = await send(
        "configured",
        request(`/internal/companies/resolve?raw=${encodeURIComponent(raw)}`, { headers: { "x-internal-api-key": MACHINE_KEY } }),
      );
      return checkAnswer(res, "GET", () => `resolve ${raw}`);
    };
    await fc.assert(
      fc.asyncProperty(hostileText(120), async (name) => {
        const code = `C${unique()}`;
        const id = crypto.randomUUID();
        await finance.query(`insert into "Company" ("id", "code", "name") values ($1, $2, $3)`, [id, code, `${stored(name)} ${code}`]);
        const byName = await resolve(`${stored(name)} ${code}`);
        expect(byName.status, JSON.stringify(byName.body)).toBe(200);
        expect(byName.body.data).toEqual({ companyId: id, code, name: `${stored(name)} ${code}`, matchedBy: "name" });
        // The payload alone names no company (it is compared, never run).
        const alone = await resolve(stored(name));
        expect([404, 409]).toContain(alone.status);
      }),
      { seed: SEED + 4, numRuns: NUM_RUNS },
    );
    const tables = await finance.query(`select table_name from information_schema.tables where table_schema = 'public' order by 1`);
    expect(tables.map((t: Record<string, unknown>) => t.table_name)).toEqual(expect.arrayContaining(["Company", "BusinessUnit", "User"]));
  });
});

describe("text that cannot be stored is refused, not a 500", () => {
  const UNSTORABLE = ["a\u0000b", "\u0000", "x\ud800y", "\udfff", "\udc00\ud800", "ok\ud83d"];

  it("in every writable text field and lookup: 400 validation_error naming the field, nothing written", async () => {
    const target = actors.victim;
    for (const bad of UNSTORABLE) {
      const cases: [string, string, unknown, string, string | null][] = [
        ["POST", "/internal/users", { email: `nul.${unique()}@example.com`, password: GOOD_PASSWORD, fullName: bad }, "fullName", actors.staff.accessToken],
        ["POST", "/internal/users", { email: `nul.${unique()}@example.com`, password: GOOD_PASSWORD, phoneNumber: bad }, "phoneNumber", actors.staff.accessToken],
        ["POST", "/internal/users", { email: `${bad}.${unique()}@example.com`, password: GOOD_PASSWORD }, "email", actors.staff.accessToken],
        ["PATCH", `/internal/users/${target.id}`, { fullName: bad }, "fullName", actors.staff.accessToken],
        ["POST", "/auth/register", { email: `nul.${unique()}@example.com`, password: GOOD_PASSWORD, fullName: bad }, "fullName", null],
        ["POST", "/auth/register", { email: `${bad}@example.com`, password: GOOD_PASSWORD }, "email", null],
        ["POST", "/auth/login", { email: `${bad}@example.com`, password: GOOD_PASSWORD }, "email", null],
        ["POST", "/auth/login", { email: target.email, password: `${GOOD_PASSWORD}${bad}` }, "password", null],
        ["POST", "/auth/password-reset/request", { email: `${bad}@example.com` }, "email", null],
      ];
      for (const [method, path, body, field, token] of cases) {
        const before = await snapshot();
        const answer = await api(method, path, body, { token });
        expect({ method, path, field, status: answer.status, code: answer.code }).toEqual({ method, path, field, status: 400, code: "validation_error" });
        expect(answer.body.error.fields.map((f: { field: string }) => f.field)).toEqual([field]);
        assertNothingWritten(before, await snapshot(), "none", () => `${method} ${path} ${field}=${JSON.stringify(bad)}`);
      }
    }
    // A query string carries U+0000 as %00 (a surrogate cannot be percent-encoded as UTF-8 at all).
    for (const bad of UNSTORABLE.filter((b) => b.includes("\u0000"))) {
      for (const query of [`/internal/users?q=${encodeURIComponent(bad)}`, `/internal/audit-events?eventType=${encodeURIComponent(bad)}`]) {
        const answer = await api("GET", query);
        expect([answer.status, answer.code], query).toEqual([400, "validation_error"]);
      }
      const resolved = await checkAnswer(
        await send("configured", request(`/internal/companies/resolve?raw=${encodeURIComponent(bad)}`, { headers: { "x-internal-api-key": MACHINE_KEY } })),
        "GET",
        () => `resolve ${JSON.stringify(bad)}`,
      );
      expect([resolved.status, resolved.code]).toEqual([400, "validation_error"]);
    }
  });
});
