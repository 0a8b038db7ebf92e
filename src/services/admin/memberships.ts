// Company and business-unit memberships (/internal/companies/*): who may see and change them, and
// what an upsert means. Rules:
//   - Platform staff (any PLATFORM_* role) may list and manage every company's memberships.
//   - A company's own active OWNER or ADMIN members may list and manage that company's memberships
//     (company and business unit). Anyone else gets 403 forbidden, before anything is looked up.
//   - Only platform staff and the company's OWNERs may grant the company role OWNER or change an
//     existing OWNER's company membership; a company ADMIN may not (403). Business-unit roles,
//     OWNER included, may be granted by either: they give no rights over the company.
//   - An upsert that changes nothing writes nothing (no audit event) and answers 200 with the
//     membership as it is; a new membership answers 201; an update 200.
//   - A business unit belongs to one company: a unit already recorded under another company is
//     refused (409 business_unit_company_mismatch), so nobody can move or shadow another
//     company's units.
import type { MembershipRole } from "../../db/schema";
import type { Deps } from "../../deps";
import { AppError, errors } from "../../http/errors";
import {
  listCompanyUsers,
  upsertBusinessUnitMembership,
  upsertCompanyMembership,
  type CompanyUser,
  type MembershipActor,
  type MembershipRow,
  type UpsertOutcome,
} from "../../stores/memberships";
import type { RequestMeta } from "../auth/common";
import { forbidden, isPlatformStaff, type StaffPrincipal } from "../staff/principal";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export function membershipActor(staff: StaffPrincipal): MembershipActor {
  return {
    userId: staff.userId,
    platformStaff: isPlatformStaff(staff.globalRole),
    label: staff.via === "cloudflare-access" ? `cloudflare-access:${staff.email}` : null,
  };
}

const notAManager = () => forbidden("Only platform staff and the company's owners and admins may do this");

export interface CompanyUsersPage {
  users: CompanyUser[];
  total: number;
  limit: number;
  offset: number;
}

export async function companyUsers(
  deps: Deps,
  staff: StaffPrincipal,
  input: { companyId: string; businessUnitId?: string; limit?: number; offset?: number },
): Promise<CompanyUsersPage> {
  const limit = Math.min(Math.max(1, input.limit ?? DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE);
  const offset = Math.max(0, input.offset ?? 0);
  const page = await listCompanyUsers(deps.db, {
    actor: membershipActor(staff),
    companyId: input.companyId,
    businessUnitId: input.businessUnitId,
    limit,
    offset,
  });
  if (!page.rights.manage) throw notAManager();
  return { users: page.users, total: page.total, limit, offset };
}

export interface MembershipChange {
  membership: MembershipRow;
  created: boolean;
  changed: boolean;
}

export interface UpsertRequest {
  userId: string;
  role: MembershipRole;
  isActive?: boolean;
}

function settle(result: UpsertOutcome, requestedRole: MembershipRole, ownerRuleApplies: boolean): MembershipChange {
  if (!result.rights.manage) throw notAManager();
  if (!result.userExists) throw errors.notFound("No such user");
  if (result.written) return { membership: result.written, created: result.created, changed: true };
  if (result.foreignCompany) {
    throw new AppError(409, "business_unit_company_mismatch", "This business unit is recorded under another company");
  }
  if (ownerRuleApplies && !result.rights.owner && (requestedRole === "OWNER" || result.before?.role === "OWNER")) {
    throw forbidden("Only platform staff and the company's owners may grant OWNER or change an owner's membership");
  }
  if (result.before) return { membership: result.before, created: false, changed: false };
  // Nothing written and nothing before: a concurrent change got in the way; the client may retry.
  throw new AppError(409, "conflict", "The membership changed concurrently; try again");
}

export async function upsertCompanyMember(
  deps: Deps,
  staff: StaffPrincipal,
  companyId: string,
  body: UpsertRequest,
  meta: RequestMeta,
): Promise<MembershipChange> {
  const result = await upsertCompanyMembership(deps.db, {
    actor: membershipActor(staff),
    companyId,
    userId: body.userId,
    role: body.role,
    isActive: body.isActive,
    now: deps.clock.now(),
    ip: meta.ip,
    userAgent: meta.userAgent,
  });
  return settle(result, body.role, true);
}

export async function upsertBusinessUnitMember(
  deps: Deps,
  staff: StaffPrincipal,
  companyId: string,
  businessUnitId: string,
  body: UpsertRequest,
  meta: RequestMeta,
): Promise<MembershipChange> {
  const result = await upsertBusinessUnitMembership(deps.db, {
    actor: membershipActor(staff),
    companyId,
    businessUnitId,
    userId: body.userId,
    role: body.role,
    isActive: body.isActive,
    now: deps.clock.now(),
    ip: meta.ip,
    userAgent: meta.userAgent,
  });
  return settle(result, body.role, false);
}
