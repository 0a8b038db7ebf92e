// Runs Redis scripts (EVAL & co.) for the in-memory backend, on fengari (Lua 5.3 in JS,
// synchronous, so a script runs atomically against the store). Behaves like Redis 7.0's
// scripting engine where the app and @upstash/ratelimit can observe it:
//   - redis.call / redis.pcall bridged to the command table, with Redis' conversions
//     reply -> Lua (integer -> number, bulk -> string, nil -> false, array -> table,
//     status -> {ok=...}, error -> {err=...}) and Lua -> reply (number -> integer, truncated;
//     string -> bulk; table -> array up to the first nil; {ok=} -> status; {err=} -> error;
//     false -> nil; true -> 1);
//   - KEYS/ARGV, redis.error_reply/status_reply/sha1hex/log/setresp/set_repl/..., cjson, bit;
//   - globals read-only ("Attempt to modify a readonly table", "Script attempted to access
//     nonexistent global variable"), error texts "<msg> script: <sha>, on @user_script:<line>.";
//   - the Lua 5.1 number model (all doubles), see lua-source.ts and loadFengari below.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { ReplyError, StatusReply, type Reply } from "./backend.ts";
import { floatifyIntegerLiterals, parseScript } from "./lua-source.ts";
import { formatG } from "./numbers.ts";

// fengari is CommonJS without types; it is used through this loose surface.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
type LuaState = Any;

const require = createRequire(import.meta.url);

/**
 * Loads fengari configured like Redis' Lua 5.1: floats print without ".0" and with "%.14g"
 * (tostring(2^53) is "9.007199254741e+15"). fengari reads these settings from its luaconf
 * module when its other modules load, so they are patched in before the first require.
 */
function loadFengari(): Any {
  const mainPath = require.resolve("fengari");
  if (!require.cache[mainPath]) {
    // defs.js first: it and luaconf.js require each other, and this is fengari's own order.
    require("fengari/src/defs.js");
    const conf = require("fengari/src/luaconf.js");
    conf.LUA_COMPAT_FLOATSTRING = true;
    conf.lua_number2str = (n: number) => formatG(n, 14);
  }
  return require("fengari");
}

const fengari = loadFengari();
const { lua, lauxlib, lualib, to_luastring } = fengari;

/** True when fengari formats floats like Lua 5.1 (false if it was loaded elsewhere first). */
const floatsLikeLua51 = (() => {
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  lauxlib.luaL_loadstring(L, to_luastring("return tostring(3.0) .. ' ' .. tostring(2^53)"));
  lua.lua_pcall(L, 0, 1, 0);
  return lua.lua_tojsstring(L, -1) === "3 9.007199254741e+15";
})();
if (!floatsLikeLua51) {
  console.warn("[local-stack/redis] fengari was loaded before lua-engine.ts could configure it: Lua scripts will print floats as 3.0 instead of 3");
}

export function sha1hex(data: Uint8Array | string): string {
  return createHash("sha1").update(data).digest("hex");
}

/** Lua number -> Redis integer reply: C's (long long) cast. */
function luaNumberToInteger(n: number): number {
  if (!Number.isFinite(n) || n >= 9223372036854775808 || n < -9223372036854775808) return -9223372036854775808;
  return Math.trunc(n) || 0;
}

const sanitize = (s: string) => s.replace(/[\r\n]/g, " ");

/**
 * Lua 5.3 words runtime errors differently from Redis' Lua 5.1:
 * "attempt to index a nil value (local 'x')" is "attempt to index local 'x' (a nil value)" there.
 */
const lua51Wording = (s: string) => s.replace(/attempt to (.+?) a (\w+) value \((local|global|field|upvalue|method|constant) '([^']*)'\)/g, "attempt to $1 $3 '$4' (a $2 value)");

/**
 * error_reply's normalisation (Redis 7.0 luaPushErrorBuff): "-CODE msg" keeps its code,
 * a message without a code gets "ERR ".
 */
function normalizeErrorReply(msg: string): string {
  let code = "ERR";
  let text = msg;
  if (msg.startsWith("-")) {
    const sp = msg.indexOf(" ");
    if (sp < 0) text = msg.slice(1);
    else {
      code = msg.slice(1, sp);
      text = msg.slice(sp + 1);
    }
  }
  return `${code} ${text.replace(/^[\r\n]+|[\r\n]+$/g, "")}`;
}

/** What the memory backend provides to scripts. */
export interface ScriptHost {
  /**
   * Runs one command for redis.call/redis.pcall, applying the script-context rules (unknown
   * command, arity, commands not allowed from scripts, writes from read-only scripts).
   * Returns the reply or a ReplyError; must not throw.
   */
  call(args: Buffer[], readOnly: boolean): Reply;
}

export interface LuaEngineOptions {
  /** A script running longer than this is aborted with an error (Redis would block; default 5000). */
  timeoutMs?: number;
}

interface CompiledScript {
  ref: number;
  hasShebang: boolean;
  flags: Set<string>;
}

const ERRH_SOURCE = `
local dbg = debug
local type, tostring = type, tostring
return function(err)
  local i = dbg.getinfo(2, 'nSl')
  if i and (i.what == 'C' or i.what == 'J') then i = dbg.getinfo(3, 'nSl') end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
`;

// Lua 5.1 names missing from 5.3, floats where 5.3 returns integers, Redis 7's pcall wrapper
// (an error table raised by redis.call is caught as its err string), the reduced library set,
// and read-only globals. Returns the table that backs the globals (KEYS/ARGV are set there).
const PRELUDE_SOURCE = `
local _tonumber, _floor, _ceil, _pcall, _unpack = tonumber, math.floor, math.ceil, pcall, table.unpack
local type, error, tostring, rawget, setmetatable, pairs = type, error, tostring, rawget, setmetatable, pairs
tonumber = function(...)
  local r = _tonumber(...)
  if r ~= nil then return r + 0.0 end
  return r
end
math.floor = function(x) return _floor(x) + 0.0 end
math.ceil = function(x) return _ceil(x) + 0.0 end
math.pow = function(x, y) return x ^ y end
math.log10 = function(x) return math.log(x, 10) end
math.ldexp = function(m, e) return m * 2.0 ^ e end
math.cosh = function(x) return (math.exp(x) + math.exp(-x)) / 2 end
math.sinh = function(x) return (math.exp(x) - math.exp(-x)) / 2 end
math.tanh = function(x) local a, b = math.exp(x), math.exp(-x) return (a - b) / (a + b) end
math.mod = math.fmod
table.getn = function(t) return #t end
table.maxn = function(t)
  local m = 0
  for k in pairs(t) do if type(k) == 'number' and k > m then m = k end end
  return m
end
unpack = _unpack
loadstring = load
pcall = function(...)
  local r = table.pack(_pcall(...))
  if not r[1] and type(r[2]) == 'table' and type(rawget(r[2], 'err')) == 'string' then
    return false, r[2].err
  end
  return _unpack(r, 1, r.n)
end
print = function() end
io, os, package, require, dofile, loadfile, debug, utf8, coroutine = nil, nil, nil, nil, nil, nil, nil, nil, nil
math.type, math.tointeger, math.ult, string.pack, string.unpack, string.packsize = nil, nil, nil, nil, nil, nil
table.move = nil

local G = _G
local backing = {}
for k, v in pairs(G) do backing[k] = v end
for k in pairs(backing) do G[k] = nil end
backing._G = G
return backing
`;

export class LuaEngine {
  private L: LuaState;
  private readonly host: ScriptHost;
  private readonly timeoutMs: number;
  private scripts = new Map<string, CompiledScript>();
  private errhRef = 0;
  private globalsRef = 0;
  private cjsonNull = { cjsonNull: true };
  /** Set while a script runs: read-only mode for redis.call. */
  private running: { readOnly: boolean; deadline: number } | null = null;

  constructor(host: ScriptHost, options: LuaEngineOptions = {}) {
    this.host = host;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.L = this.createState();
  }

  // ---- public API (used by the memory backend's EVAL/EVALSHA/SCRIPT commands) ------------

  /** EVAL / EVAL_RO: compiles (cached by SHA1) and runs. */
  eval(body: Buffer, keys: Buffer[], argv: Buffer[], readOnlyCommand: boolean): Reply {
    const sha = sha1hex(body);
    let script = this.scripts.get(sha);
    if (!script) {
      const compiled = this.compile(body, sha);
      if (compiled instanceof ReplyError) return compiled;
      script = compiled;
    }
    return this.run(sha, script, keys, argv, readOnlyCommand);
  }

  /** EVALSHA / EVALSHA_RO. */
  evalsha(sha: string, keys: Buffer[], argv: Buffer[], readOnlyCommand: boolean): Reply {
    const script = this.scripts.get(sha.toLowerCase());
    if (!script) return new ReplyError("NOSCRIPT No matching script. Please use EVAL.");
    return this.run(sha.toLowerCase(), script, keys, argv, readOnlyCommand);
  }

  /** SCRIPT LOAD: compiles and caches; returns the SHA1 as a bulk string. */
  load(body: Buffer): Reply {
    const sha = sha1hex(body);
    if (!this.scripts.has(sha)) {
      const compiled = this.compile(body, sha);
      if (compiled instanceof ReplyError) return compiled;
    }
    return Buffer.from(sha, "latin1");
  }

  exists(sha: string): boolean {
    return this.scripts.has(sha.toLowerCase());
  }

  /** SCRIPT FLUSH: a fresh Lua state, as Redis does. */
  flush(): void {
    this.scripts.clear();
    this.L = this.createState();
  }

  close(): void {
    this.scripts.clear();
  }

  // ---- state setup -----------------------------------------------------------------------

  private createState(): LuaState {
    const L = lauxlib.luaL_newstate();
    lualib.luaL_openlibs(L);
    lua.lua_atnativeerror(L, (L2: LuaState) => {
      const e = lua.lua_touserdata(L2, -1);
      lua.lua_pushstring(L2, to_luastring(`internal error: ${e instanceof Error ? e.message : String(e)}`));
      return 1;
    });

    // The message handler must capture `debug` before the prelude removes it.
    this.errhRef = this.runSetupChunk(L, ERRH_SOURCE, "=errh");

    // Lua 5.1's error(): a number message also gets the "user_script:N: " prefix.
    lua.lua_pushjsfunction(L, (L2: LuaState) => {
      const level = lauxlib.luaL_optinteger(L2, 2, 1);
      lua.lua_settop(L2, 1);
      const t = lua.lua_type(L2, 1);
      if ((t === lua.LUA_TSTRING || t === lua.LUA_TNUMBER) && level > 0) {
        lauxlib.luaL_where(L2, level);
        lua.lua_pushvalue(L2, 1);
        lua.lua_concat(L2, 2);
      }
      return lua.lua_error(L2);
    });
    lua.lua_setglobal(L, to_luastring("error"));

    lua.lua_newtable(L);
    this.registerRedisLib(L);
    lua.lua_setglobal(L, to_luastring("redis"));
    lua.lua_newtable(L);
    this.registerCjson(L);
    lua.lua_setglobal(L, to_luastring("cjson"));
    lua.lua_newtable(L);
    this.registerBit(L);
    lua.lua_setglobal(L, to_luastring("bit"));

    this.globalsRef = this.runSetupChunk(L, PRELUDE_SOURCE, "=prelude");
    this.protectGlobals(L);
    return L;
  }

  /**
   * Redis 7's read-only globals: _G is left empty, reads go to the backing table (an error
   * for unknown names), writes fail. JS metamethods, so error positions name the script line.
   */
  private protectGlobals(L: LuaState): void {
    const raise = (L2: LuaState, message: string): number => {
      lauxlib.luaL_where(L2, 1);
      lua.lua_pushstring(L2, to_luastring(message));
      lua.lua_concat(L2, 2);
      return lua.lua_error(L2);
    };
    lua.lua_pushglobaltable(L);
    lua.lua_createtable(L, 0, 3);
    lua.lua_pushjsfunction(L, (L2: LuaState) => {
      lua.lua_rawgeti(L2, lua.LUA_REGISTRYINDEX, this.globalsRef);
      lua.lua_pushvalue(L2, 2);
      if (lua.lua_rawget(L2, -2) === lua.LUA_TNIL) {
        const name = lua.lua_type(L2, 2) === lua.LUA_TSTRING ? lua.lua_tojsstring(L2, 2) : lua.lua_typename(L2, lua.lua_type(L2, 2));
        return raise(L2, `Script attempted to access nonexistent global variable '${name}'`);
      }
      return 1;
    });
    lua.lua_setfield(L, -2, to_luastring("__index"));
    lua.lua_pushjsfunction(L, (L2: LuaState) => raise(L2, "Attempt to modify a readonly table"));
    lua.lua_setfield(L, -2, to_luastring("__newindex"));
    lua.lua_pushboolean(L, false);
    lua.lua_setfield(L, -2, to_luastring("__metatable"));
    lua.lua_setmetatable(L, -2);
    lua.lua_pop(L, 1);
  }

  /** Runs a setup chunk returning one value, stores the value in the registry, returns the ref. */
  private runSetupChunk(L: LuaState, source: string, name: string): number {
    if (lauxlib.luaL_loadbuffer(L, to_luastring(source), null, to_luastring(name)) !== lua.LUA_OK) {
      throw new Error(`lua setup: ${lua.lua_tojsstring(L, -1)}`);
    }
    if (lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK) throw new Error(`lua setup: ${lua.lua_tojsstring(L, -1)}`);
    return lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
  }

  private setFn(L: LuaState, name: string, fn: (L: LuaState) => number): void {
    lua.lua_pushjsfunction(L, fn);
    lua.lua_setfield(L, -2, to_luastring(name));
  }

  private registerRedisLib(L: LuaState): void {
    this.setFn(L, "call", (L2) => this.redisCall(L2, true));
    this.setFn(L, "pcall", (L2) => this.redisCall(L2, false));
    this.setFn(L, "sha1hex", (L2) => {
      if (lua.lua_gettop(L2) !== 1) return lauxlib.luaL_error(L2, to_luastring("wrong number of arguments"));
      const s = lua.lua_tolstring(L2, 1) ?? new Uint8Array(0);
      lua.lua_pushstring(L2, to_luastring(sha1hex(s)));
      return 1;
    });
    this.setFn(L, "error_reply", (L2) => {
      if (lua.lua_gettop(L2) !== 1 || lua.lua_type(L2, -1) !== lua.LUA_TSTRING) {
        return lauxlib.luaL_error(L2, to_luastring("wrong number or type of arguments"));
      }
      const msg = lua.lua_tojsstring(L2, 1);
      this.pushErrorTable(L2, normalizeErrorReply(msg.startsWith("-") ? msg : `-${msg}`));
      return 1;
    });
    this.setFn(L, "status_reply", (L2) => {
      if (lua.lua_gettop(L2) !== 1 || lua.lua_type(L2, -1) !== lua.LUA_TSTRING) {
        return lauxlib.luaL_error(L2, to_luastring("wrong number or type of arguments"));
      }
      lua.lua_newtable(L2);
      lua.lua_pushvalue(L2, 1);
      lua.lua_setfield(L2, -2, to_luastring("ok"));
      return 1;
    });
    this.setFn(L, "log", (L2) => {
      if (lua.lua_gettop(L2) < 2) return lauxlib.luaL_error(L2, to_luastring("redis.log() requires two arguments or more."));
      return 0;
    });
    this.setFn(L, "setresp", (L2) => {
      const v = lua.lua_tonumber(L2, 1);
      if (v !== 2) return lauxlib.luaL_error(L2, to_luastring("RESP version must be 2 (the local endpoint speaks RESP2 only)."));
      return 0;
    });
    this.setFn(L, "set_repl", () => 0);
    this.setFn(L, "replicate_commands", (L2) => {
      lua.lua_pushboolean(L2, true);
      return 1;
    });
    this.setFn(L, "breakpoint", (L2) => {
      lua.lua_pushboolean(L2, false);
      return 1;
    });
    this.setFn(L, "debug", () => 0);
    const consts: [string, number][] = [
      ["LOG_DEBUG", 0],
      ["LOG_VERBOSE", 1],
      ["LOG_NOTICE", 2],
      ["LOG_WARNING", 3],
      ["REPL_NONE", 0],
      ["REPL_AOF", 1],
      ["REPL_SLAVE", 2],
      ["REPL_REPLICA", 2],
      ["REPL_ALL", 3],
    ];
    for (const [k, v] of consts) {
      lua.lua_pushnumber(L, v);
      lua.lua_setfield(L, -2, to_luastring(k));
    }
  }

  private registerBit(L: LuaState): void {
    const toBit = (x: number): number => {
      if (!Number.isFinite(x)) return 0;
      const r = Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x);
      return Number(BigInt.asIntN(32, BigInt(r)));
    };
    const arg = (L2: LuaState, i: number) => toBit(lauxlib.luaL_checknumber(L2, i));
    const ret = (L2: LuaState, v: number) => {
      lua.lua_pushnumber(L2, v | 0);
      return 1;
    };
    const fold = (op: (a: number, b: number) => number) => (L2: LuaState) => {
      let acc = arg(L2, 1);
      for (let i = 2; i <= lua.lua_gettop(L2); i++) acc = op(acc, arg(L2, i));
      return ret(L2, acc);
    };
    this.setFn(L, "tobit", (L2) => ret(L2, arg(L2, 1)));
    this.setFn(L, "bnot", (L2) => ret(L2, ~arg(L2, 1)));
    this.setFn(L, "band", fold((a, b) => a & b));
    this.setFn(L, "bor", fold((a, b) => a | b));
    this.setFn(L, "bxor", fold((a, b) => a ^ b));
    this.setFn(L, "lshift", (L2) => ret(L2, arg(L2, 1) << (arg(L2, 2) & 31)));
    this.setFn(L, "rshift", (L2) => ret(L2, arg(L2, 1) >>> (arg(L2, 2) & 31)));
    this.setFn(L, "arshift", (L2) => ret(L2, arg(L2, 1) >> (arg(L2, 2) & 31)));
    this.setFn(L, "rol", (L2) => {
      const a = arg(L2, 1);
      const n = arg(L2, 2) & 31;
      return ret(L2, (a << n) | (a >>> (32 - n)));
    });
    this.setFn(L, "ror", (L2) => {
      const a = arg(L2, 1);
      const n = arg(L2, 2) & 31;
      return ret(L2, (a >>> n) | (a << (32 - n)));
    });
    this.setFn(L, "bswap", (L2) => {
      const a = arg(L2, 1);
      return ret(L2, ((a >>> 24) & 0xff) | ((a >>> 8) & 0xff00) | ((a & 0xff00) << 8) | ((a & 0xff) << 24));
    });
    this.setFn(L, "tohex", (L2) => {
      const a = arg(L2, 1);
      let n = lua.lua_isnoneornil(L2, 2) ? 8 : arg(L2, 2);
      const upper = n < 0;
      if (upper) n = -n;
      n = Math.min(n, 8);
      let hex = (a >>> 0).toString(16).padStart(8, "0").slice(8 - n);
      if (upper) hex = hex.toUpperCase();
      lua.lua_pushstring(L2, to_luastring(hex));
      return 1;
    });
  }

  private registerCjson(L: LuaState): void {
    this.setFn(L, "encode", (L2) => {
      if (lua.lua_gettop(L2) !== 1) return lauxlib.luaL_error(L2, to_luastring("bad argument #1 to 'encode' (expected 1 argument)"));
      let text: string;
      try {
        text = this.luaToJson(L2, 1, 0);
      } catch (e) {
        return lauxlib.luaL_error(L2, to_luastring(e instanceof Error ? e.message : String(e)));
      }
      lua.lua_pushstring(L2, Buffer.from(text, "utf8"));
      return 1;
    });
    this.setFn(L, "decode", (L2) => {
      const raw = lauxlib.luaL_checklstring(L2, 1);
      let value: unknown;
      try {
        value = JSON.parse(Buffer.from(raw).toString("utf8"));
      } catch {
        return lauxlib.luaL_error(L2, to_luastring("Expected value but found invalid token at character 1"));
      }
      this.pushJson(L2, value, 0);
      return 1;
    });
    lua.lua_pushlightuserdata(L, this.cjsonNull);
    lua.lua_setfield(L, -2, to_luastring("null"));
  }

  private luaToJson(L: LuaState, idx: number, depth: number): string {
    if (depth > 1000) throw new Error("Cannot serialise, excessive nesting (1001)");
    idx = lua.lua_absindex(L, idx);
    switch (lua.lua_type(L, idx)) {
      case lua.LUA_TNIL:
        return "null";
      case lua.LUA_TBOOLEAN:
        return lua.lua_toboolean(L, idx) ? "true" : "false";
      case lua.LUA_TNUMBER: {
        const n = lua.lua_tonumber(L, idx);
        if (!Number.isFinite(n)) throw new Error("Cannot serialise number: must not be NaN or Inf");
        return formatG(n, 14);
      }
      case lua.LUA_TSTRING:
        return JSON.stringify(Buffer.from(lua.lua_tolstring(L, idx)).toString("utf8")).replace(/\//g, "\\/");
      case lua.LUA_TLIGHTUSERDATA:
        if (lua.lua_touserdata(L, idx) === this.cjsonNull) return "null";
        throw new Error("Cannot serialise userdata: type not supported");
      case lua.LUA_TTABLE: {
        // Array when every key is a positive integer (cjson's rule, without its sparse check).
        let maxIndex = 0;
        let count = 0;
        let isArray = true;
        lua.lua_pushnil(L);
        while (lua.lua_next(L, idx) !== 0) {
          count++;
          if (lua.lua_type(L, -2) === lua.LUA_TNUMBER) {
            const k = lua.lua_tonumber(L, -2);
            if (Number.isInteger(k) && k >= 1) maxIndex = Math.max(maxIndex, k);
            else isArray = false;
          } else isArray = false;
          lua.lua_pop(L, 1);
        }
        if (isArray && count > 0) {
          const parts: string[] = [];
          for (let i = 1; i <= maxIndex; i++) {
            lua.lua_rawgeti(L, idx, i);
            parts.push(this.luaToJson(L, -1, depth + 1));
            lua.lua_pop(L, 1);
          }
          return `[${parts.join(",")}]`;
        }
        const parts: string[] = [];
        lua.lua_pushnil(L);
        while (lua.lua_next(L, idx) !== 0) {
          const kt = lua.lua_type(L, -2);
          if (kt !== lua.LUA_TSTRING && kt !== lua.LUA_TNUMBER) throw new Error("Cannot serialise table: table key must be a number or string");
          const key = kt === lua.LUA_TNUMBER ? formatG(lua.lua_tonumber(L, -2), 14) : Buffer.from(lua.lua_tolstring(L, -2)).toString("utf8");
          parts.push(`${JSON.stringify(key).replace(/\//g, "\\/")}:${this.luaToJson(L, -1, depth + 1)}`);
          lua.lua_pop(L, 1);
        }
        return `{${parts.join(",")}}`;
      }
      default:
        throw new Error(`Cannot serialise ${lua.lua_typename(L, lua.lua_type(L, idx))}: type not supported`);
    }
  }

  private pushJson(L: LuaState, v: unknown, depth: number): void {
    lauxlib.luaL_checkstack(L, 4, null);
    if (v === null) lua.lua_pushlightuserdata(L, this.cjsonNull);
    else if (typeof v === "boolean") lua.lua_pushboolean(L, v);
    else if (typeof v === "number") lua.lua_pushnumber(L, v);
    else if (typeof v === "string") lua.lua_pushstring(L, Buffer.from(v, "utf8"));
    else if (Array.isArray(v)) {
      lua.lua_createtable(L, v.length, 0);
      v.forEach((item, i) => {
        this.pushJson(L, item, depth + 1);
        lua.lua_rawseti(L, -2, i + 1);
      });
    } else {
      lua.lua_newtable(L);
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
        lua.lua_pushstring(L, Buffer.from(k, "utf8"));
        this.pushJson(L, item, depth + 1);
        lua.lua_rawset(L, -3);
      }
    }
  }

  // ---- redis.call / redis.pcall ----------------------------------------------------------

  private pushErrorTable(L: LuaState, message: string): void {
    lua.lua_newtable(L);
    lua.lua_pushstring(L, Buffer.from(sanitize(message), "utf8"));
    lua.lua_setfield(L, -2, to_luastring("err"));
  }

  private redisCall(L: LuaState, raise: boolean): number {
    const fail = (message: string): number => {
      this.pushErrorTable(L, message);
      if (raise) return lua.lua_error(L);
      return 1;
    };
    const argc = lua.lua_gettop(L);
    if (argc === 0) return fail("ERR Please specify at least one argument for this redis lib call");
    const args: Buffer[] = [];
    for (let i = 1; i <= argc; i++) {
      const t = lua.lua_type(L, i);
      if (t === lua.LUA_TSTRING) args.push(Buffer.from(lua.lua_tolstring(L, i)));
      else if (t === lua.LUA_TNUMBER) args.push(Buffer.from(formatG(lua.lua_tonumber(L, i), 17), "latin1"));
      else return fail("ERR Lua redis lib command arguments must be strings or integers");
    }
    let reply: Reply;
    try {
      reply = this.host.call(args, this.running?.readOnly ?? false);
    } catch (e) {
      reply = new ReplyError(`ERR internal error: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (reply instanceof ReplyError) return fail(reply.message);
    this.pushReply(L, reply, 0);
    return 1;
  }

  private pushReply(L: LuaState, r: Reply, depth: number): void {
    lauxlib.luaL_checkstack(L, 4, null);
    if (r === null) lua.lua_pushboolean(L, false);
    else if (typeof r === "number") lua.lua_pushnumber(L, r);
    else if (Buffer.isBuffer(r)) lua.lua_pushstring(L, Uint8Array.from(r as Buffer));
    else if (r instanceof StatusReply) {
      lua.lua_newtable(L);
      lua.lua_pushstring(L, Buffer.from(r.status, "utf8"));
      lua.lua_setfield(L, -2, to_luastring("ok"));
    } else if (r instanceof ReplyError) this.pushErrorTable(L, r.message);
    else {
      lua.lua_createtable(L, r.length, 0);
      for (let i = 0; i < r.length; i++) {
        this.pushReply(L, r[i], depth + 1);
        lua.lua_rawseti(L, -2, i + 1);
      }
    }
  }

  /** Lua value at idx -> Redis reply (RESP2 rules of Redis 7.0). */
  private toReply(L: LuaState, idx: number, depth: number): Reply {
    idx = lua.lua_absindex(L, idx);
    switch (lua.lua_type(L, idx)) {
      case lua.LUA_TSTRING:
        return Buffer.from(lua.lua_tolstring(L, idx));
      case lua.LUA_TBOOLEAN:
        return lua.lua_toboolean(L, idx) ? 1 : null;
      case lua.LUA_TNUMBER:
        return luaNumberToInteger(lua.lua_tonumber(L, idx));
      case lua.LUA_TTABLE: {
        if (depth > 1000) return new ReplyError("ERR reached lua stack limit");
        lauxlib.luaL_checkstack(L, 4, null);
        lua.lua_pushstring(L, to_luastring("err"));
        if (lua.lua_rawget(L, idx) === lua.LUA_TSTRING) {
          const msg = Buffer.from(lua.lua_tolstring(L, -1)).toString("utf8");
          lua.lua_pop(L, 1);
          return new ReplyError(sanitize(msg));
        }
        lua.lua_pop(L, 1);
        lua.lua_pushstring(L, to_luastring("ok"));
        if (lua.lua_rawget(L, idx) === lua.LUA_TSTRING) {
          const msg = Buffer.from(lua.lua_tolstring(L, -1)).toString("utf8");
          lua.lua_pop(L, 1);
          return new StatusReply(sanitize(msg));
        }
        lua.lua_pop(L, 1);
        const out: Reply[] = [];
        for (let j = 1; ; j++) {
          if (lua.lua_rawgeti(L, idx, j) === lua.LUA_TNIL) {
            lua.lua_pop(L, 1);
            break;
          }
          out.push(this.toReply(L, -1, depth + 1));
          lua.lua_pop(L, 1);
        }
        return out;
      }
      default:
        return null;
    }
  }

  // ---- compile & run -----------------------------------------------------------------------

  private compile(body: Buffer, sha: string): CompiledScript | ReplyError {
    const L = this.L;
    const parsed = parseScript(body.toString("latin1"));
    if ("error" in parsed) return new ReplyError(parsed.error);
    // latin1 round trip keeps the bytes; the literal rewrite only touches ASCII digits.
    const code = Buffer.from(floatifyIntegerLiterals(parsed.code), "latin1");
    if (lauxlib.luaL_loadbuffer(L, new Uint8Array(code), null, to_luastring("@user_script")) !== lua.LUA_OK) {
      const msg = lua.lua_tojsstring(L, -1);
      lua.lua_pop(L, 1);
      return new ReplyError(sanitize(`ERR Error compiling script (new function): ${msg}`));
    }
    const ref = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
    const script = { ref, hasShebang: parsed.hasShebang, flags: parsed.flags };
    this.scripts.set(sha, script);
    return script;
  }

  private setArray(L: LuaState, name: string, items: Buffer[]): void {
    lua.lua_createtable(L, items.length, 0);
    items.forEach((item, i) => {
      lua.lua_pushstring(L, new Uint8Array(item));
      lua.lua_rawseti(L, -2, i + 1);
    });
    lua.lua_setfield(L, -2, to_luastring(name));
  }

  private run(sha: string, script: CompiledScript, keys: Buffer[], argv: Buffer[], readOnlyCommand: boolean): Reply {
    if (readOnlyCommand && script.hasShebang && !script.flags.has("no-writes")) {
      return new ReplyError("ERR Can not execute a script with write flag using *_ro command.");
    }
    if (this.running) return new ReplyError("ERR This Redis command is not allowed from script");
    const L = this.L;
    const base = lua.lua_gettop(L);
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.globalsRef);
    this.setArray(L, "KEYS", keys);
    this.setArray(L, "ARGV", argv);
    lua.lua_pop(L, 1);

    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, this.errhRef);
    lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, script.ref);
    const readOnly = readOnlyCommand || script.flags.has("no-writes");
    this.running = { readOnly, deadline: Date.now() + this.timeoutMs };
    lua.lua_sethook(
      L,
      (L2: LuaState) => {
        if (this.running && Date.now() > this.running.deadline) {
          this.pushErrorTable(L2, `ERR script killed: it ran longer than ${this.timeoutMs} ms (local endpoint limit)`);
          lua.lua_error(L2);
        }
      },
      lua.LUA_MASKCOUNT,
      10000,
    );
    let status: number;
    try {
      status = lua.lua_pcall(L, 0, 1, base + 1);
    } catch (e) {
      // A JS exception escaped the VM: the state cannot be trusted any more.
      this.running = null;
      this.flush();
      return new ReplyError(`ERR internal error running script: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      lua.lua_sethook(L, null, 0, 0);
      this.running = null;
    }
    let reply: Reply;
    if (status === lua.LUA_OK) {
      reply = this.toReply(L, -1, 0);
    } else {
      reply = this.errorFromLua(L, sha);
    }
    lua.lua_settop(L, base);
    return reply;
  }

  /** The error object a failed run left (a table from the message handler) -> error reply. */
  private errorFromLua(L: LuaState, sha: string): ReplyError {
    if (lua.lua_type(L, -1) !== lua.LUA_TTABLE) {
      const s = lua.lua_tojsstring(L, -1) ?? "execution failure";
      return new ReplyError(sanitize(`ERR Error running script ${sha}, ${s}`));
    }
    const field = (name: string): string | null => {
      lua.lua_getfield(L, -1, to_luastring(name));
      const t = lua.lua_type(L, -1);
      const v = t === lua.LUA_TSTRING || t === lua.LUA_TNUMBER ? Buffer.from(lua.lua_tolstring(L, -1)).toString("utf8") : null;
      lua.lua_pop(L, 1);
      return v;
    };
    // (Redis 7.0 crashes on an error table without err; here it is just an error.)
    let msg = lua51Wording(field("err") ?? "ERR unknown script error");
    const source = field("source");
    const line = field("line");
    if (source !== null && line !== null) msg += ` script: ${sha}, on ${source}:${line}.`;
    return new ReplyError(sanitize(msg));
  }
}
