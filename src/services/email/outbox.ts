// The development outbox: when SES is not configured outside production, messages land in Redis
// instead, where a developer (or a test) reads the reset link back. One sorted set, score = epoch
// ms; only ZADD / ZRANGE / ZREMRANGEBYRANK / EXPIRE are used, so the embedded local Redis serves it.
import type { Redis } from "@upstash/redis/cloudflare";
import { EMAIL_KINDS, type EmailKind, type EmailMessage, type EmailSender } from "./sender";

export const OUTBOX_KEY = "dev:outbox";
/** Newest messages kept; older ones are trimmed on every send. */
export const OUTBOX_MAX_MESSAGES = 200;
/** The whole outbox expires this long after the last send. */
export const OUTBOX_TTL_SECONDS = 24 * 60 * 60;

export interface OutboxMessage extends EmailMessage {
  id: string;
  /** ISO 8601 time the message was stored. */
  sentAt: string;
}

export interface OutboxFilter {
  /** Recipient address (compared case-insensitively). */
  to?: string;
  kind?: EmailKind;
}

let sequence = 0;

/** Sortable id: members with the same score order by their JSON, which starts with the id. */
function nextId(nowMs: number): string {
  sequence = (sequence + 1) % 1_000_000;
  const random = crypto.getRandomValues(new Uint8Array(6));
  const suffix = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${String(nowMs).padStart(15, "0")}-${String(sequence).padStart(6, "0")}-${suffix}`;
}

export class OutboxEmailSender implements EmailSender {
  readonly name = "outbox" as const;
  readonly #redis: Redis;
  readonly #now: () => number;

  constructor(redis: Redis, options: { now?: () => number } = {}) {
    this.#redis = redis;
    this.#now = options.now ?? Date.now;
  }

  async send(msg: EmailMessage): Promise<void> {
    const nowMs = this.#now();
    const stored: OutboxMessage = {
      id: nextId(nowMs),
      kind: msg.kind,
      to: msg.to,
      subject: msg.subject,
      text: msg.text,
      html: msg.html,
      sentAt: new Date(nowMs).toISOString(),
    };
    // One round trip; a failing command rejects the whole pipeline.
    await this.#redis
      .pipeline()
      .zadd(OUTBOX_KEY, { score: nowMs, member: JSON.stringify(stored) })
      .zremrangebyrank(OUTBOX_KEY, 0, -(OUTBOX_MAX_MESSAGES + 1))
      .expire(OUTBOX_KEY, OUTBOX_TTL_SECONDS)
      .exec();
  }
}

function parseMember(member: unknown): OutboxMessage | null {
  let value: unknown = member;
  // The Upstash client deserializes JSON members itself; accept raw strings too.
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return null;
    }
  }
  if (!value || typeof value !== "object") return null;
  const m = value as Record<string, unknown>;
  const strings = ["id", "to", "subject", "text", "html", "sentAt"] as const;
  if (!strings.every((k) => typeof m[k] === "string")) return null;
  if (!EMAIL_KINDS.includes(m.kind as EmailKind)) return null;
  return {
    id: m.id as string,
    kind: m.kind as EmailKind,
    to: m.to as string,
    subject: m.subject as string,
    text: m.text as string,
    html: m.html as string,
    sentAt: m.sentAt as string,
  };
}

/** Stored messages, oldest first (newest last), optionally filtered by recipient and kind. */
export async function readOutbox(redis: Redis, filter: OutboxFilter = {}): Promise<OutboxMessage[]> {
  const members = await redis.zrange<unknown[]>(OUTBOX_KEY, 0, -1);
  const to = filter.to?.trim().toLowerCase();
  const out: OutboxMessage[] = [];
  for (const member of members) {
    const msg = parseMember(member);
    if (!msg) continue;
    if (to !== undefined && msg.to.trim().toLowerCase() !== to) continue;
    if (filter.kind !== undefined && msg.kind !== filter.kind) continue;
    out.push(msg);
  }
  return out;
}

/** Empties the outbox (removing every member deletes the key). */
export async function clearOutbox(redis: Redis): Promise<void> {
  await redis.zremrangebyrank(OUTBOX_KEY, 0, -1);
}
