// Transactional email: pick the sender from config (SES, the development outbox, or nothing),
// build messages from templates, and send them without ever failing the request that asked.
import type { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../../config";
import { describeError } from "../../runtime/log";
import { OutboxEmailSender } from "./outbox";
import { disabledSender, type EmailKind, type EmailMessage, type EmailSender } from "./sender";
import { SesEmailSender, sesSettingsFromConfig } from "./ses";
import { templates, type EmailContent, type EmailParams } from "./templates";

export type { EmailKind, EmailMessage, EmailSender } from "./sender";
export { disabledSender, EMAIL_KINDS } from "./sender";
export { buildSesRequest, SesEmailSender, SesError, sesSettingsFromConfig, type SesSettings, type SesSenderOptions } from "./ses";
export { clearOutbox, OutboxEmailSender, readOutbox, OUTBOX_KEY, OUTBOX_MAX_MESSAGES, OUTBOX_TTL_SECONDS, type OutboxFilter, type OutboxMessage } from "./outbox";
export { escapeHtml, templates, type EmailBranding, type EmailContent, type EmailParams } from "./templates";

export type EmailLog = (line: Record<string, unknown>) => void;

const noticed = new WeakSet<object>();

/** Logs once per config object why email is not going out through SES. */
function startupNotice(config: Config, log: EmailLog | undefined, sender: EmailSender["name"], reason: string): void {
  if (!log || noticed.has(config)) return;
  noticed.add(config);
  log({ level: "info", msg: "email delivery not via SES", sender, reason });
}

/**
 * The sender for this config:
 * - EMAIL_ENABLED=false: disabled (sends are dropped);
 * - SES_* and EMAIL_FROM all set: AWS SES;
 * - otherwise, outside production: the Redis development outbox;
 * - otherwise: disabled (production without SES; API behaviour is unchanged).
 * With `log`, a one-time notice says when SES is not used.
 */
export function createEmailSender(config: Config, redis: Redis, log?: EmailLog): EmailSender {
  if (config.email.enabled === false) {
    startupNotice(config, log, "disabled", "EMAIL_ENABLED is false");
    return disabledSender;
  }
  const ses = sesSettingsFromConfig(config);
  if (ses) return new SesEmailSender(ses);
  const reason = "SES_AWS_REGION, SES_AWS_ACCESS_KEY_ID, SES_AWS_SECRET_ACCESS_KEY and EMAIL_FROM are not all set";
  if (config.appEnv !== "production") {
    startupNotice(config, log, "outbox", `${reason}; messages go to the Redis development outbox`);
    return new OutboxEmailSender(redis);
  }
  startupNotice(config, log, "disabled", `${reason}; email is skipped`);
  return disabledSender;
}

/** Subject, text and html for one kind of message. */
export function buildEmail<K extends EmailKind>(kind: K, config: Pick<Config, "email">, params: EmailParams[K]): EmailContent {
  const template = templates[kind] as (branding: Config["email"], params: EmailParams[K]) => EmailContent;
  return template(config.email, params);
}

/** A whole message for one recipient: buildEmail plus kind and address. */
export function composeEmail<K extends EmailKind>(kind: K, to: string, config: Pick<Config, "email">, params: EmailParams[K]): EmailMessage {
  return { kind, to, ...buildEmail(kind, config, params) };
}

const EMAIL_ADDRESS = /[^\s@<>"'(),;:]+@[^\s@<>"'(),;:]+/g;
const URL_PATTERN = /\bhttps?:\/\/\S+/gi;

/**
 * The error's message with no recipient, address, link or token left in it: the driver's own
 * values are cut first (describeError drops the command an Upstash error appends, which for the
 * development outbox is the whole message, reset link included), then what remains is scrubbed.
 */
function describeSendError(err: unknown, msg: EmailMessage): string {
  const described = describeError(err, { stack: false });
  let text = typeof err === "string" ? err : String(described.errorMessage || described.errorName || "unknown error");
  if (msg.to) text = text.split(msg.to).join("[recipient]");
  text = text.replace(URL_PATTERN, "[url]").replace(EMAIL_ADDRESS, "[address]");
  return text.length > 300 ? text.slice(0, 299) + "…" : text;
}

/**
 * Sends and never throws: a failure is logged as a warning with the kind, the sender and the
 * error message only (no recipient, subject, body, link or token). Resolves true when sent.
 */
export async function sendEmail(sender: EmailSender, msg: EmailMessage, log: EmailLog): Promise<boolean> {
  try {
    await sender.send(msg);
    return true;
  } catch (err) {
    try {
      log({ level: "warn", msg: "email send failed", kind: msg.kind, sender: sender.name, error: describeSendError(err, msg) });
    } catch {
      // A broken logger must not turn a failed email into a failed request either.
    }
    return false;
  }
}
