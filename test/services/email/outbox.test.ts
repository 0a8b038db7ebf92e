import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { beforeEach, describe, expect, it } from "vitest";
import {
  clearOutbox,
  OUTBOX_KEY,
  OUTBOX_MAX_MESSAGES,
  OUTBOX_TTL_SECONDS,
  OutboxEmailSender,
  readOutbox,
} from "../../../src/services/email/outbox";
import type { EmailMessage } from "../../../src/services/email/sender";

const e = env as unknown as Record<string, string>;
const redis = new Redis({ url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false });

function msg(over: Partial<EmailMessage> = {}): EmailMessage {
  return { kind: "password_reset", to: "ada@example.test", subject: "Reset", text: "text", html: "<p>html</p>", ...over };
}

beforeEach(async () => {
  await clearOutbox(redis);
});

describe("development outbox", () => {
  it("stores messages in Redis and reads them back newest last, filtered by recipient and kind", async () => {
    let now = Date.parse("2025-01-01T00:00:00Z");
    const sender = new OutboxEmailSender(redis, { now: () => now });
    expect(sender.name).toBe("outbox");

    await sender.send(msg({ subject: "first", text: "link https://app.example.test/reset-password?token=a%2Fb" }));
    now += 1000;
    await sender.send(msg({ kind: "password_changed", to: "Bob@Example.test", subject: "second" }));

    const all = await readOutbox(redis);
    expect(all.map((m) => m.subject)).toEqual(["first", "second"]);
    expect(all[0]).toMatchObject({
      kind: "password_reset",
      to: "ada@example.test",
      text: "link https://app.example.test/reset-password?token=a%2Fb",
      html: "<p>html</p>",
      sentAt: "2025-01-01T00:00:00.000Z",
    });
    expect(all[0].id).not.toBe(all[1].id);
    expect(all[1].sentAt).toBe("2025-01-01T00:00:01.000Z");

    expect((await readOutbox(redis, { to: "ada@example.test" })).map((m) => m.subject)).toEqual(["first"]);
    expect((await readOutbox(redis, { to: "bob@example.test" })).map((m) => m.subject)).toEqual(["second"]);
    expect((await readOutbox(redis, { kind: "password_changed" })).map((m) => m.subject)).toEqual(["second"]);
    expect(await readOutbox(redis, { to: "ada@example.test", kind: "password_changed" })).toEqual([]);
  });

  it("uses a sorted set scored by epoch ms that expires after 24 hours", async () => {
    const at = Date.parse("2025-01-01T00:00:00Z");
    await new OutboxEmailSender(redis, { now: () => at }).send(msg());
    expect(await redis.type(OUTBOX_KEY)).toBe("zset");
    const withScores = await redis.zrange<unknown[]>(OUTBOX_KEY, 0, -1, { withScores: true });
    expect(Number(withScores[1])).toBe(at);
    const ttl = await redis.ttl(OUTBOX_KEY);
    expect(ttl).toBeGreaterThan(OUTBOX_TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(OUTBOX_TTL_SECONDS);
  });

  it("keeps messages sent in the same millisecond in sending order", async () => {
    const sender = new OutboxEmailSender(redis, { now: () => 1_700_000_000_000 });
    for (let i = 0; i < 12; i++) await sender.send(msg({ subject: `m${i}` }));
    expect((await readOutbox(redis)).map((m) => m.subject)).toEqual(Array.from({ length: 12 }, (_, i) => `m${i}`));
  });

  it(`keeps only the newest ${OUTBOX_MAX_MESSAGES} messages`, async () => {
    let now = 1_700_000_000_000;
    const sender = new OutboxEmailSender(redis, { now: () => now++ });
    const total = OUTBOX_MAX_MESSAGES + 5;
    for (let i = 0; i < total; i++) await sender.send(msg({ subject: `m${i}` }));
    const kept = await readOutbox(redis);
    expect(kept).toHaveLength(OUTBOX_MAX_MESSAGES);
    expect(kept[0].subject).toBe("m5");
    expect(kept[kept.length - 1].subject).toBe(`m${total - 1}`);
  });

  it("clearOutbox empties it", async () => {
    const sender = new OutboxEmailSender(redis);
    await sender.send(msg());
    await sender.send(msg());
    expect(await readOutbox(redis)).toHaveLength(2);
    await clearOutbox(redis);
    expect(await readOutbox(redis)).toEqual([]);
    expect(await redis.exists(OUTBOX_KEY)).toBe(0);
  });
});
