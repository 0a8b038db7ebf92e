import { describe, expect, it } from "vitest";
import { call, json } from "../helpers/http";
import { roundTrips, resetRoundTrips, withFault } from "../helpers/stack";

describe("GET /health", () => {
  it("answers ok without touching SQL or Redis", async () => {
    await resetRoundTrips();
    const res = await call("/health");
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ data: { status: "ok" } });
    expect(await roundTrips()).toEqual({ sql: 0, redis: 0 });
  });
});

describe("GET /ready", () => {
  it("answers ready when SQL and Redis both answer", async () => {
    const res = await call("/ready");
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.data.status).toBe("ready");
    expect(body.data.checks.database.ok).toBe(true);
    expect(body.data.checks.redis.ok).toBe(true);
  });

  it("answers 503 naming Redis when the Redis endpoint is down", async () => {
    const res = await withFault("redis", { mode: "down" }, () => call("/ready"));
    expect(res.status).toBe(503);
    const body = await json(res);
    expect(body.error.code).toBe("not_ready");
    expect(body.error.details.failed).toEqual(["redis"]);
    expect(body.error.details.checks.database.ok).toBe(true);
    expect(body.error.message).toContain("redis");
  });

  it("answers 503 naming the database when SQL fails", async () => {
    const res = await withFault("sql", { mode: "error" }, () => call("/ready"));
    expect(res.status).toBe(503);
    expect((await json(res)).error.details.failed).toEqual(["database"]);
  });

  it("gives up on a dependency slower than READY_TIMEOUT_MS", async () => {
    const started = Date.now();
    const res = await withFault("sql", { mode: "slow", delayMs: 4000 }, () => call("/ready"));
    expect(res.status).toBe(503);
    const body = await json(res);
    expect(body.error.details.failed).toEqual(["database"]);
    expect(body.error.details.checks.database.error).toMatch(/no answer within 2000 ms/);
    expect(Date.now() - started).toBeLessThan(3900);
  });
});
