// The one object through which services reach the outside world, built per request from env:
// config, database, Redis, keys and the clock. Tests swap the clock, never the database.
import type { Redis } from "@upstash/redis/cloudflare";
import { getRedis } from "./cache/redis";
import { ConfigError, loadConfig, type Bindings, type Config } from "./config";
import { buildKeySet, KeyConfigError, type KeySet } from "./crypto/keys";
import { getDatabase, type Database } from "./db/client";
import { createEmailSender, type EmailSender } from "./services/email";
import { describeError, log } from "./runtime/log";
import { outsideRequest } from "./runtime/metrics";

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface Deps {
  config: Config;
  db: Database;
  redis: Redis;
  clock: Clock;
  /** The key set, built on first use per isolate (no I/O; CPU only). */
  keys(): Promise<KeySet>;
  /** Where transactional email goes (SES, the development outbox, or nowhere). */
  email: EmailSender;
  /**
   * Starts work that goes on after the response (Workers' waitUntil): email and other side effects
   * whose duration must not show in response times. The work runs outside the request's metering
   * (its round trips are not the request's critical path). Never rejects.
   */
  defer(work: () => Promise<unknown>): void;
}

export type Defer = (work: Promise<unknown>) => void;

/** Without an execution context (scripts, direct calls) deferred work still runs; errors are logged. */
const detached: Defer = (work) => {
  void work.catch((err) => log({ level: "warn", msg: "deferred work failed", ...describeError(err, { stack: false }) }));
};

interface CachedKeys {
  promise: Promise<KeySet>;
  /** Rebuild after this time (a retired key's `until` passed). */
  staleAfter: number;
}

const keyCache = new WeakMap<Config, CachedKeys>();

function keysFor(config: Config, clock: Clock): Promise<KeySet> {
  const now = clock.now();
  const cached = keyCache.get(config);
  if (cached && now.getTime() < cached.staleAfter) return cached.promise;
  const untils = config.jwt.retired.map((r) => (r.until ? Date.parse(r.until) : Infinity)).filter((t) => t > now.getTime());
  const promise = buildKeySet(config.jwt, config.isDevelopment, now, config.refreshTokenSecret).catch((err) => {
    keyCache.delete(config);
    if (err instanceof KeyConfigError) throw new ConfigError([{ variable: err.variable, message: err.problem }]);
    throw err;
  });
  keyCache.set(config, { promise, staleAfter: Math.min(Infinity, ...untils) });
  return promise;
}

export function buildDeps(env: Bindings, options: { clock?: Clock; defer?: Defer } = {}): Deps {
  const config = loadConfig(env);
  const clock = options.clock ?? systemClock;
  const redis = getRedis(config);
  const defer = options.defer ?? detached;
  return {
    config,
    db: getDatabase(config),
    redis,
    clock,
    keys: () => keysFor(config, clock),
    email: createEmailSender(config, redis, log),
    defer: (work) =>
      defer(
        outsideRequest(() => Promise.resolve().then(work)).catch((err) =>
          log({ level: "warn", msg: "deferred work failed", ...describeError(err, { stack: false }) }),
        ),
      ),
  };
}
