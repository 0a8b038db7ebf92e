// Source-level preparation of Redis scripts for fengari (a Lua 5.3 VM in JS):
//   - the "#!lua flags=..." shebang, parsed the way Redis 7 does and blanked out of the code
//     (the line stays, empty, so error line numbers match Redis);
//   - decimal integer literals rewritten as floats ("10" -> "10.0"). Redis runs Lua 5.1, where
//     every number is a double; fengari has 32-bit integers that wrap on overflow
//     (100000 * 100000 is 1410065408 there), so scripts must compute with floats.

/** Flags Redis 7 accepts in a shebang, plus Upstash's allow-key-locking (a no-op here). */
export const KNOWN_SCRIPT_FLAGS = new Set(["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys", "allow-key-locking"]);

/** Shebang flags understood by Upstash but rejected by Redis 7.0 (stripped before a real Redis sees them). */
export const UPSTASH_ONLY_SCRIPT_FLAGS = new Set(["allow-key-locking"]);

export interface ParsedScript {
  /** True when the script starts with a shebang (Redis then enforces its flags). */
  hasShebang: boolean;
  flags: Set<string>;
  /** The code to compile: the shebang line emptied, the newline kept. */
  code: string;
}

/** Splits a line like sdssplitargs does for the simple cases a shebang has (spaces, quotes). */
function splitArgs(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length) break;
    let cur = "";
    if (line[i] === '"' || line[i] === "'") {
      const q = line[i++];
      while (i < line.length && line[i] !== q) {
        if (q === '"' && line[i] === "\\" && i + 1 < line.length) i++;
        cur += line[i++];
      }
      if (i >= line.length) return null; // unbalanced quotes
      i++;
    } else {
      while (i < line.length && !/\s/.test(line[i])) cur += line[i++];
    }
    out.push(cur);
  }
  return out;
}

/** Parses the shebang as Redis 7.0 does; returns an error message (with ERR) when invalid. */
export function parseScript(body: string): ParsedScript | { error: string } {
  if (!body.startsWith("#!")) return { hasShebang: false, flags: new Set(), code: body };
  const nl = body.indexOf("\n");
  if (nl < 0) return { error: "ERR Invalid script shebang" };
  const parts = splitArgs(body.slice(0, nl));
  if (!parts || parts.length === 0) return { error: "ERR Invalid engine in script shebang" };
  if (parts[0] !== "#!lua") return { error: `ERR Unexpected engine in script shebang: ${parts[0]}` };
  const flags = new Set<string>();
  for (const part of parts.slice(1)) {
    if (!part.startsWith("flags=")) return { error: `ERR Unknown lua shebang option: ${part}` };
    const list = part.slice(6);
    if (list === "") continue;
    for (const flag of list.split(",")) {
      if (!KNOWN_SCRIPT_FLAGS.has(flag)) return { error: `ERR Unexpected flag in script shebang: ${flag}` };
      flags.add(flag);
    }
  }
  return { hasShebang: true, flags, code: body.slice(nl) };
}

/**
 * Removes the given flags from a script's shebang, keeping everything else byte for byte.
 * Returns the body unchanged when there is nothing to remove.
 */
export function stripShebangFlags(body: Buffer, remove: Set<string>): Buffer {
  if (body.length < 2 || body[0] !== 0x23 || body[1] !== 0x21) return body;
  const nl = body.indexOf(0x0a);
  if (nl < 0) return body;
  const line = body.subarray(0, nl).toString("latin1");
  let changed = false;
  const rewritten = line.replace(/(\s)flags=(\S*)/g, (_m, sp: string, list: string) => {
    const kept = list.split(",").filter((f) => {
      if (remove.has(f)) {
        changed = true;
        return false;
      }
      return true;
    });
    return `${sp}flags=${kept.join(",")}`;
  });
  if (!changed) return body;
  return Buffer.concat([Buffer.from(rewritten, "latin1"), body.subarray(nl)]);
}

/**
 * Rewrites decimal integer literals as float literals, leaving strings, comments, hex
 * literals and numbers that already have a fraction or exponent untouched.
 */
export function floatifyIntegerLiterals(src: string): string {
  let out = "";
  let i = 0;
  let last = 0;
  const n = src.length;
  const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  const isIdentStart = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c === "_";
  const isIdent = (c: string | undefined) => c !== undefined && (isIdentStart(c) || isDigit(c));

  /** Length of the "[==[" opener at i (level = number of '='), or -1. */
  const longBracket = (at: number): number => {
    if (src[at] !== "[") return -1;
    let j = at + 1;
    while (src[j] === "=") j++;
    return src[j] === "[" ? j - at - 1 : -1;
  };
  const skipLong = (at: number, level: number): number => {
    const close = "]" + "=".repeat(level) + "]";
    const end = src.indexOf(close, at + level + 2);
    return end < 0 ? n : end + close.length;
  };

  while (i < n) {
    const c = src[i];
    if (c === "-" && src[i + 1] === "-") {
      const level = longBracket(i + 2);
      if (level >= 0) i = skipLong(i + 2, level);
      else {
        const end = src.indexOf("\n", i);
        i = end < 0 ? n : end;
      }
    } else if (c === "[" && longBracket(i) >= 0) {
      i = skipLong(i, longBracket(i));
    } else if (c === '"' || c === "'") {
      i++;
      while (i < n && src[i] !== c && src[i] !== "\n") i += src[i] === "\\" ? 2 : 1;
      i++;
    } else if (isIdentStart(c)) {
      while (i < n && isIdent(src[i])) i++;
    } else if (c === "." && src[i + 1] === ".") {
      i += src[i + 2] === "." ? 3 : 2;
    } else if (isDigit(c) || (c === "." && isDigit(src[i + 1]))) {
      const start = i;
      if (c === "0" && (src[i + 1] === "x" || src[i + 1] === "X")) {
        i += 2;
        while (i < n && (isIdent(src[i]) || src[i] === ".")) i++;
        continue;
      }
      // Lua reads a numeral greedily: digits, dots, exponent with sign, letters.
      while (i < n) {
        const d = src[i];
        if ((d === "e" || d === "E") && (src[i + 1] === "+" || src[i + 1] === "-")) i += 2;
        else if (isIdent(d) || d === ".") i++;
        else break;
      }
      const numeral = src.slice(start, i);
      if (/^[0-9]+$/.test(numeral)) {
        out += src.slice(last, i) + ".0";
        last = i;
      }
    } else {
      i++;
    }
  }
  return out + src.slice(last);
}
