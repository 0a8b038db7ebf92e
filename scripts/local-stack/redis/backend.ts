// The storage side of the local Upstash endpoint: one interface, two implementations
// (memory-backend.ts: embedded, no Redis needed; server-backend.ts: a real Redis via ioredis).
//
// Replies keep Redis' RESP2 shapes and stay binary-safe (bulk strings are Buffers), so the
// REST handler decides how to encode them (base64 or utf8). Redis error replies are VALUES
// (ReplyError instances), never rejections: a promise from a backend rejects only when the
// backend itself fails (connection refused, timeout, closed).

/** A RESP simple-string reply such as OK, PONG or the answer of TYPE. */
export class StatusReply {
  readonly status: string;
  constructor(status: string) {
    this.status = status;
  }
  toString(): string {
    return this.status;
  }
}

/** A Redis error reply, message as Redis words it ("WRONGTYPE Operation against ..."). */
export class ReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplyError";
  }
}

/** RESP2 reply: nil, integer, bulk string (Buffer), simple string, error, or array of replies. */
export type Reply = null | number | Buffer | StatusReply | ReplyError | Reply[];

/** One command argument, as the REST body gives it (strings are utf8, numbers are formatted). */
export type CommandArg = string | number | Uint8Array;

export interface RedisBackend {
  /** Describes the backend, e.g. "memory" or "redis:127.0.0.1:6379/15". */
  readonly name: string;
  /** Runs one command. An error reply resolves to a ReplyError. */
  command(args: CommandArg[]): Promise<Reply>;
  /** Runs commands in order (not atomic); one reply or ReplyError per command. */
  pipeline(cmds: CommandArg[][]): Promise<Reply[]>;
  /**
   * MULTI/EXEC: all commands run atomically with nothing interleaved. Runtime errors are
   * ReplyErrors inside the array (the other commands still run); a transaction discarded
   * before running (unknown command, wrong arity) resolves to one ReplyError (EXECABORT).
   */
  transaction(cmds: CommandArg[][]): Promise<Reply[] | ReplyError>;
  /** FLUSHDB of the selected database only. */
  flush(): Promise<void>;
  /** Rejects when the backend is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function toBuffer(arg: CommandArg): Buffer {
  if (typeof arg === "string") return Buffer.from(arg, "utf8");
  if (typeof arg === "number") return Buffer.from(formatArgNumber(arg), "latin1");
  if (Buffer.isBuffer(arg)) return arg as Buffer;
  return Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength);
}

/** Numbers in a command body become decimal strings (JSON has no other way to send them). */
export function formatArgNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return BigInt(n).toString();
  return String(n);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
