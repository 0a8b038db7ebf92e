// Test access to the local stack's control routes: wipe data, read round-trip counters, and
// inject faults into the real endpoints (down, erroring, slow) instead of stubbing drivers; and
// countRoundTrips, the round trips of one request as the budget tests count them.
import { env } from "cloudflare:workers";
import { expect } from "vitest";

type Endpoint = "sql" | "redis";

function controlUrl(endpoint: Endpoint): string {
  const e = env as unknown as Record<string, string>;
  return endpoint === "sql" ? e.TEST_SQL_CONTROL_URL : e.TEST_REDIS_CONTROL_URL;
}

async function control(endpoint: Endpoint, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${controlUrl(endpoint)}/__stack/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? undefined : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`stack control ${endpoint} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

export async function resetStack(): Promise<void> {
  await Promise.all([control("sql", "reset", {}), control("redis", "reset", {})]);
}

/**
 * A fault of the local endpoint. `after: N` lets the first N round trips (after the fault is set)
 * through untouched and fails from the next one on: a request whose flow spans several round
 * trips then fails between them. `count: N` faults only the N round trips after those; then the
 * endpoint is healthy again (slow, after: 1, count: 1 holds one request between its read and write).
 */
interface FaultWindow {
  after?: number;
  count?: number;
}
export type Fault =
  | { mode: "none" }
  | ({ mode: "down" } & FaultWindow)
  | ({ mode: "error"; message?: string } & FaultWindow)
  /** slow: held for delayMs before it runs, or with `answerLate` run at once with only its answer held. */
  | ({ mode: "slow"; delayMs: number; answerLate?: boolean } & FaultWindow);

export interface EndpointState {
  roundTrips: number;
  /** Round trips that got the fault so far. */
  faulted: number;
  /** Protocol requests received and not yet answered. */
  inFlight: number;
}

export async function endpointState(endpoint: Endpoint): Promise<EndpointState> {
  const s = await control(endpoint, "stats");
  return { roundTrips: s.roundTrips, faulted: s.faulted, inFlight: s.inFlight };
}

/** Polls the endpoint until `done` holds (e.g. a held statement arrived, or landed). */
export async function waitForEndpoint(endpoint: Endpoint, done: (s: EndpointState) => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done(await endpointState(endpoint))) return;
    if (Date.now() > deadline) throw new Error(`the ${endpoint} endpoint did not reach the awaited state within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function setFault(endpoint: Endpoint, fault: Fault): Promise<void> {
  return control(endpoint, "fault", fault);
}

/** Runs fn with the endpoint faulted, and always restores it. */
export async function withFault<T>(endpoint: Endpoint, fault: Fault, fn: () => Promise<T>): Promise<T> {
  await setFault(endpoint, fault);
  try {
    return await fn();
  } finally {
    await setFault(endpoint, { mode: "none" });
  }
}

export async function roundTrips(): Promise<{ sql: number; redis: number }> {
  const [sql, redis] = await Promise.all([control("sql", "stats"), control("redis", "stats")]);
  return { sql: sql.roundTrips, redis: redis.roundTrips };
}

export async function resetRoundTrips(): Promise<void> {
  await Promise.all([control("sql", "stats/reset", {}), control("redis", "stats/reset", {})]);
}

/**
 * Waits for work deferred past earlier responses (waitUntil: sign-in's audit row and re-hash, a
 * refused sign-in's cleanup and failure count, email) to reach the endpoints and finish: both
 * endpoints idle, and their counters unchanged for `quietMs`.
 */
export async function settle(quietMs = 80, timeoutMs = 10_000): Promise<void> {
  const snapshot = async () => {
    const [sql, redis] = await Promise.all([endpointState("sql"), endpointState("redis")]);
    return { busy: sql.inFlight + redis.inFlight > 0, count: `${sql.roundTrips}/${redis.roundTrips}` };
  };
  const deadline = Date.now() + timeoutMs;
  let last = await snapshot();
  let quietSince = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 15));
    const now = await snapshot();
    if (now.busy || now.count !== last.count) quietSince = Date.now();
    else if (Date.now() - quietSince >= quietMs) return;
    last = now;
    if (Date.now() > deadline) throw new Error(`deferred work still running after ${timeoutMs} ms`);
  }
}

export interface CountOptions {
  /** Wait for work deferred by earlier requests before counting (it is not this request's). Default true. */
  settleBefore?: boolean;
  /** Count this request's own deferred work (after the response) too: wait for it before reading the counters. Default true. */
  countDeferred?: boolean;
  /** Names the case in the status assertion's message (next to the response body). */
  label?: string;
}

/**
 * The round trips one request costs, as the local endpoints count them: settles earlier requests'
 * deferred work, resets the counters, sends, checks the status (when `expectStatus` is given),
 * waits for this request's own deferred work, and reads the counters.
 */
export async function countRoundTrips(
  fn: () => Promise<Response>,
  expectStatus?: number,
  { settleBefore = true, countDeferred = true, label }: CountOptions = {},
): Promise<{ res: Response; rt: { sql: number; redis: number } }> {
  if (settleBefore) await settle();
  await resetRoundTrips();
  const res = await fn();
  if (expectStatus !== undefined) {
    const body = await res.clone().text();
    expect(res.status, label ? `${label}: ${body}` : body).toBe(expectStatus);
  }
  if (countDeferred) await settle();
  return { res, rt: await roundTrips() };
}
