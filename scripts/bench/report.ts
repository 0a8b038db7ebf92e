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

/** A plain-text table (also valid Markdown, so it can be pasted into the README as is). */
export function formatTable(rows: OpResult[]): string {
  const header = ["op", "conc", "reqs", "req/s", "p50 ms", "p95 ms", "p99 ms", "SQL/req", "Redis/req", "errors", "statuses"];
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
    String(r.errors),
    statusText(r.statuses),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const right = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9]);
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
