// scripts/dev-vars.ts against wrangler's own reader (its exported unstable_getVarsForDev, the
// function `wrangler dev` calls): an env file written by writeDevVars reads back as exactly the
// values written, for every string it does not refuse; planDevVars passes those it refuses as
// --var, so that every string reaches the Worker (checked against a real `wrangler dev` too); and
// parseDevVars reads a developer's .dev.vars as wrangler itself would.
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { unstable_getVarsForDev } from "wrangler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DevVarError,
  formatDevVar,
  formatDevVars,
  formatVarArg,
  parseDevVars,
  planDevVars,
  readEnvFileAsWrangler,
  readVarArgAsWrangler,
  writeDevVars,
  writeDevVarsPlan,
} from "../../scripts/dev-vars.ts";
import { freePorts, startWranglerDev, WRANGLER_ENV_FILE_ONLY } from "../../scripts/local-worker.ts";

let dir: string;
let files = 0;
const saved: Record<string, string | undefined> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "edge-auth-dev-vars-"));
  // The switches scripts/local-worker.ts gives wrangler dev, so the reader here is the one it runs.
  for (const [k, v] of Object.entries(WRANGLER_ENV_FILE_ONLY)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

function values(bindings: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(bindings).map(([k, b]) => [k, (b as { value: string }).value]));
}

/** What `wrangler dev --env-file <file>` binds, for a file written by writeDevVars. */
function wranglerReadsWritten(vars: Record<string, string>): Record<string, string> {
  const file = join(dir, `vars-${files++}.env`);
  writeDevVars(file, vars, "# header comment: it is ignored\n");
  return values(unstable_getVarsForDev(join(dir, "wrangler.toml"), [file], {}, undefined, true));
}

/** What `wrangler dev --env-file <file>` binds, for a file with this text. */
function wranglerReadsEnvFile(text: string): Record<string, string> {
  const file = join(dir, `raw-${files++}.env`);
  writeFileSync(file, text);
  return values(unstable_getVarsForDev(join(dir, "wrangler.toml"), [file], {}, undefined, true));
}

/** What plain `wrangler dev` binds from a .dev.vars with this text. */
function wranglerReadsDevVars(text: string): Record<string, string> {
  const project = join(dir, `project-${files++}`);
  mkdirSync(project);
  writeFileSync(join(project, ".dev.vars"), text);
  return values(unstable_getVarsForDev(join(project, "wrangler.toml"), undefined, {}, undefined, true));
}

const PEM = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/** Values that the old writer (every " as \") or a naive dotenv line would have changed. */
const AWKWARD: Record<string, string> = {
  DOUBLE_QUOTES: 'say "hi"',
  RETIRED_JSON: '[{"kid":"old","pem":"-----BEGIN PUBLIC KEY-----\\nMIIB\\n-----END PUBLIC KEY-----\\n"}]',
  ESCAPED_QUOTES: 'a \\"quoted\\" word',
  BACKSLASHES: "C:\\path\\to\\new \\\\ double \\t",
  TRAILING_BACKSLASH: "ends with \\",
  LITERAL_ESCAPES: "not\\na line break, \\r neither",
  NEWLINES: "line 1\nline 2\n",
  LEADING_NEWLINE: "\nafter a newline",
  CARRIAGE_RETURNS: "dos\r\nline\rend",
  HASH: "a#b # not a comment",
  DOLLARS: "$HOME ${PATH} ${X:-d} \\$USER $ $$ end$",
  SPACES: "  leading and trailing  ",
  TABS: "\tx\t",
  UNICODE: "ключ 🔑 — é",
  SINGLE_QUOTE: "it's",
  BACKTICKS: "run `cmd`",
  TWO_QUOTES: `'single' and "double"`,
  QUOTES_AND_NEWLINE: "it's `x`\nand more",
  QUOTED_EDGES: '"quoted"',
  SINGLE_EDGES: "'x'",
  BACKTICK_EDGES: "`x`",
  EQUALS: "a=b=c",
  EMPTY: "",
  ONLY_SPACES: "   ",
  KEY_LIKE_LINES: "x\nINJECTED=1\n# comment\nexport Y=2",
  PEM,
};

describe("writeDevVars -> wrangler's env-file reader", () => {
  it("gives back every awkward value unchanged, all in one file", () => {
    expect(wranglerReadsWritten(AWKWARD)).toEqual(AWKWARD);
  });

  it("gives back every awkward value unchanged, each in a file of its own", () => {
    for (const [key, value] of Object.entries(AWKWARD)) expect(wranglerReadsWritten({ [key]: value }), key).toEqual({ [key]: value });
  });

  it("keeps a value ending in a backslash from swallowing the lines after it", () => {
    // Each value after it opens with a quote followed by a line end, which could otherwise close it.
    const vars = { A: "one\\", B: "two\\", C: "\n'", D: "\n`x", E: ' #"' };
    expect(wranglerReadsWritten(vars)).toEqual(vars);
  });

  it("writes simple values unquoted and escapes every $ so nothing is interpolated", () => {
    expect(formatDevVar("APP_ENV", "development")).toBe("APP_ENV=development");
    expect(formatDevVar("RATE", "30/1m")).toBe("RATE=30/1m");
    expect(formatDevVar("HOME_REF", "$HOME")).toBe("HOME_REF='\\$HOME'");
    expect(formatDevVar("JSON", '{"a":"b"}')).toBe(`JSON='{"a":"b"}'`);
  });

  it("refuses, naming the variable, a value no line can carry: all three quote characters and a #", () => {
    // On one line without # such a value still works: a quoted value dotenv cannot match is read
    // unquoted, and then its outer quotes are stripped.
    expect(wranglerReadsWritten({ ALL_QUOTES: `it's "x" \`y\`` })).toEqual({ ALL_QUOTES: `it's "x" \`y\`` });
    const value = `it's "x" \`y\` #1`;
    expect(() => formatDevVars({ OK: "1", BAD_ONE: value })).toThrow(DevVarError);
    expect(() => formatDevVars({ OK: "1", BAD_ONE: value })).toThrow(/^BAD_ONE: cannot be written .*all three quote characters/);
    expect(() => formatDevVar("CR_QUOTE_HASH", 'a"\r#')).toThrow(/^CR_QUOTE_HASH: .*carriage return/);
    expect(() => formatDevVar("BAD KEY", "x")).toThrow(/^BAD KEY: is not a name/);
  });

  it("gives back any string it accepts, and refuses only what has no representation", () => {
    const awkwardChar = fc.constantFrom("'", '"', "`", "\\", "$", "{", "}", "#", "=", ":", " ", "\t", "\n", "\r", "n", "r", "a", "Z", "_", "é", "🔑", "\u0000");
    const value = fc.oneof(fc.string({ unit: awkwardChar, maxLength: 24 }), fc.string({ unit: "grapheme", maxLength: 12 }), fc.string({ maxLength: 12 }));
    const vars = fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,6}$/), value, { minKeys: 1, maxKeys: 6 });
    fc.assert(
      fc.property(vars, (v) => {
        let back: Record<string, string>;
        try {
          back = wranglerReadsWritten(v);
        } catch (err) {
          if (!(err instanceof DevVarError)) throw err;
          const bad = v[err.variable];
          // Refused only if each of '…', `…` and "…" is ruled out (or, rarely, by a value ending in a backslash).
          const bare = (q: string) => new RegExp(`(^|[^\\\\])\\${q}`).test(bad);
          const noSingle = bare("'") || bad.includes("\r");
          const noBacktick = bare("`") || bad.includes("\r");
          const noDouble = bare('"') || /\\[nr]/.test(bad);
          expect(noSingle && noBacktick && noDouble || bad.endsWith("\\"), JSON.stringify(bad)).toBe(true);
          return;
        }
        expect(back).toEqual(v);
      }),
      { numRuns: 300 },
    );
  });
});

/** Values no env file line can carry (formatDevVars refuses them); planDevVars passes them as --var. */
const FILE_REFUSES: Record<string, string> = {
  ALL_QUOTES_HASH: `it's "x" \`y\` #1`,
  ALL_QUOTES_NEWLINE: `it's "x" \`y\`\nsecond # line`,
  CR_QUOTE_HASH: 'a"\r#',
  COLONS: `KEY:VALUE: it's "x" \`y\` # :`,
  DASHES_NEWLINE: `--var=X:1 -- it's "x" \`y\` #\n--ip`,
};

/** What `wrangler dev --env-file <file> --var …` binds for planDevVars's split (the --var bindings win). */
function wranglerReadsPlan(vars: Record<string, string>): Record<string, string> {
  const file = join(dir, `plan-${files++}.env`);
  const cliVars = writeDevVarsPlan(file, vars, "# header comment: it is ignored\n");
  for (const [key, value] of Object.entries(cliVars)) expect(formatVarArg(key, value)).not.toContain("\0"); // a command line cannot hold NUL
  const fromFile = values(unstable_getVarsForDev(join(dir, "wrangler.toml"), [file], {}, undefined, true));
  for (const key of Object.keys(cliVars)) expect(fromFile, `${key} is in the file too`).not.toHaveProperty(key);
  return { ...fromFile, ...Object.fromEntries(Object.entries(cliVars).map(([k, v]) => readVarArgAsWrangler(formatVarArg(k, v)))) };
}

describe("planDevVars: the env file, and --var for what it cannot carry", () => {
  it("passes every value the env file refuses as --var, and only those", () => {
    for (const [key, value] of Object.entries(FILE_REFUSES)) expect(() => formatDevVar(key, value), key).toThrow(DevVarError);
    const plan = planDevVars({ ...AWKWARD, ...FILE_REFUSES });
    expect(plan.cliVars).toEqual(FILE_REFUSES);
    expect(readEnvFileAsWrangler(plan.envFile)).toEqual(AWKWARD);
    expect(wranglerReadsPlan({ ...AWKWARD, ...FILE_REFUSES })).toEqual({ ...AWKWARD, ...FILE_REFUSES });
  });

  it("refuses only a NUL character (wrangler dev takes none, from the env file or --var), naming the variable", () => {
    expect(() => planDevVars({ NUL: "a\0b" })).toThrow(/^NUL: contains a NUL character/); // wrangler dev stops on it in the env file too
    expect(() => planDevVars({ OK: "1", NUL_BAD: `it's "x" \`y\` #\0` })).toThrow(/^NUL_BAD: contains a NUL character/);
  });

  it("gives back every generated string: from the env file or as --var, no refusals", () => {
    const awkwardChar = fc.constantFrom("'", '"', "`", "\\", "$", "{", "}", "#", "=", ":", " ", "\t", "\n", "\r", "n", "r", "a", "Z", "_", "-", "é", "🔑", "\u0000");
    const value = fc.oneof(fc.string({ unit: awkwardChar, maxLength: 24 }), fc.string({ unit: "grapheme", maxLength: 12 }), fc.string({ maxLength: 12 }));
    const vars = fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,6}$/), value, { minKeys: 1, maxKeys: 6 });
    let viaVar = 0;
    fc.assert(
      fc.property(vars, (v) => {
        // A NUL character: wrangler dev stops on one in its env file, and a command line cannot
        // hold one (nor can the environment it would come from): the one refusal left.
        if (Object.values(v).some((x) => x.includes("\0"))) {
          expect(() => planDevVars(v)).toThrow(/contains a NUL character/);
          return;
        }
        viaVar += Object.keys(planDevVars(v).cliVars).length;
        expect(wranglerReadsPlan(v)).toEqual(v);
      }),
      { numRuns: 300 },
    );
    expect(viaVar).toBeGreaterThan(0); // the generator does reach the --var path
  });

  it("a real `wrangler dev` binds every value unchanged, from the env file and from --var", async () => {
    const project = mkdtempSync(join(dir, "echo-"));
    const script = join(project, "echo.js");
    writeFileSync(script, "export default { fetch: (_req, env) => Response.json(env) };\n");
    const all = { ...AWKWARD, ...FILE_REFUSES };
    const envFile = join(project, "vars.env");
    const cliVars = writeDevVarsPlan(envFile, all);
    expect(Object.keys(cliVars).sort()).toEqual(Object.keys(FILE_REFUSES).sort());
    const [port, inspectorPort] = await freePorts(2);
    const worker = startWranglerDev({
      port,
      inspectorPort,
      script,
      name: "dev-vars-echo",
      envFile,
      vars: cliVars,
      persistTo: join(project, "state"),
      logLevel: "warn",
      stdio: ["ignore", "ignore", "inherit"],
    });
    try {
      expect(await worker.waitForReady("/", 150_000)).toBe(true);
      const env = (await (await fetch(worker.url)).json()) as Record<string, unknown>;
      expect(Object.fromEntries(Object.keys(all).map((k) => [k, env[k]]))).toEqual(all);
    } finally {
      await worker.stop();
    }
  }, 180_000);
});

describe("parseDevVars reads .dev.vars as wrangler does", () => {
  const DEVELOPER_WRITES = [
    "# a comment",
    "APP_ENV=development",
    "export EXPORTED=yes",
    "COLON: style",
    "UNQUOTED = value with spaces   # and a comment",
    "HASH_NO_SPACE=a#b",
    `SINGLE='[{"kid":"old","pem":"-----BEGIN PUBLIC KEY-----\\nMIIB\\n-----END PUBLIC KEY-----\\n"}]'`,
    'DOUBLE="line one\\nline two \\" kept"',
    `MULTILINE="${PEM}"`,
    "BACKTICK=`it's \"both\"`",
    "EMPTY=",
    "DOLLAR='$HOME stays'",
    "SPACED='  kept  '",
    "DUPLICATE=first",
    "DUPLICATE=second",
    "CRLF=dos\r",
    "UNICODE=ключ🔑",
  ].join("\n");

  it("on a .dev.vars as developers write them", () => {
    const ours = parseDevVars(DEVELOPER_WRITES);
    expect(ours).toEqual(wranglerReadsDevVars(DEVELOPER_WRITES));
    expect(ours.SINGLE).toContain('"kid":"old"');
    expect(ours.DOUBLE).toBe('line one\nline two \\" kept');
    expect(ours.DOLLAR).toBe("$HOME stays");
  });

  it("on any text made of the characters that matter to dotenv", () => {
    const piece = fc.constantFrom("A", "B_1", "export ", "=", ": ", " ", "\t", "\n", "\r\n", "\r", "'", '"', "`", "\\", "#", "x", "\\n", "\\r", "$X", "é");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
        const text = parts.join("");
        expect(parseDevVars(text)).toEqual(wranglerReadsDevVars(text));
      }),
      { numRuns: 300 },
    );
  });

  it("and readEnvFileAsWrangler reads an --env-file as wrangler does (interpolation included)", () => {
    const text = ["A=plain", "B='$A and ${A}'", 'C="\\$A escaped"', "D=${MISSING:-fallback}", "E=${A:+set}", "F=`${B}`"].join("\n");
    expect(readEnvFileAsWrangler(text)).toEqual(wranglerReadsEnvFile(text));
    const piece = fc.constantFrom("A", "B_1", "=", ": ", " ", "\n", "\r", "'", '"', "`", "\\", "#", "x", "\\n", "é");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
        const text = parts.join("");
        expect(readEnvFileAsWrangler(text)).toEqual(wranglerReadsEnvFile(text));
      }),
      { numRuns: 200 },
    );
  });
});
