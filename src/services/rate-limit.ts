// Rate limits in Redis with @upstash/ratelimit (sliding windows, global across isolates).
// When Redis cannot be reached, a limit fails closed (503 dependency_unavailable) unless its
// policy says open; login follows RATE_LIMIT_FAIL_CLOSED_LOGIN, the others always fail closed.
import { Ratelimit } from "@upstash/ratelimit";
import type { Redis } from "@upstash/redis/cloudflare";
import type { RateRule } from "../config";
import type { Deps } from "../deps";
import { AppError, errors } from "../http/errors";
import { describeError, log } from "../runtime/log";

export type LimitName =
  | "login-ip"
  | "login-failures-email"
  | "reset-email"
  | "reset-ip"
  | "register-ip"
  | "client-auth-failures-client"
  | "client-auth-failures-ip"
  | "email-link-email"
  | "email-link-ip";

const limiters = new WeakMap<Redis, Map<string, Ratelimit>>();

function limiter(redis: Redis, name: LimitName, rule: RateRule): Ratelimit {
  let byName = limiters.get(redis);
  if (!byName) limiters.set(redis, (byName = new Map()));
  const key = `${name}:${rule.limit}/${rule.windowMs}`;
  let rl = byName.get(key);
  if (!rl) {
    rl = new Ratelimit({
      redis,
      limiter: Ratelimit.slidingWindow(rule.limit, `${rule.windowMs} ms`),
      prefix: `rl:${name}`,
      // No allow-on-timeout race (the request would pass unchecked), no per-isolate cache of
      // blocked identifiers (it would outlive a reset of the limit), no analytics writes.
      timeout: 0,
      ephemeralCache: false,
      analytics: false,
    });
    byName.set(key, rl);
  }
  return rl;
}

export interface LimitCheck {
  name: LimitName;
  rule: RateRule;
  identifier: string;
  /** consume: count this request; peek: only read what is left (counted later, e.g. on failure). */
  mode: "consume" | "peek";
}

export function rateLimited(retryAfterMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new AppError(429, "rate_limited", `Too many requests; try again in ${seconds} s`, {
    headers: { "Retry-After": String(seconds) },
    details: { retryAfterSeconds: seconds },
  });
}

/**
 * Checks the given limits together (one Redis round trip: the client pipelines them) and throws
 * 429 rate_limited with Retry-After when any is exhausted. failOpen lets the request through when
 * Redis is unavailable; otherwise that is a 503.
 */
export async function enforceLimits(deps: Deps, checks: LimitCheck[], failOpen: boolean): Promise<void> {
  const now = deps.clock.now().getTime();
  let results: { blocked: boolean; reset: number }[];
  try {
    results = await Promise.all(
      checks.map(async (c) => {
        const rl = limiter(deps.redis, c.name, c.rule);
        if (c.mode === "consume") {
          const r = await rl.limit(c.identifier);
          return { blocked: !r.success, reset: r.reset };
        }
        const r = await rl.getRemaining(c.identifier);
        return { blocked: r.remaining <= 0, reset: r.reset };
      }),
    );
  } catch (err) {
    log({ level: "warn", msg: "rate limit check failed", limits: checks.map((c) => c.name), failOpen, ...describeError(err, { stack: false }) });
    if (failOpen) return;
    throw errors.dependencyUnavailable("redis");
  }
  const blocked = results.filter((r) => r.blocked);
  if (blocked.length > 0) throw rateLimited(Math.max(...blocked.map((r) => r.reset)) - now);
}

/** Counts one event against a limit (e.g. a failed password); never fails the request. */
export async function countAgainst(deps: Deps, name: LimitName, rule: RateRule, identifier: string): Promise<void> {
  try {
    await limiter(deps.redis, name, rule).limit(identifier);
  } catch (err) {
    log({ level: "warn", msg: "rate limit count failed", limit: name, ...describeError(err, { stack: false }) });
  }
}
