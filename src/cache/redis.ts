// Upstash Redis over REST. The client uses the global fetch and offers no fetch hook, so the
// global fetch is wrapped once to meter (count, time, time out) exactly the requests that go to
// the configured Upstash URL; every other fetch passes through untouched.
import { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../config";
import { meteredFetch } from "../runtime/metrics";

const redisOrigins = new Set<string>();
let dependencyTimeoutMs = 5000;
let wrapped = false;

function meterRedisFetches(url: string): void {
  redisOrigins.add(url.replace(/\/+$/, ""));
  if (wrapped) return;
  wrapped = true;
  const original = globalThis.fetch.bind(globalThis);
  const metered = meteredFetch("redis", original, () => dependencyTimeoutMs);
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const target = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    for (const origin of redisOrigins) {
      if (target === origin || target.startsWith(origin + "/")) return metered(input, init);
    }
    return original(input, init);
  };
}

const clients = new Map<string, Redis>();

export function getRedis(config: Config): Redis {
  dependencyTimeoutMs = config.http.dependencyTimeoutMs;
  const key = `${config.redis.url}\n${config.redis.token}`;
  let client = clients.get(key);
  if (!client) {
    meterRedisFetches(config.redis.url);
    client = new Redis({
      url: config.redis.url,
      token: config.redis.token,
      enableTelemetry: false,
      // One quick retry at most: a dependency that is down must fail the request fast (503), not hang it.
      retry: { retries: 1, backoff: () => 25 },
    });
    clients.set(key, client);
  }
  return client;
}
