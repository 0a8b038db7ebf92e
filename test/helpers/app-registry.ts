// Applications through the staff API, as an operator would register them: an admin session,
// an application, and an API key (shown once).
import { call, json } from "./http";
import { bearer, createUser, login, type Session } from "./users";

let adminSession: Session | null = null;

/** A PLATFORM_ADMIN session for registry calls (one per test file: data is wiped between files). */
export async function admin(): Promise<Session> {
  adminSession ??= await login(await createUser({ globalRole: "PLATFORM_ADMIN" }), { "cf-connecting-ip": "10.250.0.1" });
  return adminSession;
}

export function resetAdmin(): void {
  adminSession = null;
}

let slugCounter = 0;

export async function registerApplication(fields: Record<string, unknown> = {}): Promise<{ id: string; slug: string; audience: string | null; [k: string]: unknown }> {
  slugCounter += 1;
  const res = await call("/internal/applications", {
    json: { name: "Test app", slug: `app-${Date.now().toString(36)}-${slugCounter}`, type: "spa", ...fields },
    headers: bearer((await admin()).accessToken),
  });
  if (res.status !== 201) throw new Error(`application not created: ${res.status} ${await res.text()}`);
  return (await json(res)).data;
}

export async function createApiKey(applicationId: string): Promise<{ key: string; apiKey: { id: string; prefix: string } }> {
  const res = await call(`/internal/applications/${applicationId}/api-keys`, { json: {}, headers: bearer((await admin()).accessToken) });
  if (res.status !== 201) throw new Error(`key not created: ${res.status} ${await res.text()}`);
  return (await json(res)).data;
}

/** An application with one API key. */
export async function applicationWithKey(fields: Record<string, unknown> = {}) {
  const app = await registerApplication(fields);
  const { key, apiKey } = await createApiKey(app.id);
  return { app, key, keyId: apiKey.id };
}
