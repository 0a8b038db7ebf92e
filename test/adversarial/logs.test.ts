// No secrets in logs (DESIGN.md §5, §8). The request log sink and the console are captured while
// the whole credential lifecycle runs (wrong and right logins, refresh in the body and the cookie,
// /auth/me, change-password, logout, password reset request and confirm) and while dependencies
// fail (the SQL endpoint erroring, the Redis endpoint erroring, and a Postgres trigger failing the
// very statements that carry the old and new password hashes as parameters, so the error
// descriptions that are logged would contain them if they were not cut). Then no password, token,
// refresh secret, reset token, stored hash or Authorization/Cookie header value may appear in any
// captured line; and the capture must hold every request's log line, so the test can fail.
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { setLogSink, type LogSink } from "../../src/runtime/log";
import { call, callWithEnv, json, type CallOptions } from "../helpers/http";
import { withFault } from "../helpers/stack";
import { createUser, deps, uniqueEmail, waitForEmail } from "../helpers/users";

const PASSWORDS = {
  initial: "Initial-Walrus-73-quill",
  wrong: "Wrong-Heron-58-spindle",
  changed: "Changed-Falcon-29-ledger",
  reset: "Reset-Otter-44-harbour",
  duringSqlFault: "Faulted-Badger-17-canvas",
  duringTrigger: "Trigger-Lynx-36-meadow",
  resetDuringTrigger: "TriggerReset-Mole-92-pebble",
};
const EXPOSE = { EXPOSE_PASSWORD_RESET_TOKEN: "true" };

interface Recorded {
  requestId: string;
  path: string;
  status: number;
}

const logLines: Record<string, unknown>[] = [];
const consoleLines: string[] = [];
const recorded: Recorded[] = [];
/** Everything that must never be logged, by a label for the failure message. */
const secrets = new Map<string, string>();
const statuses = new Map<string, number>();
let previousSink: LogSink | undefined;
const CONSOLE_METHODS = ["log", "info", "warn", "error", "debug", "trace"] as const;

function secret(label: string, value: string | null | undefined): void {
  if (!value) throw new Error(`no value for ${label}`);
  secrets.set(label, value);
}

function render(arg: unknown): string {
  if (typeof arg === "string") return arg;
  if (arg instanceof Error) return `${arg.name}: ${arg.message}\n${arg.stack ?? ""}\n${render((arg as { cause?: unknown }).cause ?? "")}`;
  try {
    return JSON.stringify(arg) ?? String(arg);
  } catch {
    return String(arg);
  }
}

/** A token answer's secrets: the access token (whole and by segment) and the refresh token (whole and its secret). */
function harvest(label: string, res: Response, body: any): void {
  const data = body?.data;
  if (typeof data?.accessToken === "string") {
    const [, payload, signature] = data.accessToken.split(".");
    secret(`${label} access token`, data.accessToken);
    secret(`${label} access token payload`, payload);
    secret(`${label} access token signature`, signature);
  }
  const cookie = /(?:^|,\s*)auth_refresh=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")?.[1];
  for (const [where, refresh] of [["body", data?.refreshToken], ["cookie", cookie]] as const) {
    if (typeof refresh === "string" && refresh.length > 0) {
      secret(`${label} refresh token (${where})`, refresh);
      secret(`${label} refresh secret (${where})`, refresh.split(".")[1]);
    }
  }
  if (typeof data?.token === "string") secret(`${label} reset token`, data.token);
}

/** Calls the Worker, records the answer's request id, and harvests any secret it hands out. */
async function step(label: string, path: string, opts: CallOptions = {}, env?: Record<string, string>): Promise<{ res: Response; body: any }> {
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    if (/^(authorization|cookie)$/i.test(name)) secret(`${label} ${name} header`, value);
  }
  const res = env ? await callWithEnv(env, path, opts) : await call(path, opts);
  const body = await json(res).catch(() => null);
  const requestId = res.headers.get("x-request-id");
  if (!requestId) throw new Error(`${label}: no X-Request-Id`);
  recorded.push({ requestId, path: path.split("?")[0], status: res.status });
  statuses.set(label, res.status);
  harvest(label, res, body);
  return { res, body };
}

async function passwordHash(userId: string): Promise<string> {
  const r = await deps().db.execute(sql`select password_hash as "passwordHash" from users where id = ${userId}::uuid`);
  return (r.rows[0] as { passwordHash: string }).passwordHash;
}

/** A PHC string and the parts of it that would betray it: the salt and the digest. */
function hashSecrets(label: string, phc: string): void {
  const parts = phc.split("$");
  expect(parts).toHaveLength(6); // $argon2id$v=19$m=...,t=...,p=...$salt$digest
  secret(`${label} password hash`, phc);
  secret(`${label} password hash salt`, parts[4]);
  secret(`${label} password hash digest`, parts[5]);
}

const ip = (n: number) => ({ "cf-connecting-ip": `192.0.2.${n}` });

beforeAll(async () => {
  previousSink = setLogSink((line) => {
    logLines.push(line);
    // Through to the default sink too (console.log of the JSON line), which the spies capture.
    previousSink!(line);
  });
  for (const method of CONSOLE_METHODS) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      consoleLines.push(`[console.${method}] ${args.map(render).join(" ")}`);
    });
  }

  for (const [label, value] of Object.entries(PASSWORDS)) secret(`password ${label}`, value);

  // ---- the credential lifecycle --------------------------------------------------------------
  const user = await createUser({ password: PASSWORDS.initial, fullName: "Log Watcher" });
  hashSecrets("initial", await passwordHash(user.id));

  const wrong = await step("wrong login", "/auth/login", { json: { email: user.email, password: PASSWORDS.wrong }, headers: ip(1) });
  expect(wrong.res.status).toBe(401);
  const first = await step("login", "/auth/login", { json: { email: user.email, password: PASSWORDS.initial }, headers: ip(1) });
  expect(first.res.status).toBe(200);

  const refreshed = await step("refresh", "/auth/refresh", { json: { refreshToken: first.body.data.refreshToken } });
  expect(refreshed.res.status).toBe(200);
  const access = refreshed.body.data.accessToken as string;

  const cookieLogin = await step("cookie login", "/auth/login", { json: { email: user.email, password: PASSWORDS.initial, tokenTransport: "cookie" }, headers: ip(1) });
  expect(cookieLogin.res.status).toBe(200);
  const cookie = `auth_refresh=${secrets.get("cookie login refresh token (cookie)")}`;
  const cookieRefresh = await step("cookie refresh", "/auth/refresh", { method: "POST", headers: { cookie } });
  expect(cookieRefresh.res.status).toBe(200);

  expect((await step("me", "/auth/me", { headers: { authorization: `Bearer ${access}` } })).res.status).toBe(200);
  // A token in the query string too: only the path is logged.
  expect((await step("me with query", `/auth/me?access_token=${access}&refresh_token=${refreshed.body.data.refreshToken}`, { headers: { authorization: `Bearer ${access}` } })).res.status).toBe(200);
  // Refused tokens are not logged either.
  expect((await step("me forged", "/auth/me", { headers: { authorization: `Bearer ${access.slice(0, -2)}xy` } })).res.status).toBe(401);
  expect((await step("refresh garbage", "/auth/refresh", { json: { refreshToken: `${crypto.randomUUID()}.${"Q".repeat(43)}` } })).res.status).toBe(401);
  secret("garbage refresh secret", "Q".repeat(43));

  const badChange = await step("change-password wrong current", "/auth/change-password", {
    json: { currentPassword: PASSWORDS.wrong, newPassword: PASSWORDS.changed },
    headers: { authorization: `Bearer ${access}` },
  });
  expect(badChange.res.status).toBe(400);
  const changed = await step("change-password", "/auth/change-password", {
    json: { currentPassword: PASSWORDS.initial, newPassword: PASSWORDS.changed },
    headers: { authorization: `Bearer ${access}` },
  });
  expect(changed.res.status).toBe(200);
  hashSecrets("changed", await passwordHash(user.id));

  expect((await step("logout", "/auth/logout", { json: { refreshToken: refreshed.body.data.refreshToken } })).res.status).toBe(200);

  const requested = await step("reset request", "/auth/password-reset/request", { json: { email: user.email }, headers: ip(2) }, EXPOSE);
  expect(requested.res.status).toBe(200);
  const resetToken = requested.body.data.token as string;
  expect(resetToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
  // The emailed link carries the same token; waiting for it also lets the deferred send (and its logs) finish.
  expect((await waitForEmail(user.email, "password_reset")).text).toContain(resetToken);
  const confirmed = await step("reset confirm", "/auth/password-reset/confirm", { json: { token: resetToken, newPassword: PASSWORDS.reset } });
  expect(confirmed.res.status).toBe(200);
  hashSecrets("reset", await passwordHash(user.id));
  expect((await step("reset confirm replay", "/auth/password-reset/confirm", { json: { token: resetToken, newPassword: PASSWORDS.reset } })).res.status).toBe(400);

  const again = await step("login after reset", "/auth/login", { json: { email: user.email, password: PASSWORDS.reset }, headers: ip(3) });
  expect(again.res.status).toBe(200);
  const access2 = again.body.data.accessToken as string;
  const refresh2 = again.body.data.refreshToken as string;
  const nextReset = await step("second reset request", "/auth/password-reset/request", { json: { email: user.email }, headers: ip(4) }, EXPOSE);
  const resetToken2 = nextReset.body.data.token as string;

  // ---- dependency faults: the SQL endpoint answers errors --------------------------------------
  await withFault("sql", { mode: "error" }, async () => {
    await step("sql fault login", "/auth/login", { json: { email: user.email, password: PASSWORDS.reset }, headers: ip(5) });
    await step("sql fault refresh", "/auth/refresh", { json: { refreshToken: refresh2 } });
    await step("sql fault me", "/auth/me", { headers: { authorization: `Bearer ${access2}` } });
    await step("sql fault change-password", "/auth/change-password", {
      json: { currentPassword: PASSWORDS.reset, newPassword: PASSWORDS.duringSqlFault },
      headers: { authorization: `Bearer ${access2}` },
    });
    await step("sql fault reset confirm", "/auth/password-reset/confirm", { json: { token: resetToken2, newPassword: PASSWORDS.duringSqlFault } });
    await step("sql fault reset request", "/auth/password-reset/request", { json: { email: user.email }, headers: ip(6) }, EXPOSE);
  });
  // ---- the Redis endpoint answers errors (rate limits fail open, markers are skipped) -------------
  await withFault("redis", { mode: "error" }, async () => {
    // Login fails closed by default (503), or open with RATE_LIMIT_FAIL_CLOSED_LOGIN=false (and issues tokens).
    await step("redis fault login", "/auth/login", { json: { email: user.email, password: PASSWORDS.reset }, headers: ip(7) });
    await step("redis fault login fail-open", "/auth/login", { json: { email: user.email, password: PASSWORDS.reset }, headers: ip(7) }, { RATE_LIMIT_FAIL_CLOSED_LOGIN: "false" });
    await step("redis fault wrong login fail-open", "/auth/login", { json: { email: user.email, password: PASSWORDS.wrong }, headers: ip(7) }, { RATE_LIMIT_FAIL_CLOSED_LOGIN: "false" });
    await step("redis fault me", "/auth/me", { headers: { authorization: `Bearer ${access2}` } });
    await step("redis fault refresh", "/auth/refresh", { json: { refreshToken: refresh2 } });
  });

  // ---- a Postgres error on the very statements that carry password hashes as parameters --------
  const victim = await createUser({ email: uniqueEmail("logfault"), password: PASSWORDS.initial });
  hashSecrets("victim", await passwordHash(victim.id));
  const victimLogin = await step("victim login", "/auth/login", { json: { email: victim.email, password: PASSWORDS.initial }, headers: ip(8) });
  const victimReset = await step("victim reset request", "/auth/password-reset/request", { json: { email: victim.email }, headers: ip(9) }, EXPOSE);
  const db = deps().db;
  await db.execute(sql.raw(`create or replace function adversarial_logs_fail() returns trigger language plpgsql as $$
    begin
      if new.password_hash is distinct from old.password_hash and new.email like 'logfault.%' then
        raise exception 'adversarial trigger: password update refused';
      end if;
      return new;
    end $$`));
  await db.execute(sql.raw(`create trigger adversarial_logs_fail before update on users for each row execute function adversarial_logs_fail()`));
  try {
    await step("trigger change-password", "/auth/change-password", {
      json: { currentPassword: PASSWORDS.initial, newPassword: PASSWORDS.duringTrigger },
      headers: { authorization: `Bearer ${victimLogin.body.data.accessToken}` },
    });
    await step("trigger reset confirm", "/auth/password-reset/confirm", { json: { token: victimReset.body.data.token, newPassword: PASSWORDS.resetDuringTrigger } });
  } finally {
    await db.execute(sql.raw(`drop trigger if exists adversarial_logs_fail on users`));
    await db.execute(sql.raw(`drop function if exists adversarial_logs_fail()`));
  }
  // The victim's password did not change (the failure was real).
  expect(await passwordHash(victim.id)).toBe(secrets.get("victim password hash"));

  // Deferred work (emails, marker writes) logs after the response: let it settle.
  await new Promise((r) => setTimeout(r, 300));
});

afterAll(() => {
  if (previousSink) setLogSink(previousSink);
  vi.restoreAllMocks();
});

/** Every captured line as JSON, and every string inside it raw (no escaping can hide a match). */
function haystack(): string {
  const strings: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "string") strings.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(logLines);
  return [...logLines.map((l) => JSON.stringify(l)), ...strings, ...consoleLines].join("\n");
}

describe("request logs carry no secrets", () => {
  it("control: the capture holds one request line per call, with its request id, path and status", () => {
    const requestLines = logLines.filter((l) => l.msg === "request");
    expect(recorded.length).toBeGreaterThan(25);
    for (const r of recorded) {
      const line = requestLines.find((l) => l.requestId === r.requestId);
      expect(line, `request line for ${r.path} (${r.requestId})`).toBeDefined();
      expect(line).toMatchObject({ path: r.path, status: r.status });
    }
    // The default sink was exercised too: every request line also reached console.log.
    for (const r of recorded) expect(consoleLines.some((c) => c.startsWith("[console.log]") && c.includes(r.requestId))).toBe(true);
  });

  it("control: the failures really happened, and their error descriptions were logged", () => {
    expect(statuses.get("wrong login")).toBe(401);
    for (const label of ["sql fault login", "sql fault refresh", "sql fault me", "sql fault change-password", "sql fault reset confirm", "sql fault reset request", "trigger change-password", "trigger reset confirm"]) {
      expect(statuses.get(label), label).toBeGreaterThanOrEqual(500);
    }
    expect(statuses.get("redis fault login")).toBe(503); // fail-closed login by default
    expect(statuses.get("redis fault login fail-open")).toBe(200); // fail-open, logged as a warning
    expect(statuses.get("redis fault wrong login fail-open")).toBe(401);
    expect(secrets.has("redis fault login fail-open access token")).toBe(true);
    expect(statuses.get("redis fault me")).toBe(200); // markers skipped, Postgres checked
    const described = logLines.filter((l) => typeof l.errorName === "string" || typeof l.errorMessage === "string");
    expect(described.length).toBeGreaterThan(0);
    const text = JSON.stringify(described);
    expect(text).toContain("adversarial trigger: password update refused"); // the driver's message is kept...
    expect(text).toMatch(/injected failure/); // ...and the fault endpoint's
    expect(logLines.some((l) => l.msg === "rate limit check failed")).toBe(true);
    expect(logLines.some((l) => l.msg === "rate limit count failed")).toBe(true);
    // The unhandled (500) errors were logged with a stack, which is cut like the message.
    expect(logLines.some((l) => l.msg === "unhandled error" && typeof l.stack === "string")).toBe(true);
    expect(logLines.some((l) => l.msg === "revocation markers unavailable; relying on Postgres")).toBe(true);
  });

  it("contains no password, token, refresh secret, reset token, stored hash or credential header", () => {
    const text = haystack();
    expect(secrets.size).toBeGreaterThan(40);
    const leaked = [...secrets].filter(([, value]) => text.includes(value)).map(([label]) => label);
    expect(leaked).toEqual([]);
  });

  it("covers every kind of secret: passwords, access and refresh tokens, reset tokens, hashes, headers", () => {
    const labels = [...secrets.keys()].join("\n");
    for (const kind of [
      "password initial",
      "password wrong",
      "password changed",
      "password reset",
      "login access token",
      "login refresh secret (body)",
      "cookie login refresh secret (cookie)",
      "cookie refresh refresh token (cookie)",
      "refresh access token signature",
      "reset request reset token",
      "second reset request reset token",
      "victim reset request reset token",
      "initial password hash",
      "changed password hash digest",
      "reset password hash",
      "victim password hash",
      "me authorization header",
      "cookie refresh cookie header",
    ]) {
      expect(labels).toContain(kind);
    }
  });
});
