import { describe, expect, it } from "vitest";
import { parseConfig, parseDuration } from "../src/config";
import { callWithEnv, json } from "./helpers/http";

describe("configuration errors", () => {
  it("answers 500 config_error naming a missing required variable", async () => {
    const res = await callWithEnv({ DATABASE_URL: undefined }, "/health");
    expect(res.status).toBe(500);
    const body = await json(res);
    expect(body.error.code).toBe("config_error");
    expect(body.error.details.variables).toEqual(["DATABASE_URL"]);
    expect(body.error.message).toContain("DATABASE_URL");
  });

  it("names a malformed value", async () => {
    const res = await callWithEnv({ ACCESS_TOKEN_TTL: "fifteen minutes" }, "/.well-known/jwks.json");
    expect(res.status).toBe(500);
    expect((await json(res)).error.details.variables).toEqual(["ACCESS_TOKEN_TTL"]);
  });

  it("names an unreadable signing key without echoing it", async () => {
    const res = await callWithEnv({ JWT_SIGNING_KEY_PEM: "-----BEGIN PRIVATE KEY-----\nnot-base64!!\n-----END PRIVATE KEY-----" }, "/.well-known/jwks.json");
    expect(res.status).toBe(500);
    const body = await json(res);
    expect(body.error.code).toBe("config_error");
    expect(body.error.details.variables).toEqual(["JWT_SIGNING_KEY_PEM"]);
    expect(JSON.stringify(body)).not.toContain("not-base64");
  });

  it("refuses development-only settings in production", () => {
    expect(() =>
      parseConfig({
        APP_ENV: "production",
        DATABASE_URL: "postgres://u@h/db",
        UPSTASH_REDIS_REST_URL: "https://r.example.com",
        UPSTASH_REDIS_REST_TOKEN: "t",
        EXPOSE_PASSWORD_RESET_TOKEN: "true",
      }),
    ).toThrowError(/JWT_SIGNING_KEY_PEM.*EXPOSE_PASSWORD_RESET_TOKEN|EXPOSE_PASSWORD_RESET_TOKEN.*JWT_SIGNING_KEY_PEM/);
  });

  it("applies documented defaults", () => {
    const config = parseConfig({
      APP_ENV: "development",
      DATABASE_URL: "postgres://u@h/db",
      UPSTASH_REDIS_REST_URL: "https://r.example.com",
      UPSTASH_REDIS_REST_TOKEN: "t",
    });
    expect(config.jwt.accessTokenTtlMs).toBe(15 * 60_000);
    expect(config.refreshTokenTtlMs).toBe(720 * 3_600_000);
    expect(config.argon2).toEqual({ memoryKiB: 19456, iterations: 2, parallelism: 1, hashLength: 32 });
    expect(config.publicRegistrationEnabled).toBe(false);
    expect(config.rateLimitFailClosedLogin).toBe(true);
  });

  it("parses Go-style durations", () => {
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("10s")).toBe(10_000);
    expect(parseDuration("720h")).toBe(2_592_000_000);
    expect(parseDuration("15")).toBeNull();
    expect(parseDuration("0s")).toBeNull();
    expect(parseDuration("m15")).toBeNull();
  });
});
