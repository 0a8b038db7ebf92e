// Per-request counters of SQL and Redis round trips (and the time spent in them), kept in
// AsyncLocalStorage so the drivers' fetches are attributed to the request that made them.
// They feed Server-Timing, the request log line and the round-trip budgets (DESIGN.md section 7).
import { AsyncLocalStorage } from "node:async_hooks";

export type Dependency = "sql" | "redis";

export interface RequestMetrics {
  sql: { roundTrips: number; ms: number };
  redis: { roundTrips: number; ms: number };
}

const storage = new AsyncLocalStorage<RequestMetrics>();

export function newMetrics(): RequestMetrics {
  return { sql: { roundTrips: 0, ms: 0 }, redis: { roundTrips: 0, ms: 0 } };
}

export function runWithMetrics<T>(metrics: RequestMetrics, fn: () => T): T {
  return storage.run(metrics, fn);
}

export function currentMetrics(): RequestMetrics | undefined {
  return storage.getStore();
}

/** Thrown when a dependency cannot be reached or does not answer in time. */
export class DependencyError extends Error {
  constructor(
    readonly dependency: Dependency,
    cause: unknown,
  ) {
    super(`${dependency} unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "DependencyError";
  }
}

/** fetch that counts one round trip for `dependency`, times it, and gives up after timeoutMs. */
export function meteredFetch(dependency: Dependency, baseFetch: typeof fetch, timeoutMs: () => number): typeof fetch {
  return async (input, init) => {
    const metrics = storage.getStore();
    const started = performance.now();
    const timeout = AbortSignal.timeout(timeoutMs());
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    try {
      return await baseFetch(input, { ...init, signal });
    } catch (err) {
      throw new DependencyError(dependency, err);
    } finally {
      if (metrics) {
        metrics[dependency].roundTrips += 1;
        metrics[dependency].ms += performance.now() - started;
      }
    }
  };
}

/** Server-Timing value reporting this request's SQL and Redis round trips. */
export function serverTiming(m: RequestMetrics, totalMs: number): string {
  const part = (name: Dependency) => `${name};dur=${m[name].ms.toFixed(1)};desc="${m[name].roundTrips} round trips"`;
  return `${part("sql")}, ${part("redis")}, total;dur=${totalMs.toFixed(1)}`;
}
