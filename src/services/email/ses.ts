// AWS SES v2 (SendEmail, simple content) over fetch, signed with SigV4 by aws4fetch. Building the
// signed Request is separate from sending it, so the request can be checked without reaching AWS.
// One attempt per message (no retries inside a request), bounded by a timeout.
import { AwsClient } from "aws4fetch";
import type { Config } from "../../config";
import type { EmailMessage, EmailSender } from "./sender";

export interface SesSettings {
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Verified sender address (EMAIL_FROM), e.g. no-reply@kisum.io or "Kisum <no-reply@kisum.io>". */
  from: string;
  /** Base URL replacing https://email.{region}.amazonaws.com (tests, or a loopback stand-in). */
  endpoint?: string;
}

export interface SesSenderOptions extends SesSettings {
  /** Abort a send that takes longer than this (default 10 s). */
  timeoutMs?: number;
  /** The fetch to send with (default: the global fetch). */
  fetch?: typeof fetch;
  /** The clock used for the SigV4 date (default: now). */
  now?: () => Date;
}

export const SES_SEND_PATH = "/v2/email/outbound-emails";

/** The SES settings in a Config, or undefined when SES_* or EMAIL_FROM are not all set. */
export function sesSettingsFromConfig(config: Config): SesSettings | undefined {
  const { ses, from } = config.email;
  if (!ses || !from) return undefined;
  return { region: ses.region, accessKeyId: ses.accessKeyId, secretAccessKey: ses.secretAccessKey, from };
}

function toSettings(source: Config | SesSettings): SesSettings {
  if ("email" in source) {
    const settings = sesSettingsFromConfig(source);
    if (!settings) throw new Error("SES is not configured (SES_AWS_REGION, SES_AWS_ACCESS_KEY_ID, SES_AWS_SECRET_ACCESS_KEY and EMAIL_FROM are required)");
    return settings;
  }
  return source;
}

export function sesEndpoint(settings: Pick<SesSettings, "region" | "endpoint">): string {
  const base = settings.endpoint ?? `https://email.${settings.region}.amazonaws.com`;
  return base.replace(/\/+$/, "") + SES_SEND_PATH;
}

/** The SendEmail request body (SES v2, Content.Simple). */
export function sesRequestBody(message: EmailMessage, from: string): Record<string, unknown> {
  return {
    FromEmailAddress: from,
    Destination: { ToAddresses: [message.to] },
    Content: {
      Simple: {
        Subject: { Data: message.subject, Charset: "UTF-8" },
        Body: {
          Text: { Data: message.text, Charset: "UTF-8" },
          Html: { Data: message.html, Charset: "UTF-8" },
        },
      },
    },
  };
}

/** SigV4 date stamp (yyyymmddThhmmssZ) for a Date. */
function amzDate(now: Date): string {
  return now.toISOString().replace(/[:-]|\.\d{3}/g, "");
}

/** The signed SES SendEmail request for one message, as it would go on the wire. */
export async function buildSesRequest(message: EmailMessage, config: Config | SesSettings, now: Date = new Date()): Promise<Request> {
  const settings = toSettings(config);
  const client = new AwsClient({
    accessKeyId: settings.accessKeyId,
    secretAccessKey: settings.secretAccessKey,
    service: "ses",
    region: settings.region,
    retries: 0,
  });
  return client.sign(sesEndpoint(settings), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(sesRequestBody(message, settings.from)),
    // Service and region are given, never guessed from the host (an endpoint override has neither).
    aws: { service: "ses", region: settings.region, datetime: amzDate(now) },
  });
}

/** A failed SES call: the HTTP status and SES' error code and message, never the credentials. */
export class SesError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  constructor(status: number, code: string | undefined, detail: string | undefined) {
    super(`SES SendEmail failed: HTTP ${status}${code ? ` ${code}` : ""}${detail ? `: ${detail}` : ""}`);
    this.name = "SesError";
    this.status = status;
    this.code = code;
  }
}

function scrub(text: string, settings: SesSettings): string {
  let out = text;
  for (const secret of [settings.secretAccessKey, settings.accessKeyId]) {
    if (secret) out = out.split(secret).join("[redacted]");
  }
  return out;
}

async function errorFromResponse(res: Response, settings: SesSettings): Promise<SesError> {
  let raw = "";
  try {
    raw = await res.text();
  } catch {
    // The status alone still says what happened.
  }
  let code = res.headers.get("x-amzn-errortype")?.split(":")[0] || undefined;
  let detail: string | undefined;
  if (raw) {
    try {
      const body = JSON.parse(raw) as Record<string, unknown>;
      const type = body.__type ?? body.code ?? body.Code;
      if (!code && typeof type === "string") code = type.split("#").pop()!.split(":")[0] || undefined;
      const m = body.message ?? body.Message;
      if (typeof m === "string") detail = m;
    } catch {
      detail = raw.replace(/\s+/g, " ").trim().slice(0, 200);
    }
  }
  return new SesError(res.status, code ? scrub(code, settings).slice(0, 100) : undefined, detail ? scrub(detail, settings).slice(0, 300) : undefined);
}

export class SesEmailSender implements EmailSender {
  readonly name = "ses" as const;
  readonly #settings: SesSettings;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch | undefined;
  readonly #now: () => Date;

  constructor(options: SesSenderOptions) {
    const { timeoutMs, fetch: fetchImpl, now, ...settings } = options;
    this.#settings = settings;
    this.#timeoutMs = timeoutMs ?? 10_000;
    this.#fetch = fetchImpl;
    this.#now = now ?? (() => new Date());
  }

  async send(msg: EmailMessage): Promise<void> {
    const request = await buildSesRequest(msg, this.#settings, this.#now());
    const doFetch = this.#fetch ?? globalThis.fetch;
    let res: Response;
    try {
      res = await doFetch(request, { signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (err) {
      const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new Error(`SES SendEmail failed: ${scrub(reason, this.#settings)}`);
    }
    if (!res.ok) throw await errorFromResponse(res, this.#settings);
    // Drain the body so the connection can be reused.
    await res.body?.cancel().catch(() => {});
  }
}
