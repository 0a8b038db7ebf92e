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

  it("requires MFA_ENCRYPTION_KEY in production, checks its size and the retired keys, and uses a development key elsewhere", () => {
    const base = { DATABASE_URL: "postgres://u@h/db", UPSTASH_REDIS_REST_URL: "https://r.example.com", UPSTASH_REDIS_REST_TOKEN: "t", JWT_SIGNING_KEY_PEM: "x" };
    expect(() => parseConfig({ ...base, APP_ENV: "production" })).toThrowError(/MFA_ENCRYPTION_KEY: is required/);
    expect(() => parseConfig({ ...base, APP_ENV: "production", MFA_ENCRYPTION_KEY: btoa("short") })).toThrowError(/MFA_ENCRYPTION_KEY: must be 32 bytes/);
    const key = btoa("k".repeat(32));
    const prod = parseConfig({ ...base, APP_ENV: "production", MFA_ENCRYPTION_KEY: key, MFA_ENCRYPTION_KEY_ID: "k2", MFA_ENCRYPTION_RETIRED_KEYS: `k1:${btoa("o".repeat(32))}` });
    expect(prod.mfa.encryptionKey).toEqual({ id: "k2", key });
    expect(prod.mfa.retiredEncryptionKeys).toEqual([{ id: "k1", key: btoa("o".repeat(32)) }]);
    expect(() => parseConfig({ ...base, APP_ENV: "production", MFA_ENCRYPTION_KEY: key, MFA_ENCRYPTION_RETIRED_KEYS: `1:${key}` })).toThrowError(/MFA_ENCRYPTION_RETIRED_KEYS/);
    expect(() => parseConfig({ ...base, APP_ENV: "production", MFA_ENCRYPTION_KEY: key, MFA_ENCRYPTION_RETIRED_KEYS: "nocolon" })).toThrowError(/MFA_ENCRYPTION_RETIRED_KEYS/);
    expect(parseConfig({ ...base, APP_ENV: "development" }).mfa.encryptionKey.id).toBe("dev");
  });

  it("turns a social provider on only with its credentials, and names the missing half", () => {
    const base = { APP_ENV: "development", DATABASE_URL: "postgres://u@h/db", UPSTASH_REDIS_REST_URL: "https://r.example.com", UPSTASH_REDIS_REST_TOKEN: "t" };
    const none = parseConfig(base);
    expect(none.social).toEqual({ google: undefined, github: undefined, microsoft: undefined, apple: undefined });
    expect(() => parseConfig({ ...base, GOOGLE_CLIENT_ID: "id" })).toThrowError(/GOOGLE_CLIENT_SECRET: is required with GOOGLE_CLIENT_ID/);
    expect(() => parseConfig({ ...base, APPLE_CLIENT_ID: "id" })).toThrowError(/APPLE_TEAM_ID/);
    const ms = parseConfig({ ...base, MICROSOFT_CLIENT_ID: "id", MICROSOFT_CLIENT_SECRET: "s" }).social.microsoft;
    expect(ms).toEqual({ clientId: "id", clientSecret: "s", tenantId: "common", issuer: "https://login.microsoftonline.com/common/v2.0" });
    const gh = parseConfig({ ...base, GITHUB_CLIENT_ID: "id", GITHUB_CLIENT_SECRET: "s", GITHUB_BASE_URL: "https://ghe.example.com/" }).social.github;
    expect(gh).toEqual({ clientId: "id", clientSecret: "s", baseUrl: "https://ghe.example.com", apiUrl: "https://api.github.com" });
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
    expect(config.verification.emailTtlMs).toBe(24 * 3_600_000);
    expect(config.verification.magicLinkTtlMs).toBe(15 * 60_000);
    expect(config.verification.emailOtpTtlMs).toBe(10 * 60_000);
    expect(config.mfa.stepUpTtlMs).toBe(5 * 60_000);
    expect(config.mfa.rememberDays).toBe(30);
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
