import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config";
import { clearOutbox, composeEmail, createEmailSender, readOutbox, sendEmail, type EmailSender } from "../../../src/services/email";
import { withFault } from "../../helpers/stack";

const e = env as unknown as Record<string, string>;
const redis = new Redis({ url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false, retry: false });

const baseEnv = {
  APP_ENV: "test",
  DATABASE_URL: "postgresql://local:local@127.0.0.1/auth",
  UPSTASH_REDIS_REST_URL: e.UPSTASH_REDIS_REST_URL,
  UPSTASH_REDIS_REST_TOKEN: e.UPSTASH_REDIS_REST_TOKEN,
  FRONTEND_URL: "https://app.example.test",
  JWT_SIGNING_KEY_PEM: "unused",
  MFA_ENCRYPTION_KEY: btoa("m".repeat(32)),
};
const ses = {
  SES_AWS_REGION: "us-east-1",
  SES_AWS_ACCESS_KEY_ID: "AKIDTEST",
  SES_AWS_SECRET_ACCESS_KEY: "s3cr3t-value",
  EMAIL_FROM: "no-reply@example.test",
};

function logger() {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: (line: Record<string, unknown>) => void lines.push(line) };
}

describe("createEmailSender", () => {
  it("uses SES when SES_* and EMAIL_FROM are set", () => {
    expect(createEmailSender(parseConfig({ ...baseEnv, ...ses }), redis).name).toBe("ses");
    expect(createEmailSender(parseConfig({ ...baseEnv, ...ses, APP_ENV: "production" }), redis).name).toBe("ses");
  });

  it("uses the outbox outside production when SES is not fully configured, with a one-time notice", () => {
    const { lines, log } = logger();
    const config = parseConfig({ ...baseEnv, ...ses, EMAIL_FROM: "" });
    expect(createEmailSender(config, redis, log).name).toBe("outbox");
    createEmailSender(config, redis, log);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "info", sender: "outbox" });
    expect(JSON.stringify(lines)).not.toContain("s3cr3t-value");
    expect(createEmailSender(parseConfig({ ...baseEnv, APP_ENV: "development" }), redis).name).toBe("outbox");
    expect(createEmailSender(parseConfig({ ...baseEnv, APP_ENV: "staging" }), redis).name).toBe("outbox");
  });

  it("is disabled in production without SES, and whenever EMAIL_ENABLED=false", async () => {
    const prod = createEmailSender(parseConfig({ ...baseEnv, APP_ENV: "production" }), redis);
    expect(prod.name).toBe("disabled");
    const off = createEmailSender(parseConfig({ ...baseEnv, ...ses, EMAIL_ENABLED: "false" }), redis);
    expect(off.name).toBe("disabled");
    await clearOutbox(redis);
    await expect(off.send(composeEmail("account_approved", "ada@example.test", parseConfig(baseEnv), {}))).resolves.toBeUndefined();
    expect(await readOutbox(redis)).toEqual([]);
  });
});

describe("sendEmail", () => {
  const config = parseConfig(baseEnv);
  const reset = composeEmail("password_reset", "ada@example.test", config, { name: "Ada", token: "sekret-token/1", validMinutes: 30 });

  it("delivers through the chosen sender and resolves true", async () => {
    await clearOutbox(redis);
    const { lines, log } = logger();
    expect(await sendEmail(createEmailSender(config, redis), reset, log)).toBe(true);
    expect(lines).toEqual([]);
    const [stored] = await readOutbox(redis, { to: "ada@example.test", kind: "password_reset" });
    expect(stored.text).toContain("https://app.example.test/reset-password?token=sekret-token%2F1");
  });

  it("never throws when the sender rejects, and logs a warning without recipient, subject, link or token", async () => {
    const failing: EmailSender = {
      name: "ses",
      send: async (m) => {
        throw new Error(`MessageRejected: Email address is not verified: ${m.to}; see https://app.example.test/reset-password?token=sekret-token%2F1 (other@example.test)`);
      },
    };
    const { lines, log } = logger();
    await expect(sendEmail(failing, reset, log)).resolves.toBe(false);
    expect(lines).toHaveLength(1);
    const line = lines[0];
    expect(line).toMatchObject({ level: "warn", msg: "email send failed", kind: "password_reset", sender: "ses" });
    expect(Object.keys(line).sort()).toEqual(["error", "kind", "level", "msg", "sender"]);
    expect(line.error).toMatch(/MessageRejected: Email address is not verified/);
    const serialized = JSON.stringify(line);
    for (const leak of ["ada@example.test", "other@example.test", "sekret", "reset-password", reset.subject, "Ada"]) {
      expect(serialized).not.toContain(leak);
    }
  });

  it("never throws for non-Error rejections or a throwing logger", async () => {
    const weird: EmailSender = { name: "outbox", send: () => Promise.reject("boom") };
    await expect(sendEmail(weird, reset, () => {
      throw new Error("logger down");
    })).resolves.toBe(false);
    const { lines, log } = logger();
    await sendEmail(weird, reset, log);
    expect(lines[0]).toMatchObject({ level: "warn", sender: "outbox", error: "boom" });
  });

  it("logs and carries on when the real Redis endpoint behind the outbox is down", async () => {
    const { lines, log } = logger();
    const sender = createEmailSender(config, redis);
    const ok = await withFault("redis", { mode: "down" }, () => sendEmail(sender, reset, log));
    expect(ok).toBe(false);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "warn", msg: "email send failed", kind: "password_reset", sender: "outbox" });
    expect(JSON.stringify(lines[0])).not.toContain("ada@example.test");
  });

  it("logs no part of the message when the Redis endpoint behind the outbox answers an error (Upstash echoes the command)", async () => {
    const { lines, log } = logger();
    const sender = createEmailSender(config, redis);
    const ok = await withFault("redis", { mode: "error", message: "injected failure" }, () => sendEmail(sender, reset, log));
    expect(ok).toBe(false);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "warn", msg: "email send failed", kind: "password_reset", sender: "outbox", error: "injected failure" });
    const serialized = JSON.stringify(lines[0]);
    for (const leak of ["ada@example.test", "sekret", "token", "reset-password", "dev:outbox", reset.subject, reset.text.slice(0, 20)]) {
      expect(serialized).not.toContain(leak);
    }
  });
});
