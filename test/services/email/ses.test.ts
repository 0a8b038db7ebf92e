import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config";
import { buildSesRequest, SesEmailSender, SesError, type SesSettings } from "../../../src/services/email/ses";
import type { EmailMessage } from "../../../src/services/email/sender";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const settings: SesSettings = {
  region: "ap-southeast-1",
  accessKeyId: "AKIDEXAMPLE123",
  secretAccessKey: SECRET,
  from: "no-reply@example.test",
};
const message: EmailMessage = {
  kind: "password_reset",
  to: "ada@example.test",
  subject: "Reset your password ✓",
  text: "Hello Ada,\n\nhttps://app.example.test/reset-password?token=abc\n",
  html: "<p>Hello Ada</p>",
};
const NOW = new Date("2025-03-04T05:06:07.890Z");

const enc = new TextEncoder();
const hex = (buf: ArrayBuffer) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (s: string) => hex(await crypto.subtle.digest("SHA-256", enc.encode(s)));
async function hmac(key: ArrayBuffer | Uint8Array, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, enc.encode(data));
}

/** SigV4 recomputed from the AWS documentation, independently of aws4fetch. */
async function expectedSignature(req: Request, body: string, signedHeaders: string[]): Promise<string> {
  const url = new URL(req.url);
  const amzDate = req.headers.get("x-amz-date")!;
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${h === "host" ? url.host : req.headers.get(h)!.trim()}\n`).join("");
  const canonicalRequest = [req.method, url.pathname, url.search.slice(1), canonicalHeaders, signedHeaders.join(";"), await sha256(body)].join("\n");
  const scope = `${amzDate.slice(0, 8)}/${settings.region}/ses/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256(canonicalRequest)].join("\n");
  let key = await hmac(enc.encode("AWS4" + SECRET), amzDate.slice(0, 8));
  for (const part of [settings.region, "ses", "aws4_request"]) key = await hmac(key, part);
  return hex(await hmac(key, stringToSign));
}

describe("SES request", () => {
  it("is a SigV4-signed SES v2 SendEmail POST with the message as JSON", async () => {
    const req = await buildSesRequest(message, settings, NOW);
    expect(req.method).toBe("POST");
    expect(req.url).toBe("https://email.ap-southeast-1.amazonaws.com/v2/email/outbound-emails");
    expect(req.headers.get("content-type")).toBe("application/json");
    expect(req.headers.get("x-amz-date")).toBe("20250304T050607Z");

    const body = await req.clone().text();
    expect(JSON.parse(body)).toEqual({
      FromEmailAddress: "no-reply@example.test",
      Destination: { ToAddresses: ["ada@example.test"] },
      Content: {
        Simple: {
          Subject: { Data: "Reset your password ✓", Charset: "UTF-8" },
          Body: { Text: { Data: message.text, Charset: "UTF-8" }, Html: { Data: message.html, Charset: "UTF-8" } },
        },
      },
    });

    const auth = req.headers.get("authorization")!;
    expect(auth.startsWith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE123/20250304/ap-southeast-1/ses/aws4_request, ")).toBe(true);
    const m = /SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth)!;
    expect(m).not.toBeNull();
    const signed = m[1].split(";");
    expect(signed).toEqual(expect.arrayContaining(["host", "x-amz-date"]));
    expect(m[2]).toBe(await expectedSignature(req, body, signed));

    const everything = [...req.headers].map(([k, v]) => `${k}: ${v}`).join("\n") + "\n" + body + "\n" + req.url;
    expect(everything).not.toContain(SECRET);
  });

  it("is deterministic for the same message and time, and changes with the time", async () => {
    const a = (await buildSesRequest(message, settings, NOW)).headers.get("authorization");
    const b = (await buildSesRequest(message, settings, NOW)).headers.get("authorization");
    const c = (await buildSesRequest(message, settings, new Date(NOW.getTime() + 1000))).headers.get("authorization");
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it("reads SES settings from Config, and honours an endpoint override with the same signing scope", async () => {
    const config = parseConfig({
      APP_ENV: "test",
      DATABASE_URL: "postgresql://local:local@127.0.0.1/auth",
      UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1",
      UPSTASH_REDIS_REST_TOKEN: "t",
      SES_AWS_REGION: "eu-west-1",
      SES_AWS_ACCESS_KEY_ID: "AKIDCONFIG",
      SES_AWS_SECRET_ACCESS_KEY: "config-secret",
      EMAIL_FROM: "Kisum <no-reply@kisum.example>",
    });
    const fromConfig = await buildSesRequest(message, config, NOW);
    expect(fromConfig.url).toBe("https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails");
    expect(fromConfig.headers.get("authorization")).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDCONFIG\/20250304\/eu-west-1\/ses\/aws4_request, /);
    expect(JSON.parse(await fromConfig.text()).FromEmailAddress).toBe("Kisum <no-reply@kisum.example>");

    const local = await buildSesRequest(message, { ...settings, endpoint: "http://127.0.0.1:8025/" }, NOW);
    expect(local.url).toBe("http://127.0.0.1:8025/v2/email/outbound-emails");
    expect(local.headers.get("authorization")).toContain("/20250304/ap-southeast-1/ses/aws4_request");
  });

  it("refuses a Config without SES", async () => {
    const config = parseConfig({
      APP_ENV: "test",
      DATABASE_URL: "postgresql://local:local@127.0.0.1/auth",
      UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1",
      UPSTASH_REDIS_REST_TOKEN: "t",
    });
    await expect(buildSesRequest(message, config, NOW)).rejects.toThrow(/SES is not configured/);
  });
});

describe("SES sender against a real loopback HTTP server", () => {
  // The local Redis REST endpoint is a real HTTP server on loopback that is not SES: whatever it
  // answers to a SendEmail POST is not 2xx, which is what the error path needs.
  const loopback = (env as unknown as Record<string, string>).UPSTASH_REDIS_REST_URL;

  it("throws an error with the HTTP status and no credentials on a non-2xx answer", async () => {
    const sender = new SesEmailSender({ ...settings, endpoint: loopback });
    const err = await sender.send(message).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SesError);
    const e = err as SesError;
    expect(e.status).toBeGreaterThanOrEqual(400);
    expect(e.message).toMatch(new RegExp(`^SES SendEmail failed: HTTP ${e.status}\\b`));
    expect(e.message).not.toContain(SECRET);
    expect(e.message).not.toContain(settings.accessKeyId);
  });

  it("throws without credentials when nothing listens", async () => {
    const sender = new SesEmailSender({ ...settings, endpoint: "http://127.0.0.1:1", timeoutMs: 3000 });
    const err = (await sender.send(message).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/^SES SendEmail failed: /);
    expect(err.message).not.toContain(SECRET);
  });
});
