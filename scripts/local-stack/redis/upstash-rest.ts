// Upstash's REST protocol over a RedisBackend, as @upstash/redis 1.39 speaks it:
//   POST /            body ["cmd", ...args]          -> 200 {result} | 400 {error}
//   POST /pipeline    body [["cmd", ...], ...]        -> 200 [{result} | {error}, ...]
//   POST /multi-exec  body [["cmd", ...], ...]        -> 200 [{result} | {error}, ...] | 400 {error}
//   /cmd/arg/arg      path-style command (curl), a POST/PUT body is appended as the last argument
// Authorization: Bearer <token> (401 otherwise). With "Upstash-Encoding: base64" every string
// in a result (bulk and status replies, nested ones too) is base64 of its bytes; integers and
// nil stay as they are. Without it strings are utf8. Error texts are never encoded.
//
// Read-your-writes: the client sends "upstash-sync-token" and keeps whatever comes back; one
// local node is always consistent, so no token is issued (the client then keeps sending "").
import { createHash, timingSafeEqual } from "node:crypto";
import type { ProtocolAnswer, ProtocolHandler, ProtocolRequest } from "../endpoint-server.ts";
import { ReplyError, StatusReply, errorMessage, type CommandArg, type RedisBackend, type Reply } from "./backend.ts";

export interface UpstashRestOptions {
  /** The bearer token clients must send (UPSTASH_REDIS_REST_TOKEN). */
  token: string;
}

type ParsedRequest =
  | { kind: "command"; cmd: CommandArg[] }
  | { kind: "pipeline" | "multi-exec"; cmds: CommandArg[][] }
  | { kind: "invalid"; error: string };

class BadRequest extends Error {}

function toArgs(value: unknown, where: string): CommandArg[] {
  if (!Array.isArray(value)) throw new BadRequest(`ERR ${where} must be a JSON array of command arguments`);
  if (value.length === 0) throw new BadRequest("ERR empty command");
  return value.map((v, i) => {
    if (typeof v === "string" || typeof v === "number") return v;
    if (typeof v === "boolean") return String(v);
    throw new BadRequest(`ERR invalid argument at position ${i} of ${where}: expected a string or a number`);
  });
}

function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new BadRequest("ERR empty request body");
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (e) {
    throw new BadRequest(`ERR failed to parse request body: ${errorMessage(e)}`);
  }
}

const parsedCache = new WeakMap<ProtocolRequest, ParsedRequest>();

function parseRequest(req: ProtocolRequest): ParsedRequest {
  const cached = parsedCache.get(req);
  if (cached) return cached;
  let parsed: ParsedRequest;
  try {
    const path = req.path.replace(/\/+$/, "") || "/";
    if (path === "/") {
      parsed = { kind: "command", cmd: toArgs(parseJsonBody(req.body), "the command") };
    } else if (path === "/pipeline" || path === "/multi-exec") {
      const value = parseJsonBody(req.body);
      if (!Array.isArray(value)) throw new BadRequest("ERR the request body must be a JSON array of commands");
      if (value.length === 0) throw new BadRequest(`ERR empty ${path.slice(1)}`);
      parsed = { kind: path === "/pipeline" ? "pipeline" : "multi-exec", cmds: value.map((c, i) => toArgs(c, `command ${i + 1}`)) };
    } else {
      const segments = path.split("/").filter(Boolean).map((seg) => decodeURIComponent(seg));
      const cmd: CommandArg[] = [...segments];
      if (req.body.length > 0) cmd.push(req.body);
      parsed = { kind: "command", cmd: toArgs(cmd, "the command") };
    }
  } catch (e) {
    parsed = { kind: "invalid", error: e instanceof BadRequest ? e.message : `ERR bad request: ${errorMessage(e)}` };
  }
  parsedCache.set(req, parsed);
  return parsed;
}

/** Kind of a request for the endpoint's round-trip stats: "command:<name>", "pipeline", "multi-exec". */
export function classify(req: ProtocolRequest): string {
  const parsed = parseRequest(req);
  if (parsed.kind === "command") {
    const name = parsed.cmd[0];
    return `command:${(typeof name === "string" ? name : Buffer.from(String(name)).toString("utf8")).toLowerCase()}`;
  }
  return parsed.kind === "invalid" ? "invalid" : parsed.kind;
}

/** A reply as JSON: strings base64-encoded (or utf8), integers and nil as they are. */
export function encodeReply(r: Reply, base64: boolean): unknown {
  if (r === null) return null;
  if (typeof r === "number") return r;
  if (Buffer.isBuffer(r)) return base64 ? r.toString("base64") : r.toString("utf8");
  if (r instanceof StatusReply || r instanceof ReplyError) {
    // A nested error (inside an EXEC result or a script's table) is sent as its message.
    const text = r instanceof StatusReply ? r.status : r.message;
    return base64 ? Buffer.from(text, "utf8").toString("base64") : text;
  }
  return (r as Reply[]).map((x) => encodeReply(x, base64));
}

function entry(r: Reply, base64: boolean): { result: unknown } | { error: string } {
  return r instanceof ReplyError ? { error: r.message } : { result: encodeReply(r, base64) };
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

export function createUpstashRestHandler(backend: RedisBackend, options: UpstashRestOptions): ProtocolHandler {
  const expected = digest(`Bearer ${options.token}`);
  const authorized = (req: ProtocolRequest): boolean => {
    const header = req.headers.authorization;
    const value = Array.isArray(header) ? header[0] : header;
    return timingSafeEqual(digest(value ?? ""), expected) && value !== undefined;
  };
  const errorAnswer = (message: string, status = 400): ProtocolAnswer => ({ status, body: { error: message } });

  return {
    backendName: backend.name,

    async handle(req: ProtocolRequest): Promise<ProtocolAnswer> {
      if (!authorized(req)) return errorAnswer("WRONGPASS invalid or missing auth token", 401);
      if (!["POST", "PUT", "GET", "HEAD"].includes(req.method)) return errorAnswer("ERR method not allowed", 405);
      const encodingHeader = req.headers["upstash-encoding"];
      const base64 = String(Array.isArray(encodingHeader) ? encodingHeader[0] : (encodingHeader ?? "")).toLowerCase() === "base64";

      const parsed = parseRequest(req);
      switch (parsed.kind) {
        case "invalid":
          return errorAnswer(parsed.error);
        case "command": {
          const reply = await backend.command(parsed.cmd);
          if (reply instanceof ReplyError) return errorAnswer(reply.message);
          return { status: 200, body: { result: encodeReply(reply, base64) } };
        }
        case "pipeline": {
          const replies = await backend.pipeline(parsed.cmds);
          return { status: 200, body: replies.map((r) => entry(r, base64)) };
        }
        case "multi-exec": {
          const replies = await backend.transaction(parsed.cmds);
          if (replies instanceof ReplyError) return errorAnswer(replies.message);
          return { status: 200, body: replies.map((r) => entry(r, base64)) };
        }
      }
    },

    errorAnswer: (message: string) => errorAnswer(message),
    reset: () => backend.flush(),
    ping: () => backend.ping(),
    close: () => backend.close(),
  };
}
