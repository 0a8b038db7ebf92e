// GET /internal/companies/resolve against the local Finance fixture (scripts/local-stack/
// finance-fixture.sql): the same SQL endpoint serves it as the database named "finance". The test
// bindings leave FINANCE_DATABASE_URL and INTERNAL_API_KEY unset; these tests opt in per call.
import { neon } from "@neondatabase/serverless";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { call, callWithEnv, json } from "../../helpers/http";
import { resetRoundTrips, resetStack, roundTrips, withFault } from "../../helpers/stack";
import { deps } from "../../helpers/users";

const KEY = "finance-internal-key-0123456789abcdef";
const FINANCE_URL = (env as unknown as Record<string, string>).TEST_FINANCE_DATABASE_URL;
const CONFIGURED = { INTERNAL_API_KEY: KEY, FINANCE_DATABASE_URL: FINANCE_URL };

/** Seeds the Finance fixture through the SQL endpoint with the production driver (no mocks). */
function finance() {
  deps(); // points the Neon driver at the local SQL endpoint (a global driver setting)
  return neon(FINANCE_URL);
}

async function addCompany(code: string, name: string, id: string = crypto.randomUUID()): Promise<string> {
  await finance().query(`insert into "Company" ("id", "code", "name") values ($1, $2, $3)`, [id, code, name]);
  return id;
}

function resolve(raw: string | null, overrides: Record<string, string | undefined> = {}, key: string | null = KEY) {
  const query = raw === null ? "" : `?raw=${encodeURIComponent(raw)}`;
  return callWithEnv({ ...CONFIGURED, ...overrides }, `/internal/companies/resolve${query}`, {
    headers: key === null ? {} : { "X-Internal-API-Key": key },
  });
}

function sqlRoundTripsOf(res: Response): number {
  const m = /sql;dur=[\d.]+;desc="(\d+) round trips"/.exec(res.headers.get("server-timing") ?? "");
  if (!m) throw new Error(`no sql entry in Server-Timing: ${res.headers.get("server-timing")}`);
  return Number(m[1]);
}

async function res404(res: Response): Promise<void> {
  expect(res.status).toBe(404);
  expect((await json(res)).error.code).toBe("company_not_found");
}

beforeEach(async () => {
  await resetStack();
});

describe("GET /internal/companies/resolve: matching", () => {
  it("resolves an existing company id (any case) to itself", async () => {
    const id = await addCompany("ACME", "Acme Ltd");
    for (const raw of [id, id.toUpperCase(), `  ${id} `]) {
      const res = await resolve(raw);
      expect(res.status).toBe(200);
      expect(await json(res)).toEqual({ data: { companyId: id, code: "ACME", name: "Acme Ltd", matchedBy: "id" } });
    }
    await res404(await resolve(crypto.randomUUID()));
  });

  it("resolves a code, case-insensitively", async () => {
    const id = await addCompany("ACME", "Acme Ltd");
    for (const raw of ["ACME", "acme", "AcMe"]) {
      const res = await resolve(raw);
      expect(res.status).toBe(200);
      expect((await json(res)).data).toEqual({ companyId: id, code: "ACME", name: "Acme Ltd", matchedBy: "code" });
    }
  });

  it("resolves a name, case-insensitively", async () => {
    const id = await addCompany("INI", "Initech Holdings");
    const res = await resolve("initech HOLDINGS");
    expect(res.status).toBe(200);
    expect((await json(res)).data).toEqual({ companyId: id, code: "INI", name: "Initech Holdings", matchedBy: "name" });
  });

  it("prefers a code match over another company's name", async () => {
    const byCode = await addCompany("NORTH", "Northwind Traders");
    await addCompany("NW2", "north");
    const res = await resolve("North");
    expect(res.status).toBe(200);
    expect((await json(res)).data).toMatchObject({ companyId: byCode, matchedBy: "code" });
  });

  it("answers 409 company_ambiguous for names differing only in case, unless one is the input as typed", async () => {
    const a = await addCompany("GLX1", "Globex");
    const b = await addCompany("GLX2", "GLOBEX");
    const res = await resolve("globex");
    expect(res.status).toBe(409);
    const body = await json(res);
    expect(body.error.code).toBe("company_ambiguous");
    expect(body.error.details.candidates.map((c: { companyId: string }) => c.companyId).sort()).toEqual([a, b].sort());

    const exact = await resolve("GLOBEX");
    expect(exact.status).toBe(200);
    expect((await json(exact)).data).toMatchObject({ companyId: b, matchedBy: "name" });
  });

  it("answers 404 company_not_found for an unknown id, code or name", async () => {
    await addCompany("ACME", "Acme Ltd");
    for (const raw of [crypto.randomUUID(), "NOPE", "Acme Inc"]) {
      const res = await resolve(raw);
      expect(res.status).toBe(404);
      expect((await json(res)).error.code).toBe("company_not_found");
    }
  });

  it("refuses a missing, blank or overlong raw with 400 validation_error", async () => {
    for (const raw of [null, "", "   ", "x".repeat(201)]) {
      const res = await resolve(raw);
      expect(res.status).toBe(400);
      const body = await json(res);
      expect(body.error.code).toBe("validation_error");
      expect(body.error.fields[0].field).toBe("raw");
    }
  });
});

describe("GET /internal/companies/resolve: cache", () => {
  it("answers a repeated lookup from Redis without a SQL round trip", async () => {
    const id = await addCompany("ACME", "Acme Ltd");
    await resetRoundTrips();
    const first = await resolve("acme");
    expect(first.status).toBe(200);
    expect(sqlRoundTripsOf(first)).toBe(1);
    expect(await roundTrips()).toEqual({ sql: 1, redis: 2 }); // GET (miss), SELECT, SET

    await resetRoundTrips();
    const second = await resolve("acme");
    expect(second.status).toBe(200);
    expect((await json(second)).data).toEqual({ companyId: id, code: "ACME", name: "Acme Ltd", matchedBy: "code" });
    expect(sqlRoundTripsOf(second)).toBe(0);
    expect(await roundTrips()).toEqual({ sql: 0, redis: 1 });
  });

  it("keeps a miss for FINANCE_NEGATIVE_CACHE_TTL, then looks again", async () => {
    const ttl = { FINANCE_NEGATIVE_CACHE_TTL: "700ms" };
    await res404(await resolve("LATE", ttl));
    const id = await addCompany("LATE", "Late Arrival");

    await resetRoundTrips();
    const cached = await resolve("LATE", ttl);
    await res404(cached);
    expect(sqlRoundTripsOf(cached)).toBe(0);
    expect((await roundTrips()).sql).toBe(0);

    await new Promise((r) => setTimeout(r, 900));
    const fresh = await resolve("LATE", ttl);
    expect(fresh.status).toBe(200);
    expect((await json(fresh)).data.companyId).toBe(id);
  });

  it("keeps a hit for FINANCE_CACHE_TTL even when Finance changes meanwhile", async () => {
    const id = await addCompany("ACME", "Acme Ltd");
    const ttl = { FINANCE_CACHE_TTL: "700ms" };
    expect((await resolve("ACME", ttl)).status).toBe(200);
    await finance().query(`update "Company" set "code" = 'ACME2' where "id" = $1`, [id]);
    expect((await resolve("ACME", ttl)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 900));
    await res404(await resolve("ACME", ttl));
  });

  it("does not cache an ambiguous answer", async () => {
    await addCompany("GLX1", "Globex");
    await addCompany("GLX2", "GLOBEX");
    expect((await resolve("globex")).status).toBe(409);
    await resetRoundTrips();
    expect((await resolve("globex")).status).toBe(409);
    expect((await roundTrips()).sql).toBe(1);
  });

  it("still resolves from Finance when Redis is down (the cache is optional)", async () => {
    const id = await addCompany("ACME", "Acme Ltd");
    const res = await withFault("redis", { mode: "down" }, () => resolve("ACME"));
    expect(res.status).toBe(200);
    expect((await json(res)).data.companyId).toBe(id);
  });
});

describe("GET /internal/companies/resolve: configuration and access", () => {
  it("answers 503 finance_not_configured without FINANCE_DATABASE_URL", async () => {
    const res = await resolve("ACME", { FINANCE_DATABASE_URL: undefined });
    expect(res.status).toBe(503);
    const body = await json(res);
    expect(body.error.code).toBe("finance_not_configured");
    expect(body.error.message).toContain("FINANCE_DATABASE_URL");
  });

  it("answers 500 config_error for a FINANCE_DATABASE_URL that is not a connection string", async () => {
    const res = await resolve("ACME", { FINANCE_DATABASE_URL: "finance.example.com" });
    expect(res.status).toBe(500);
    expect((await json(res)).error.details.variables).toEqual(["FINANCE_DATABASE_URL"]);
  });

  it("answers 503 dependency_unavailable (finance) when the Finance schema cannot be read", async () => {
    // A database the endpoint does not route to Finance: the Auth database, which has no "Company".
    const res = await resolve("ACME", { FINANCE_DATABASE_URL: "postgresql://local:local@127.0.0.1/not_finance" });
    expect(res.status).toBe(503);
    const body = await json(res);
    expect(body.error.code).toBe("dependency_unavailable");
    expect(body.error.details.dependency).toBe("finance");
  });

  it("answers 401 invalid_api_key without or with a wrong X-Internal-API-Key", async () => {
    for (const key of [null, "wrong-key-0123456789abcdef0123456789"]) {
      const res = await resolve("ACME", {}, key);
      expect(res.status).toBe(401);
      expect((await json(res)).error.code).toBe("invalid_api_key");
    }
  });

  it("is absent (404 not_found) when INTERNAL_API_KEY is unset, before any lookup", async () => {
    await resetRoundTrips();
    const res = await resolve("ACME", { INTERNAL_API_KEY: undefined });
    expect(res.status).toBe(404);
    expect((await json(res)).error.code).toBe("not_found");
    expect(await roundTrips()).toEqual({ sql: 0, redis: 0 });
    // The default test bindings have neither key nor Finance.
    expect((await call("/internal/companies/resolve?raw=ACME", { headers: { "X-Internal-API-Key": KEY } })).status).toBe(404);
  });

  it("is in the OpenAPI document as a machine route", async () => {
    const doc = await json(await call("/openapi.json"));
    const op = doc.paths["/internal/companies/resolve"].get;
    expect(op.tags).toEqual(["internal-machine"]);
    expect(op.security).toEqual([{ InternalApiKey: [] }]);
  });
});

describe("GET /ready with Finance configured", () => {
  it("checks Finance too, and only when configured", async () => {
    const res = await callWithEnv({ FINANCE_DATABASE_URL: FINANCE_URL }, "/ready");
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(Object.keys(body.data.checks).sort()).toEqual(["database", "finance", "redis"]);
    expect(body.data.checks.finance.ok).toBe(true);

    const plain = await json(await call("/ready"));
    expect(Object.keys(plain.data.checks).sort()).toEqual(["database", "redis"]);
  });

  it("names Finance among the failures when its SQL does not answer", async () => {
    const res = await withFault("sql", { mode: "error" }, () => callWithEnv({ FINANCE_DATABASE_URL: FINANCE_URL }, "/ready"));
    expect(res.status).toBe(503);
    expect((await json(res)).error.details.failed.sort()).toEqual(["database", "finance"]);
  });
});
