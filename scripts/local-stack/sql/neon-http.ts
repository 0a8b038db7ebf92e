// Neon's HTTP SQL protocol ("SQL over HTTP", what @neondatabase/serverless's neon() speaks)
// on top of a SqlBackend. Modelled on Neon's proxy (proxy/src/serverless/sql_over_http.rs):
//
//   POST /sql  body {query, params, arrayMode?}          -> 200 {rowAsArray, fields, rows, command, rowCount}
//              body {queries: [{query, params, arrayMode?}]} -> 200 {results: [...]} (one transaction)
//   headers    Neon-Array-Mode: "true" = rows as arrays, else objects keyed by field name
//                (a query's own `arrayMode` wins);
//              Neon-Raw-Text-Output: "true" = values as Postgres text, else JSON-typed
//                (bool, int2/int4 and floats as numbers, json/jsonb inline, arrays as arrays);
//              Neon-Batch-Isolation-Level (Serializable | ReadUncommitted | ReadCommitted |
//                RepeatableRead), Neon-Batch-Read-Only / Neon-Batch-Deferrable ("true"):
//                batch transaction mode, echoed on the batch answer.
//   errors     a Postgres error: 400 {message, code, detail, hint, position, internalPosition,
//                internalQuery, severity, where, table, column, schema, dataType, constraint,
//                file, line, routine} (absent fields null); the driver copies these onto its
//                NeonDbError. A batch stops and rolls back at its first error.
//
// Only "true" (exactly) turns a boolean header on, as in Neon. The driver itself always sends
// Neon-Array-Mode and Neon-Raw-Text-Output "true" and parses the text values with pg-types by
// each field's dataTypeID.
import type { ProtocolAnswer, ProtocolHandler, ProtocolRequest } from "../endpoint-server.ts";
import { toSqlError } from "./backend.ts";
import type { ErrorFields, IsolationLevel, QueryResult, SqlBackend, TextValue, TransactionOptions } from "./backend.ts";

interface QueryData {
  query: string;
  params: TextValue[];
  arrayMode?: boolean;
}

type Payload = { kind: "query"; query: QueryData } | { kind: "batch"; queries: QueryData[] };

interface NeonHeaders {
  rawOutput: boolean;
  arrayMode: boolean;
  isolationLevel?: IsolationLevel;
  readOnly: boolean;
  deferrable: boolean;
}

/** Request-level error (bad body, bad header): 400 with Neon's error shape. */
class RequestError extends Error {}

const ISOLATION_LEVELS: readonly string[] = ["Serializable", "ReadUncommitted", "ReadCommitted", "RepeatableRead"];

/** SQLSTATE used for request-level problems (malformed body, bad header). */
const PROTOCOL_VIOLATION = "08P01";
/** SQLSTATE used for injected failures and a backend that cannot be reached. */
const CONNECTION_FAILURE = "08006";

function header(req: ProtocolRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function parseHeaders(req: ProtocolRequest): NeonHeaders {
  const level = header(req, "Neon-Batch-Isolation-Level");
  if (level !== undefined && !ISOLATION_LEVELS.includes(level)) throw new RequestError("invalid isolation level");
  return {
    rawOutput: header(req, "Neon-Raw-Text-Output") === "true",
    arrayMode: header(req, "Neon-Array-Mode") === "true",
    isolationLevel: level as IsolationLevel | undefined,
    readOnly: header(req, "Neon-Batch-Read-Only") === "true",
    deferrable: header(req, "Neon-Batch-Deferrable") === "true",
  };
}

// ---- parameters: JSON values -> Postgres text (as Neon's json_to_pg_text) ----

function jsonToPgText(v: unknown): TextValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return jsonArrayToPgArray(v);
  return JSON.stringify(v);
}

function jsonArrayToPgArray(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return `{${v.map((x) => jsonArrayToPgArray(x) ?? "NULL").join(",")}}`;
  if (typeof v === "object") return JSON.stringify(JSON.stringify(v));
  return JSON.stringify(v);
}

function parseQueryData(v: unknown, where: string): QueryData {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new RequestError(`${where}: expected an object`);
  const o = v as Record<string, unknown>;
  if (typeof o.query !== "string") throw new RequestError(`${where}: "query" must be a string`);
  if (o.params !== undefined && o.params !== null && !Array.isArray(o.params)) throw new RequestError(`${where}: "params" must be an array`);
  if (o.arrayMode !== undefined && o.arrayMode !== null && typeof o.arrayMode !== "boolean") throw new RequestError(`${where}: "arrayMode" must be a boolean`);
  return {
    query: o.query,
    params: ((o.params as unknown[] | undefined) ?? []).map(jsonToPgText),
    arrayMode: typeof o.arrayMode === "boolean" ? o.arrayMode : undefined,
  };
}

/** Parses a request body; a body with `query` is a single query (as in Neon, even if it also has `queries`). */
function parsePayload(body: Buffer): Payload {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new RequestError(`malformed request body: invalid JSON (${(err as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new RequestError('malformed request body: expected {"query", "params"} or {"queries": [...]}');
  }
  const o = json as Record<string, unknown>;
  if ("query" in o) return { kind: "query", query: parseQueryData(o, "malformed request body") };
  if (Array.isArray(o.queries)) {
    return { kind: "batch", queries: o.queries.map((q, i) => parseQueryData(q, `malformed request body: queries[${i}]`)) };
  }
  throw new RequestError('malformed request body: expected {"query", "params"} or {"queries": [...]}');
}

const parsedBodies = new WeakMap<ProtocolRequest, Payload | RequestError>();

function payloadOf(req: ProtocolRequest): Payload {
  let p = parsedBodies.get(req);
  if (!p) {
    try {
      p = parsePayload(req.body);
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      p = err;
    }
    parsedBodies.set(req, p);
  }
  if (p instanceof RequestError) throw p;
  return p;
}

/** Kind of a request for the endpoint's round-trip stats: "query", "batch", or "invalid". */
export function classify(req: ProtocolRequest): string {
  if (req.method !== "POST" || req.path !== "/sql") return "invalid";
  try {
    return payloadOf(req).kind;
  } catch {
    return "invalid";
  }
}

// ---- results: Postgres text -> JSON (only without Neon-Raw-Text-Output: true) ----

const BOOL = 16;
const INT2 = 21;
const INT4 = 23;
const FLOAT4 = 700;
const FLOAT8 = 701;
const JSON_OID = 114;
const JSONB = 3802;

/** Built-in array type oid -> element type oid. */
const ARRAY_ELEMENT: Record<number, number> = {
  1000: 16, // bool
  1001: 17, // bytea
  1002: 18, // char
  1003: 19, // name
  1005: 21, // int2
  1007: 23, // int4
  1009: 25, // text
  1014: 1042, // bpchar
  1015: 1043, // varchar
  1016: 20, // int8
  1021: 700, // float4
  1022: 701, // float8
  1028: 26, // oid
  1115: 1114, // timestamp
  1182: 1082, // date
  1183: 1083, // time
  1185: 1184, // timestamptz
  1187: 1186, // interval
  1231: 1700, // numeric
  1270: 1266, // timetz
  199: 114, // json
  2951: 2950, // uuid
  3807: 3802, // jsonb
  1041: 869, // inet
  651: 650, // cidr
  1040: 829, // macaddr
  791: 790, // money
};

function pgTextToJson(val: string, oid: number): unknown {
  const elem = ARRAY_ELEMENT[oid];
  if (elem !== undefined) return parsePgArray(val, elem);
  switch (oid) {
    case BOOL:
      return val === "t";
    case INT2:
    case INT4:
      return Number.parseInt(val, 10);
    case FLOAT4:
    case FLOAT8: {
      const f = Number(val);
      return Number.isFinite(f) ? f : val; // NaN / Infinity stay strings
    }
    case JSON_OID:
    case JSONB:
      return JSON.parse(val);
    default:
      return val;
  }
}

function parsePgArray(text: string, elem: number): unknown[] {
  let s = text;
  if (s.startsWith("[")) {
    // bounds decoration "[1:2]={...}": dropped, as Neon does
    const eq = s.indexOf("=");
    if (eq < 0) throw new Error("unbalanced array");
    s = s.slice(eq + 1);
  }
  const out: unknown[] = [];
  const rest = parseArrayInner(out, s.trimStart(), elem);
  if (rest !== "") throw new Error("unbalanced array");
  return out;
}

function parseArrayInner(out: unknown[], text: string, elem: number): string {
  if (!text.startsWith("{")) throw new Error("unbalanced array");
  let s = text.slice(1);
  if (s.trimStart().startsWith("}")) return s.trimStart().slice(1).trimStart(); // empty array
  for (;;) {
    s = s.trimStart();
    if (s.startsWith("{")) {
      const inner: unknown[] = [];
      s = parseArrayInner(inner, s, elem);
      out.push(inner);
    } else if (s.startsWith('"')) {
      let q = "";
      let i = 1;
      for (;;) {
        if (i >= s.length) throw new Error("unbalanced quoted string");
        const c = s[i];
        if (c === '"') break;
        if (c === "\\") {
          i += 1;
          if (i >= s.length) throw new Error("unbalanced quoted string");
        }
        q += s[i];
        i += 1;
      }
      s = s.slice(i + 1).trimStart();
      out.push(pgTextToJson(q, elem));
    } else {
      const m = /[,}]/.exec(s);
      if (!m) throw new Error("unbalanced array");
      const item = s.slice(0, m.index).trimEnd();
      s = s.slice(m.index);
      out.push(item === "NULL" ? null : pgTextToJson(item, elem));
    }
    if (s.startsWith(",")) {
      s = s.slice(1);
      continue;
    }
    break;
  }
  if (!s.startsWith("}")) throw new Error("unbalanced array");
  return s.slice(1).trimStart();
}

/** One query's answer in Neon's JSON shape. */
function formatResult(r: QueryResult, arrayMode: boolean, rawOutput: boolean) {
  const convert = rawOutput
    ? (v: TextValue) => v
    : (v: TextValue, i: number) => (v === null ? null : pgTextToJson(v, r.fields[i].dataTypeID));
  const rows = r.rows.map((row) => {
    if (arrayMode) return row.map((v, i) => convert(v, i));
    const obj: Record<string, unknown> = {};
    r.fields.forEach((f, i) => {
      obj[f.name] = convert(row[i] ?? null, i);
    });
    return obj;
  });
  return {
    rowAsArray: arrayMode,
    fields: r.fields.map((f) => ({
      name: f.name,
      dataTypeID: f.dataTypeID,
      tableID: f.tableID,
      columnID: f.columnID,
      dataTypeSize: f.dataTypeSize,
      dataTypeModifier: f.dataTypeModifier,
      format: "text",
    })),
    rows,
    command: r.command,
    rowCount: r.rowCount,
  };
}

// ---- errors ----

/** Neon's error body: every field present, null when Postgres did not send it. */
export function neonErrorBody(message: string, fields: ErrorFields = {}) {
  return {
    message,
    code: fields.code ?? "",
    detail: fields.detail ?? null,
    hint: fields.hint ?? null,
    position: fields.position ?? null,
    internalPosition: fields.internalPosition ?? null,
    internalQuery: fields.internalQuery ?? null,
    severity: fields.severity ?? "",
    where: fields.where ?? null,
    table: fields.table ?? null,
    column: fields.column ?? null,
    schema: fields.schema ?? null,
    dataType: fields.dataType ?? null,
    constraint: fields.constraint ?? null,
    file: fields.file ?? null,
    line: fields.line ?? null,
    routine: fields.routine ?? null,
  };
}

function errorStatus(status: number, message: string, fields: ErrorFields = {}): ProtocolAnswer {
  return { status, body: neonErrorBody(message, fields), headers: { "access-control-allow-origin": "*" } };
}

function connectionFailure(message: string): ProtocolAnswer {
  return errorStatus(400, message, { code: CONNECTION_FAILURE, severity: "FATAL" });
}

export function createNeonHttpHandler(backend: SqlBackend): ProtocolHandler {
  async function handle(req: ProtocolRequest): Promise<ProtocolAnswer> {
    if (req.path !== "/sql") return errorStatus(404, `no such endpoint ${req.path} (Neon's SQL endpoint is POST /sql)`, { code: PROTOCOL_VIOLATION });
    if (req.method !== "POST") return errorStatus(405, `method ${req.method} not allowed on /sql (use POST)`, { code: PROTOCOL_VIOLATION });
    let payload: Payload;
    let h: NeonHeaders;
    try {
      h = parseHeaders(req);
      payload = payloadOf(req);
    } catch (err) {
      if (err instanceof RequestError) return errorStatus(400, err.message, { code: PROTOCOL_VIOLATION, severity: "ERROR" });
      throw err;
    }
    const queries = payload.kind === "query" ? [payload.query] : payload.queries;
    let results: QueryResult[];
    try {
      if (payload.kind === "query") {
        results = [await backend.query(payload.query.query, payload.query.params)];
      } else {
        const options: TransactionOptions = { isolationLevel: h.isolationLevel, readOnly: h.readOnly, deferrable: h.deferrable };
        results = await backend.transaction(
          payload.queries.map((q) => ({ text: q.query, params: q.params })),
          options,
        );
      }
    } catch (err) {
      const sqlErr = toSqlError(err);
      if (sqlErr) return errorStatus(400, sqlErr.message, sqlErr.fields());
      return connectionFailure(`Error connecting to database (${backend.name}): ${err instanceof Error ? err.message : String(err)}`);
    }
    let bodies: ReturnType<typeof formatResult>[];
    try {
      bodies = results.map((r, i) => formatResult(r, queries[i].arrayMode ?? h.arrayMode, h.rawOutput));
    } catch {
      // Only possible without raw text output (JSON-typed values); Neon answers 500 here too.
      return errorStatus(500, "could not parse postgres response");
    }
    const headers: Record<string, string> = { "access-control-allow-origin": "*" };
    if (payload.kind === "query") return { status: 200, body: bodies[0], headers };
    if (h.readOnly) headers["neon-batch-read-only"] = "true";
    if (h.deferrable) headers["neon-batch-deferrable"] = "true";
    if (h.isolationLevel) headers["neon-batch-isolation-level"] = h.isolationLevel;
    return { status: 200, body: { results: bodies }, headers };
  }

  return {
    handle,
    errorAnswer: (message: string) => connectionFailure(message),
    reset: () => backend.truncateAll(),
    ping: () => backend.ping(),
    close: () => backend.close(),
    get backendName() {
      return backend.name;
    },
  };
}
