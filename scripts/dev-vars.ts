// .dev.vars and the env file `npm run dev` hands to `wrangler dev --env-file`, read and written
// exactly as the installed wrangler (4.x) reads them, so every value arrives unchanged:
//
// - wrangler reads .dev.vars with dotenv 16.3.1's `parse` and nothing else;
// - it reads an --env-file with the same `parse`, then runs dotenv-expand 12.0.2 over every
//   value, quoted or not: `$NAME` and `${NAME}` are interpolated (from the file's earlier keys;
//   the process environment is not consulted unless CLOUDFLARE_INCLUDE_PROCESS_ENV is set, which
//   scripts/local-worker.ts turns off), and every `\$` becomes `$`.
//
// dotenv's parse, in short: `KEY=value` or `KEY: value`, optional `export `; a value in '…', "…"
// or `…` may span lines and keeps everything between its quotes, except that in "…" the two-character
// sequences \n and \r become a newline and a carriage return. Nothing else is unescaped: \" stays
// \" (so "…" cannot hold a double quote), \\ stays \\, and a quote character can only appear inside
// its own kind of quotes as \' (backslash kept). An unquoted value ends at the first # and is
// trimmed. Carriage returns anywhere in the file are read as newlines.
//
// parseDevVars and readEnvFileAsWrangler below are those two readers, ported line for line;
// formatDevVars writes a file that readEnvFileAsWrangler gives back unchanged, or refuses a value
// it cannot represent, naming the variable. test/node/dev-vars.test.ts holds both against
// wrangler's own reader (its exported unstable_getVarsForDev).
//
// No quoting can carry some values through that parser (all three quote characters with a # or a
// line break, some carriage-return and `\n` combinations). planDevVars hands those to wrangler
// another way: `wrangler dev --var KEY:VALUE`, which wrangler splits at the first colon only
// (src/utils/collectKeyValues.ts) and binds as a hidden plain_text var over the env file's values;
// yargs keeps a `--var=…` argument of a string array option byte for byte (no quote stripping, no
// number coercion, line breaks kept). A command line cannot hold a NUL character, so a value with
// one is the only one still refused (wrangler also stops on one in its env file).
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";

// dotenv 16.3.1, lib/main.js: LINE and parse().
const LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;

/** A .dev.vars file as wrangler reads it (dotenv 16.3.1's parse, no interpolation). */
export function parseDevVars(text: string): Record<string, string> {
  const obj: Record<string, string> = {};
  const lines = text.replace(/\r\n?/gm, "\n");
  LINE.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = LINE.exec(lines)) != null) {
    const key = match[1];
    let value = (match[2] || "").trim();
    const maybeQuote = value[0];
    value = value.replace(/^(['"`])([\s\S]*)\1$/gm, "$2");
    if (maybeQuote === '"') {
      value = value.replace(/\\n/g, "\n");
      value = value.replace(/\\r/g, "\r");
    }
    obj[key] = value;
  }
  return obj;
}

// dotenv-expand 12.0.2, lib/main.js: expandValue() and expand(), with the empty processEnv that
// wrangler passes when it does not include the process environment.
function expandValue(value: string, processEnv: Record<string, string>, runningParsed: Record<string, string>): string {
  const env = { ...runningParsed, ...processEnv };
  const regex = /(?<!\\)\${([^{}]+)}|(?<!\\)\$([A-Za-z_][A-Za-z0-9_]*)/g;
  let result = value;
  let match: RegExpExecArray | null;
  const seen = new Set<string>();
  while ((match = regex.exec(result)) !== null) {
    seen.add(result);
    const [template, bracedExpression, unbracedExpression] = match;
    const expression = bracedExpression || unbracedExpression;
    const opMatch = expression.match(/(:\+|\+|:-|-)/);
    const splitter = opMatch ? opMatch[0] : null;
    const r = expression.split(splitter as string);
    let defaultValue: string;
    let value2: string | null | undefined;
    const key = r.shift()!;
    if (splitter === ":+" || splitter === "+") {
      defaultValue = env[key] ? r.join(splitter) : "";
      value2 = null;
    } else {
      defaultValue = r.join(splitter as string);
      value2 = env[key];
    }
    if (value2) result = result.replace(template, seen.has(value2) ? defaultValue : value2);
    else result = result.replace(template, defaultValue);
    if (result === runningParsed[key]) break;
    regex.lastIndex = 0;
  }
  return result;
}

function expand(parsed: Record<string, string>): Record<string, string> {
  const processEnv: Record<string, string> = {};
  const runningParsed: Record<string, string> = {};
  for (const key in parsed) {
    let value = parsed[key];
    if (processEnv[key] && processEnv[key] !== value) value = processEnv[key];
    else value = expandValue(value, processEnv, runningParsed);
    parsed[key] = value.replace(/\\\$/g, "$");
    runningParsed[key] = parsed[key];
  }
  return parsed;
}

/** An --env-file as `wrangler dev` reads it: dotenv's parse, then dotenv-expand. */
export function readEnvFileAsWrangler(text: string): Record<string, string> {
  return expand(parseDevVars(text));
}

/** A variable whose value no line of an env file can carry to wrangler unchanged. */
export class DevVarError extends Error {
  readonly variable: string;
  /** True when only the env file's syntax is in the way (planDevVars passes such a value as --var). */
  readonly envFileOnly: boolean;
  constructor(variable: string, problem: string, envFileOnly = false) {
    super(`${variable}: ${problem}`);
    this.name = "DevVarError";
    this.variable = variable;
    this.envFileOnly = envFileOnly;
  }
}

/** Values written as they are: nothing dotenv would trim, cut at #, unquote or interpolate. */
const PLAIN = /^[\w.,:/@%+=*-]+$/;

/** The ways `key`'s value could be written, most readable first; `$` is always escaped for dotenv-expand. */
function candidates(value: string): string[] {
  const e = value.replace(/\$/g, "\\$");
  const out = PLAIN.test(value) ? [value] : [];
  out.push(`'${e}'`, `\`${e}\``, `"${e.replace(/\r/g, "\\r").replace(/\n/g, "\\n")}"`);
  return out;
}

function unrepresentable(key: string, value: string): DevVarError {
  const why: string[] = [];
  if (value.includes("'") && value.includes("`") && value.includes('"'))
    why.push("it contains all three quote characters ' \" ` (possible only on one line without #)");
  if (value.includes("\r")) why.push("it contains a carriage return, which only \"…\" can carry (as \\r)");
  if (/\\[nr]/.test(value)) why.push("it contains the sequence \\n or \\r, which \"…\" would turn into a line break");
  if (value.endsWith("\\")) why.push("it ends with a backslash, which would escape its closing quote");
  return new DevVarError(
    key,
    `cannot be written to the env file wrangler dev reads without changing it (wrangler's dotenv parser has no escapes${
      why.length ? `; ${why.join("; ")}` : ""
    }). planDevVars passes such a value to wrangler dev as --var instead.`,
    true,
  );
}

/**
 * One `KEY=value` line that readEnvFileAsWrangler gives back as exactly `value`, when `following`
 * (the rest of the file) comes after it. Throws DevVarError when no quoting can do that.
 */
export function formatDevVar(key: string, value: string, following = ""): string {
  if (!/^[\w.-]+$/.test(key)) throw new DevVarError(key, "is not a name wrangler's env file can hold (letters, digits, _ . -)");
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value)) throw new DevVarError(key, "contains an unpaired UTF-16 surrogate, which no UTF-8 file can hold");
  for (const quoted of candidates(value)) {
    const line = `${key}=${quoted}`;
    const back = readEnvFileAsWrangler(`${line}\n${following}`);
    if (back[key] === value) return line;
  }
  throw unrepresentable(key, value);
}

/**
 * The whole env file for `vars`: each line chosen (from the last to the first) so that it reads
 * back unchanged before the lines after it, then the whole file checked once more. Values ending
 * in a backslash go last: their closing quote reads as an escaped quote unless no line after
 * them can close it instead.
 */
export function formatDevVars(vars: Record<string, string>, header = ""): string {
  const all = Object.entries(vars);
  const entries = [...all.filter(([, v]) => !v.endsWith("\\")), ...all.filter(([, v]) => v.endsWith("\\"))];
  let body = "";
  for (let i = entries.length - 1; i >= 0; i--) {
    const [key, value] = entries[i];
    body = `${formatDevVar(key, value, body)}\n${body}`;
  }
  const text = `${header}${body}`;
  const back = readEnvFileAsWrangler(text);
  for (const [key, value] of entries) {
    if (back[key] !== value) throw unrepresentable(key, value);
  }
  return text;
}

export function readDevVars(path: string): Record<string, string> {
  return existsSync(path) ? parseDevVars(readFileSync(path, "utf8")) : {};
}

function writeOwnerOnly(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Writes `vars` as an env file wrangler reads back unchanged (owner-only: it holds secrets); refuses what it cannot carry. */
export function writeDevVars(path: string, vars: Record<string, string>, header = ""): void {
  writeOwnerOnly(path, formatDevVars(vars, header));
}

/** The argument `wrangler dev` reads as the binding `key` = `value` (see the top of this file). */
export function formatVarArg(key: string, value: string): string {
  return `--var=${key}:${value}`;
}

/** A `--var=KEY:VALUE` argument as wrangler 4.x reads it: yargs keeps the text after `--var=`, collectKeyValues splits it at the first colon. */
export function readVarArgAsWrangler(arg: string): [string, string] {
  const m = /^--?([^=]+)=([\s\S]*)$/.exec(arg);
  if (!m || m[1] !== "var") throw new Error(`not a --var= argument: ${arg}`);
  const [key, ...value] = m[2].split(":");
  return [key, value.join(":")];
}

/** How `wrangler dev` gets every binding: an env file, and `--var` for the values no env file can carry. */
export interface DevVarsPlan {
  /** The env file's text (for --env-file). */
  envFile: string;
  /** The bindings to pass as `--var KEY:VALUE` (see formatVarArg); usually none. */
  cliVars: Record<string, string>;
}

/**
 * Splits `vars` between an env file (every value its quoting can carry, as formatDevVars writes
 * it) and `--var` arguments (the rest), so that wrangler binds every value unchanged. Throws
 * DevVarError only for a name wrangler cannot bind, an unpaired surrogate (which neither a UTF-8
 * file nor a command line can hold, and which neither .dev.vars nor the environment can produce),
 * or a NUL character (wrangler dev stops on one in its env file, and no command line can hold one).
 */
export function planDevVars(vars: Record<string, string>, header = ""): DevVarsPlan {
  // wrangler dev hands the env file's values to a child process's environment too (it stops with
  // "must be a string without null bytes"), so a NUL character cannot reach the Worker either way.
  for (const [key, value] of Object.entries(vars))
    if (value.includes("\0"))
      throw new DevVarError(key, "contains a NUL character, which wrangler dev cannot take (neither from its env file nor as --var). Remove the NUL character.");
  const inFile = { ...vars };
  const cliVars: Record<string, string> = {};
  for (;;) {
    let envFile: string;
    try {
      envFile = formatDevVars(inFile, header);
    } catch (err) {
      if (!(err instanceof DevVarError) || !err.envFileOnly || !(err.variable in inFile)) throw err;
      const value = inFile[err.variable];
      if (value.includes("\0"))
        throw new DevVarError(
          err.variable,
          "contains a NUL character, which no command line argument can carry, together with characters no env file line can carry (all three quote characters with a # or a line break, or a carriage return or \\n sequence beside them). Remove the NUL character.",
        );
      cliVars[err.variable] = value;
      delete inFile[err.variable];
      continue;
    }
    return { envFile, cliVars };
  }
}

/** Writes the env file of planDevVars (owner-only) and returns the bindings to pass as --var. */
export function writeDevVarsPlan(path: string, vars: Record<string, string>, header = ""): Record<string, string> {
  const { envFile, cliVars } = planDevVars(vars, header);
  writeOwnerOnly(path, envFile);
  return cliVars;
}
