// What `npm run bench` prints and writes: one row per operation, the ratios with their targets.
import type { LatencySummary, ServerTiming } from "./load.ts";

export interface OpResult {
  /** Stable id, e.g. "login", "auth_me". */
  name: string;
  /** What was sent, e.g. "POST /auth/login". */
  label: string;
  expectedStatus: number;
  concurrency: number;
  requests: number;
  /** Requests per second over the measured window (all answers). */
  rps: number;
  /** Latency of the answers with the expected status only; null when there were none. */
  latencyMs: LatencySummary | null;
  /** Round trips per request; null when not known (n/a). */
  sqlPerRequest: number | null;
  redisPerRequest: number | null;
  /** Where the round trips come from. */
  roundTripSource: "endpoint counters" | "Server-Timing" | null;
  /** The Worker's own view (Server-Timing, means per request): round trips, for cross-checking the
   *  endpoint counters, and ms spent waiting on them. */
  serverTimingPerRequest: ServerTiming | null;
  /** The critical path, from Server-Timing: mean sequential waits on the origin per request
   *  (overlapping round trips count once), and the mean time the Worker spent in them; null when
   *  the Worker did not report it. */
  pathPerRequest: number | null;
  pathMsPerRequest: number | null;
  /** With added latency (--sql-latency / --redis-latency): pathMsPerRequest divided by the larger
   *  added latency, i.e. the critical path in round-trip times (a Redis check alongside a SQL
   *  statement adds 0); null without added latency. */
  pathOverLatency: number | null;
  /** Answers other than the expected status (or failed requests). */
  errors: number;
  statuses: Record<string, number>;
}

export interface Ratio {
  name: string;
  description: string;
  value: number | null;
  /** Human-readable target, or null for an informational ratio. */
  target: string | null;
  pass: boolean | null;
}

const fmtMs = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? "-" : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));
const fmtRt = (n: number | null) => (n === null ? "n/a" : n.toFixed(1));
const fmtRps = (n: number) => (n < 100 ? n.toFixed(1) : n.toFixed(0));

function statusText(statuses: Record<string, number>): string {
  return Object.entries(statuses)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}:${v}`)
    .join(" ");
}

/**
 * A plain-text table (also valid Markdown, so it can be pasted into the README as is). `path` is
 * the critical path per request (sequential waits, from Server-Timing); with `latencyColumn`, also
 * "path ms ÷ latency".
 */
export function formatTable(rows: OpResult[], options: { latencyColumn?: boolean } = {}): string {
  const withLatency = options.latencyColumn === true;
  const header = ["op", "conc", "reqs", "req/s", "p50 ms", "p95 ms", "p99 ms", "SQL/req", "Redis/req", "path", ...(withLatency ? ["path ms ÷ latency"] : []), "errors", "statuses"];
  const body = rows.map((r) => [
    `${r.name} (${r.label})`,
    String(r.concurrency),
    String(r.requests),
    fmtRps(r.rps),
    fmtMs(r.latencyMs?.p50),
    fmtMs(r.latencyMs?.p95),
    fmtMs(r.latencyMs?.p99),
    fmtRt(r.sqlPerRequest),
    fmtRt(r.redisPerRequest),
    r.pathPerRequest === null ? "n/a" : r.pathPerRequest.toFixed(2),
    ...(withLatency ? [r.pathOverLatency === null ? "n/a" : r.pathOverLatency.toFixed(2)] : []),
    String(r.errors),
    statusText(r.statuses),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const right = new Set(header.map((_, i) => i).filter((i) => i > 0 && i < header.length - 1));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (right.has(i) ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|")}|`;
  return [line(header), rule, ...body.map(line)].join("\n");
}

export function formatRatios(ratios: Ratio[]): string {
  const width = Math.max(...ratios.map((r) => r.description.length));
  return ratios
    .map((r) => {
      const value = r.value === null ? "n/a" : r.value.toFixed(2);
      const mark = r.pass === null ? (r.target ? "n/a" : "info") : r.pass ? "pass" : "MISS";
      return `  ${r.description.padEnd(width)}  ${value.padStart(6)}  ${(r.target ?? "").padEnd(12)}  ${mark}`;
    })
    .join("\n");
}

/** One operation at one concurrency under both runtimes (--compare-runtimes). */
export interface RuntimeComparison {
  name: string;
  label: string;
  concurrency: number;
  miniflare: OpResult;
  wrangler: OpResult;
}

/** The runtimes side by side: req/s and latency under each, and how much faster Miniflare's is. */
export function formatRuntimeComparison(rows: RuntimeComparison[]): string {
  const header = ["op", "conc", "Miniflare req/s", "p50 ms", "p99 ms", "wrangler dev req/s", "p50 ms", "p99 ms", "req/s ×", "p50 saved ms"];
  const body = rows.map((r) => {
    const m = r.miniflare;
    const w = r.wrangler;
    const saved = m.latencyMs && w.latencyMs ? w.latencyMs.p50 - m.latencyMs.p50 : undefined;
    return [
      `${r.name} (${r.label})`,
      String(r.concurrency),
      fmtRps(m.rps),
      fmtMs(m.latencyMs?.p50),
      fmtMs(m.latencyMs?.p99),
      fmtRps(w.rps),
      fmtMs(w.latencyMs?.p50),
      fmtMs(w.latencyMs?.p99),
      w.rps > 0 ? (m.rps / w.rps).toFixed(2) : "n/a",
      saved === undefined ? "-" : saved.toFixed(2),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i > 0 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i > 0 ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|")}|`;
  return [line(header), rule, ...body.map(line)].join("\n");
}
