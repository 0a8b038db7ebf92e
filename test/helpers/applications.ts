// Fixtures for applications, their API keys, service accounts and client secrets. Applications and
// API keys are inserted directly (the staff API for them is another module's); service accounts and
// secrets go through the staff API, as an operator would create them.
import { sql } from "drizzle-orm";
import { sha256, randomSecret } from "../../src/crypto/random";
import { applicationApiKeys, applications, type ApplicationStatus, type ApplicationType } from "../../src/db/schema";
import { ApplicationSettingsSchema, type ApplicationSettings } from "../../src/services/applications/fields";
import { call, json } from "./http";
import { bearer, createUser, deps, login } from "./users";

let counter = 0;

export interface TestApplication {
  id: string;
  slug: string;
}

export async function createApplication(
  opts: {
    type?: ApplicationType;
    status?: ApplicationStatus;
    audience?: string | null;
    allowedAudiences?: string[];
    name?: string;
    redirectUris?: string[];
    allowedOrigins?: string[];
    /** Validated like the staff API does (ApplicationSettingsSchema) before it is inserted. */
    settings?: ApplicationSettings;
  } = {},
): Promise<TestApplication> {
  counter += 1;
  const slug = `app-${Date.now().toString(36)}-${counter}`;
  const [row] = await deps()
    .db.insert(applications)
    .values({
      slug,
      name: opts.name ?? `Test app ${counter}`,
      type: opts.type ?? "m2m",
      status: opts.status ?? "active",
      audience: opts.audience ?? null,
      allowedAudiences: opts.allowedAudiences ?? [],
      redirectUris: opts.redirectUris ?? [],
      allowedOrigins: opts.allowedOrigins ?? [],
      settings: ApplicationSettingsSchema.parse(opts.settings ?? {}),
    })
    .returning({ id: applications.id });
  return { id: row.id, slug };
}

export async function setApplicationStatus(id: string, status: ApplicationStatus): Promise<void> {
  await deps().db.execute(sql`update applications set status = ${status}::application_status where id = ${id}::uuid`);
}

/** An application API key (inserted: only its SHA-256 is stored, as the registry stores it). */
export async function createApiKey(applicationId: string): Promise<string> {
  const key = `ak_${randomSecret(32)}`;
  await deps().db.insert(applicationApiKeys).values({ applicationId, keyHash: await sha256(key), prefix: key.slice(0, 12), name: "test" });
  return key;
}

let adminHeaders: Record<string, string> | null = null;

/** Bearer headers of a PLATFORM_ADMIN (one per test file; the stack is reset per file). */
export async function adminAuth(): Promise<Record<string, string>> {
  if (!adminHeaders) {
    const admin = await createUser({ globalRole: "PLATFORM_ADMIN" });
    adminHeaders = bearer((await login(admin, { "cf-connecting-ip": "198.51.100.250" })).accessToken);
  }
  return adminHeaders;
}

export interface TestServiceAccount {
  id: string;
  applicationId: string;
  secret: string;
  secretId: string;
}

/** A service account with one secret, created through the staff API. */
export async function createServiceAccount(
  applicationId: string,
  opts: { allowedScopes?: string[]; name?: string; expiresAt?: string | null } = {},
): Promise<TestServiceAccount> {
  const headers = await adminAuth();
  const res = await call(`/internal/applications/${applicationId}/service-accounts`, {
    json: { name: opts.name ?? "worker", allowedScopes: opts.allowedScopes ?? ["orders:read", "orders:write"] },
    headers,
  });
  if (res.status !== 201) throw new Error(`service account: ${res.status} ${await res.text()}`);
  const account = (await json(res)).data;
  const secret = await addSecret(applicationId, account.id, { expiresAt: opts.expiresAt });
  return { id: account.id, applicationId, secret: secret.secret, secretId: secret.id };
}

export async function addSecret(applicationId: string, serviceAccountId: string, opts: { expiresAt?: string | null } = {}): Promise<{ id: string; secret: string }> {
  const res = await call(`/internal/applications/${applicationId}/service-accounts/${serviceAccountId}/secrets`, {
    json: opts.expiresAt === undefined ? {} : { expiresAt: opts.expiresAt },
    headers: await adminAuth(),
  });
  if (res.status !== 201) throw new Error(`secret: ${res.status} ${await res.text()}`);
  const body = (await json(res)).data;
  return { id: body.id, secret: body.secret };
}

export function basic(id: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}` };
}

/** A form-encoded body (RFC 6749), for call(). */
export function form(params: Record<string, string>, headers: Record<string, string> = {}): { body: string; headers: Record<string, string> } {
  return { body: new URLSearchParams(params).toString(), headers: { "content-type": "application/x-www-form-urlencoded", ...headers } };
}

/** A client_credentials token for the account (Basic), or the failing response. */
export async function serviceToken(sa: TestServiceAccount, params: Record<string, string> = {}): Promise<string> {
  const res = await call("/oauth/token", { method: "POST", ...form({ grant_type: "client_credentials", ...params }, basic(sa.id, sa.secret)) });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
  return (await json(res)).access_token;
}

/** A unique documentation-range IP per caller, so failure limits of one test never touch another. */
let ipCounter = 0;
export function freshIp(): string {
  ipCounter += 1;
  return `203.0.113.${ipCounter % 250}`;
}
