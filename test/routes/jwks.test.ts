import { describe, expect, it } from "vitest";
import { call, callWithEnv, json, testKeys } from "../helpers/http";
import { roundTrips, resetRoundTrips } from "../helpers/stack";

describe("GET /.well-known/jwks.json", () => {
  it("publishes the signing key with kty n e kid alg use, cacheable, with an ETag", async () => {
    const res = await call("/.well-known/jwks.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    const etag = res.headers.get("etag");
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    const body = await json(res);
    expect(body.keys).toHaveLength(1);
    const [key] = body.keys;
    expect(Object.keys(key).sort()).toEqual(["alg", "e", "kid", "kty", "n", "use"]);
    expect(key).toMatchObject({ kty: "RSA", kid: "test-key-1", alg: "RS256", use: "sig", e: "AQAB" });
    expect(key.n.length).toBeGreaterThan(300);
  });

  it("answers 304 with no body when If-None-Match matches, 200 when it does not", async () => {
    const first = await call("/.well-known/jwks.json");
    const etag = first.headers.get("etag")!;
    const again = await call("/.well-known/jwks.json", { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    expect(again.headers.get("etag")).toBe(etag);
    expect(again.headers.get("cache-control")).toBe("public, max-age=300");

    const weakInList = await call("/.well-known/jwks.json", { headers: { "if-none-match": `"other", W/${etag}` } });
    expect(weakInList.status).toBe(304);
    const stale = await call("/.well-known/jwks.json", { headers: { "if-none-match": '"stale"' } });
    expect(stale.status).toBe(200);
  });

  it("costs no SQL and no Redis round trip", async () => {
    await call("/.well-known/jwks.json");
    await resetRoundTrips();
    const res = await call("/.well-known/jwks.json");
    expect(res.status).toBe(200);
    expect(await roundTrips()).toEqual({ sql: 0, redis: 0 });
  });

  it("honours JWKS_MAX_AGE", async () => {
    const res = await callWithEnv({ JWKS_MAX_AGE: "60" }, "/.well-known/jwks.json");
    expect(res.headers.get("cache-control")).toBe("public, max-age=60");
  });

  it("derives the same public key from a PKCS#1 PEM as from PKCS#8", async () => {
    const keys = testKeys();
    const fromPkcs8 = await json(await call("/.well-known/jwks.json"));
    const fromPkcs1 = await json(await callWithEnv({ JWT_SIGNING_KEY_PEM: keys.pkcs1 }, "/.well-known/jwks.json"));
    expect(fromPkcs1.keys[0].n).toBe(fromPkcs8.keys[0].n);
  });

  it("publishes a next key before it signs, and retired keys until their date", async () => {
    const keys = testKeys();
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const past = new Date(Date.now() - 1000).toISOString();
    const res = await callWithEnv(
      {
        JWT_NEXT_KEY_PEM: keys.nextSpki,
        JWT_NEXT_KID: "test-key-2",
        JWT_RETIRED_KEYS: JSON.stringify([
          { kid: "test-key-0", pem: keys.retiredPkcs1Public, until: future },
          { kid: "test-key-old", pem: keys.retiredPkcs1Public, until: past },
        ]),
      },
      "/.well-known/jwks.json",
    );
    expect(res.status).toBe(200);
    const kids = (await json(res)).keys.map((k: { kid: string }) => k.kid);
    expect(kids).toEqual(["test-key-1", "test-key-2", "test-key-0"]);
  });

  it("changes the ETag when the key set changes", async () => {
    const keys = testKeys();
    const a = (await call("/.well-known/jwks.json")).headers.get("etag");
    const b = (await callWithEnv({ JWT_NEXT_KEY_PEM: keys.nextPkcs8, JWT_NEXT_KID: "test-key-2" }, "/.well-known/jwks.json")).headers.get("etag");
    expect(a).not.toBe(b);
  });
});
