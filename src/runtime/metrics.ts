// Per-request counters of SQL and Redis round trips (and the time spent in them), kept in
// AsyncLocalStorage so the drivers' fetches are attributed to the request that made them.
// They feed Server-Timing, the request log line and the round-trip budgets (DESIGN.md section 7).
import { AsyncLocalStorage } from "node:async_hooks";

export type Dependency = "sql" | "redis";

export interface RequestMetrics {
  sql: { roundTrips: number; ms: number };
  redis: { roundTrips: number; ms: number };
  /**
   * The critical path: how many times the request waited on the origin in sequence (round trips
   * that overlap in time count once), and for how long in total (the union of those waits).
   */
  path: { waits: number; ms: number; inFlight: number; since: number };
}

const storage = new AsyncLocalStorage<RequestMetrics | undefined>();

export function newMetrics(): RequestMetrics {
  return { sql: { roundTrips: 0, ms: 0 }, redis: { roundTrips: 0, ms: 0 }, path: { waits: 0, ms: 0, inFlight: 0, since: 0 } };
}

export function runWithMetrics<T>(metrics: RequestMetrics, fn: () => T): T {
  return storage.run(metrics, fn);
}

export function currentMetrics(): RequestMetrics | undefined {
  return storage.getStore();
}

/** Runs fn unmetered: work deferred past a response is not that request's (Server-Timing, budgets). */
export function outsideRequest<T>(fn: () => T): T {
  return storage.run(undefined, fn);
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

/**
 * The dependency (sql, redis) whose failure is anywhere in an error's cause chain (the drivers wrap
 * ours), or null: what every error mapper answers 503 for, in its own shape.
 */
export function dependencyFailure(err: unknown): string | null {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e && typeof e === "object" && !seen.has(e)) {
    seen.add(e);
    if (e instanceof DependencyError) return e.dependency;
    const named = e as { name?: string; code?: string; sourceError?: unknown; cause?: unknown };
    // SQLSTATE class 08 (connection exception), 57P0x (shutdown), 53300 (too many connections).
    if (named.name === "NeonDbError" && typeof named.code === "string" && /^(08|57P0|53300)/.test(named.code)) return "sql";
    if (named.name === "NeonDbError" && !named.code && /connecting to database|fetch/i.test(String((e as Error).message))) return "sql";
    if (named.name === "UpstashError") return "redis";
    e = named.sourceError ?? named.cause;
  }
  return null;
}

/** fetch that counts one round trip for `dependency`, times it, and gives up after timeoutMs. */
export function meteredFetch(dependency: Dependency, baseFetch: typeof fetch, timeoutMs: () => number): typeof fetch {
  return async (input, init) => {
    const metrics = storage.getStore();
    const started = performance.now();
    if (metrics) {
      // A round trip that starts while none is in flight begins a new sequential wait.
      if (metrics.path.inFlight === 0) {
        metrics.path.waits += 1;
        metrics.path.since = started;
      }
      metrics.path.inFlight += 1;
    }
    const timeout = AbortSignal.timeout(timeoutMs());
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    try {
      return await baseFetch(input, { ...init, signal });
    } catch (err) {
      throw new DependencyError(dependency, err);
    } finally {
      if (metrics) {
        const ended = performance.now();
        metrics[dependency].roundTrips += 1;
        metrics[dependency].ms += ended - started;
        metrics.path.inFlight -= 1;
        if (metrics.path.inFlight === 0) metrics.path.ms += ended - metrics.path.since;
      }
    }
  };
}

/**
 * Server-Timing value reporting this request's SQL and Redis round trips, and its critical path
 * (`path`: sequential waits on the origin and their total time), as they stood when the response
 * was ready: work deferred past the response (waitUntil) is not in it.
 */
export function serverTiming(m: RequestMetrics, totalMs: number): string {
  const part = (name: Dependency) => `${name};dur=${m[name].ms.toFixed(1)};desc="${m[name].roundTrips} round trips"`;
  const path = `path;dur=${m.path.ms.toFixed(1)};desc="${m.path.waits} sequential waits"`;
  return `${part("sql")}, ${part("redis")}, ${path}, total;dur=${totalMs.toFixed(1)}`;
}
