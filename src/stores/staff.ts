// What an admin request needs to know about the acting user, read at request time in one statement.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { ApprovalStatus, GlobalRole } from "../db/schema";
import { rows, ts } from "./sql";

export interface StaffState {
  id: string;
  email: string;
  globalRole: GlobalRole;
  approvalStatus: ApprovalStatus;
  isActive: boolean;
  tokenVersion: number;
  sessionActive: boolean;
}

/** By id, with whether `sessionId` is live (Bearer principals). */
export async function loadStaffById(db: Database, userId: string, sessionId: string, now: Date): Promise<StaffState | null> {
  const found = await rows<StaffState>(
    db,
    sql`select u.id, u.email, u.global_role as "globalRole", u.approval_status as "approvalStatus", u.is_active as "isActive",
          u.token_version as "tokenVersion",
          exists(select 1 from sessions s where s.id = ${sessionId}::uuid and s.user_id = u.id and s.revoked_at is null
                 and s.expires_at > ${ts(now)} and s.token_version = u.token_version) as "sessionActive"
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
