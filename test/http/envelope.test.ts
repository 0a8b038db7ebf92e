import { describe, expect, it } from "vitest";
import { call, callWithEnv, json } from "../helpers/http";

describe("error envelope", () => {
  it("answers an unknown route with 404 not_found in the envelope", async () => {
    const res = await call("/no/such/route");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const body = await json(res);
    expect(body).toEqual({ error: { code: "not_found", message: expect.stringContaining("/no/such/route") } });
  });

  it("answers a known path with the wrong method with 405 and Allow", async () => {
    const res = await call("/health", { method: "POST", json: {} });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toContain("GET");
    expect((await json(res)).error.code).toBe("method_not_allowed");
  });

  it("answers malformed JSON with 400 malformed_json", async () => {
    const res = await call("/health", { method: "POST", body: '{"email": ', headers: { "content-type": "application/json" } });
    // The body is checked before routing resolves the method, so this is the JSON error, not 405.
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe("malformed_json");
  });

  it("answers a non-JSON body with 415 unsupported_media_type", async () => {
    const res = await call("/health", { method: "POST", body: "email=a@b.c", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(res.status).toBe(415);
    expect((await json(res)).error.code).toBe("unsupported_media_type");
  });

  it("answers an oversized body with 413 payload_too_large, whatever Content-Length says", async () => {
    const big = JSON.stringify({ padding: "x".repeat(20_000) });
    const declared = await call("/health", { method: "POST", body: big, headers: { "content-type": "application/json" } });
    expect(declared.status).toBe(413);
    expect((await json(declared)).error.code).toBe("payload_too_large");

    // A streamed body has no Content-Length: the limit is enforced while reading.
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 40; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1000)));
        controller.close();
      },
    });
    const streamed = await call("/health", { method: "POST", body: stream, headers: { "content-type": "application/json" } });
    expect(streamed.status).toBe(413);
    expect((await json(streamed)).error.code).toBe("payload_too_large");
  });

  it("rejects a body that is not UTF-8 with 400", async () => {
    const res = await call("/health", { method: "POST", body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), headers: { "content-type": "application/json" } });
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe("malformed_json");
  });
});

describe("request id", () => {
  it("sets X-Request-Id on every response, honouring a sent one", async () => {
    const generated = await call("/health");
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const honoured = await call("/health", { headers: { "x-request-id": "abc-123.def" } });
    expect(honoured.headers.get("x-request-id")).toBe("abc-123.def");
    const unsafe = await call("/no/route", { headers: { "x-request-id": "bad id with spaces;<script>" } });
    expect(unsafe.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("reports SQL and Redis round trips in Server-Timing", async () => {
    const res = await call("/health");
    expect(res.headers.get("server-timing")).toMatch(/sql;dur=[\d.]+;desc="0 round trips", redis;dur=[\d.]+;desc="0 round trips"/);
  });
});

describe("CORS", () => {
  const listed = "https://app.example.com";

  it("echoes a listed origin with credentials", async () => {
    const res = await callWithEnv({ CORS_ALLOWED_ORIGINS: `${listed}, https://other.example.com` }, "/health", { headers: { origin: listed } });
    expect(res.headers.get("access-control-allow-origin")).toBe(listed);
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-expose-headers")).toContain("X-Request-Id");
  });

  it("answers a preflight from a listed origin", async () => {
    const res = await callWithEnv({ CORS_ALLOWED_ORIGINS: listed }, "/auth/login", {
      method: "OPTIONS",
      headers: { origin: listed, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(listed);
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")).toContain("Content-Type");
  });

  it("gives an unlisted origin no CORS headers", async () => {
    const res = await callWithEnv({ CORS_ALLOWED_ORIGINS: listed }, "/health", { headers: { origin: "https://evil.example.com" } });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("lets any origin in without credentials when * is listed", async () => {
    const res = await callWithEnv({ CORS_ALLOWED_ORIGINS: `*, ${listed}` }, "/health", { headers: { origin: "https://anyone.example.com" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });
});
