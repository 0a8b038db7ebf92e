// Test fixtures for accounts. Users are inserted with the service's own hashing and tables (as the
// bootstrap command does); everything after that goes through HTTP.
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { hashPassword } from "../../src/crypto/password";
import { users, type ApprovalStatus, type GlobalRole } from "../../src/db/schema";
import { buildDeps, type Deps } from "../../src/deps";
import { readOutbox, type OutboxMessage } from "../../src/services/email";
import { call, json } from "./http";

let counter = 0;

export function deps(): Deps {
  return buildDeps(env as unknown as Record<string, unknown>);
}

export function uniqueEmail(prefix = "user"): string {
  counter += 1;
  return `${prefix}.${Date.now().toString(36)}.${counter}@example.com`;
}

export const GOOD_PASSWORD = "plum-Tractor-61-orbit";

export interface TestUser {
  id: string;
  email: string;
  password: string;
}

export async function createUser(
  opts: { email?: string; password?: string; approvalStatus?: ApprovalStatus; isActive?: boolean; globalRole?: GlobalRole; fullName?: string; passwordHash?: string } = {},
): Promise<TestUser> {
  const d = deps();
  const email = opts.email ?? uniqueEmail();
  const password = opts.password ?? GOOD_PASSWORD;
  const [row] = await d.db
    .insert(users)
    .values({
      email,
      passwordHash: opts.passwordHash ?? (await hashPassword(password, d.config.argon2)),
      approvalStatus: opts.approvalStatus ?? "APPROVED",
      isActive: opts.isActive ?? true,
      globalRole: opts.globalRole ?? "NONE",
      fullName: opts.fullName ?? "Test User",
    })
    .returning({ id: users.id });
  return { id: row.id, email, password };
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  body: any;
}

export async function login(u: { email: string; password: string }, headers: Record<string, string> = {}): Promise<Session> {
  const res = await call("/auth/login", { json: { email: u.email, password: u.password }, headers });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const body = await json(res);
  return { accessToken: body.data.accessToken, refreshToken: body.data.refreshToken, body };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export async function auditEvents(type: string): Promise<{ eventType: string; targetUserId: string | null; actorUserId: string | null; metadata: any }[]> {
  const r = await deps().db.execute(
    sql`select event_type as "eventType", target_user_id as "targetUserId", actor_user_id as "actorUserId", metadata from auth_audit_logs where event_type = ${type} order by created_at`,
  );
  return r.rows as any;
}

/** Email is sent after the response (waitUntil): wait for it to reach the development outbox. */
export async function waitForEmail(to: string, kind: string, timeoutMs = 3000): Promise<OutboxMessage> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await readOutbox(deps().redis, { to, kind: kind as OutboxMessage["kind"] });
    if (found.length > 0) return found[found.length - 1];
    if (Date.now() > deadline) throw new Error(`no ${kind} email to ${to} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function outboxFor(to: string): Promise<OutboxMessage[]> {
  return readOutbox(deps().redis, { to });
}
