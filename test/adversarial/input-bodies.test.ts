// Malformed request bodies at every operation that takes one (DESIGN.md §5, §8: body size limits;
// unknown or malformed input gets a 4xx envelope, never a 500): bytes that are not UTF-8, byte
// order marks, bodies over MAX_BODY_BYTES with and without Content-Length, nesting 100,000 levels
// deep, and near-JSON. Each is sent with the credentials of a PLATFORM_SUPERADMIN and the machine
// key, against the default bindings (16 KiB limit) and the configured ones (1 MiB limit, so deep
// nesting is parsed rather than refused for its size); each answer must be a clean 4xx in the
// envelope, and nothing may be written (every public table compared before and after).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { setLogSink, type LogSink } from "../../src/runtime/log";
import {
  assertNothingWritten,
  checkAnswer,
  createActors,
  ensureStaff,
  freshIp,
  loadOperations,
  MACHINE_KEY,
  request,
  send,
  snapshot,
  type Actors,
  type Mode,
  type Operation,
} from "./input-support";

const operations = await loadOperations();
/** Every operation a body can be sent to (the body guard runs for all of them, declared body or not). */
const bodyOperations = operations.filter((o) => ["POST", "PUT", "PATCH", "DELETE"].includes(o.method));
const MODES: Mode[] = ["default", "configured"];
const LIMITS: Record<Mode, number> = { default: 16_384, configured: 1_048_576 };

let actors: Actors;
let previousSink: LogSink | undefined;
const errorLines: string[] = [];

beforeAll(async () => {
  actors = await createActors();
  previousSink = setLogSink((line) => {
    if (line.level === "error") errorLines.push(JSON.stringify(line).slice(0, 1500));
  });
});

afterAll(() => {
  if (previousSink) setLogSink(previousSink);
});

/** A path for the operation: path parameters are the victim's id (well-formed, so routing and validation get as far as they can). */
function pathOf(op: Operation): string {
  return op.path.replace(/\{[^}]+\}/g, () => actors.victim.id);
}

function headers(extra: Record<string, string> = {}): Headers {
  return new Headers({
    authorization: `Bearer ${actors.staff.accessToken}`,
    "x-internal-api-key": MACHINE_KEY,
    "cf-connecting-ip": freshIp(),
    "content-type": "application/json",
    ...extra,
  });
}

const enc = new TextEncoder();
const bytes = (...parts: (string | number[])[]) => {
  const chunks = parts.map((p) => (typeof p === "string" ? enc.encode(p) : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

/**
 * Sends one body to every body-taking operation in both modes; every answer must be one of
 * `expected` (status and code) and write nothing.
 */
async function everywhere(
  name: string,
  makeBody: (mode: Mode) => BodyInit,
  expected: (mode: Mode) => { status: number; code: string }[],
  extraHeaders: Record<string, string> = {},
  ops: Operation[] = bodyOperations,
): Promise<void> {
  expect(ops.length).toBeGreaterThanOrEqual(9);
  for (const op of ops) {
    for (const mode of MODES) {
      const before = await snapshot();
      const req = request(pathOf(op), { method: op.method, headers: headers(extraHeaders), body: makeBody(mode) });
      const res = await send(mode, req);
      const context = () => `${name}: ${op.label} (${mode})\nlogged: ${errorLines.slice(-3).join("\n")}`;
      const answer = await checkAnswer(res, op.method, context);
      const allowed = expected(mode);
      expect(
        allowed.some((e) => e.status === answer.status && e.code === answer.code),
        `${context()} answered ${answer.status} ${answer.code}, expected one of ${allowed.map((e) => `${e.status} ${e.code}`).join(", ")}`,
      ).toBe(true);
      assertNothingWritten(before, await snapshot(), "none", context);
    }
  }
  // No request above may have cost the staff member its session; if one did, the cases after it would test nothing.
  expect(await ensureStaff(actors)).toBe(false);
}

const MALFORMED = { status: 400, code: "malformed_json" };
const TOO_LARGE = { status: 413, code: "payload_too_large" };

// Each case sweeps every operation with a body; on a loaded 2-core machine one sweep can pass 30 s.
vi.setConfig({ testTimeout: 120_000 });

describe("bodies that are not UTF-8", () => {
  const cases: [string, Uint8Array][] = [
    ["C3 28 (a lead byte without its continuation)", bytes('{"email":"', [0xc3, 0x28], '@example.com","password":"x"}')],
    ["a lone FF", bytes([0xff])],
    ["FF FE inside an object", bytes("{", [0xff, 0xfe], "}")],
    ["an overlong encoding of / (C0 AF)", bytes('{"a":"', [0xc0, 0xaf], '"}')],
    ["an encoded surrogate (ED A0 80, CESU-8)", bytes('{"fullName":"', [0xed, 0xa0, 0x80], '"}')],
    ["a truncated sequence at the end (E2 82)", bytes('{"a":"x"}', [0xe2, 0x82])],
    ["a five-byte form (F8 88 80 80 80)", bytes('{"a":"', [0xf8, 0x88, 0x80, 0x80, 0x80], '"}')],
    ["a code point past U+10FFFF (F4 90 80 80)", bytes('{"a":"', [0xf4, 0x90, 0x80, 0x80], '"}')],
    ["UTF-16LE with its BOM", bytes([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00])],
  ];
  for (const [name, body] of cases) {
    it(`${name}: 400 malformed_json at every operation, nothing written`, async () => {
      await everywhere(name, () => body.slice(), () => [MALFORMED]);
    });
  }
});

describe("byte order marks", () => {
  it("a UTF-8 BOM before the JSON is ignored: the answer is the one without it", async () => {
    const probe = JSON.stringify({ __probe: true });
    for (const op of bodyOperations.filter((o) => o.body !== null)) {
      for (const mode of MODES) {
        const plain = await checkAnswer(await send(mode, request(pathOf(op), { method: op.method, headers: headers(), body: probe })), op.method, () => op.label);
        const before = await snapshot();
        const withBom = await checkAnswer(
          await send(mode, request(pathOf(op), { method: op.method, headers: headers(), body: bytes([0xef, 0xbb, 0xbf], probe) })),
          op.method,
          () => `${op.label} with BOM`,
        );
        expect({ op: op.label, status: withBom.status, code: withBom.code }).toEqual({ op: op.label, status: plain.status, code: plain.code });
        // An unknown field: refused as a validation error (400), whatever else the route needs.
        expect(withBom.status, op.label).toBe(400);
        assertNothingWritten(before, await snapshot(), "none", () => `${op.label} with BOM (${mode})`);
      }
    }
  });

  it("two BOMs, or a BOM alone, are not JSON: 400 malformed_json", async () => {
    await everywhere("double BOM", () => bytes([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], "{}"), () => [MALFORMED]);
    await everywhere("BOM alone", () => bytes([0xef, 0xbb, 0xbf]), () => [MALFORMED]);
  });
});

describe("oversized bodies", () => {
  const big = (mode: Mode) => JSON.stringify({ fullName: "x".repeat(LIMITS[mode] + 10) });

  it("one byte over MAX_BODY_BYTES with Content-Length: 413 payload_too_large", async () => {
    await everywhere("declared oversize", (mode) => big(mode), () => [TOO_LARGE]);
  });

  it("exactly MAX_BODY_BYTES is read (then judged as JSON); one byte more is 413", async () => {
    for (const mode of MODES) {
      const op = bodyOperations.find((o) => o.path === "/auth/login")!;
      const exact = '"' + "x".repeat(LIMITS[mode] - 2) + '"';
      expect(enc.encode(exact).length).toBe(LIMITS[mode]);
      const at = await checkAnswer(await send(mode, request(op.path, { method: "POST", headers: headers(), body: exact })), "POST", () => "exact");
      expect([at.status, at.code]).toEqual([400, "validation_error"]);
      const over = await checkAnswer(await send(mode, request(op.path, { method: "POST", headers: headers(), body: exact + " " })), "POST", () => "over");
      expect([over.status, over.code]).toEqual([413, "payload_too_large"]);
    }
  });

  it("a streamed body without Content-Length: 413 once the limit is crossed", async () => {
    await everywhere(
      "streamed oversize",
      (mode) => {
        const chunk = enc.encode("x".repeat(4096));
        let sent = 0;
        return new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent > LIMITS[mode] + 8192) return controller.close();
            sent += chunk.length;
            controller.enqueue(chunk);
          },
        });
      },
      () => [TOO_LARGE],
    );
  });

  it("a Content-Length that claims more than the limit is refused before reading", async () => {
    for (const mode of MODES) {
      const op = bodyOperations.find((o) => o.path === "/auth/login")!;
      const before = await snapshot();
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(enc.encode("{}"));
          controller.close();
        },
      });
      const req = request(op.path, { method: "POST", headers: headers({ "content-length": String(LIMITS[mode] + 1) }), body: stream });
      let res: Response;
      try {
        res = await send(mode, req);
      } catch (err) {
        // The runtime itself may refuse a body shorter than its declared length; that is not the app's answer.
        console.log(`[input-bodies] declared Content-Length refused by the runtime (${mode}): ${String(err)}`);
        expect(String(err)).toMatch(/length|body/i);
        continue;
      }
      const answer = await checkAnswer(res, "POST", () => `declared ${LIMITS[mode] + 1} (${mode})`);
      expect([answer.status, answer.code]).toEqual([413, "payload_too_large"]);
      assertNothingWritten(before, await snapshot(), "none", () => "declared oversize");
    }
  });

  it("fields far beyond their limits inside an accepted size are 400 validation_error naming the field", async () => {
    const op = bodyOperations.find((o) => o.method === "POST" && o.path === "/internal/users")!;
    const before = await snapshot();
    const res = await send(
      "configured",
      request(op.path, {
        method: "POST",
        headers: headers(),
        body: JSON.stringify({ email: `${"l".repeat(300)}@example.com`, password: "p".repeat(100_000), fullName: "f".repeat(200_000), phoneNumber: "9".repeat(5000) }),
      }),
    );
    const answer = await checkAnswer(res, "POST", () => "long fields");
    expect(answer.status).toBe(400);
    expect(answer.code).toBe("validation_error");
    expect([...new Set(answer.body.error.fields.map((f: { field: string }) => f.field))].sort()).toEqual(["email", "fullName", "password", "phoneNumber"]);
    assertNothingWritten(before, await snapshot(), "none", () => "long fields");
  });
});

describe("deep nesting", () => {
  const DEPTH = 100_000;
  const arrays = "[".repeat(DEPTH) + "]".repeat(DEPTH);
  const objects = '{"a":'.repeat(DEPTH) + "1" + "}".repeat(DEPTH);
  // 16 KiB: too large. 1 MiB: parsed (or refused as malformed by a parser that limits depth), then
  // not an object of the schema. Only operations that declare a body: well-formed JSON sent to one
  // that takes none (logout-all, the machine revokes, DELETE) is ignored like any other body there.
  const deep = (mode: Mode) => (mode === "default" ? [TOO_LARGE] : [MALFORMED, { status: 400, code: "validation_error" }]);
  const declared = bodyOperations.filter((o) => o.body !== null);

  it(`${DEPTH.toLocaleString("en")} nested arrays: a clean 4xx at every operation with a body`, async () => {
    expect(arrays.length).toBeLessThan(LIMITS.configured);
    await everywhere("nested arrays", () => arrays, deep, {}, declared);
  });

  it(`${DEPTH.toLocaleString("en")} nested objects: a clean 4xx at every operation with a body`, async () => {
    expect(objects.length).toBeLessThan(LIMITS.configured);
    await everywhere("nested objects", () => objects, deep, {}, declared);
  });

  it("deep nesting inside a field of an otherwise valid body is a validation error for that field", async () => {
    const op = bodyOperations.find((o) => o.path === "/auth/login")!;
    for (const [field, value] of [
      ["email", "[".repeat(50_000) + "]".repeat(50_000)],
      ["password", '{"a":'.repeat(50_000) + "1" + "}".repeat(50_000)],
    ]) {
      const body = field === "email" ? `{"email":${value},"password":"x"}` : `{"email":"a@example.com","password":${value}}`;
      const before = await snapshot();
      const answer = await checkAnswer(await send("configured", request(op.path, { method: "POST", headers: headers(), body })), "POST", () => field);
      expect([answer.status, answer.code]).toEqual([400, "validation_error"]);
      expect(answer.body.error.fields.map((f: { field: string }) => f.field)).toEqual([field]);
      assertNothingWritten(before, await snapshot(), "none", () => `deep ${field}`);
    }
  });
});

describe("near-JSON", () => {
  const cases: [string, string][] = [
    ["trailing garbage", '{"email":"a@example.com"} x'],
    ["a trailing comma", '{"email":"a@example.com",}'],
    ["single quotes", "{'email':'a@example.com'}"],
    ["NaN", '{"limit":NaN}'],
    ["a comment", '{"email":"a@example.com" /* hi */}'],
    ["an unterminated string", '{"email":"a@example.com'],
    ["a raw control character in a string", '{"email":"a\u0001@example.com\n"}'],
    ["a bad escape", '{"email":"\\x41@example.com"}'],
    ["two documents", "{}{}"],
  ];
  for (const [name, body] of cases) {
    it(`${name}: 400 malformed_json at every operation`, async () => {
      await everywhere(name, () => body, () => [MALFORMED]);
    });
  }

  it("JSON with the wrong media type is 415 at every operation", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "application/xml"]) {
      const takes = bodyOperations.filter((op) => op.mediaTypes.includes(type));
      await everywhere(type, () => "{}", () => [{ status: 415, code: "unsupported_media_type" }], { "content-type": type }, bodyOperations.filter((op) => !takes.includes(op)));
      // An operation documented to take this media type (a page's form post) parses it: "{}" is no valid form.
      for (const op of takes) {
        const res = await send("default", request(pathOf(op), { method: op.method, headers: headers({ "content-type": type }), body: "{}" }));
        expect(res.status, `${type}: ${op.label}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${type}: ${op.label}`).toBeLessThan(500);
      }
    }
    // Five media types at every body operation, each with two table snapshots: it grows with the API.
  }, 300_000);
});
