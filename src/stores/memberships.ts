// Company and business-unit memberships for /internal/companies/*. Each call is one statement: the
// acting user's standing in the company, the read or the change, and (for changes) the audit event
// land together, so a permission lost a moment ago or a concurrent change cannot slip between a
// check and a write.
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import type { ApprovalStatus, GlobalRole, MembershipRole } from "../db/schema";
import type { AuditContext } from "./sql";
import { rows, toDate, ts } from "./sql";

/** Who acts: a user, and whether they are platform staff (which decides before any membership does). */
export interface MembershipActor {
  userId: string;
  platformStaff: boolean;
  /** Audit label for non-Bearer principals (Cloudflare Access); null otherwise. */
  label: string | null;
}

/** The actor's rights in one company, as the statement saw them. */
export interface CompanyRights {
  /** May list and manage the company's memberships (platform staff, or an active OWNER/ADMIN). */
  manage: boolean;
  /** May grant OWNER or change an OWNER's company membership (platform staff, or an active OWNER). */
  owner: boolean;
}

/** The rights CTE: one row, always (aggregates without GROUP BY). */
function rightsCte(actor: MembershipActor, companyId: string): SQL {
  return sql`rights as (
    select ${actor.platformStaff}::boolean or coalesce(bool_or(cm.role in ('OWNER', 'ADMIN')), false) as manage,
           ${actor.platformStaff}::boolean or coalesce(bool_or(cm.role = 'OWNER'), false) as owner
    from company_memberships cm
    where cm.user_id = ${actor.userId}::uuid and cm.company_id = ${companyId}::uuid and cm.is_active
  )`;
}

// ---- listings ------------------------------------------------------------------------------------

/** The /auth/me item shapes, with the role typed. */
export interface CompanyMembershipItem {
  companyId: string;
  role: MembershipRole;
  isActive: boolean;
}

export interface BusinessUnitMembershipItem extends CompanyMembershipItem {
  businessUnitId: string;
}

export interface CompanyUser {
  id: string;
  email: string;
  fullName: string | null;
  globalRole: GlobalRole;
  approvalStatus: ApprovalStatus;
  isActive: boolean;
  /** This company's membership (zero or one entry), active or not. */
  companyMemberships: CompanyMembershipItem[];
  /** This company's business-unit memberships, active or not. */
  businessUnitMemberships: BusinessUnitMembershipItem[];
}

export interface CompanyUserPage {
  rights: CompanyRights;
  users: CompanyUser[];
  total: number;
}

/**
 * Users of a company with that company's memberships nested, a page at a time (by email, then id).
 * `businessUnitId` narrows to users with an ACTIVE membership in that business unit of the company;
 * without it, every user with any membership (company or business unit, active or not) is listed.
 * Nothing is read when the actor may not manage the company.
 */
export async function listCompanyUsers(
  db: Database,
  input: { actor: MembershipActor; companyId: string; businessUnitId?: string; limit: number; offset: number },
): Promise<CompanyUserPage> {
  const c = input.companyId;
  const members = input.businessUnitId
    ? sql`select bm.user_id from business_unit_memberships bm
          where bm.company_id = ${c}::uuid and bm.business_unit_id = ${input.businessUnitId}::uuid and bm.is_active`
    : sql`select cm.user_id from company_memberships cm where cm.company_id = ${c}::uuid
          union
          select bm.user_id from business_unit_memberships bm where bm.company_id = ${c}::uuid`;
  const found = await rows<{ manage: boolean; owner: boolean; total: number | string; users: unknown }>(
    db,
    sql`with ${rightsCte(input.actor, c)},
        matched as (
          select u.id, u.email, u.full_name, u.global_role, u.approval_status, u.is_active
          from users u, rights
          where rights.manage and u.id in (${members})
        ), page as (
          select * from matched order by lower(email), id limit ${input.limit}::int offset ${input.offset}::int
        )
        select rights.manage, rights.owner,
          (select count(*) from matched)::int as total,
          coalesce((
            select json_agg(json_build_object(
                'id', p.id, 'email', p.email, 'fullName', p.full_name, 'globalRole', p.global_role,
                'approvalStatus', p.approval_status, 'isActive', p.is_active,
                'companyMemberships', coalesce((
                  select json_agg(json_build_object('companyId', cm.company_id, 'role', cm.role, 'isActive', cm.is_active))
                  from company_memberships cm where cm.user_id = p.id and cm.company_id = ${c}::uuid), '[]'::json),
                'businessUnitMemberships', coalesce((
                  select json_agg(json_build_object('companyId', bm.company_id, 'businessUnitId', bm.business_unit_id, 'role', bm.role, 'isActive', bm.is_active)
                                  order by bm.business_unit_id)
                  from business_unit_memberships bm where bm.user_id = p.id and bm.company_id = ${c}::uuid), '[]'::json)
              ) order by lower(p.email), p.id)
            from page p), '[]'::json) as users
        from rights`,
  );
  const r = found[0];
  const users = typeof r.users === "string" ? JSON.parse(r.users) : r.users;
  return { rights: { manage: r.manage, owner: r.owner }, users: users as CompanyUser[], total: Number(r.total) };
}

// ---- upserts -------------------------------------------------------------------------------------

export interface MembershipState {
  role: MembershipRole;
  isActive: boolean;
}

export interface MembershipRow extends MembershipState {
  id: string;
  userId: string;
  companyId: string;
  businessUnitId?: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface UpsertOutcome {
  rights: CompanyRights;
  userExists: boolean;
  /** The membership before the statement (null: there was none). */
  before: MembershipRow | null;
  /** The membership written by the statement, or null when nothing was written. */
  written: MembershipRow | null;
  created: boolean;
  /** Business units only: the unit already has memberships recorded under another company. */
  foreignCompany: boolean;
}

export interface UpsertInput extends AuditContext {
  actor: MembershipActor;
  companyId: string;
  userId: string;
  role: MembershipRole;
  /** Omitted: true for a new membership, unchanged for an existing one. */
  isActive?: boolean;
  now: Date;
}

function toRow(v: unknown): MembershipRow | null {
  if (v === null || v === undefined) return null;
  const r = (typeof v === "string" ? JSON.parse(v) : v) as Record<string, unknown>;
  return {
    id: String(r.id),
    userId: String(r.userId),
    companyId: String(r.companyId),
    ...(r.businessUnitId !== undefined ? { businessUnitId: String(r.businessUnitId) } : {}),
    role: r.role as MembershipRole,
    isActive: Boolean(r.isActive),
    createdAt: toDate(r.createdAt)!,
    updatedAt: toDate(r.updatedAt)!,
  };
}

function outcome(r: Record<string, unknown>): UpsertOutcome {
  return {
    rights: { manage: Boolean(r.manage), owner: Boolean(r.owner) },
    userExists: Boolean(r.userExists),
    before: toRow(r.before),
    written: toRow(r.written),
    created: Boolean(r.created),
    foreignCompany: Boolean(r.foreignCompany),
  };
}

const stateJson = (alias: string) => sql.raw(`json_build_object('role', ${alias}.role, 'isActive', ${alias}.is_active)`);

/**
 * Creates or updates the (user, company) membership. Written only when the actor may manage the
 * company, the user exists, and something changes; an OWNER membership (before or after) also needs
 * owner rights. The audit event (membership.upserted, with before and after) is written with it.
 */
export async function upsertCompanyMembership(db: Database, input: UpsertInput): Promise<UpsertOutcome> {
  const { actor, companyId: c, userId: u, now } = input;
  const active = input.isActive ?? null;
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with ${rightsCte(actor, c)},
        target as (select id from users where id = ${u}::uuid),
        prior as (
          select id, user_id, company_id, role, is_active, created_at, updated_at
          from company_memberships where user_id = ${u}::uuid and company_id = ${c}::uuid
        ),
        written as (
          insert into company_memberships as m (user_id, company_id, role, is_active, created_at, updated_at)
          select target.id, ${c}::uuid, ${input.role}::membership_role, coalesce(${active}::boolean, true), ${ts(now)}, ${ts(now)}
          from target, rights
          where rights.manage and (rights.owner or ${input.role}::membership_role <> 'OWNER')
          on conflict (user_id, company_id) do update
            set role = excluded.role, is_active = coalesce(${active}::boolean, m.is_active), updated_at = excluded.updated_at
            where (m.role, m.is_active) is distinct from (excluded.role, coalesce(${active}::boolean, m.is_active))
              and (m.role <> 'OWNER' or (select owner from rights))
          returning m.id, m.user_id, m.company_id, m.role, m.is_active, m.created_at, m.updated_at, (xmax = 0) as created
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
          select 'membership.upserted', ${actor.userId}::uuid, ${actor.label}, w.user_id, ${input.ip ?? null}, ${input.userAgent ?? null},
                 jsonb_build_object('companyId', w.company_id, 'membershipId', w.id,
                   'before', (select ${stateJson("prior")} from prior), 'after', ${stateJson("w")}),
                 ${ts(now)}
          from written w
        )
        select rights.manage, rights.owner, exists(select 1 from target) as "userExists",
          (select json_build_object('id', p.id, 'userId', p.user_id, 'companyId', p.company_id, 'role', p.role, 'isActive', p.is_active,
                                    'createdAt', p.created_at, 'updatedAt', p.updated_at) from prior p) as before,
          (select json_build_object('id', w.id, 'userId', w.user_id, 'companyId', w.company_id, 'role', w.role, 'isActive', w.is_active,
                                    'createdAt', w.created_at, 'updatedAt', w.updated_at) from written w) as written,
          coalesce((select created from written), false) as created,
          false as "foreignCompany"
        from rights`,
  );
  return outcome(found[0]);
}

/**
 * Creates or updates the (user, business unit) membership, recording its company. Written only
 * when the actor may manage the company, the user exists, the unit is not already recorded under
 * another company, and something changes; with the audit event (business_unit_membership.upserted).
 */
export async function upsertBusinessUnitMembership(db: Database, input: UpsertInput & { businessUnitId: string }): Promise<UpsertOutcome> {
  const { actor, companyId: c, businessUnitId: b, userId: u, now } = input;
  const active = input.isActive ?? null;
  const found = await rows<Record<string, unknown>>(
    db,
    sql`with ${rightsCte(actor, c)},
        target as (select id from users where id = ${u}::uuid),
        foreign_company as (
          select exists(select 1 from business_unit_memberships where business_unit_id = ${b}::uuid and company_id <> ${c}::uuid) as found
        ),
        prior as (
          select id, user_id, company_id, business_unit_id, role, is_active, created_at, updated_at
          from business_unit_memberships where user_id = ${u}::uuid and business_unit_id = ${b}::uuid
        ),
        written as (
          insert into business_unit_memberships as m (user_id, company_id, business_unit_id, role, is_active, created_at, updated_at)
          select target.id, ${c}::uuid, ${b}::uuid, ${input.role}::membership_role, coalesce(${active}::boolean, true), ${ts(now)}, ${ts(now)}
          from target, rights, foreign_company
          where rights.manage and not foreign_company.found
          on conflict (user_id, business_unit_id) do update
            set role = excluded.role, is_active = coalesce(${active}::boolean, m.is_active), updated_at = excluded.updated_at
            where m.company_id = excluded.company_id
              and (m.role, m.is_active) is distinct from (excluded.role, coalesce(${active}::boolean, m.is_active))
          returning m.id, m.user_id, m.company_id, m.business_unit_id, m.role, m.is_active, m.created_at, m.updated_at, (xmax = 0) as created
        ), audited as (
          insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)
          select 'business_unit_membership.upserted', ${actor.userId}::uuid, ${actor.label}, w.user_id, ${input.ip ?? null}, ${input.userAgent ?? null},
                 jsonb_build_object('companyId', w.company_id, 'businessUnitId', w.business_unit_id, 'membershipId', w.id,
                   'before', (select ${stateJson("prior")} from prior), 'after', ${stateJson("w")}),
                 ${ts(now)}
          from written w
        )
        select rights.manage, rights.owner, exists(select 1 from target) as "userExists",
          (select json_build_object('id', p.id, 'userId', p.user_id, 'companyId', p.company_id, 'businessUnitId', p.business_unit_id,
                                    'role', p.role, 'isActive', p.is_active, 'createdAt', p.created_at, 'updatedAt', p.updated_at) from prior p) as before,
          (select json_build_object('id', w.id, 'userId', w.user_id, 'companyId', w.company_id, 'businessUnitId', w.business_unit_id,
                                    'role', w.role, 'isActive', w.is_active, 'createdAt', w.created_at, 'updatedAt', w.updated_at) from written w) as written,
          coalesce((select created from written), false) as created,
          (select found from foreign_company) as "foreignCompany"
        from rights`,
  );
  return outcome(found[0]);
}
