// A real Redis behind the local endpoint, through ioredis: binary-safe (callBuffer), one
// connection, pipelines as ioredis pipelines, transactions as MULTI/EXEC on that connection.
//
// Scripts are forwarded as they are, except for Upstash-only shebang flags (allow-key-locking,
// used by @upstash/ratelimit) that Redis 7.0 rejects: those are stripped, and EVALSHA /
// SCRIPT LOAD / SCRIPT EXISTS translate between the client's SHA1 (of the original body) and
// the server's (of the stripped body), so EVALSHA keeps working in one round trip.
//
// Failures surface instead of hanging: connect and command timeouts, no offline queue (a
// command sent while disconnected fails at once), at most one retry per command.
import * as ioredisModule from "ioredis";
import type { Redis } from "ioredis";

// ioredis is CommonJS: Node's ESM loader exposes its named exports, while Vite's interop (the
// test run's global setup) may only offer them under `default`. Resolve once, either way.
type IoredisExports = { Redis: typeof Redis; ReplyError: new (...args: never[]) => Error };
const ioredis: IoredisExports =
  (ioredisModule as unknown as Partial<IoredisExports>).Redis !== undefined
    ? (ioredisModule as unknown as IoredisExports)
    : ((ioredisModule as unknown as { default: IoredisExports }).default);
const RedisClient = ioredis.Redis;
const IoReplyError = ioredis.ReplyError;
import { ReplyError, StatusReply, errorMessage, toBuffer, type CommandArg, type RedisBackend, type Reply } from "./backend.ts";
import { sha1hex } from "./lua-engine.ts";
import { UPSTASH_ONLY_SCRIPT_FLAGS, stripShebangFlags } from "./lua-source.ts";
import { restUnavailableError } from "./rest-policy.ts";

export interface ServerBackendOptions {
  /** redis://[user:pass@]host:port/db or rediss://... (database in the path, default 0). */
  url: string;
  /** Default 3000. */
  connectTimeoutMs?: number;
  /** Default 5000. */
  commandTimeoutMs?: number;
}

/** Commands whose lowercase name has an ioredis argument/reply transformer (hgetall -> object...). */
const TRANSFORMED = new Set(["hgetall", "hset", "hmset", "mset", "msetnx"]);

function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    const db = u.pathname.replace(/^\//, "") || "0";
    return `redis:${u.hostname}:${u.port || "6379"}/${db}`;
  } catch {
    return "redis:(invalid url)";
  }
}

function normalize(r: unknown): Reply {
  if (r === null || r === undefined) return null;
  if (typeof r === "number") return r;
  if (typeof r === "bigint") return Number(r);
  if (Buffer.isBuffer(r)) return r as Buffer;
  if (typeof r === "string") return new StatusReply(r);
  if (r instanceof Error) return new ReplyError(r.message);
  if (Array.isArray(r)) return r.map(normalize);
  return Buffer.from(String(r), "utf8");
}

interface Prepared {
  /** Name as ioredis gets it, then the arguments. */
  name: string;
  args: Buffer[];
  /** Refused without asking the server. */
  refused?: ReplyError;
  /** Rewrites the server's reply for the client (script SHA translation). */
  after?: (r: Reply) => Reply;
}

export class ServerBackend implements RedisBackend {
  readonly name: string;
  private readonly client: Redis;
  /** client SHA1 -> server SHA1, for scripts whose shebang was rewritten. */
  private readonly shaToServer = new Map<string, string>();
  private readonly shaToClient = new Map<string, string>();
  private lastError: Error | null = null;

  private constructor(client: Redis, name: string) {
    this.client = client;
    this.name = name;
    client.on("error", (e: Error) => {
      this.lastError = e;
    });
  }

  static async connect(options: ServerBackendOptions): Promise<ServerBackend> {
    const connectTimeout = options.connectTimeoutMs ?? 3000;
    const client = new RedisClient(options.url, {
      lazyConnect: true,
      protocol: 2,
      connectTimeout,
      commandTimeout: options.commandTimeoutMs ?? 5000,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(times * 200, 2000),
      disableClientInfo: true,
      enableAutoPipelining: false,
    });
    const backend = new ServerBackend(client, describeUrl(options.url));
    try {
      await Promise.race([
        client.connect(),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${connectTimeout} ms`)), connectTimeout + 500).unref()),
      ]);
    } catch (e) {
      client.disconnect();
      const cause = backend.lastError && backend.lastError.message !== errorMessage(e) ? ` (${backend.lastError.message})` : "";
      throw new Error(`cannot connect to Redis at ${backend.name}: ${errorMessage(e)}${cause}`);
    }
    return backend;
  }

  /** Translation of one command for the server (see the header comment). */
  private prepare(raw: CommandArg[]): Prepared {
    const args = raw.map(toBuffer);
    if (args.length === 0) return { name: "", args: [], refused: new ReplyError("ERR empty command") };
    const original = args[0].toString("utf8");
    const lower = original.toLowerCase();
    const refusal = restUnavailableError(lower);
    if (refusal) return { name: original, args: [], refused: new ReplyError(refusal) };
    const rest = args.slice(1);
    const name = TRANSFORMED.has(lower) ? lower.toUpperCase() : original;

    if (lower === "flushall") return { name: "FLUSHDB", args: rest }; // this database only
    if ((lower === "eval" || lower === "eval_ro") && rest.length >= 1) {
      const body = stripShebangFlags(rest[0], UPSTASH_ONLY_SCRIPT_FLAGS);
      if (body !== rest[0]) this.remember(sha1hex(rest[0]), sha1hex(body));
      return { name, args: [body, ...rest.slice(1)], after: (r) => this.errorShaToClient(r) };
    }
    if ((lower === "evalsha" || lower === "evalsha_ro") && rest.length >= 1) {
      const sha = rest[0].toString("latin1").toLowerCase();
      const server = this.shaToServer.get(sha);
      return { name, args: server ? [Buffer.from(server), ...rest.slice(1)] : rest, after: (r) => this.errorShaToClient(r) };
    }
    if (lower === "script" && rest.length >= 1) {
      const sub = rest[0].toString("latin1").toLowerCase();
      if (sub === "load" && rest.length === 2) {
        const body = stripShebangFlags(rest[1], UPSTASH_ONLY_SCRIPT_FLAGS);
        if (body === rest[1]) return { name, args: rest };
        const clientSha = sha1hex(rest[1]);
        this.remember(clientSha, sha1hex(body));
        return { name, args: [rest[0], body], after: (r) => (Buffer.isBuffer(r) ? Buffer.from(clientSha) : r) };
      }
      if (sub === "exists") {
        const shas = rest.slice(1).map((b) => {
          const sha = b.toString("latin1").toLowerCase();
          const server = this.shaToServer.get(sha);
          return server ? Buffer.from(server) : b;
        });
        return { name, args: [rest[0], ...shas] };
      }
      if (sub === "flush") {
        return {
          name,
          args: rest,
          after: (r) => {
            if (!(r instanceof ReplyError)) {
              this.shaToServer.clear();
              this.shaToClient.clear();
            }
            return r;
          },
        };
      }
    }
    return { name, args: rest };
  }

  private remember(clientSha: string, serverSha: string): void {
    this.shaToServer.set(clientSha, serverSha);
    this.shaToClient.set(serverSha, clientSha);
  }

  /** Script errors name the script by SHA1: show the client's SHA1, not the rewritten one. */
  private errorShaToClient(r: Reply): Reply {
    if (!(r instanceof ReplyError)) return r;
    const m = /script: ([0-9a-f]{40}),/.exec(r.message);
    const clientSha = m ? this.shaToClient.get(m[1]) : undefined;
    return clientSha ? new ReplyError(r.message.replace(m![1], clientSha)) : r;
  }

  /** A Redis error reply becomes a value; anything else (connection, timeout) is thrown. */
  private settle(e: unknown): ReplyError {
    if (e instanceof IoReplyError) return new ReplyError((e as Error).message);
    throw new Error(`redis backend (${this.name}): ${errorMessage(e)}`);
  }

  async command(raw: CommandArg[]): Promise<Reply> {
    const p = this.prepare(raw);
    if (p.refused) return p.refused;
    let reply: Reply;
    try {
      reply = normalize(await this.client.callBuffer(p.name, ...p.args));
    } catch (e) {
      reply = this.settle(e);
    }
    return p.after ? p.after(reply) : reply;
  }

  async pipeline(cmds: CommandArg[][]): Promise<Reply[]> {
    const prepared = cmds.map((c) => this.prepare(c));
    const sendable = prepared.filter((p) => !p.refused);
    let results: [Error | null, unknown][] = [];
    if (sendable.length > 0) {
      const pipe = this.client.pipeline();
      for (const p of sendable) pipe.callBuffer(p.name, ...p.args);
      const out = await pipe.exec().catch((e: unknown) => {
        throw new Error(`redis backend (${this.name}): ${errorMessage(e)}`);
      });
      results = (out ?? []) as [Error | null, unknown][];
    }
    let i = 0;
    return prepared.map((p) => {
      if (p.refused) return p.refused;
      const [e, value] = results[i++] ?? [new Error("no reply"), null];
      const reply = e ? this.settle(e) : normalize(value);
      return p.after ? p.after(reply) : reply;
    });
  }

  async transaction(cmds: CommandArg[][]): Promise<Reply[] | ReplyError> {
    const prepared = cmds.map((c) => this.prepare(c));
    // A command refused here would have failed at queue time: the whole transaction is discarded.
    if (prepared.some((p) => p.refused)) return new ReplyError("EXECABORT Transaction discarded because of previous errors.");
    const multi = this.client.multi();
    for (const p of prepared) multi.callBuffer(p.name, ...p.args);
    let out: [Error | null, unknown][] | null;
    try {
      out = (await multi.exec()) as [Error | null, unknown][] | null;
    } catch (e) {
      return this.settle(e);
    }
    if (out === null) return new ReplyError("EXECABORT Transaction discarded because of previous errors.");
    return prepared.map((p, i) => {
      const [e, value] = out![i] ?? [new Error("no reply"), null];
      const reply = e ? this.settle(e) : normalize(value);
      return p.after ? p.after(reply) : reply;
    });
  }

  async flush(): Promise<void> {
    const r = await this.command(["FLUSHDB"]);
    if (r instanceof ReplyError) throw new Error(`FLUSHDB failed on ${this.name}: ${r.message}`);
  }

  async ping(): Promise<void> {
    const r = await this.command(["PING"]);
    if (r instanceof ReplyError) throw new Error(`PING failed on ${this.name}: ${r.message}`);
  }

  async close(): Promise<void> {
    try {
      await Promise.race([this.client.quit(), new Promise((r) => setTimeout(r, 1000).unref())]);
    } catch {
      // already gone
    }
    this.client.disconnect();
  }

  /** The last connection-level error ioredis reported (for diagnostics). */
  get lastConnectionError(): Error | null {
    return this.lastError;
  }
}
