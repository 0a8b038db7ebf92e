// One loopback HTTP server shape for both local protocol endpoints (SQL over Neon's HTTP
// protocol, Redis over Upstash's REST protocol). The protocol handler only answers protocol
// requests; this module owns what both share:
//   - round-trip counting (one protocol request = one round trip, as the Worker's driver sees it)
//   - injected latency (edge simulation: a fixed delay added to every round trip)
//   - injected faults (down: the connection is dropped; error: the backend answers an error;
//     slow: the answer is held back for a given time), so tests get failures from the real
//     endpoint rather than from stubs; with `after: N` the first N round trips after the fault
//     is set go through untouched and the fault applies from the next one on (a request whose
//     flow spans several round trips fails between them); with `count: N` only the N round trips
//     after those get the fault, and the endpoint is healthy again afterwards (a slow fault with
//     after: 1, count: 1 holds exactly the second statement of a request, between its read and
//     its write, while every other request goes through)
//   - control routes under /__stack/ for tests, `npm run dev` and the benchmark.
import http from "node:http";
import type { AddressInfo } from "node:net";

/** `after`: round trips let through first; `count`: how many round trips get the fault (absent: all). */
interface FaultWindow {
  after?: number;
  count?: number;
}

export type Fault =
  | { mode: "none" }
  | ({ mode: "down" } & FaultWindow)
  | ({ mode: "error"; message?: string } & FaultWindow)
  /** slow: the round trip is held for delayMs before it runs, or with `answerLate` it runs at once and only its answer is held. */
  | ({ mode: "slow"; delayMs: number; answerLate?: boolean } & FaultWindow);

export interface ProtocolAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface ProtocolRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface ProtocolHandler {
  /** Answers one protocol request (one round trip). */
  handle(req: ProtocolRequest): Promise<ProtocolAnswer>;
  /** The answer the protocol gives for an injected backend error. */
  errorAnswer(message: string): ProtocolAnswer;
  /** Wipes all data (tests start each file from clean data). */
  reset(): Promise<void>;
  /** Quick dependency check for the control route /__stack/health. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Describes the backend, e.g. "pglite:/path" or "postgres:127.0.0.1:5432/test". */
  readonly backendName: string;
}

export interface EndpointStats {
  roundTrips: number;
  /** Round trips by the first path segment or command, for reading budgets per operation. */
  byKind: Record<string, number>;
}

export interface EndpointServer {
  readonly url: string;
  readonly port: number;
  readonly handler: ProtocolHandler;
  stats(): EndpointStats;
  resetStats(): void;
  setFault(fault: Fault): void;
  setLatency(ms: number): void;
  close(): Promise<void>;
}

export interface EndpointServerOptions {
  name: string;
  port?: number;
  host?: string;
  latencyMs?: number;
  /** Classifies a protocol request for stats.byKind (e.g. "query", "batch", "pipeline"). */
  classify?: (req: ProtocolRequest) => string;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes?: number;
}

const CONTROL_PREFIX = "/__stack/";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error(`request body over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function startEndpointServer(handler: ProtocolHandler, options: EndpointServerOptions): Promise<EndpointServer> {
  let fault: Fault = { mode: "none" };
  /** Round trips let through since the fault was set (for `after`), and those that got it (for `count`). */
  let faultPassed = 0;
  let faulted = 0;
  /** Protocol requests received and not yet answered (a held statement is in flight until it lands). */
  let inFlight = 0;
  const applyFault = (f: Fault) => {
    fault = f;
    faultPassed = 0;
    faulted = 0;
  };
  /** The fault this round trip gets: none while `after` round trips have not yet gone through, or once `count` have had it. */
  const faultForRoundTrip = (): Fault => {
    if (fault.mode === "none") return fault;
    if (fault.after !== undefined && faultPassed < fault.after) {
      faultPassed += 1;
      return { mode: "none" };
    }
    if (fault.count !== undefined && faulted >= fault.count) return { mode: "none" };
    faulted += 1;
    return fault;
  };
  let latencyMs = options.latencyMs ?? 0;
  let stats: EndpointStats = { roundTrips: 0, byKind: {} };
  const maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;

  async function control(path: string, req: http.IncomingMessage, res: http.ServerResponse) {
    const route = `${req.method} ${path.slice(CONTROL_PREFIX.length - 1)}`;
    const body = req.method === "POST" ? await readBody(req, 64 * 1024) : Buffer.alloc(0);
    const json = body.length ? JSON.parse(body.toString("utf8")) : {};
    switch (route) {
      case "GET /stats":
        return send(res, 200, { name: options.name, backend: handler.backendName, latencyMs, fault, faultPassed, faulted, inFlight, ...stats });
      case "POST /stats/reset":
        stats = { roundTrips: 0, byKind: {} };
        return send(res, 200, { ok: true });
      case "POST /fault":
        applyFault(parseFault(json));
        return send(res, 200, { ok: true, fault });
      case "POST /latency":
        latencyMs = Math.max(0, Number(json.ms) || 0);
        return send(res, 200, { ok: true, latencyMs });
      case "POST /reset":
        await handler.reset();
        stats = { roundTrips: 0, byKind: {} };
        applyFault({ mode: "none" });
        return send(res, 200, { ok: true });
      case "GET /health":
        await handler.ping();
        return send(res, 200, { ok: true, backend: handler.backendName });
      default:
        return send(res, 404, { error: `no control route ${route}` });
    }
  }

  async function protocolRoundTrip(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const active = faultForRoundTrip();
    if (active.mode === "down") {
      // As if the server died: the client sees a connection failure, not an HTTP answer. The
      // request is read first so the client's upload completes and only the answer is lost.
      await readBody(req, maxBody).catch(() => undefined);
      req.socket.destroy();
      return;
    }
    const body = await readBody(req, maxBody);
    const preq: ProtocolRequest = { method: req.method ?? "GET", path, headers: req.headers, body };
    const kind = options.classify?.(preq) ?? path;
    stats.roundTrips += 1;
    stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;

    if (latencyMs > 0) await sleep(latencyMs);
    if (active.mode === "slow" && !active.answerLate) await sleep(active.delayMs);
    if (active.mode === "error") {
      const a = handler.errorAnswer(active.message ?? "injected failure");
      return send(res, a.status, a.body, a.headers);
    }
    const answer = await handler.handle(preq);
    if (active.mode === "slow" && active.answerLate) await sleep(active.delayMs);
    if (!res.writableEnded && !res.destroyed) send(res, answer.status, answer.body, answer.headers);
  }

  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    try {
      if (path.startsWith(CONTROL_PREFIX)) return await control(path, req, res);
      // Counted until the statement has run, even when the client gave up waiting for the answer.
      inFlight += 1;
      try {
        await protocolRoundTrip(req, res, path);
      } finally {
        inFlight -= 1;
      }
    } catch (err) {
      if (!res.headersSent && !res.destroyed) {
        const a = handler.errorAnswer(err instanceof Error ? err.message : String(err));
        send(res, a.status, a.body, a.headers);
      }
    }
  });

  server.keepAliveTimeout = 30_000;

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${host}:${port}`,
    port,
    handler,
    stats: () => structuredClone(stats),
    resetStats: () => {
      stats = { roundTrips: 0, byKind: {} };
    },
    setFault: (f) => {
      applyFault(f);
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await handler.close();
    },
  };
}

function parseFault(json: Record<string, unknown>): Fault {
  // `after`: how many round trips go through before the fault applies (absent: from the first);
  // `count`: how many get it (absent: every one from then on).
  const whole = (key: "after" | "count") =>
    json[key] === undefined || json[key] === null ? {} : { [key]: Math.max(0, Math.floor(Number(json[key]) || 0)) };
  const window = { ...whole("after"), ...whole("count") };
  switch (json.mode) {
    case "down":
      return { mode: "down", ...window };
    case "error":
      return { mode: "error", message: typeof json.message === "string" ? json.message : undefined, ...window };
    case "slow":
      return { mode: "slow", delayMs: Math.max(0, Number(json.delayMs) || 0), ...(json.answerLate === true ? { answerLate: true } : {}), ...window };
    default:
      return { mode: "none" };
  }
}
