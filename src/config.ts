// Every environment binding the Worker reads, parsed once per isolate by one zod schema.
// A bad or missing value becomes a ConfigError naming the variable; the app answers it with
// 500 `config_error` before any handler runs, never as a crash in the middle of a login.
import { z } from "zod";
import type { Argon2Params } from "./crypto/password";

/** Bindings as Workers hands them over: strings (vars and secrets). */
export type Bindings = Record<string, unknown>;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Go-style durations as the seed's variables use them ("15m", "720h", "10s", "1h30m"). */
export function parseDuration(value: string): number | null {
  const parts = value.trim().match(/\d+(?:\.\d+)?(?:ms|s|m|h|d)/g);
  if (!parts || parts.join("") !== value.trim()) return null;
  let total = 0;
  for (const p of parts) {
    const m = DURATION.exec(p)!;
    total += Number(m[1]) * UNIT_MS[m[2]];
  }
  return total > 0 ? total : null;
}

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === null) {
        ctx.addIssue({ code: "custom", message: `expected a duration like 15m, 720h or 10s, got "${v}"` });
        return z.NEVER;
      }
      return ms;
    });

const bool = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no", ""])
    .default(fallback ? "true" : "false")
    .transform((v) => (v === "" ? fallback : v === "true" || v === "1" || v === "yes"));

/** A boolean whose default depends on other settings: undefined when unset or empty. */
const optionalBool = z
  .enum(["true", "false", "1", "0", "yes", "no", ""])
  .optional()
  .transform((v) => (v === undefined || v === "" ? undefined : v === "true" || v === "1" || v === "yes"));

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `expected a whole number from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() !== "" ? v : undefined));

const HTTP_URL = /^https?:\/\/[^\s]+$/;
const optionalUrl = optionalString.refine((v) => v === undefined || HTTP_URL.test(v), { message: "expected an http(s) URL" });
const urlWithDefault = (fallback: string) => z.string().default(fallback).refine((v) => HTTP_URL.test(v), { message: "expected an http(s) URL" });

export interface RateRule {
  limit: number;
  windowMs: number;
}

const rate = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx): RateRule => {
      const m = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(v);
      const windowMs = m ? parseDuration(m[2]) : null;
      if (!m || windowMs === null || Number(m[1]) < 1) {
        ctx.addIssue({ code: "custom", message: `expected "<requests>/<window>" like 30/1m, got "${v}"` });
        return z.NEVER;
      }
      return { limit: Number(m[1]), windowMs };
    });

const retiredKeys = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (!v || v.trim() === "") return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      ctx.addIssue({ code: "custom", message: "expected a JSON array of {kid, pem, until?}" });
      return z.NEVER;
    }
    const r = z
      .array(z.object({ kid: z.string().min(1), pem: z.string().min(1), until: z.iso.datetime({ offset: true }).optional() }))
      .safeParse(parsed);
    if (!r.success) {
      ctx.addIssue({ code: "custom", message: "expected a JSON array of {kid, pem, until?}" });
      return z.NEVER;
    }
    return r.data;
  });

const origins = z
  .string()
  .default("")
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim().replace(/\/+$/, ""))
      .filter(Boolean),
  );

export const envSchema = z.object({
  APP_ENV: z.enum(["development", "test", "staging", "production"]).default("production"),

  // Postgres (Neon HTTP). LOCAL_SQL_ENDPOINT points the Neon driver at the local stack instead.
  DATABASE_URL: optionalString.refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), {
    message: "expected a postgres:// or postgresql:// connection string",
  }),
  LOCAL_SQL_ENDPOINT: optionalUrl,
  FINANCE_DATABASE_URL: optionalString,

  // Upstash Redis (REST).
  UPSTASH_REDIS_REST_URL: optionalUrl,
  UPSTASH_REDIS_REST_TOKEN: optionalString,

  // JWT signing and JWKS.
  JWT_SIGNING_KEY_PEM: optionalString,
  JWT_PUBLIC_KEY_PEM: optionalString,
  JWT_KID: z.string().min(1).default("default"),
  JWT_NEXT_KEY_PEM: optionalString,
  JWT_NEXT_KID: optionalString,
  JWT_RETIRED_KEYS: retiredKeys,
  JWT_ISSUER: z.string().min(1).default("auth.primuse.dev"),
  JWT_AUDIENCE: z.string().min(1).default("primuse-apps"),
  ACCESS_TOKEN_TTL: duration("15m"),
  SERVICE_TOKEN_TTL: duration("1h"),
  REFRESH_TOKEN_TTL: duration("720h"),
  JWKS_MAX_AGE: int(300, 0, 86_400),

  // Sessions and refresh tokens.
  REFRESH_REUSE_GRACE: duration("10s"),
  REFRESH_TOKEN_SECRET: optionalString,
  COOKIE_SECURE: bool(true),
  COOKIE_SAMESITE: z.enum(["Strict", "Lax", "None"]).default("Lax"),
  COOKIE_DOMAIN: optionalString,

  // Passwords and reset.
  PASSWORD_MIN_LENGTH: int(8, 8, 64),
  PASSWORD_RESET_TTL: duration("1h"),

  // Rate limits, "<requests>/<window>" (sliding window in Redis).
  RATE_LIMIT_LOGIN_PER_IP: rate("30/1m"),
  RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL: rate("10/15m"),
  RATE_LIMIT_PASSWORD_RESET_PER_EMAIL: rate("3/15m"),
  RATE_LIMIT_PASSWORD_RESET_PER_IP: rate("10/15m"),
  RATE_LIMIT_REGISTER_PER_IP: rate("10/1h"),
  RATE_LIMIT_CLIENT_AUTH_FAILURES_PER_CLIENT: rate("20/5m"),
  RATE_LIMIT_CLIENT_AUTH_FAILURES_PER_IP: rate("60/5m"),

  // Staff and machine access.
  INTERNAL_API_KEY: optionalString,
  INTERNAL_API_KEY_NEXT: optionalString,
  CF_ACCESS_TEAM_DOMAIN: optionalString,
  CF_ACCESS_AUD: optionalString,
  CF_ACCESS_CERTS_URL: optionalUrl,
  FINANCE_CACHE_TTL: duration("10m"),
  FINANCE_NEGATIVE_CACHE_TTL: duration("30s"),

  // Features and policies.
  PUBLIC_REGISTRATION_ENABLED: bool(false),
  RATE_LIMIT_FAIL_CLOSED_LOGIN: bool(true),
  EXPOSE_PASSWORD_RESET_TOKEN: bool(false),
  // The API reference at /docs (and its script); default on outside production, off in production.
  API_DOCS_ENABLED: optionalBool,

  // Argon2id (OWASP baseline by default).
  ARGON2_MEMORY: int(19_456, 1024, 4_194_304),
  ARGON2_TIME: int(2, 1, 100),
  ARGON2_THREADS: int(1, 1, 16),
  ARGON2_KEYLEN: int(32, 16, 128),

  // Email (AWS SES when SES_* and EMAIL_FROM are all set; otherwise the development outbox).
  EMAIL_ENABLED: bool(true),
  FRONTEND_URL: urlWithDefault("https://app.kisum.io"),
  SES_AWS_REGION: optionalString,
  SES_AWS_ACCESS_KEY_ID: optionalString,
  SES_AWS_SECRET_ACCESS_KEY: optionalString,
  EMAIL_FROM: optionalString,
  EMAIL_APP_NAME: z.string().default("Kisum Auth"),
  EMAIL_LOGO_URL: optionalUrl,

  // Email verification, passwordless sign-in, second factors (issue 10).
  EMAIL_VERIFICATION_TTL: duration("24h"),
  MAGIC_LINK_TTL: duration("15m"),
  EMAIL_OTP_TTL: duration("10m"),
  STEP_UP_TTL: duration("5m"),
  MFA_REMEMBER_DAYS: int(30, 1, 365),
  // AES-256-GCM key for TOTP secrets at rest: 32 bytes, base64 or base64url. Required in production;
  // outside it a fixed development key is used when unset. MFA_ENCRYPTION_KEY_ID names it in each
  // stored secret; MFA_ENCRYPTION_RETIRED_KEYS ("id:key,id:key") still decrypt after a rotation.
  MFA_ENCRYPTION_KEY: optionalString,
  MFA_ENCRYPTION_KEY_ID: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, { message: "1-32 letters, digits, _ or -" }).default("1"),
  MFA_ENCRYPTION_RETIRED_KEYS: optionalString,
  RATE_LIMIT_EMAIL_LINK_PER_EMAIL: rate("5/15m"),
  RATE_LIMIT_EMAIL_LINK_PER_IP: rate("30/15m"),

  // Social sign-in (issue 11). A provider without its client id and secret (Apple: all four) is off.
  PUBLIC_URL: optionalUrl,
  GOOGLE_CLIENT_ID: optionalString,
  GOOGLE_CLIENT_SECRET: optionalString,
  GOOGLE_ISSUER: urlWithDefault("https://accounts.google.com"),
  GITHUB_CLIENT_ID: optionalString,
  GITHUB_CLIENT_SECRET: optionalString,
  GITHUB_BASE_URL: urlWithDefault("https://github.com"),
  GITHUB_API_URL: urlWithDefault("https://api.github.com"),
  MICROSOFT_CLIENT_ID: optionalString,
  MICROSOFT_CLIENT_SECRET: optionalString,
  MICROSOFT_TENANT_ID: z.string().min(1).default("common"),
  MICROSOFT_ISSUER: optionalUrl,
  APPLE_CLIENT_ID: optionalString,
  APPLE_TEAM_ID: optionalString,
  APPLE_KEY_ID: optionalString,
  APPLE_PRIVATE_KEY: optionalString,
  APPLE_ISSUER: urlWithDefault("https://appleid.apple.com"),

  // Passkeys (issue 11): the relying party, overridable per application (settings.webauthn).
  WEBAUTHN_RP_ID: optionalString,
  WEBAUTHN_RP_NAME: optionalString,
  WEBAUTHN_ORIGINS: origins,

  // Applications.
  REQUIRE_APPLICATION: bool(false),
  APPLICATION_CACHE_TTL: duration("30s"),

  // HTTP.
  CORS_ALLOWED_ORIGINS: origins,
  MAX_BODY_BYTES: int(16_384, 1024, 1_048_576),
  READY_TIMEOUT_MS: int(2000, 100, 30_000),
  DEPENDENCY_TIMEOUT_MS: int(5000, 100, 60_000),
});

export type RawConfig = z.output<typeof envSchema>;

/** Argon2id parameters from parsed ARGON2_* values (the Worker's config, and Node-side hashing in scripts/). */
export function argon2ParamsFrom(raw: { ARGON2_MEMORY: number; ARGON2_TIME: number; ARGON2_THREADS: number; ARGON2_KEYLEN: number }): Argon2Params {
  return { memoryKiB: raw.ARGON2_MEMORY, iterations: raw.ARGON2_TIME, parallelism: raw.ARGON2_THREADS, hashLength: raw.ARGON2_KEYLEN };
}

export interface Config {
  appEnv: RawConfig["APP_ENV"];
  isDevelopment: boolean;
  database: { url: string; localEndpoint?: string };
  financeDatabaseUrl?: string;
  redis: { url: string; token: string };
  jwt: {
    signingKeyPem?: string;
    publicKeyPem?: string;
    kid: string;
    next?: { pem: string; kid: string };
    retired: { kid: string; pem: string; until?: string }[];
    issuer: string;
    audience: string;
    accessTokenTtlMs: number;
    /** Lifetime of client_credentials access tokens (SERVICE_TOKEN_TTL). */
    serviceTokenTtlMs: number;
    jwksMaxAgeSeconds: number;
  };
  refreshTokenTtlMs: number;
  refreshReuseGraceMs: number;
  refreshTokenSecret?: string;
  cookie: { secure: boolean; sameSite: "Strict" | "Lax" | "None"; domain?: string };
  passwordMinLength: number;
  passwordResetTtlMs: number;
  rateLimits: {
    loginPerIp: RateRule;
    loginFailuresPerEmail: RateRule;
    passwordResetPerEmail: RateRule;
    passwordResetPerIp: RateRule;
    registerPerIp: RateRule;
    clientAuthFailuresPerClient: RateRule;
    clientAuthFailuresPerIp: RateRule;
  };
  internalApiKey?: string;
  internalApiKeyNext?: string;
  cfAccess?: { teamDomain: string; audience: string; certsUrl: string; issuer: string };
  finance: { databaseUrl?: string; cacheTtlMs: number; negativeCacheTtlMs: number };
  publicRegistrationEnabled: boolean;
  apiDocsEnabled: boolean;
  rateLimitFailClosedLogin: boolean;
  exposePasswordResetToken: boolean;
  argon2: Argon2Params;
  email: {
    enabled: boolean;
    frontendUrl: string;
    from?: string;
    appName: string;
    logoUrl?: string;
    ses?: { region: string; accessKeyId: string; secretAccessKey: string };
  };
  http: { corsAllowedOrigins: string[]; maxBodyBytes: number; readyTimeoutMs: number; dependencyTimeoutMs: number };
  /** This service's own public origin for links and callbacks (PUBLIC_URL); unset: the request's origin. */
  publicUrl?: string;
  verification: { emailTtlMs: number; magicLinkTtlMs: number; emailOtpTtlMs: number; perEmail: RateRule; perIp: RateRule };
  mfa: {
    stepUpTtlMs: number;
    rememberDays: number;
    /** The current key (id + raw base64/base64url text) and the retired ones, for AES-GCM of TOTP secrets. */
    encryptionKey: { id: string; key: string };
    retiredEncryptionKeys: { id: string; key: string }[];
  };
  social: {
    google?: { clientId: string; clientSecret: string; issuer: string };
    github?: { clientId: string; clientSecret: string; baseUrl: string; apiUrl: string };
    microsoft?: { clientId: string; clientSecret: string; tenantId: string; issuer: string };
    apple?: { clientId: string; teamId: string; keyId: string; privateKey: string; issuer: string };
  };
  webauthn: { rpId?: string; rpName: string; origins: string[] };
  applications: {
    /** App-initiated routes refuse requests that name no application (X-API-Key). */
    required: boolean;
    /** How long an isolate trusts what it resolved (API key -> application); bounds how late a revocation or disabling takes effect. */
    cacheTtlMs: number;
  };
}

export class ConfigError extends Error {
  readonly variables: string[];
  constructor(problems: { variable: string; message: string }[]) {
    super(problems.map((p) => `${p.variable}: ${p.message}`).join("; "));
    this.name = "ConfigError";
    this.variables = problems.map((p) => p.variable);
  }
}

function requireSet(raw: RawConfig, names: (keyof RawConfig)[], why: string): { variable: string; message: string }[] {
  return names.filter((n) => raw[n] === undefined).map((n) => ({ variable: n, message: `is required ${why}` }));
}

/** Parses bindings into Config, or throws ConfigError naming every bad variable. */
export function parseConfig(env: Bindings): Config {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    if (typeof v === "string") input[key] = v;
    else if (typeof v === "number" || typeof v === "boolean") input[key] = String(v);
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? "?"), message: i.message })));
  }
  const raw = parsed.data;
  const problems = [
    ...requireSet(raw, ["DATABASE_URL"], "(the Auth Postgres connection string)"),
    ...requireSet(raw, ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"], "(Upstash Redis REST)"),
  ];
  const production = raw.APP_ENV === "production";
  if (production) {
    problems.push(...requireSet(raw, ["JWT_SIGNING_KEY_PEM"], "when APP_ENV=production"));
    if (raw.EXPOSE_PASSWORD_RESET_TOKEN)
      problems.push({ variable: "EXPOSE_PASSWORD_RESET_TOKEN", message: "must not be true when APP_ENV=production" });
    if (raw.LOCAL_SQL_ENDPOINT)
      problems.push({ variable: "LOCAL_SQL_ENDPOINT", message: "is for the local stack and must not be set when APP_ENV=production" });
  } else if (!raw.JWT_SIGNING_KEY_PEM && raw.APP_ENV !== "development" && raw.APP_ENV !== "test") {
    problems.push({ variable: "JWT_SIGNING_KEY_PEM", message: `is required unless APP_ENV is development or test` });
  }
  if ((raw.CF_ACCESS_TEAM_DOMAIN === undefined) !== (raw.CF_ACCESS_AUD === undefined))
    problems.push({ variable: raw.CF_ACCESS_TEAM_DOMAIN ? "CF_ACCESS_AUD" : "CF_ACCESS_TEAM_DOMAIN", message: "is required when the other CF_ACCESS_* variable is set" });
  if (raw.INTERNAL_API_KEY_NEXT && !raw.INTERNAL_API_KEY)
    problems.push({ variable: "INTERNAL_API_KEY", message: "is required with INTERNAL_API_KEY_NEXT" });
  for (const name of ["INTERNAL_API_KEY", "INTERNAL_API_KEY_NEXT"] as const) {
    const v = raw[name];
    if (production && v !== undefined && v.length < 32) problems.push({ variable: name, message: "must be at least 32 characters" });
  }
  if (raw.JWT_NEXT_KEY_PEM && !raw.JWT_NEXT_KID) problems.push({ variable: "JWT_NEXT_KID", message: "is required with JWT_NEXT_KEY_PEM" });
  if (raw.JWT_NEXT_KID && raw.JWT_NEXT_KID === raw.JWT_KID)
    problems.push({ variable: "JWT_NEXT_KID", message: "must differ from JWT_KID" });
  const sesSet = [raw.SES_AWS_REGION, raw.SES_AWS_ACCESS_KEY_ID, raw.SES_AWS_SECRET_ACCESS_KEY].filter(Boolean).length;
  if (sesSet > 0 && sesSet < 3)
    problems.push(
      ...requireSet(raw, ["SES_AWS_REGION", "SES_AWS_ACCESS_KEY_ID", "SES_AWS_SECRET_ACCESS_KEY"], "when any SES_* variable is set"),
    );
  if (raw.COOKIE_SAMESITE === "None" && !raw.COOKIE_SECURE)
    problems.push({ variable: "COOKIE_SAMESITE", message: "None requires COOKIE_SECURE=true (browsers drop such cookies)" });
  if (production && raw.REFRESH_TOKEN_SECRET !== undefined && raw.REFRESH_TOKEN_SECRET.length < 32)
    problems.push({ variable: "REFRESH_TOKEN_SECRET", message: "must be at least 32 characters" });
  if (production) problems.push(...requireSet(raw, ["MFA_ENCRYPTION_KEY"], "when APP_ENV=production (TOTP secrets are encrypted with it)"));
  const aesKey = (v: string) => {
    try {
      return atob(v.replace(/-/g, "+").replace(/_/g, "/")).length === 32;
    } catch {
      return false;
    }
  };
  if (raw.MFA_ENCRYPTION_KEY !== undefined && !aesKey(raw.MFA_ENCRYPTION_KEY))
    problems.push({ variable: "MFA_ENCRYPTION_KEY", message: "must be 32 bytes in base64 or base64url (openssl rand -base64 32)" });
  const retiredMfaKeys = (raw.MFA_ENCRYPTION_RETIRED_KEYS ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => ({ id: e.slice(0, e.indexOf(":")), key: e.slice(e.indexOf(":") + 1) }));
  if (retiredMfaKeys.some((k) => !/^[A-Za-z0-9_-]{1,32}$/.test(k.id) || !aesKey(k.key) || k.id === raw.MFA_ENCRYPTION_KEY_ID))
    problems.push({ variable: "MFA_ENCRYPTION_RETIRED_KEYS", message: 'expected "id:key,id:key" with 32-byte base64 keys and ids other than MFA_ENCRYPTION_KEY_ID' });
  if (raw.APPLE_CLIENT_ID || raw.APPLE_TEAM_ID || raw.APPLE_KEY_ID || raw.APPLE_PRIVATE_KEY)
    problems.push(...requireSet(raw, ["APPLE_CLIENT_ID", "APPLE_TEAM_ID", "APPLE_KEY_ID", "APPLE_PRIVATE_KEY"], "when any APPLE_* credential is set"));
  for (const [id, secret] of [["GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"], ["GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"], ["MICROSOFT_CLIENT_ID", "MICROSOFT_CLIENT_SECRET"]] as const) {
    if ((raw[id] === undefined) !== (raw[secret] === undefined)) problems.push({ variable: raw[id] ? secret : id, message: `is required with ${raw[id] ? id : secret}` });
  }
  if (problems.length) throw new ConfigError(problems);
  const trimSlash = (u: string) => u.replace(/\/+$/, "");

  return {
    appEnv: raw.APP_ENV,
    isDevelopment: raw.APP_ENV === "development" || raw.APP_ENV === "test",
    database: { url: raw.DATABASE_URL!, localEndpoint: raw.LOCAL_SQL_ENDPOINT },
    financeDatabaseUrl: raw.FINANCE_DATABASE_URL,
    redis: { url: raw.UPSTASH_REDIS_REST_URL!, token: raw.UPSTASH_REDIS_REST_TOKEN! },
    jwt: {
      signingKeyPem: raw.JWT_SIGNING_KEY_PEM,
      publicKeyPem: raw.JWT_PUBLIC_KEY_PEM,
      kid: raw.JWT_KID,
      next: raw.JWT_NEXT_KEY_PEM ? { pem: raw.JWT_NEXT_KEY_PEM, kid: raw.JWT_NEXT_KID! } : undefined,
      retired: raw.JWT_RETIRED_KEYS,
      issuer: raw.JWT_ISSUER,
      audience: raw.JWT_AUDIENCE,
      accessTokenTtlMs: raw.ACCESS_TOKEN_TTL,
      serviceTokenTtlMs: raw.SERVICE_TOKEN_TTL,
      jwksMaxAgeSeconds: raw.JWKS_MAX_AGE,
    },
    refreshTokenTtlMs: raw.REFRESH_TOKEN_TTL,
    refreshReuseGraceMs: raw.REFRESH_REUSE_GRACE,
    refreshTokenSecret: raw.REFRESH_TOKEN_SECRET,
    cookie: { secure: raw.COOKIE_SECURE, sameSite: raw.COOKIE_SAMESITE, domain: raw.COOKIE_DOMAIN },
    passwordMinLength: raw.PASSWORD_MIN_LENGTH,
    passwordResetTtlMs: raw.PASSWORD_RESET_TTL,
    rateLimits: {
      loginPerIp: raw.RATE_LIMIT_LOGIN_PER_IP,
      loginFailuresPerEmail: raw.RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL,
      passwordResetPerEmail: raw.RATE_LIMIT_PASSWORD_RESET_PER_EMAIL,
      passwordResetPerIp: raw.RATE_LIMIT_PASSWORD_RESET_PER_IP,
      registerPerIp: raw.RATE_LIMIT_REGISTER_PER_IP,
      clientAuthFailuresPerClient: raw.RATE_LIMIT_CLIENT_AUTH_FAILURES_PER_CLIENT,
      clientAuthFailuresPerIp: raw.RATE_LIMIT_CLIENT_AUTH_FAILURES_PER_IP,
    },
    internalApiKey: raw.INTERNAL_API_KEY,
    internalApiKeyNext: raw.INTERNAL_API_KEY_NEXT,
    cfAccess:
      raw.CF_ACCESS_TEAM_DOMAIN && raw.CF_ACCESS_AUD
        ? {
            teamDomain: raw.CF_ACCESS_TEAM_DOMAIN.replace(/^https?:\/\//, "").replace(/\/+$/, ""),
            audience: raw.CF_ACCESS_AUD,
            issuer: `https://${raw.CF_ACCESS_TEAM_DOMAIN.replace(/^https?:\/\//, "").replace(/\/+$/, "")}`,
            certsUrl:
              raw.CF_ACCESS_CERTS_URL ?? `https://${raw.CF_ACCESS_TEAM_DOMAIN.replace(/^https?:\/\//, "").replace(/\/+$/, "")}/cdn-cgi/access/certs`,
          }
        : undefined,
    finance: { databaseUrl: raw.FINANCE_DATABASE_URL, cacheTtlMs: raw.FINANCE_CACHE_TTL, negativeCacheTtlMs: raw.FINANCE_NEGATIVE_CACHE_TTL },
    publicRegistrationEnabled: raw.PUBLIC_REGISTRATION_ENABLED,
    apiDocsEnabled: raw.API_DOCS_ENABLED ?? raw.APP_ENV !== "production",
    rateLimitFailClosedLogin: raw.RATE_LIMIT_FAIL_CLOSED_LOGIN,
    exposePasswordResetToken: raw.EXPOSE_PASSWORD_RESET_TOKEN,
    argon2: argon2ParamsFrom(raw),
    email: {
      enabled: raw.EMAIL_ENABLED,
      frontendUrl: raw.FRONTEND_URL.replace(/\/+$/, ""),
      from: raw.EMAIL_FROM,
      appName: raw.EMAIL_APP_NAME,
      logoUrl: raw.EMAIL_LOGO_URL,
      ses:
        raw.SES_AWS_REGION && raw.SES_AWS_ACCESS_KEY_ID && raw.SES_AWS_SECRET_ACCESS_KEY
          ? { region: raw.SES_AWS_REGION, accessKeyId: raw.SES_AWS_ACCESS_KEY_ID, secretAccessKey: raw.SES_AWS_SECRET_ACCESS_KEY }
          : undefined,
    },
    http: {
      corsAllowedOrigins: raw.CORS_ALLOWED_ORIGINS,
      maxBodyBytes: raw.MAX_BODY_BYTES,
      readyTimeoutMs: raw.READY_TIMEOUT_MS,
      dependencyTimeoutMs: raw.DEPENDENCY_TIMEOUT_MS,
    },
    applications: { required: raw.REQUIRE_APPLICATION, cacheTtlMs: raw.APPLICATION_CACHE_TTL },
    publicUrl: raw.PUBLIC_URL ? trimSlash(raw.PUBLIC_URL) : undefined,
    verification: {
      emailTtlMs: raw.EMAIL_VERIFICATION_TTL,
      magicLinkTtlMs: raw.MAGIC_LINK_TTL,
      emailOtpTtlMs: raw.EMAIL_OTP_TTL,
      perEmail: raw.RATE_LIMIT_EMAIL_LINK_PER_EMAIL,
      perIp: raw.RATE_LIMIT_EMAIL_LINK_PER_IP,
    },
    mfa: {
      stepUpTtlMs: raw.STEP_UP_TTL,
      rememberDays: raw.MFA_REMEMBER_DAYS,
      // Outside production, without a key: a fixed development key (id "dev"), so npm run dev and the tests work as cloned.
      encryptionKey: raw.MFA_ENCRYPTION_KEY
        ? { id: raw.MFA_ENCRYPTION_KEY_ID, key: raw.MFA_ENCRYPTION_KEY }
        : { id: "dev", key: "ZGV2ZWxvcG1lbnQtb25seS1tZmEta2V5LTMyLWJ5dGU" },
      retiredEncryptionKeys: retiredMfaKeys,
    },
    social: {
      google: raw.GOOGLE_CLIENT_ID && raw.GOOGLE_CLIENT_SECRET ? { clientId: raw.GOOGLE_CLIENT_ID, clientSecret: raw.GOOGLE_CLIENT_SECRET, issuer: trimSlash(raw.GOOGLE_ISSUER) } : undefined,
      github:
        raw.GITHUB_CLIENT_ID && raw.GITHUB_CLIENT_SECRET
          ? { clientId: raw.GITHUB_CLIENT_ID, clientSecret: raw.GITHUB_CLIENT_SECRET, baseUrl: trimSlash(raw.GITHUB_BASE_URL), apiUrl: trimSlash(raw.GITHUB_API_URL) }
          : undefined,
      microsoft:
        raw.MICROSOFT_CLIENT_ID && raw.MICROSOFT_CLIENT_SECRET
          ? {
              clientId: raw.MICROSOFT_CLIENT_ID,
              clientSecret: raw.MICROSOFT_CLIENT_SECRET,
              tenantId: raw.MICROSOFT_TENANT_ID,
              issuer: trimSlash(raw.MICROSOFT_ISSUER ?? `https://login.microsoftonline.com/${raw.MICROSOFT_TENANT_ID}/v2.0`),
            }
          : undefined,
      apple:
        raw.APPLE_CLIENT_ID && raw.APPLE_TEAM_ID && raw.APPLE_KEY_ID && raw.APPLE_PRIVATE_KEY
          ? { clientId: raw.APPLE_CLIENT_ID, teamId: raw.APPLE_TEAM_ID, keyId: raw.APPLE_KEY_ID, privateKey: raw.APPLE_PRIVATE_KEY, issuer: trimSlash(raw.APPLE_ISSUER) }
          : undefined,
    },
    webauthn: { rpId: raw.WEBAUTHN_RP_ID, rpName: raw.WEBAUTHN_RP_NAME ?? raw.EMAIL_APP_NAME, origins: raw.WEBAUTHN_ORIGINS },
  };
}

const cache = new WeakMap<object, Config | ConfigError>();

/** The isolate's parsed config for this env object (parsed on first use, then cached). */
export function loadConfig(env: Bindings): Config {
  let entry = cache.get(env);
  if (!entry) {
    try {
      entry = parseConfig(env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      entry = err;
    }
    cache.set(env, entry);
  }
  if (entry instanceof ConfigError) throw entry;
  return entry;
}
