// Embedded Redis for machines without one: an in-memory keyspace (memory-store.ts), a command
// table answering like Redis 7.0 (same replies, same error texts for the common mistakes) and
// EVAL & co. on the Lua engine (lua-engine.ts). Everything runs synchronously, so a command,
// a script or a transaction is atomic by construction.
import { randomInt } from "node:crypto";
import { ReplyError, StatusReply, toBuffer, type CommandArg, type RedisBackend, type Reply } from "./backend.ts";
import { LuaEngine } from "./lua-engine.ts";
import { Keyspace, ZSet, globMatch, type Entry, type EntryType } from "./memory-store.ts";
import { addLongDouble, formatG, formatLongDoubleHuman, parseDouble, parseInt64, parseLongDouble, INT64_MAX, INT64_MIN } from "./numbers.ts";
import { restUnavailableError } from "./rest-policy.ts";

// ---- reply & argument helpers ----------------------------------------------------------------

const OK = new StatusReply("OK");
const err = (msg: string) => new ReplyError(msg);
const SYNTAX = "ERR syntax error";
const NOT_INT = "ERR value is not an integer or out of range";
const NOT_FLOAT = "ERR value is not a valid float";

/** Keys/fields/members: one char per byte. */
const s = (b: Buffer) => b.toString("latin1");
const bulk = (x: string) => Buffer.from(x, "latin1");
const lc = (b: Buffer) => b.toString("latin1").toLowerCase();

function int(b: Buffer, msg = NOT_INT): bigint {
  const v = parseInt64(b.toString("latin1"));
  if (v === null) throw err(msg);
  return v;
}
const num = (b: Buffer, msg = NOT_INT) => Number(int(b, msg));

function dbl(b: Buffer, msg = NOT_FLOAT): number {
  const v = parseDouble(b.toString("latin1"));
  if (v === null) throw err(msg);
  return v;
}

const scoreReply = (x: number) => bulk(formatG(x, 17));

function arityError(name: string): ReplyError {
  return err(`ERR wrong number of arguments for '${name}' command`);
}

function unknownCommand(args: Buffer[]): ReplyError {
  let tail = "";
  for (let i = 1; i < args.length && tail.length < 128; i++) {
    tail += `'${args[i].toString("utf8").slice(0, 128 - tail.length)}' `;
  }
  return err(`ERR unknown command '${args[0].toString("utf8").slice(0, 128)}', with args beginning with: ${tail}`);
}

/** Redis' start/end normalisation for LRANGE, ZRANGE by rank, GETRANGE... ; null = empty. */
function rankRange(start: number, end: number, len: number): [number, number] | null {
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (start > end || start >= len) return null;
  if (end >= len) end = len - 1;
  return [start, end];
}

interface ScoreRange {
  min: number;
  max: number;
  minex: boolean;
  maxex: boolean;
}

function parseScoreBound(b: Buffer): { v: number; ex: boolean } | null {
  let t = b.toString("latin1");
  let ex = false;
  if (t.startsWith("(")) {
    ex = true;
    t = t.slice(1);
  }
  const v = parseDouble(t);
  return v === null ? null : { v, ex };
}

function parseScoreRange(minB: Buffer, maxB: Buffer): ScoreRange | null {
  const a = parseScoreBound(minB);
  const b = parseScoreBound(maxB);
  if (!a || !b) return null;
  return { min: a.v, minex: a.ex, max: b.v, maxex: b.ex };
}

const inScoreRange = (x: number, r: ScoreRange) => (r.minex ? x > r.min : x >= r.min) && (r.maxex ? x < r.max : x <= r.max);

interface LexBound {
  kind: "-" | "+" | "[" | "(";
  v: string;
}

function parseLexBound(b: Buffer): LexBound | null {
  const t = b.toString("latin1");
  if (t === "-" || t === "+") return { kind: t, v: "" };
  if (t.startsWith("[") || t.startsWith("(")) return { kind: t[0] as "[" | "(", v: t.slice(1) };
  return null;
}

function lexGte(x: string, min: LexBound): boolean {
  if (min.kind === "-") return true;
  if (min.kind === "+") return false;
  return min.kind === "[" ? x >= min.v : x > min.v;
}

function lexLte(x: string, max: LexBound): boolean {
  if (max.kind === "+") return true;
  if (max.kind === "-") return false;
  return max.kind === "[" ? x <= max.v : x < max.v;
}

// ---- the command table ---------------------------------------------------------------------

interface Ctx {
  ks: Keyspace;
  lua: LuaEngine;
  inScript: boolean;
}

type Handler = (a: Buffer[], ctx: Ctx) => Reply;

interface CommandDef {
  /** Redis arity: n > 0 exactly n arguments (command name included), n < 0 at least -n. */
  arity: number;
  write?: boolean;
  /** Not callable from scripts (EVAL inside EVAL, SCRIPT...). */
  noscript?: boolean;
  fn: Handler;
}

const commands = new Map<string, CommandDef>();
function def(names: string | string[], arity: number, fn: Handler, opts: { write?: boolean; noscript?: boolean } = {}): void {
  for (const name of Array.isArray(names) ? names : [names]) commands.set(name, { arity, fn, ...opts });
}
const W = { write: true };

// ---- typed lookups --------------------------------------------------------------------------

function getString(ctx: Ctx, key: Buffer): Buffer | null {
  const e = ctx.ks.getTyped(s(key), "string");
  return e ? e.value : null;
}

function getHash(ctx: Ctx, key: Buffer, create = false): Map<string, Buffer> | null {
  const k = s(key);
  const e = ctx.ks.getTyped(k, "hash");
  if (e) return e.value;
  if (!create) return null;
  const value = new Map<string, Buffer>();
  ctx.ks.set(k, { type: "hash", value });
  return value;
}

function getSet(ctx: Ctx, key: Buffer, create = false): Set<string> | null {
  const k = s(key);
  const e = ctx.ks.getTyped(k, "set");
  if (e) return e.value;
  if (!create) return null;
  const value = new Set<string>();
  ctx.ks.set(k, { type: "set", value });
  return value;
}

function getZSet(ctx: Ctx, key: Buffer, create = false): ZSet | null {
  const k = s(key);
  const e = ctx.ks.getTyped(k, "zset");
  if (e) return e.value;
  if (!create) return null;
  const value = new ZSet();
  ctx.ks.set(k, { type: "zset", value });
  return value;
}

function getList(ctx: Ctx, key: Buffer, create = false): Buffer[] | null {
  const k = s(key);
  const e = ctx.ks.getTyped(k, "list");
  if (e) return e.value;
  if (!create) return null;
  const value: Buffer[] = [];
  ctx.ks.set(k, { type: "list", value });
  return value;
}

/** Replaces a string value in place: the key keeps its TTL (INCR, APPEND, SETRANGE...). */
function putStringKeepTtl(ctx: Ctx, key: Buffer, value: Buffer): void {
  ctx.ks.set(s(key), { type: "string", value }, true);
}

// ---- connection & server --------------------------------------------------------------------

def("ping", -1, (a) => {
  if (a.length > 2) return arityError("ping");
  return a.length === 2 ? a[1] : new StatusReply("PONG");
});
def("echo", 2, (a) => a[1]);
def("time", 1, () => {
  const us = BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
  return [bulk((us / 1_000_000n).toString()), bulk((us % 1_000_000n).toString())];
});
def("dbsize", 1, (_a, ctx) => ctx.ks.size);
def(
  ["flushdb", "flushall"],
  -1,
  (a, ctx) => {
    if (a.length > 2) return err(SYNTAX);
    if (a.length === 2 && !["async", "sync"].includes(lc(a[1]))) return err(SYNTAX);
    ctx.ks.flush();
    return OK;
  },
  W,
);
def("info", -1, (_a, ctx) => {
  const lines = ["# Server", "redis_version:7.0.0", "redis_mode:standalone", "local_endpoint:memory", "", "# Keyspace"];
  if (ctx.ks.size > 0) lines.push(`db0:keys=${ctx.ks.size},expires=0,avg_ttl=0`);
  return bulk(lines.join("\r\n") + "\r\n");
});

// ---- generic keys ---------------------------------------------------------------------------

def(["del", "unlink"], -2, (a, ctx) => {
  let n = 0;
  for (const k of a.slice(1)) if (ctx.ks.has(s(k)) && ctx.ks.delete(s(k))) n++;
  return n;
}, W);
def("exists", -2, (a, ctx) => a.slice(1).filter((k) => ctx.ks.has(s(k))).length);
def("touch", -2, (a, ctx) => a.slice(1).filter((k) => ctx.ks.has(s(k))).length);
def("type", 2, (a, ctx) => new StatusReply(ctx.ks.get(s(a[1]))?.type ?? "none"));
def("keys", 2, (a, ctx) => {
  const pattern = s(a[1]);
  return ctx.ks.keys().filter((k) => pattern === "*" || globMatch(pattern, k)).map(bulk);
});
def("randomkey", 1, (_a, ctx) => {
  const keys = ctx.ks.keys();
  return keys.length ? bulk(keys[randomInt(keys.length)]) : null;
});

function parseCursor(b: Buffer): number {
  const t = b.toString("latin1");
  if (!/^[0-9]+$/.test(t) || t.length > 20 || BigInt(t) > 2n ** 64n - 1n) throw err("ERR invalid cursor");
  return Number(t);
}

interface ScanOptions {
  pattern: string | null;
  count: number;
  type: string | null;
}

function parseScanOptions(a: Buffer[], from: number, allowType: boolean): ScanOptions {
  const o: ScanOptions = { pattern: null, count: 10, type: null };
  for (let i = from; i < a.length; i++) {
    const opt = lc(a[i]);
    const left = a.length - i - 1;
    if (opt === "count" && left >= 1) {
      o.count = num(a[++i]);
      if (o.count < 1) throw err(SYNTAX);
    } else if (opt === "match" && left >= 1) {
      o.pattern = s(a[++i]);
      if (o.pattern === "*") o.pattern = null;
    } else if (opt === "type" && left >= 1 && allowType) {
      o.type = lc(a[++i]);
    } else throw err(SYNTAX);
  }
  return o;
}

def("scan", -2, (a, ctx) => {
  const cursor = parseCursor(a[1]);
  const o = parseScanOptions(a, 2, true);
  const { next, keys } = ctx.ks.scan(cursor, o.count);
  const out = keys.filter((k) => {
    if (o.pattern !== null && !globMatch(o.pattern, k)) return false;
    if (o.type !== null && ctx.ks.get(k)?.type !== o.type) return false;
    return true;
  });
  return [bulk(String(next)), out.map(bulk)];
});

def(["rename", "renamenx"], 3, (a, ctx) => {
  const nx = lc(a[0]) === "renamenx";
  const src = s(a[1]);
  const dst = s(a[2]);
  const e = ctx.ks.get(src);
  if (!e) return err("ERR no such key");
  if (src === dst) return nx ? 0 : OK;
  if (nx && ctx.ks.has(dst)) return 0;
  const at = ctx.ks.getExpire(src);
  ctx.ks.delete(src);
  ctx.ks.delete(dst);
  ctx.ks.set(dst, e);
  if (at !== undefined) ctx.ks.setExpire(dst, at);
  return nx ? 1 : OK;
}, W);

// ---- expiry ---------------------------------------------------------------------------------

def(["expire", "pexpire", "expireat", "pexpireat"], -3, (a, ctx) => {
  const name = lc(a[0]);
  let nx = false,
    xx = false,
    gt = false,
    lt = false;
  for (const o of a.slice(3)) {
    const opt = lc(o);
    if (opt === "nx") nx = true;
    else if (opt === "xx") xx = true;
    else if (opt === "gt") gt = true;
    else if (opt === "lt") lt = true;
    else return err(`ERR Unsupported option ${o.toString("utf8")}`);
  }
  if (nx && (xx || gt || lt)) return err("ERR NX and XX, GT or LT options at the same time are not compatible");
  if (gt && lt) return err("ERR GT and LT options at the same time are not compatible");
  let when = int(a[2]);
  const seconds = name === "expire" || name === "expireat";
  const relative = name === "expire" || name === "pexpire";
  const invalid = err(`ERR invalid expire time in '${name}' command`);
  if (seconds) {
    if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return invalid;
    when *= 1000n;
  }
  if (relative) {
    when += BigInt(ctx.ks.now());
    if (when > INT64_MAX || when < INT64_MIN) return invalid;
  }
  const key = s(a[1]);
  if (!ctx.ks.has(key)) return 0;
  const current = ctx.ks.getExpire(key);
  const at = Number(when);
  if (nx && current !== undefined) return 0;
  if (xx && current === undefined) return 0;
  if (gt && (current === undefined || at <= current)) return 0;
  if (lt && current !== undefined && at >= current) return 0;
  ctx.ks.setExpire(key, at);
  return 1;
}, W);
def("persist", 2, (a, ctx) => (ctx.ks.has(s(a[1])) && ctx.ks.persist(s(a[1])) ? 1 : 0), W);
def(["ttl", "pttl"], 2, (a, ctx) => {
  const key = s(a[1]);
  if (!ctx.ks.has(key)) return -2;
  const at = ctx.ks.getExpire(key);
  if (at === undefined) return -1;
  const ms = Math.max(0, at - ctx.ks.now());
  return lc(a[0]) === "pttl" ? ms : Math.floor((ms + 500) / 1000);
});
def(["expiretime", "pexpiretime"], 2, (a, ctx) => {
  const key = s(a[1]);
  if (!ctx.ks.has(key)) return -2;
  const at = ctx.ks.getExpire(key);
  if (at === undefined) return -1;
  return lc(a[0]) === "pexpiretime" ? at : Math.floor(at / 1000);
});

// ---- strings --------------------------------------------------------------------------------

def("get", 2, (a, ctx) => getString(ctx, a[1]));

/**
 * SET/GETEX expiry options. Returns the absolute expiry in ms, "keep" (KEEPTTL), "persist"
 * (GETEX PERSIST) or undefined (none given).
 */
type ExpiryChoice = number | "keep" | "persist" | undefined;

function parseSetLike(a: Buffer[], from: number, ctx: Ctx, command: "set" | "getex") {
  let nx = false,
    xx = false,
    get = false;
  let unit: string | null = null;
  let raw: Buffer | null = null;
  let expiry: ExpiryChoice;
  for (let i = from; i < a.length; i++) {
    const opt = lc(a[i]);
    const next = i + 1 < a.length ? a[i + 1] : null;
    const timeGiven = unit !== null || expiry === "keep" || expiry === "persist";
    if (command === "set" && opt === "nx" && !xx && !nx) nx = true;
    else if (command === "set" && opt === "xx" && !nx && !xx) xx = true;
    else if (command === "set" && opt === "get" && !get) get = true;
    else if (command === "set" && opt === "keepttl" && !timeGiven) expiry = "keep";
    else if (command === "getex" && opt === "persist" && !timeGiven) expiry = "persist";
    else if (["ex", "px", "exat", "pxat"].includes(opt) && !timeGiven && next) {
      unit = opt;
      raw = next;
      i++;
    } else throw err(SYNTAX);
  }
  if (unit && raw) {
    const v = int(raw);
    const invalid = err(`ERR invalid expire time in '${command}' command`);
    if (v <= 0n) throw invalid;
    let ms = unit === "ex" || unit === "exat" ? v * 1000n : v;
    if ((unit === "ex" || unit === "exat") && v > INT64_MAX / 1000n) throw invalid;
    if (unit === "ex" || unit === "px") ms += BigInt(ctx.ks.now());
    if (ms > INT64_MAX) throw invalid;
    expiry = Number(ms);
  }
  return { nx, xx, get, expiry };
}

def("set", -3, (a, ctx) => {
  const { nx, xx, get, expiry } = parseSetLike(a, 3, ctx, "set");
  const key = s(a[1]);
  const old = get ? getString(ctx, a[1]) : null; // WRONGTYPE before any change
  const exists = ctx.ks.has(key);
  if ((nx && exists) || (xx && !exists)) return get ? old : null;
  ctx.ks.set(key, { type: "string", value: a[2] }, expiry === "keep");
  if (typeof expiry === "number") ctx.ks.setExpire(key, expiry);
  return get ? old : OK;
}, W);
def(["setex", "psetex"], 4, (a, ctx) => {
  const name = lc(a[0]);
  const v = int(a[2]);
  if (v <= 0n || (name === "setex" && v > INT64_MAX / 1000n)) return err(`ERR invalid expire time in '${name}' command`);
  const key = s(a[1]);
  ctx.ks.set(key, { type: "string", value: a[3] });
  ctx.ks.setExpire(key, ctx.ks.now() + Number(name === "setex" ? v * 1000n : v));
  return OK;
}, W);
def("setnx", 3, (a, ctx) => {
  if (ctx.ks.has(s(a[1]))) return 0;
  ctx.ks.set(s(a[1]), { type: "string", value: a[2] });
  return 1;
}, W);
def("getset", 3, (a, ctx) => {
  const old = getString(ctx, a[1]);
  ctx.ks.set(s(a[1]), { type: "string", value: a[2] });
  return old;
}, W);
def("getdel", 2, (a, ctx) => {
  const v = getString(ctx, a[1]);
  if (v !== null) ctx.ks.delete(s(a[1]));
  return v;
}, W);
def("getex", -2, (a, ctx) => {
  const { expiry } = parseSetLike(a, 2, ctx, "getex");
  const v = getString(ctx, a[1]);
  if (v === null) return null;
  const key = s(a[1]);
  if (expiry === "persist") ctx.ks.persist(key);
  else if (typeof expiry === "number") ctx.ks.setExpire(key, expiry);
  return v;
}, W);
def("mget", -2, (a, ctx) =>
  a.slice(1).map((k) => {
    const e = ctx.ks.get(s(k));
    return e && e.type === "string" ? e.value : null;
  }),
);
def(["mset", "msetnx"], -3, (a, ctx) => {
  const name = lc(a[0]);
  if ((a.length - 1) % 2 !== 0) return arityError(name);
  if (name === "msetnx") {
    for (let i = 1; i < a.length; i += 2) if (ctx.ks.has(s(a[i]))) return 0;
  }
  for (let i = 1; i < a.length; i += 2) ctx.ks.set(s(a[i]), { type: "string", value: a[i + 1] });
  return name === "msetnx" ? 1 : OK;
}, W);

function incrBy(ctx: Ctx, key: Buffer, by: bigint): Reply {
  const cur = getString(ctx, key);
  let v = 0n;
  if (cur !== null) {
    const parsed = parseInt64(cur.toString("latin1"));
    if (parsed === null) return err(NOT_INT);
    v = parsed;
  }
  const next = v + by;
  if (next > INT64_MAX || next < INT64_MIN) return err("ERR increment or decrement would overflow");
  putStringKeepTtl(ctx, key, bulk(next.toString()));
  return Number(next);
}
def("incr", 2, (a, ctx) => incrBy(ctx, a[1], 1n), W);
def("decr", 2, (a, ctx) => incrBy(ctx, a[1], -1n), W);
def("incrby", 3, (a, ctx) => incrBy(ctx, a[1], int(a[2])), W);
def("decrby", 3, (a, ctx) => {
  const by = int(a[2]);
  if (by === INT64_MIN) return err("ERR decrement would overflow");
  return incrBy(ctx, a[1], -by);
}, W);

const INFINITE_RE = /^[+-]?inf(inity)?$/i;

/** INCRBYFLOAT/HINCRBYFLOAT arithmetic: long double, "%.17Lf" trimmed, like Redis. */
function addFloat(current: string | null, incr: Buffer, currentError: string): string | ReplyError {
  const cur = current === null ? parseLongDouble("0") : parseLongDouble(current);
  const incrText = incr.toString("latin1");
  const by = parseLongDouble(incrText);
  if (!by && !INFINITE_RE.test(incrText)) return err(NOT_FLOAT);
  if (!cur) return err(currentError);
  if (!by) return err("ERR increment would produce NaN or Infinity");
  const sum = addLongDouble(cur!, by);
  if (!sum) return err("ERR increment would produce NaN or Infinity");
  return formatLongDoubleHuman(sum);
}
def("incrbyfloat", 3, (a, ctx) => {
  const cur = getString(ctx, a[1]);
  const next = addFloat(cur === null ? null : cur.toString("latin1"), a[2], NOT_FLOAT);
  if (next instanceof ReplyError) return next;
  putStringKeepTtl(ctx, a[1], bulk(next));
  return bulk(next);
}, W);
def("append", 3, (a, ctx) => {
  const cur = getString(ctx, a[1]);
  const next = cur ? Buffer.concat([cur, a[2]]) : a[2];
  if (cur) putStringKeepTtl(ctx, a[1], next);
  else ctx.ks.set(s(a[1]), { type: "string", value: next });
  return next.length;
}, W);
def("strlen", 2, (a, ctx) => getString(ctx, a[1])?.length ?? 0);
def(["getrange", "substr"], 4, (a, ctx) => {
  const start = num(a[2]);
  const end = num(a[3]);
  const v = getString(ctx, a[1]);
  if (!v || (start < 0 && end < 0 && start > end)) return Buffer.alloc(0);
  const r = rankRange(start, end, v.length);
  return r ? Buffer.from(v.subarray(r[0], r[1] + 1)) : Buffer.alloc(0);
});
def("setrange", 4, (a, ctx) => {
  const offset = num(a[2]);
  if (offset < 0) return err("ERR offset is out of range");
  const cur = getString(ctx, a[1]);
  if (a[3].length === 0) return cur?.length ?? 0;
  if (offset + a[3].length > 512 * 1024 * 1024) return err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  const base = cur ?? Buffer.alloc(0);
  const out = Buffer.alloc(Math.max(base.length, offset + a[3].length));
  base.copy(out);
  a[3].copy(out, offset);
  if (cur) putStringKeepTtl(ctx, a[1], out);
  else ctx.ks.set(s(a[1]), { type: "string", value: out });
  return out.length;
}, W);

// ---- hashes ---------------------------------------------------------------------------------

def(["hset", "hmset"], -4, (a, ctx) => {
  const name = lc(a[0]);
  if ((a.length - 2) % 2 !== 0) return arityError(name);
  const h = getHash(ctx, a[1], true)!;
  let added = 0;
  for (let i = 2; i < a.length; i += 2) {
    if (!h.has(s(a[i]))) added++;
    h.set(s(a[i]), a[i + 1]);
  }
  return name === "hmset" ? OK : added;
}, W);
def("hsetnx", 4, (a, ctx) => {
  const h = getHash(ctx, a[1], true)!;
  if (h.has(s(a[2]))) return 0;
  h.set(s(a[2]), a[3]);
  return 1;
}, W);
def("hget", 3, (a, ctx) => getHash(ctx, a[1])?.get(s(a[2])) ?? null);
def("hmget", -3, (a, ctx) => {
  const h = getHash(ctx, a[1]);
  return a.slice(2).map((f) => h?.get(s(f)) ?? null);
});
def("hgetall", 2, (a, ctx) => {
  const out: Reply[] = [];
  for (const [f, v] of getHash(ctx, a[1]) ?? []) out.push(bulk(f), v);
  return out;
});
def("hkeys", 2, (a, ctx) => [...(getHash(ctx, a[1])?.keys() ?? [])].map(bulk));
def("hvals", 2, (a, ctx) => [...(getHash(ctx, a[1])?.values() ?? [])]);
def("hlen", 2, (a, ctx) => getHash(ctx, a[1])?.size ?? 0);
def("hexists", 3, (a, ctx) => (getHash(ctx, a[1])?.has(s(a[2])) ? 1 : 0));
def("hstrlen", 3, (a, ctx) => getHash(ctx, a[1])?.get(s(a[2]))?.length ?? 0);
def("hdel", -3, (a, ctx) => {
  const h = getHash(ctx, a[1]);
  if (!h) return 0;
  let n = 0;
  for (const f of a.slice(2)) if (h.delete(s(f))) n++;
  ctx.ks.deleteIfEmpty(s(a[1]));
  return n;
}, W);
def("hincrby", 4, (a, ctx) => {
  const by = int(a[3]);
  const h = getHash(ctx, a[1], true)!;
  const cur = h.get(s(a[2]));
  let v = 0n;
  if (cur !== undefined) {
    const parsed = parseInt64(cur.toString("latin1"));
    if (parsed === null) {
      ctx.ks.deleteIfEmpty(s(a[1]));
      return err("ERR hash value is not an integer");
    }
    v = parsed;
  }
  const next = v + by;
  if (next > INT64_MAX || next < INT64_MIN) {
    ctx.ks.deleteIfEmpty(s(a[1]));
    return err("ERR increment or decrement would overflow");
  }
  h.set(s(a[2]), bulk(next.toString()));
  return Number(next);
}, W);
def("hincrbyfloat", 4, (a, ctx) => {
  if (!parseLongDouble(a[3].toString("latin1"))) return err(NOT_FLOAT);
  const h = getHash(ctx, a[1], true)!;
  const cur = h.get(s(a[2]));
  const next = addFloat(cur === undefined ? null : cur.toString("latin1"), a[3], "ERR hash value is not a float");
  if (next instanceof ReplyError) {
    ctx.ks.deleteIfEmpty(s(a[1]));
    return next;
  }
  h.set(s(a[2]), bulk(next));
  return bulk(next);
}, W);

/** HSCAN/SSCAN/ZSCAN: small collections are answered in one step (cursor 0), as Redis does for compact encodings. */
function collectionScan(a: Buffer[], items: [string, Buffer | null][]): Reply {
  parseCursor(a[2]);
  const o = parseScanOptions(a, 3, false);
  const out: Reply[] = [];
  for (const [name, value] of items) {
    if (o.pattern !== null && !globMatch(o.pattern, name)) continue;
    out.push(bulk(name));
    if (value) out.push(value);
  }
  return [bulk("0"), out];
}
def("hscan", -3, (a, ctx) => collectionScan(a, [...(getHash(ctx, a[1]) ?? [])]));

// ---- sets -----------------------------------------------------------------------------------

def("sadd", -3, (a, ctx) => {
  const set = getSet(ctx, a[1], true)!;
  let n = 0;
  for (const m of a.slice(2)) {
    if (!set.has(s(m))) {
      set.add(s(m));
      n++;
    }
  }
  return n;
}, W);
def("srem", -3, (a, ctx) => {
  const set = getSet(ctx, a[1]);
  if (!set) return 0;
  let n = 0;
  for (const m of a.slice(2)) if (set.delete(s(m))) n++;
  ctx.ks.deleteIfEmpty(s(a[1]));
  return n;
}, W);
def("sismember", 3, (a, ctx) => (getSet(ctx, a[1])?.has(s(a[2])) ? 1 : 0));
def("smismember", -3, (a, ctx) => {
  const set = getSet(ctx, a[1]);
  return a.slice(2).map((m) => (set?.has(s(m)) ? 1 : 0));
});
def("smembers", 2, (a, ctx) => [...(getSet(ctx, a[1]) ?? [])].map(bulk));
def("scard", 2, (a, ctx) => getSet(ctx, a[1])?.size ?? 0);
def("sscan", -3, (a, ctx) => collectionScan(a, [...(getSet(ctx, a[1]) ?? [])].map((m) => [m, null])));

function pickRandom<T>(items: T[], n: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, n);
}

def("spop", -2, (a, ctx) => {
  if (a.length > 3) return err(SYNTAX);
  const count = a.length === 3 ? num(a[2], "ERR value is out of range, must be positive") : null;
  if (count !== null && count < 0) return err("ERR value is out of range, must be positive");
  const set = getSet(ctx, a[1]);
  if (!set) return count === null ? null : [];
  const picked = pickRandom([...set], count ?? 1);
  for (const m of picked) set.delete(m);
  ctx.ks.deleteIfEmpty(s(a[1]));
  return count === null ? bulk(picked[0]) : picked.map(bulk);
}, W);
def("srandmember", -2, (a, ctx) => {
  if (a.length > 3) return err(SYNTAX);
  const count = a.length === 3 ? num(a[2]) : null;
  const set = getSet(ctx, a[1]);
  const members = [...(set ?? [])];
  if (count === null) return members.length ? bulk(members[randomInt(members.length)]) : null;
  if (count >= 0) return pickRandom(members, count).map(bulk);
  if (!members.length) return [];
  return Array.from({ length: -count }, () => bulk(members[randomInt(members.length)]));
});

function setOp(ctx: Ctx, keys: Buffer[], op: "inter" | "union" | "diff"): Set<string> {
  const sets = keys.map((k) => getSet(ctx, k)); // WRONGTYPE checks on every key first
  let out: Set<string>;
  if (op === "union") {
    out = new Set();
    for (const x of sets) for (const m of x ?? []) out.add(m);
  } else if (op === "inter") {
    if (sets.some((x) => !x)) return new Set();
    const [first, ...rest] = sets as Set<string>[];
    out = new Set([...first].filter((m) => rest.every((x) => x.has(m))));
  } else {
    out = new Set(sets[0] ?? []);
    for (const x of sets.slice(1)) for (const m of x ?? []) out.delete(m);
  }
  return out;
}
def("sinter", -2, (a, ctx) => [...setOp(ctx, a.slice(1), "inter")].map(bulk));
def("sunion", -2, (a, ctx) => [...setOp(ctx, a.slice(1), "union")].map(bulk));
def("sdiff", -2, (a, ctx) => [...setOp(ctx, a.slice(1), "diff")].map(bulk));
for (const op of ["inter", "union", "diff"] as const) {
  def(`s${op}store`, -3, (a, ctx) => {
    const result = setOp(ctx, a.slice(2), op);
    const dst = s(a[1]);
    ctx.ks.delete(dst);
    if (result.size > 0) ctx.ks.set(dst, { type: "set", value: result });
    return result.size;
  }, W);
}
def("smove", 4, (a, ctx) => {
  const src = getSet(ctx, a[1]);
  getSet(ctx, a[2]); // WRONGTYPE on the destination
  if (!src || !src.has(s(a[3]))) return 0;
  if (s(a[1]) === s(a[2])) return 1;
  src.delete(s(a[3]));
  ctx.ks.deleteIfEmpty(s(a[1]));
  getSet(ctx, a[2], true)!.add(s(a[3]));
  return 1;
}, W);

// ---- sorted sets ----------------------------------------------------------------------------

def("zadd", -4, (a, ctx) => {
  let nx = false,
    xx = false,
    ch = false,
    incr = false,
    gt = false,
    lt = false;
  let i = 2;
  for (; i < a.length; i++) {
    const opt = lc(a[i]);
    if (opt === "nx") nx = true;
    else if (opt === "xx") xx = true;
    else if (opt === "ch") ch = true;
    else if (opt === "incr") incr = true;
    else if (opt === "gt") gt = true;
    else if (opt === "lt") lt = true;
    else break;
  }
  const elements = a.length - i;
  if (elements % 2 !== 0 || elements === 0) return err(SYNTAX);
  if (nx && xx) return err("ERR XX and NX options at the same time are not compatible");
  if ((gt && nx) || (lt && nx) || (gt && lt)) return err("ERR GT, LT, and/or NX options at the same time are not compatible");
  if (incr && elements > 2) return err("ERR INCR option supports a single increment-element pair");
  const pairs: [number, string][] = [];
  for (let j = i; j < a.length; j += 2) pairs.push([dbl(a[j]), s(a[j + 1])]);
  let z = getZSet(ctx, a[1]);
  if (!z) {
    if (xx) return incr ? null : 0;
    z = getZSet(ctx, a[1], true)!;
  }
  let added = 0,
    changed = 0;
  let incrResult: number | null = null;
  for (const [score, member] of pairs) {
    const cur = z.scores.get(member);
    if (cur !== undefined) {
      if (nx) continue;
      let next = score;
      if (incr) {
        next = cur + score;
        if (Number.isNaN(next)) {
          ctx.ks.deleteIfEmpty(s(a[1]));
          return err("ERR resulting score is not a number (NaN)");
        }
      }
      if ((gt && next <= cur) || (lt && next >= cur)) continue;
      incrResult = next;
      if (next !== cur) {
        z.set(member, next);
        changed++;
      }
    } else {
      if (xx) continue;
      z.set(member, score);
      incrResult = score;
      added++;
    }
  }
  ctx.ks.deleteIfEmpty(s(a[1]));
  if (incr) return incrResult === null ? null : scoreReply(incrResult);
  return ch ? added + changed : added;
}, W);
def("zincrby", 4, (a, ctx) => {
  const by = dbl(a[2]);
  const z = getZSet(ctx, a[1], true)!;
  const member = s(a[3]);
  const next = (z.scores.get(member) ?? 0) + by;
  if (Number.isNaN(next)) {
    ctx.ks.deleteIfEmpty(s(a[1]));
    return err("ERR resulting score is not a number (NaN)");
  }
  z.set(member, next);
  return scoreReply(next);
}, W);
def("zrem", -3, (a, ctx) => {
  const z = getZSet(ctx, a[1]);
  if (!z) return 0;
  let n = 0;
  for (const m of a.slice(2)) if (z.delete(s(m))) n++;
  ctx.ks.deleteIfEmpty(s(a[1]));
  return n;
}, W);
def("zscore", 3, (a, ctx) => {
  const v = getZSet(ctx, a[1])?.scores.get(s(a[2]));
  return v === undefined ? null : scoreReply(v);
});
def("zmscore", -3, (a, ctx) => {
  const z = getZSet(ctx, a[1]);
  return a.slice(2).map((m) => {
    const v = z?.scores.get(s(m));
    return v === undefined ? null : scoreReply(v);
  });
});
def("zcard", 2, (a, ctx) => getZSet(ctx, a[1])?.size ?? 0);
def("zcount", 4, (a, ctx) => {
  const r = parseScoreRange(a[2], a[3]);
  if (!r) return err("ERR min or max is not a float");
  return getZSet(ctx, a[1])?.ordered().filter((x) => inScoreRange(x.score, r)).length ?? 0;
});
def(["zrank", "zrevrank"], 3, (a, ctx) => {
  const z = getZSet(ctx, a[1]);
  const r = z?.rank(s(a[2])) ?? null;
  if (r === null || !z) return null;
  return lc(a[0]) === "zrevrank" ? z.size - 1 - r : r;
});

type RangeType = "rank" | "score" | "lex";

/** ZRANGE and its legacy forms (zrangeGenericCommand of Redis 7.0). */
function zrangeGeneric(a: Buffer[], ctx: Ctx, preset: { type?: RangeType; rev?: boolean }): Reply {
  let withScores = false;
  let offset = 0;
  let limit = -1;
  let limitGiven = false;
  let rev: boolean | undefined = preset.rev;
  let type: RangeType | undefined = preset.type;
  for (let j = 4; j < a.length; j++) {
    const opt = lc(a[j]);
    const left = a.length - j - 1;
    if (opt === "withscores") withScores = true;
    else if (opt === "limit" && left >= 2) {
      offset = num(a[j + 1]);
      limit = num(a[j + 2]);
      limitGiven = true;
      j += 2;
    } else if (rev === undefined && opt === "rev") rev = true;
    else if (type === undefined && opt === "bylex") type = "lex";
    else if (type === undefined && opt === "byscore") type = "score";
    else return err(SYNTAX);
  }
  rev ??= false;
  type ??= "rank";
  if (limitGiven && type === "rank") return err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
  if (withScores && type === "lex") return err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
  let minB = a[2];
  let maxB = a[3];
  if (rev && type !== "rank") [minB, maxB] = [maxB, minB];

  let pick: (items: { member: string; score: number }[]) => { member: string; score: number }[];
  if (type === "rank") {
    const start = num(minB);
    const end = num(maxB);
    pick = (items) => {
      const ordered = rev ? [...items].reverse() : items;
      const r = rankRange(start, end, ordered.length);
      return r ? ordered.slice(r[0], r[1] + 1) : [];
    };
  } else {
    let inRange: (x: { member: string; score: number }) => boolean;
    let lexMin: LexBound | null = null;
    let lexMax: LexBound | null = null;
    if (type === "score") {
      const r = parseScoreRange(minB, maxB);
      if (!r) return err("ERR min or max is not a float");
      inRange = (x) => inScoreRange(x.score, r);
    } else {
      const min = parseLexBound(minB);
      const max = parseLexBound(maxB);
      if (!min || !max) return err("ERR min or max not valid string range item");
      lexMin = min;
      lexMax = max;
      inRange = (x) => lexGte(x.member, min) && lexLte(x.member, max);
    }
    pick = (items) => {
      if (offset < 0) return [];
      const ordered = rev ? [...items].reverse() : items;
      // Redis walks from the first element inside the range and stops at the first one
      // outside it (for lex ranges over mixed scores this differs from a filter).
      const first = ordered.findIndex((x) => (type === "lex" ? (rev ? lexLte(x.member, lexMax!) : lexGte(x.member, lexMin!)) : inRange(x)));
      const matched: { member: string; score: number }[] = [];
      if (first >= 0) for (let i = first; i < ordered.length && inRange(ordered[i]); i++) matched.push(ordered[i]);
      const page = matched.slice(offset);
      return limit < 0 ? page : page.slice(0, limit);
    };
  }
  const z = getZSet(ctx, a[1]);
  if (!z) return [];
  const out: Reply[] = [];
  for (const x of pick(z.ordered())) {
    out.push(bulk(x.member));
    if (withScores) out.push(scoreReply(x.score));
  }
  return out;
}
def("zrange", -4, (a, ctx) => zrangeGeneric(a, ctx, {}));
def("zrevrange", -4, (a, ctx) => zrangeGeneric(a, ctx, { type: "rank", rev: true }));
def("zrangebyscore", -4, (a, ctx) => zrangeGeneric(a, ctx, { type: "score", rev: false }));
def("zrevrangebyscore", -4, (a, ctx) => zrangeGeneric(a, ctx, { type: "score", rev: true }));
def("zrangebylex", -4, (a, ctx) => zrangeGeneric(a, ctx, { type: "lex", rev: false }));
def("zrevrangebylex", -4, (a, ctx) => zrangeGeneric(a, ctx, { type: "lex", rev: true }));
def("zremrangebyscore", 4, (a, ctx) => {
  const r = parseScoreRange(a[2], a[3]);
  if (!r) return err("ERR min or max is not a float");
  const z = getZSet(ctx, a[1]);
  if (!z) return 0;
  const doomed = z.ordered().filter((x) => inScoreRange(x.score, r));
  for (const x of doomed) z.delete(x.member);
  ctx.ks.deleteIfEmpty(s(a[1]));
  return doomed.length;
}, W);
def("zremrangebyrank", 4, (a, ctx) => {
  const start = num(a[2]);
  const end = num(a[3]);
  const z = getZSet(ctx, a[1]);
  if (!z) return 0;
  const r = rankRange(start, end, z.size);
  if (!r) return 0;
  const doomed = z.ordered().slice(r[0], r[1] + 1);
  for (const x of doomed) z.delete(x.member);
  ctx.ks.deleteIfEmpty(s(a[1]));
  return doomed.length;
}, W);
def(["zpopmin", "zpopmax"], -2, (a, ctx) => {
  if (a.length > 3) return err(SYNTAX);
  const count = a.length === 3 ? num(a[2], "ERR value is out of range, must be positive") : 1;
  if (count < 0) return err("ERR value is out of range, must be positive");
  const z = getZSet(ctx, a[1]);
  if (!z) return [];
  const ordered = z.ordered();
  const picked = (lc(a[0]) === "zpopmax" ? [...ordered].reverse() : ordered).slice(0, count);
  const out: Reply[] = [];
  for (const x of picked) {
    z.delete(x.member);
    out.push(bulk(x.member), scoreReply(x.score));
  }
  ctx.ks.deleteIfEmpty(s(a[1]));
  return out;
}, W);
def("zscan", -3, (a, ctx) => collectionScan(a, (getZSet(ctx, a[1])?.ordered() ?? []).map((x) => [x.member, scoreReply(x.score)])));

/** ZUNION/ZINTER(STORE): numkeys keys [WEIGHTS ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]. */
function zsetOp(a: Buffer[], ctx: Ctx, op: "union" | "inter", store: boolean): Reply {
  const name = lc(a[0]);
  const numIdx = store ? 2 : 1;
  const n = num(a[numIdx]);
  if (n < 1) return err(`ERR at least 1 input key is needed for '${name}' command`);
  if (numIdx + n >= a.length) return err(SYNTAX);
  const keys = a.slice(numIdx + 1, numIdx + 1 + n);
  const weights = keys.map(() => 1);
  let aggregate: "sum" | "min" | "max" = "sum";
  let withScores = false;
  for (let j = numIdx + 1 + n; j < a.length; j++) {
    const opt = lc(a[j]);
    const left = a.length - j - 1;
    if (opt === "weights" && left >= n) {
      for (let w = 0; w < n; w++) weights[w] = dbl(a[j + 1 + w], "ERR weight value is not a float");
      j += n;
    } else if (opt === "aggregate" && left >= 1) {
      const agg = lc(a[j + 1]);
      if (agg !== "sum" && agg !== "min" && agg !== "max") return err(SYNTAX);
      aggregate = agg;
      j++;
    } else if (opt === "withscores" && !store) withScores = true;
    else return err(SYNTAX);
  }
  const inputs = keys.map((k) => {
    const e = ctx.ks.get(s(k));
    if (!e) return new Map<string, number>();
    if (e.type === "zset") return e.value.scores;
    if (e.type === "set") return new Map([...e.value].map((m) => [m, 1]));
    throw err("WRONGTYPE Operation against a key holding the wrong kind of value");
  });
  const fold = (acc: number, x: number) => {
    const r = aggregate === "sum" ? acc + x : aggregate === "min" ? Math.min(acc, x) : Math.max(acc, x);
    return Number.isNaN(r) ? 0 : r;
  };
  const weighted = (x: number, w: number) => {
    const r = x * w;
    return Number.isNaN(r) ? 0 : r;
  };
  const result = new Map<string, number>();
  if (op === "union") {
    inputs.forEach((input, idx) => {
      for (const [m, sc] of input) {
        const v = weighted(sc, weights[idx]);
        result.set(m, result.has(m) ? fold(result.get(m)!, v) : v);
      }
    });
  } else {
    const [first, ...rest] = inputs;
    for (const [m, sc] of first) {
      if (!rest.every((x) => x.has(m))) continue;
      let acc = weighted(sc, weights[0]);
      rest.forEach((x, idx) => (acc = fold(acc, weighted(x.get(m)!, weights[idx + 1]))));
      result.set(m, acc);
    }
  }
  const z = new ZSet();
  for (const [m, sc] of result) z.set(m, sc);
  if (store) {
    const dst = s(a[1]);
    ctx.ks.delete(dst);
    if (z.size > 0) ctx.ks.set(dst, { type: "zset", value: z });
    return z.size;
  }
  const out: Reply[] = [];
  for (const x of z.ordered()) {
    out.push(bulk(x.member));
    if (withScores) out.push(scoreReply(x.score));
  }
  return out;
}
def("zunion", -3, (a, ctx) => zsetOp(a, ctx, "union", false));
def("zinter", -3, (a, ctx) => zsetOp(a, ctx, "inter", false));
def("zunionstore", -4, (a, ctx) => zsetOp(a, ctx, "union", true), W);
def("zinterstore", -4, (a, ctx) => zsetOp(a, ctx, "inter", true), W);

// ---- lists ----------------------------------------------------------------------------------

def(["lpush", "rpush", "lpushx", "rpushx"], -3, (a, ctx) => {
  const name = lc(a[0]);
  const list = getList(ctx, a[1], !name.endsWith("x"));
  if (!list) return 0;
  for (const v of a.slice(2)) {
    if (name.startsWith("l")) list.unshift(v);
    else list.push(v);
  }
  return list.length;
}, W);
def(["lpop", "rpop"], -2, (a, ctx) => {
  if (a.length > 3) return err(SYNTAX);
  const count = a.length === 3 ? num(a[2], "ERR value is out of range, must be positive") : null;
  if (count !== null && count < 0) return err("ERR value is out of range, must be positive");
  const list = getList(ctx, a[1]);
  if (!list) return null;
  const left = lc(a[0]) === "lpop";
  const take = (n: number) => (left ? list.splice(0, n) : list.splice(Math.max(0, list.length - n), n).reverse());
  const out = take(count ?? 1);
  ctx.ks.deleteIfEmpty(s(a[1]));
  return count === null ? (out[0] ?? null) : out;
}, W);
def("llen", 2, (a, ctx) => getList(ctx, a[1])?.length ?? 0);
def("lrange", 4, (a, ctx) => {
  const start = num(a[2]);
  const end = num(a[3]);
  const list = getList(ctx, a[1]) ?? [];
  const r = rankRange(start, end, list.length);
  return r ? list.slice(r[0], r[1] + 1) : [];
});
def("lindex", 3, (a, ctx) => {
  const i = num(a[2]);
  const list = getList(ctx, a[1]) ?? [];
  return list[i < 0 ? list.length + i : i] ?? null;
});
def("lset", 4, (a, ctx) => {
  const i = num(a[2]);
  const list = getList(ctx, a[1]);
  if (!list) return err("ERR no such key");
  const idx = i < 0 ? list.length + i : i;
  if (idx < 0 || idx >= list.length) return err("ERR index out of range");
  list[idx] = a[3];
  return OK;
}, W);
def("lrem", 4, (a, ctx) => {
  const count = num(a[2]);
  const list = getList(ctx, a[1]);
  if (!list) return 0;
  let removed = 0;
  const max = count === 0 ? Infinity : Math.abs(count);
  const idxs = list.map((_, i) => i);
  if (count < 0) idxs.reverse();
  const doomed = new Set<number>();
  for (const i of idxs) {
    if (removed >= max) break;
    if (list[i].equals(a[3])) {
      doomed.add(i);
      removed++;
    }
  }
  const kept = list.filter((_, i) => !doomed.has(i));
  list.length = 0;
  list.push(...kept);
  ctx.ks.deleteIfEmpty(s(a[1]));
  return removed;
}, W);
def("ltrim", 4, (a, ctx) => {
  const start = num(a[2]);
  const end = num(a[3]);
  const list = getList(ctx, a[1]);
  if (!list) return OK;
  const r = rankRange(start, end, list.length);
  const kept = r ? list.slice(r[0], r[1] + 1) : [];
  list.length = 0;
  list.push(...kept);
  ctx.ks.deleteIfEmpty(s(a[1]));
  return OK;
}, W);

// ---- scripting ------------------------------------------------------------------------------

function evalGeneric(a: Buffer[], ctx: Ctx): Reply {
  const name = lc(a[0]);
  const numkeys = int(a[2]);
  if (numkeys > BigInt(a.length - 3)) return err("ERR Number of keys can't be greater than number of args");
  if (numkeys < 0n) return err("ERR Number of keys can't be negative");
  const n = Number(numkeys);
  const keys = a.slice(3, 3 + n);
  const argv = a.slice(3 + n);
  const readOnly = name.endsWith("_ro");
  return ctx.ks.withFrozenTime(() =>
    name.startsWith("evalsha") ? ctx.lua.evalsha(a[1].toString("latin1"), keys, argv, readOnly) : ctx.lua.eval(a[1], keys, argv, readOnly),
  );
}
def(["eval", "evalsha"], -3, evalGeneric, { write: true, noscript: true });
def(["eval_ro", "evalsha_ro"], -3, evalGeneric, { noscript: true });

const SCRIPT_SUBCOMMANDS: Record<string, { arity: number; fn: Handler }> = {
  load: { arity: 3, fn: (a, ctx) => ctx.lua.load(a[2]) },
  exists: { arity: -3, fn: (a, ctx) => a.slice(2).map((sha) => (ctx.lua.exists(sha.toString("latin1")) ? 1 : 0)) },
  flush: {
    arity: -2,
    fn: (a, ctx) => {
      if (a.length > 3 || (a.length === 3 && !["async", "sync"].includes(lc(a[2])))) {
        return err("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
      }
      ctx.lua.flush();
      return OK;
    },
  },
  kill: { arity: 2, fn: () => err("NOTBUSY No scripts in execution right now.") },
};
def("script", -2, (a, ctx) => {
  const sub = lc(a[1]);
  const spec = SCRIPT_SUBCOMMANDS[sub];
  if (!spec) return err(`ERR unknown subcommand '${a[1].toString("utf8")}'. Try SCRIPT HELP.`);
  if ((spec.arity > 0 && a.length !== spec.arity) || a.length < -spec.arity) return arityError(`script|${sub}`);
  return spec.fn(a, ctx);
}, { noscript: true });

// ---- the backend ----------------------------------------------------------------------------

export interface MemoryBackendOptions {
  /** How often expired keys are swept (they also expire lazily on access). Default 100 ms. */
  sweepIntervalMs?: number;
  /** Longest a Lua script may run before it is aborted with an error. Default 5000 ms. */
  scriptTimeoutMs?: number;
}

export class MemoryBackend implements RedisBackend {
  readonly name = "memory";
  private readonly ks = new Keyspace();
  private readonly lua: LuaEngine;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(options: MemoryBackendOptions = {}) {
    this.lua = new LuaEngine({ call: (args, readOnly) => this.scriptCall(args, readOnly) }, { timeoutMs: options.scriptTimeoutMs });
    this.timer = setInterval(() => this.ks.sweepExpired(), options.sweepIntervalMs ?? 100);
    this.timer.unref();
  }

  /** Runs one command synchronously; Redis errors come back as ReplyError values. */
  exec(args: Buffer[]): Reply {
    if (args.length === 0) return err("ERR empty command");
    const name = lc(args[0]);
    const restricted = restUnavailableError(name);
    if (restricted) return err(restricted);
    const spec = commands.get(name);
    if (!spec) return unknownCommand(args);
    if ((spec.arity > 0 && args.length !== spec.arity) || args.length < -spec.arity) return arityError(name);
    return this.run(spec, args, false);
  }

  private run(spec: CommandDef, args: Buffer[], inScript: boolean): Reply {
    try {
      return spec.fn(args, { ks: this.ks, lua: this.lua, inScript });
    } catch (e) {
      if (e instanceof ReplyError) return e;
      throw e;
    }
  }

  /** redis.call from a script: Redis' script-context checks, then the command. */
  private scriptCall(args: Buffer[], readOnly: boolean): Reply {
    const name = lc(args[0]);
    const spec = commands.get(name);
    if (!spec || restUnavailableError(name)) return err("ERR Unknown Redis command called from script");
    if ((spec.arity > 0 && args.length !== spec.arity) || args.length < -spec.arity) {
      return err("ERR Wrong number of args calling Redis command from script");
    }
    if (spec.noscript) return err("ERR This Redis command is not allowed from script");
    if (readOnly && spec.write) return err("ERR Write commands are not allowed from read-only scripts.");
    return this.run(spec, args, true);
  }

  private check(): void {
    if (this.closed) throw new Error("memory backend is closed");
  }

  async command(args: CommandArg[]): Promise<Reply> {
    this.check();
    return this.exec(args.map(toBuffer));
  }

  async pipeline(cmds: CommandArg[][]): Promise<Reply[]> {
    this.check();
    return cmds.map((c) => this.exec(c.map(toBuffer)));
  }

  async transaction(cmds: CommandArg[][]): Promise<Reply[] | ReplyError> {
    this.check();
    const parsed = cmds.map((c) => c.map(toBuffer));
    // Queue-time checks, as MULTI does: any unknown command or bad arity discards everything.
    for (const args of parsed) {
      const name = args.length ? lc(args[0]) : "";
      const spec = commands.get(name);
      const bad = !spec || restUnavailableError(name) || (spec.arity > 0 && args.length !== spec.arity) || args.length < -spec.arity;
      if (bad) return err("EXECABORT Transaction discarded because of previous errors.");
    }
    return this.ks.withFrozenTime(() => parsed.map((args) => this.exec(args)));
  }

  async flush(): Promise<void> {
    this.check();
    this.ks.flush();
  }

  async ping(): Promise<void> {
    this.check();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.ks.flush();
    this.lua.close();
  }

  /** Names of the commands this backend implements (lowercase). */
  static commandNames(): string[] {
    return [...commands.keys()].sort();
  }
}

export type { Entry, EntryType };
