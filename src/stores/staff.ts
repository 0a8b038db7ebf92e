// What an admin request needs to know about the acting user, read at request time in one statement.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { ApprovalStatus, GlobalRole } from "../db/schema";
import { liveActingSession, type ActingSession } from "./sessions";
import { rows } from "./sql";

export interface StaffState {
  id: string;
  email: string;
  globalRole: GlobalRole;
  approvalStatus: ApprovalStatus;
  isActive: boolean;
  tokenVersion: number;
  sessionActive: boolean;
}

/** By id, with whether the acting session is live (Bearer principals; see liveActingSession). */
export async function loadStaffById(db: Database, userId: string, actor: ActingSession, now: Date): Promise<StaffState | null> {
  const found = await rows<StaffState>(
    db,
    sql`select u.id, u.email, u.global_role as "globalRole", u.approval_status as "approvalStatus", u.is_active as "isActive",
          u.token_version as "tokenVersion",
          ${liveActingSession(actor, sql`u.id`, now)} as "sessionActive"
        from users u where u.id = ${userId}::uuid`,
  );
  return found[0] ?? null;
}

/** By email, case-insensitively (Cloudflare Access principals carry an email, not a session). */
export async function loadStaffByEmail(db: Database, email: string): Promise<StaffState | null> {
  const found = await rows<StaffState>(
    db,
    sql`select u.id, u.email, u.global_role as "globalRole", u.approval_status as "approvalStatus", u.is_active as "isActive",
          u.token_version as "tokenVersion", true as "sessionActive"
        from users u where lower(u.email) = lower(${email}) limit 1`,
  );
  return found[0] ?? null;
}
