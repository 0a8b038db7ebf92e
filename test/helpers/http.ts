// Calls the Worker the way a client would: a Request in, a Response out, through the same
// fetch handler workerd serves (exports.default.fetch).
import { env, exports } from "cloudflare:workers";
import app from "../../src/index";

export const BASE = "https://auth.test";

export interface CallOptions {
  method?: string;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
}

function toRequest(path: string, opts: CallOptions): Request {
  const headers = new Headers(opts.headers);
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return new Request(BASE + path, { method: opts.method ?? (body === undefined ? "GET" : "POST"), headers, body });
}

/** fetch() into the Worker: for clients that take a fetch function (hono/client). */
export function workerFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  return (exports as unknown as { default: { fetch(r: Request): Promise<Response> } }).default.fetch(new Request(input, init));
}

export function call(path: string, opts: CallOptions = {}): Promise<Response> {
  return workerFetch(toRequest(path, opts));
}

/** Same app, other bindings: for configuration cases (the binding set is a fresh object, so it parses anew). */
export async function callWithEnv(overrides: Record<string, string | undefined>, path: string, opts: CallOptions = {}): Promise<Response> {
  const bindings: Record<string, unknown> = { ...(env as unknown as Record<string, unknown>) };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete bindings[k];
    else bindings[k] = v;
  }
  return app.fetch(toRequest(path, opts), bindings);
}

export async function json<T = any>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export function testKeys(): { pkcs8: string; pkcs1: string; nextPkcs8: string; nextSpki: string; retiredPkcs1Public: string } {
  return JSON.parse((env as unknown as Record<string, string>).TEST_KEYS);
}
