// Load generation for `npm run bench`: timed requests (client side: inside workerd the clock
// does not advance during CPU work, so only the client can time an Argon2id hash), bounded
// concurrency with warm-up, and the per-operation summary. Answers other than the expected status
// are counted and shown, never folded into the latency figures.

export interface Sample {
  /** Wall time from sending the request to having read the whole body, in ms. */
  ms: number;
  /** HTTP status, or 0 when the request failed without an answer. */
  status: number;
  /** The status label shown in the table ("200", "429", "ERR", "200 ok:false", ...). */
  label: string;
  expected: boolean;
  /** What the Worker reported for this request in Server-Timing, when it did. */
  serverTiming?: ServerTiming;
}

/** Round trips of one request and the time the Worker spent waiting on them (ms). */
export interface ServerTiming {
  sql: number;
  redis: number;
  sqlMs: number;
  redisMs: number;
  /** The critical path: sequential waits on the origin (overlapping round trips count once) and
   *  the time they took (the union of the overlapping waits); absent from a Worker that does not
   *  report it. */
  path?: number;
  pathMs?: number;
}

export interface TimedResponse {
  ms: number;
  status: number;
  body: string;
  headers: Headers | null;
  error?: string;
}

export async function timedFetch(url: string, init: RequestInit = {}): Promise<TimedResponse> {
  const started = performance.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
    const body = await res.text();
    return { ms: performance.now() - started, status: res.status, body, headers: res.headers };
  } catch (err) {
    return { ms: performance.now() - started, status: 0, body: "", headers: null, error: err instanceof Error ? err.message : String(err) };
  }
}

/** `sql;dur=1.2;desc="1 round trips", redis;dur=0.8;desc="0 round trips", path;dur=1.3;desc="1 sequential waits", total;dur=3.1` */
export function parseServerTiming(value: string | null | undefined): ServerTiming | undefined {
  if (!value) return undefined;
  const entry = (name: string) => {
    const m = new RegExp(`(?:^|,)\\s*${name};dur=([\\d.]+);desc="(\\d+) round trips?"`).exec(value);
    return m ? { ms: Number(m[1]), count: Number(m[2]) } : undefined;
  };
  const sql = entry("sql");
  const redis = entry("redis");
  if (!sql || !redis) return undefined;
  const path = /(?:^|,)\s*path;dur=([\d.]+);desc="(\d+) sequential waits?"/.exec(value);
  return { sql: sql.count, redis: redis.count, sqlMs: sql.ms, redisMs: redis.ms, ...(path ? { path: Number(path[2]), pathMs: Number(path[1]) } : {}) };
}

/** A Sample from a timed response: expected when the status is the expected one and `check` agrees. */
export function sampleOf(r: TimedResponse, expectStatus: number, check?: (body: string) => string | null): Sample {
  let label = r.status === 0 ? "ERR" : String(r.status);
  let expected = r.status === expectStatus;
  if (expected && check) {
    const problem = check(r.body);
    if (problem) {
      expected = false;
      label = `${label} ${problem}`;
    }
  }
  return { ms: r.ms, status: r.status, label, expected, serverTiming: parseServerTiming(r.headers?.get("server-timing")) };
}

export interface RunResult {
  samples: Sample[];
  wallMs: number;
}

/**
 * Runs `count` requests over `concurrency` lanes (each lane sends its next request when its
 * previous one is answered). `request(lane, i)` makes one request and returns its sample.
 */
export async function runLanes(count: number, concurrency: number, request: (lane: number, i: number) => Promise<Sample>): Promise<RunResult> {
  const samples: Sample[] = [];
  let next = 0;
  const started = performance.now();
  const lane = async (id: number) => {
    while (next < count) {
      const i = next++;
      samples.push(await request(id, i));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, (_, id) => lane(id)));
  return { samples, wallMs: performance.now() - started };
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summarize(values: number[]): LatencySummary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    mean: round(sorted.reduce((s, v) => s + v, 0) / sorted.length),
    min: round(sorted[0]),
    max: round(sorted[sorted.length - 1]),
  };
}

/** Status label -> count, e.g. {"200": 198, "429": 2}. */
export function statusCounts(samples: Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) out[s.label] = (out[s.label] ?? 0) + 1;
  return out;
}

/** Mean Server-Timing figures per request over the samples that carried the header. */
export function serverTimingPerRequest(samples: Sample[]): ServerTiming | null {
  const withTiming = samples.filter((s) => s.serverTiming).map((s) => s.serverTiming!);
  if (withTiming.length === 0) return null;
  const mean = (key: keyof ServerTiming) => Math.round((withTiming.reduce((sum, t) => sum + (t[key] ?? 0), 0) / withTiming.length) * 100) / 100;
  const path = withTiming.every((t) => t.path !== undefined) ? { path: mean("path"), pathMs: mean("pathMs") } : {};
  return { sql: mean("sql"), redis: mean("redis"), sqlMs: mean("sqlMs"), redisMs: mean("redisMs"), ...path };
}
