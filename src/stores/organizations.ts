// Organizations, memberships, custom roles, invitations and org-scoped token records. Memberships
// are read through the `organization_memberships` view (organization_members plus seed 000's
// company and business-unit memberships, migration 0005); writes go to organization_members only.
// Every change is made only while the acting session is live and (for members' own routes) while
// the actor still holds the permission, checked in the statement that writes, with its audit row.
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { BUILTIN_ROLE_PERMISSIONS } from "../services/organizations/permissions";
import { liveActingSession, type ActingSession } from "./sessions";
import { jsonb, rows, toDate, transactionRows, ts, type AuditContext } from "./sql";

export interface OrganizationRow {
  id: string;
  name: string;
  slug: string;
  externalId: string | null;
  parentId: string | null;
  metadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export function parseJson<T>(v: unknown): T {
  return (typeof v === "string" ? JSON.parse(v) : v) as T;
}

export function toOrganization(v: unknown): OrganizationRow | null {
  if (v === null || v === undefined) return null;
  const r = parseJson<Record<string, unknown>>(v);
  return {
    id: String(r.id),
    name: String(r.name),
    slug: String(r.slug),
    externalId: (r.externalId as string | null) ?? null,
    parentId: (r.parentId as string | null) ?? null,
    metadata: parseJson<Record<string, unknown>>(r.metadata ?? {}),
    createdAt: toDate(r.createdAt)!,
    updatedAt: toDate(r.updatedAt)!,
  };
}

/** json_build_object of an organizations row under `alias`. */
export const orgJson = (alias: string) =>
  sql.raw(`json_build_object('id', ${alias}.id, 'name', ${alias}.name, 'slug', ${alias}.slug, 'externalId', ${alias}.external_id,
    'parentId', ${alias}.parent_id, 'metadata', ${alias}.metadata, 'createdAt', ${alias}.created_at, 'updatedAt', ${alias}.updated_at)`);

/** The built-in role -> permission pairs as an SQL VALUES list (columns role, permission). */
function builtinPairs(): SQL {
  const pairs = Object.entries(BUILTIN_ROLE_PERMISSIONS).flatMap(([role, perms]) => perms.map((p) => sql`(${role}::text, ${p}::text)`));
  return sql`(values ${sql.join(pairs, sql`, `)}) as builtin(role, permission)`;
}

/** The distinct role keys `userId` holds in `orgId` (jsonb array), from every membership source. */
export function memberRolesSql(orgId: SQL, userId: SQL): SQL {
  return sql`(select coalesce(jsonb_agg(distinct r.key), '[]'::jsonb)
    from organization_memberships om, jsonb_array_elements_text(om.roles) r(key)
    where om.organization_id = ${orgId} and om.user_id = ${userId})`;
}

/** SQL condition: `userId` holds `permission` in `orgId` now (owners hold every permission). */
export function holdsPermissionSql(orgId: SQL, userId: SQL, permission: string): SQL {
  return sql`exists (
    select 1 from organization_memberships om, jsonb_array_elements_text(om.roles) r(key)
    where om.organization_id = ${orgId} and om.user_id = ${userId}
      and (r.key = 'owner'
        or exists (select 1 from ${builtinPairs()} where builtin.role = r.key and builtin.permission = ${permission})
        or exists (select 1 from organization_roles cr where cr.organization_id = ${orgId} and cr.key = r.key and cr.permissions ? ${permission})))`;
}

/** SQL: the organization's custom roles as a jsonb object key -> permissions. */
export function customRolesSql(orgId: SQL): SQL {
  return sql`(select coalesce(jsonb_object_agg(cr.key, cr.permissions), '{}'::jsonb) from organization_roles cr where cr.organization_id = ${orgId})`;
}

// ---- access --------------------------------------------------------------------------------------

export interface AccessState {
  organization: OrganizationRow | null;
  roles: string[];
  /** The user has an organization_members row (not only a Finance membership). */
  native: boolean;
  customRoles: Record<string, string[]>;
  live: boolean;
}

/** The caller's standing in one organization, the organization and its custom roles: one statement. */
export async function loadAccess(db: Database, input: { organizationId: string; userId: string; acting: ActingSession; now: Date }): Promise<AccessState> {
  const o = sql`${input.organizationId}::uuid`;
  const u = sql`${input.userId}::uuid`;
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`select ${liveActingSession(input.acting, u, input.now)} as live,
          (select ${orgJson("o")} from organizations o where o.id = ${o}) as organization,
          ${memberRolesSql(o, u)} as roles,
          exists (select 1 from organization_members m where m.organization_id = ${o} and m.user_id = ${u} and m.status = 'active') as native,
          ${customRolesSql(o)} as "customRoles"`,
  );
  return {
    live: Boolean(r.live),
    organization: toOrganization(r.organization),
    roles: parseJson<string[]>(r.roles),
    native: Boolean(r.native),
    customRoles: parseJson<Record<string, string[]>>(r.customRoles),
  };
}

// ---- organizations ---------------------------------------------------------------------------------

export interface UserOrganization {
  id: string;
  slug: string;
  name: string;
  parentId: string | null;
  roles: string[];
}

/** SQL: a user's organizations (id, slug, name, parentId, roles) as a json array, by name. */
export function userOrganizationsSql(userId: SQL): SQL {
  return sql`coalesce((
    select json_agg(json_build_object('id', o.id, 'slug', o.slug, 'name', o.name, 'parentId', o.parent_id, 'roles', x.roles) order by lower(o.name), o.id)
    from (select om.organization_id, jsonb_agg(distinct r.key order by r.key) as roles
          from organization_memberships om, jsonb_array_elements_text(om.roles) r(key)
          where om.user_id = ${userId} group by om.organization_id) x
    join organizations o on o.id = x.organization_id), '[]'::json)`;
}

export async function listUserOrganizations(db: Database, input: { userId: string; acting: ActingSession; now: Date }): Promise<{ live: boolean; organizations: UserOrganization[] }> {
  const u = sql`${input.userId}::uuid`;
  const [r] = await rows<Record<string, unknown>>(db, sql`select ${liveActingSession(input.acting, u, input.now)} as live, ${userOrganizationsSql(u)} as organizations`);
  return { live: Boolean(r.live), organizations: parseJson<UserOrganization[]>(r.organizations) };
}

export interface Actor extends AuditContext {
  userId: string | null;
  /** Audit label for non-user actors (Cloudflare Access). */
  label?: string | null;
  /** A user's own request: act only while this session is live. Null for staff (checked already). */
  acting: ActingSession | null;
}

function actingGuard(actor: Actor, now: Date): SQL {
  return actor.acting && actor.userId ? liveActingSession(actor.acting, sql`${actor.userId}::uuid`, now) : sql`true`;
}

function auditRow(actor: Actor, type: string, target: SQL, metadata: SQL, now: Date): SQL {
  return sql`select ${type}, ${actor.userId}::uuid, ${actor.label ?? null}, ${target}, ${actor.ip ?? null}, ${actor.userAgent ?? null}, ${metadata}, ${ts(now)}`;
}

const AUDIT_COLUMNS = sql.raw(`insert into auth_audit_logs (event_type, actor_user_id, actor_label, target_user_id, ip, user_agent, metadata, created_at)`);

export interface NewOrganization {
  name: string;
  slug: string;
  externalId?: string | null;
  metadata?: Record<string, unknown>;
}

/** Creates the organization with the actor as its owner. Null organization: slug or externalId taken. */
export async function createOrganization(
  db: Database,
  input: NewOrganization & { actor: Actor; ownerId: string; now: Date },
): Promise<{ live: boolean; organization: OrganizationRow | null; slugTaken: boolean; externalIdTaken: boolean }> {
  const { actor, now } = input;
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`with ok as (select ${actingGuard(actor, now)} as live),
        created as (
          insert into organizations (name, slug, external_id, metadata, created_at, updated_at)
          select ${input.name}, ${input.slug}, ${input.externalId ?? null}, ${jsonb(input.metadata ?? {})}, ${ts(now)}, ${ts(now)}
          from ok where ok.live
          on conflict do nothing
          returning *
        ), owner as (
          insert into organization_members (organization_id, user_id, roles, status, created_at, updated_at)
          select c.id, ${input.ownerId}::uuid, '["owner"]'::jsonb, 'active', ${ts(now)}, ${ts(now)} from created c
        ), audited as (
          ${AUDIT_COLUMNS} ${auditRow(actor, "organization.created", sql`${input.ownerId}::uuid`, sql`jsonb_build_object('organizationId', c.id, 'slug', c.slug, 'name', c.name)`, now)} from created c
        )
        select ok.live, (select ${orgJson("c")} from created c) as organization,
          exists (select 1 from organizations where slug = ${input.slug}) as "slugTaken",
          (${input.externalId ?? null}::text is not null and exists (select 1 from organizations where external_id = ${input.externalId ?? null})) as "externalIdTaken"
        from ok`,
  );
  return { live: Boolean(r.live), organization: toOrganization(r.organization), slugTaken: Boolean(r.slugTaken), externalIdTaken: Boolean(r.externalIdTaken) };
}

export interface OrganizationPatch {
  name?: string;
  slug?: string;
  externalId?: string | null;
  metadata?: Record<string, unknown>;
}

/**
 * Updates the organization when the actor (members' routes: `permission` held now) may; with the
 * audit event (before and after). Null organization: not written (see the flags).
 */
export async function updateOrganization(
  db: Database,
  input: { organizationId: string; patch: OrganizationPatch; actor: Actor; permission: string | null; now: Date },
): Promise<{ organization: OrganizationRow | null; before: OrganizationRow | null; conflict: boolean }> {
  const { actor, now, patch } = input;
  const o = sql`${input.organizationId}::uuid`;
  const guard = input.permission && actor.userId ? holdsPermissionSql(o, sql`${actor.userId}::uuid`, input.permission) : sql`true`;
  const set: SQL[] = [sql`updated_at = ${ts(now)}`];
  if (patch.name !== undefined) set.push(sql`name = ${patch.name}`);
  if (patch.slug !== undefined) set.push(sql`slug = ${patch.slug}`);
  if (patch.externalId !== undefined) set.push(sql`external_id = ${patch.externalId}`);
  if (patch.metadata !== undefined) set.push(sql`metadata = ${jsonb(patch.metadata)}`);
  const taken = sql`(${patch.slug ?? null}::text is not null and exists (select 1 from organizations x where x.slug = ${patch.slug ?? null} and x.id <> ${o}))
    or (${patch.externalId ?? null}::text is not null and exists (select 1 from organizations x where x.external_id = ${patch.externalId ?? null} and x.id <> ${o}))`;
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`with prior as (select * from organizations where id = ${o}),
        conflict as (select (${taken}) as found),
        written as (
          update organizations set ${sql.join(set, sql`, `)}
          where id = ${o} and ${actingGuard(actor, now)} and ${guard} and not (select found from conflict)
          returning *
        ), audited as (
          ${AUDIT_COLUMNS} ${auditRow(actor, "organization.updated", sql`null::uuid`, sql`jsonb_build_object('organizationId', w.id, 'before', (select ${orgJson("p")} from prior p)::jsonb, 'after', ${orgJson("w")}::jsonb)`, now)} from written w
        )
        select (select ${orgJson("w")} from written w) as organization, (select ${orgJson("p")} from prior p) as before, (select found from conflict) as conflict`,
  );
  return { organization: toOrganization(r.organization), before: toOrganization(r.before), conflict: Boolean(r.conflict) };
}

/** Deletes the organization (owners only, checked in the statement) and revokes its org tokens. */
export async function deleteOrganization(
  db: Database,
  input: { organizationId: string; actor: Actor; now: Date },
): Promise<{ deleted: boolean; hasChildren: boolean; revoked: { jti: string; expiresAt: Date }[] }> {
  const { actor, now } = input;
  const o = sql`${input.organizationId}::uuid`;
  const owner = actor.userId ? sql`exists (select 1 from organization_memberships om where om.organization_id = ${o} and om.user_id = ${actor.userId}::uuid and om.roles ? 'owner')` : sql`true`;
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`with children as (select exists (select 1 from organizations where parent_id = ${o}) as found),
        deleted as (
          delete from organizations where id = ${o} and ${actingGuard(actor, now)} and ${owner} and not (select found from children)
          returning id, slug, name
        ), revoked as (
          insert into revoked_access_tokens (jti, expires_at, revoked_at)
          select t.jti, t.expires_at, ${ts(now)} from organization_tokens t, deleted d
          where t.organization_id = d.id and t.expires_at > ${ts(now)}
          on conflict (jti) do nothing
          returning jti, expires_at
        ), audited as (
          ${AUDIT_COLUMNS} ${auditRow(actor, "organization.deleted", sql`null::uuid`, sql`jsonb_build_object('organizationId', d.id, 'slug', d.slug, 'name', d.name)`, now)} from deleted d
        )
        select exists (select 1 from deleted) as deleted, (select found from children) as "hasChildren",
          coalesce((select json_agg(json_build_object('jti', jti, 'expiresAt', expires_at)) from revoked), '[]'::json) as revoked`,
  );
  return { deleted: Boolean(r.deleted), hasChildren: Boolean(r.hasChildren), revoked: revokedList(r.revoked) };
}

function revokedList(v: unknown): { jti: string; expiresAt: Date }[] {
  return parseJson<{ jti: string; expiresAt: string }[]>(v ?? []).map((x) => ({ jti: x.jti, expiresAt: toDate(x.expiresAt)! }));
}

// ---- members ---------------------------------------------------------------------------------------

export interface MemberItem {
  userId: string;
  email: string;
  fullName: string | null;
  roles: string[];
  /** Where the membership comes from: this service ("organization"), Finance ("finance"), or both. */
  sources: ("organization" | "finance")[];
  joinedAt: string;
}

export async function listMembers(db: Database, input: { organizationId: string; limit: number; offset: number }): Promise<{ members: MemberItem[]; total: number }> {
  const o = sql`${input.organizationId}::uuid`;
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`with m as (
          select om.user_id, jsonb_agg(distinct r.key) as roles, jsonb_agg(distinct om.source) as sources, min(om.created_at) as joined
          from organization_memberships om, jsonb_array_elements_text(om.roles) r(key)
          where om.organization_id = ${o} group by om.user_id
        )
        select (select count(*) from m)::int as total,
          coalesce((select json_agg(json_build_object('userId', u.id, 'email', u.email, 'fullName', u.full_name, 'roles', p.roles, 'sources', p.sources, 'joinedAt', p.joined)
                                    order by lower(u.email), u.id)
                    from (select m.* from m join users u2 on u2.id = m.user_id order by lower(u2.email), u2.id limit ${input.limit}::int offset ${input.offset}::int) p
                    join users u on u.id = p.user_id), '[]'::json) as members`,
  );
  const members = parseJson<MemberItem[]>(r.members).map((m) => ({ ...m, roles: [...m.roles].sort(), sources: [...m.sources].sort(), joinedAt: toDate(m.joinedAt)!.toISOString() }));
  return { members, total: Number(r.total) };
}

/** Locks the organization row so last-owner checks of concurrent changes run one after another. */
const lockOrganization = (o: SQL) => sql`select id from organizations where id = ${o} for update`;

/** SQL condition: after `target` stops being an owner, another owner remains. */
const anotherOwner = (o: SQL, target: SQL) =>
  sql`exists (select 1 from organization_memberships om where om.organization_id = ${o} and om.user_id <> ${target} and om.roles ? 'owner')`;

export interface MemberChangeOutcome {
  /** The target's organization_members row before (null: none). */
  before: string[] | null;
  after: string[] | null;
  written: boolean;
  /** The change would leave the organization without an owner. */
  lastOwner: boolean;
  /** The target's roles from every source, as the statement began. */
  targetRoles: string[];
  revoked: { jti: string; expiresAt: Date }[];
}

/**
 * Sets (upserts, with `create`) a member's roles in organization_members, in one transaction (one
 * round trip): the organization row is locked first, so the last-owner rule holds under
 * concurrency. `permission`: members' routes, the actor must hold it now.
 */
export async function setMemberRoles(
  db: Database,
  input: { organizationId: string; userId: string; roles: string[]; create: boolean; actor: Actor; permission: string | null; now: Date },
): Promise<MemberChangeOutcome> {
  const { actor, now } = input;
  const o = sql`${input.organizationId}::uuid`;
  const t = sql`${input.userId}::uuid`;
  const guard = input.permission && actor.userId ? holdsPermissionSql(o, sql`${actor.userId}::uuid`, input.permission) : sql`true`;
  const keepsOwner = input.roles.includes("owner") ? sql`true` : sql`(not coalesce((select roles ? 'owner' from prior), false) or ${anotherOwner(o, t)})`;
  const roles = jsonb(input.roles);
  const write = input.create
    ? sql`insert into organization_members as m (organization_id, user_id, roles, status, created_at, updated_at)
          select ${o}, u.id, ${roles}, 'active', ${ts(now)}, ${ts(now)} from users u
          where u.id = ${t} and ${actingGuard(actor, now)} and ${guard} and ${keepsOwner}
          on conflict (organization_id, user_id) do update set roles = excluded.roles, status = 'active', updated_at = excluded.updated_at
          returning m.roles`
    : sql`update organization_members m set roles = ${roles}, updated_at = ${ts(now)}
          where m.organization_id = ${o} and m.user_id = ${t} and ${actingGuard(actor, now)} and ${guard} and ${keepsOwner}
          returning m.roles`;
  const results = await transactionRows(db, [
    lockOrganization(o),
    sql`with prior as (select roles from organization_members where organization_id = ${o} and user_id = ${t}),
        written as (${write}),
        audited as (
          ${AUDIT_COLUMNS} ${auditRow(actor, "organization.member_updated", t, sql`jsonb_build_object('organizationId', ${o}, 'before', (select roles from prior), 'after', w.roles)`, now)} from written w
        )
        select (select roles from prior) as before, (select roles from written) as after, exists (select 1 from written) as written,
          ${memberRolesSql(o, t)} as "targetRoles",
          (coalesce((select roles ? 'owner' from prior), false) and not ${input.roles.includes("owner")}::boolean and not ${anotherOwner(o, t)}) as "lastOwner"`,
  ]);
  const r = results[1][0];
  return {
    before: r.before == null ? null : parseJson<string[]>(r.before),
    after: r.after == null ? null : parseJson<string[]>(r.after),
    written: Boolean(r.written),
    lastOwner: Boolean(r.lastOwner),
    targetRoles: parseJson<string[]>(r.targetRoles),
    revoked: [],
  };
}

/**
 * Removes the member's organization_members row (remove or leave), unless they are the last owner;
 * then, when no membership of any source remains, revokes their org-scoped tokens of this
 * organization and drops the organization scope of their sessions. One transaction, one round trip.
 */
export async function removeMember(
  db: Database,
  input: { organizationId: string; userId: string; actor: Actor; permission: string | null; event: string; now: Date },
): Promise<MemberChangeOutcome> {
  const { actor, now } = input;
  const o = sql`${input.organizationId}::uuid`;
  const t = sql`${input.userId}::uuid`;
  const guard = input.permission && actor.userId ? holdsPermissionSql(o, sql`${actor.userId}::uuid`, input.permission) : sql`true`;
  const results = await transactionRows(db, [
    lockOrganization(o),
    sql`with prior as (select roles from organization_members where organization_id = ${o} and user_id = ${t}),
        removed as (
          delete from organization_members m
          where m.organization_id = ${o} and m.user_id = ${t} and ${actingGuard(actor, now)} and ${guard}
            and (not (m.roles ? 'owner') or ${anotherOwner(o, t)})
          returning m.roles
        ), audited as (
          ${AUDIT_COLUMNS} ${auditRow(actor, input.event, t, sql`jsonb_build_object('organizationId', ${o}, 'roles', w.roles)`, now)} from removed w
        )
        select (select roles from prior) as before, exists (select 1 from removed) as written,
          ${memberRolesSql(o, t)} as "targetRoles",
          (coalesce((select roles ? 'owner' from prior), false) and not ${anotherOwner(o, t)}) as "lastOwner"`,
    // A fresh snapshot: sees the delete above. Tokens die only when no membership remains.
    sql`with gone as (select not exists (select 1 from organization_memberships om where om.organization_id = ${o} and om.user_id = ${t}) as gone),
        revoked as (
          insert into revoked_access_tokens (jti, expires_at, revoked_at)
          select jti, expires_at, ${ts(now)} from organization_tokens
          where organization_id = ${o} and user_id = ${t} and expires_at > ${ts(now)} and (select gone from gone)
          on conflict (jti) do nothing
          returning jti, expires_at
        ), unscoped as (
          delete from session_organizations so using sessions s
          where so.session_id = s.id and s.user_id = ${t} and so.organization_id = ${o} and (select gone from gone)
        )
        select coalesce((select json_agg(json_build_object('jti', jti, 'expiresAt', expires_at)) from revoked), '[]'::json) as revoked`,
  ]);
  const r = results[1][0];
  return {
    before: r.before == null ? null : parseJson<string[]>(r.before),
    after: null,
    written: Boolean(r.written),
    lastOwner: Boolean(r.lastOwner),
    targetRoles: parseJson<string[]>(r.targetRoles),
    revoked: revokedList(results[2][0]?.revoked),
  };
}

// ---- custom roles ------------------------------------------------------------------------------------

export interface RoleRow {
  key: string;
  name: string;
  description: string | null;
  permissions: string[];
  createdAt: Date;
  updatedAt: Date;
}

const roleJson = (alias: string) =>
  sql.raw(`json_build_object('key', ${alias}.key, 'name', ${alias}.name, 'description', ${alias}.description, 'permissions', ${alias}.permissions,
    'createdAt', ${alias}.created_at, 'updatedAt', ${alias}.updated_at)`);

function toRole(v: unknown): RoleRow | null {
  if (v == null) return null;
  const r = parseJson<Record<string, unknown>>(v);
  return {
    key: String(r.key),
    name: String(r.name),
    description: (r.description as string | null) ?? null,
    permissions: parseJson<string[]>(r.permissions),
    createdAt: toDate(r.createdAt)!,
    updatedAt: toDate(r.updatedAt)!,
  };
}

export async function listRoles(db: Database, organizationId: string): Promise<RoleRow[]> {
  const found = await rows<{ role: unknown }>(db, sql`select ${roleJson("r")} as role from organization_roles r where r.organization_id = ${organizationId}::uuid order by r.key`);
  return found.map((f) => toRole(f.role)!);
}

/** Every permission declared by an active application (settings.permissions), sorted. */
export async function declaredPermissions(db: Database): Promise<string[]> {
  const found = await rows<{ p: string }>(
    db,
    sql`select distinct p from applications a, jsonb_array_elements_text(coalesce(a.settings->'permissions', '[]'::jsonb)) p where a.status = 'active' order by p`,
  );
  return found.map((f) => f.p);
}

export async function createRole(
  db: Database,
  input: { organizationId: string; key: string; name: string; description: string | null; permissions: string[]; actor: Actor; now: Date },
): Promise<{ role: RoleRow | null; exists: boolean }> {
  const { actor, now } = input;
  const o = sql`${input.organizationId}::uuid`;
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`with written as (
          insert into organization_roles (organization_id, key, name, description, permissions, created_at, updated_at)
          select ${o}, ${input.key}, ${input.name}, ${input.description}, ${jsonb(input.permissions)}, ${ts(now)}, ${ts(now)}
          where ${actingGuard(actor, now)} and ${actor.userId ? holdsPermissionSql(o, sql`${actor.userId}::uuid`, "roles:write") : sql`true`}
          on conflict do nothing
          returning *
        ), audited as (
          ${AUDIT_COLUMNS} ${auditRow(actor, "organization.role_created", sql`null::uuid`, sql`jsonb_build_object('organizationId', ${o}, 'key', w.key, 'permissions', w.permissions)`, now)} from written w
        )
        select (select ${roleJson("w")} from written w) as role,
          exists (select 1 from organization_roles where organization_id = ${o} and key = ${input.key}) as exists`,
  );
  return { role: toRole(r.role), exists: Boolean(r.exists) };
}

export async function updateRole(
  db: Database,
  input: { organizationId: string; key: string; name?: string; description?: string | null; permissions?: string[]; actor: Actor; now: Date },
): Promise<{ role: RoleRow | null; found: boolean }> {
  const { actor, now } = input;
  const o = sql`${input.organizationId}::uuid`;
  const set: SQL[] = [sql`updated_at = ${ts(now)}`];
  if (input.name !== undefined) set.push(sql`name = ${input.name}`);
  if (input.description !== undefined) set.push(sql`description = ${input.description}`);
  if (input.permissions !== undefined) set.push(sql`permissions = ${jsonb(input.permissions)}`);
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`with prior as (select * from organization_roles where organization_id = ${o} and key = ${input.key}),
        written as (
          update organization_roles set ${sql.join(set, sql`, `)}
          where organization_id = ${o} and key = ${input.key} and ${actingGuard(actor, now)}
            and ${actor.userId ? holdsPermissionSql(o, sql`${actor.userId}::uuid`, "roles:write") : sql`true`}
          returning *
        ), audited as (
          ${AUDIT_COLUMNS} ${auditRow(actor, "organization.role_updated", sql`null::uuid`, sql`jsonb_build_object('organizationId', ${o}, 'key', w.key, 'before', (select permissions from prior), 'after', w.permissions)`, now)} from written w
        )
        select (select ${roleJson("w")} from written w) as role, exists (select 1 from prior) as found`,
  );
  return { role: toRole(r.role), found: Boolean(r.found) };
}

/** Deletes a custom role unless a membership or a pending invitation still names it. */
export async function deleteRole(
  db: Database,
  input: { organizationId: string; key: string; actor: Actor; now: Date },
): Promise<{ deleted: boolean; found: boolean; assigned: boolean }> {
  const { actor, now } = input;
  const o = sql`${input.organizationId}::uuid`;
  const results = await transactionRows(db, [
    lockOrganization(o),
    sql`with assigned as (
          select exists (select 1 from organization_members where organization_id = ${o} and roles ? ${input.key})
              or exists (select 1 from organization_invitations where organization_id = ${o} and status = 'pending' and roles ? ${input.key}) as found
        ), deleted as (
          delete from organization_roles
          where organization_id = ${o} and key = ${input.key} and not (select found from assigned) and ${actingGuard(actor, now)}
            and ${actor.userId ? holdsPermissionSql(o, sql`${actor.userId}::uuid`, "roles:write") : sql`true`}
          returning key, permissions
        ), audited as (
          ${AUDIT_COLUMNS} ${auditRow(actor, "organization.role_deleted", sql`null::uuid`, sql`jsonb_build_object('organizationId', ${o}, 'key', d.key, 'permissions', d.permissions)`, now)} from deleted d
        )
        select exists (select 1 from deleted) as deleted, (select found from assigned) as assigned,
          exists (select 1 from organization_roles where organization_id = ${o} and key = ${input.key}) as found`,
  ]);
  const r = results[1][0];
  return { deleted: Boolean(r.deleted), found: Boolean(r.found), assigned: Boolean(r.assigned) };
}

// ---- invitations -------------------------------------------------------------------------------------

export type InvitationStatus = "pending" | "accepted" | "declined" | "revoked" | "expired";

export interface InvitationRow {
  id: string;
  organizationId: string;
  email: string;
  roles: string[];
  status: InvitationStatus;
  invitedBy: string | null;
  expiresAt: Date;
  createdAt: Date;
  endedAt: Date | null;
}

const invitationJson = (alias: string) =>
  sql.raw(`json_build_object('id', ${alias}.id, 'organizationId', ${alias}.organization_id, 'email', ${alias}.email, 'roles', ${alias}.roles,
    'status', ${alias}.status, 'invitedBy', ${alias}.invited_by, 'expiresAt', ${alias}.expires_at, 'createdAt', ${alias}.created_at, 'endedAt', ${alias}.ended_at)`);

function toInvitation(v: unknown, now: Date): InvitationRow | null {
  if (v == null) return null;
  const r = parseJson<Record<string, unknown>>(v);
  const expiresAt = toDate(r.expiresAt)!;
  const status = (r.status === "pending" && expiresAt.getTime() <= now.getTime() ? "expired" : String(r.status)) as InvitationStatus;
  return {
    id: String(r.id),
    organizationId: String(r.organizationId),
    email: String(r.email),
    roles: parseJson<string[]>(r.roles),
    status,
    invitedBy: (r.invitedBy as string | null) ?? null,
    expiresAt,
    createdAt: toDate(r.createdAt)!,
    endedAt: toDate(r.endedAt),
  };
}

/**
 * Creates a pending invitation (one per address and organization: a pending one past its expiry
 * is marked expired first). Null invitation and `pendingExists`: one is pending already.
 */
export async function createInvitation(
  db: Database,
  input: { organizationId: string; email: string; roles: string[]; tokenHash: string; expiresAt: Date; actor: Actor; now: Date },
): Promise<{ invitation: InvitationRow | null; pendingExists: boolean }> {
  const { actor, now } = input;
  const o = sql`${input.organizationId}::uuid`;
  const results = await transactionRows(db, [
    sql`update organization_invitations set status = 'expired', ended_at = expires_at
        where organization_id = ${o} and lower(email) = lower(${input.email}) and status = 'pending' and expires_at <= ${ts(now)}`,
    sql`with written as (
          insert into organization_invitations (organization_id, email, roles, token_hash, invited_by, status, expires_at, created_at)
          select ${o}, ${input.email}, ${jsonb(input.roles)}, ${input.tokenHash}, ${actor.userId}::uuid, 'pending', ${ts(input.expiresAt)}, ${ts(now)}
          where ${actingGuard(actor, now)} and ${actor.userId ? holdsPermissionSql(o, sql`${actor.userId}::uuid`, "invitations:write") : sql`true`}
          on conflict do nothing
          returning *
        ), audited as (
          ${AUDIT_COLUMNS} ${auditRow(actor, "organization.invitation_created", sql`null::uuid`, sql`jsonb_build_object('organizationId', ${o}, 'invitationId', w.id, 'email', w.email, 'roles', w.roles)`, now)} from written w
        )
        select (select ${invitationJson("w")} from written w) as invitation,
          exists (select 1 from organization_invitations where organization_id = ${o} and lower(email) = lower(${input.email}) and status = 'pending') as "pendingExists"`,
  ]);
  const r = results[1][0];
  return { invitation: toInvitation(r.invitation, now), pendingExists: Boolean(r.pendingExists) };
}

export async function listInvitations(db: Database, input: { organizationId: string; now: Date }): Promise<InvitationRow[]> {
  const found = await rows<{ i: unknown }>(
    db,
    sql`select ${invitationJson("i")} as i from organization_invitations i where i.organization_id = ${input.organizationId}::uuid order by i.created_at desc, i.id limit 500`,
  );
  return found.map((f) => toInvitation(f.i, input.now)!);
}

export async function revokeInvitation(
  db: Database,
  input: { organizationId: string; invitationId: string; actor: Actor; now: Date },
): Promise<{ invitation: InvitationRow | null; current: InvitationRow | null }> {
  const { actor, now } = input;
  const o = sql`${input.organizationId}::uuid`;
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`with written as (
          update organization_invitations set status = 'revoked', ended_at = ${ts(now)}
          where id = ${input.invitationId}::uuid and organization_id = ${o} and status = 'pending' and expires_at > ${ts(now)}
            and ${actingGuard(actor, now)} and ${actor.userId ? holdsPermissionSql(o, sql`${actor.userId}::uuid`, "invitations:write") : sql`true`}
          returning *
        ), audited as (
          ${AUDIT_COLUMNS} ${auditRow(actor, "organization.invitation_revoked", sql`null::uuid`, sql`jsonb_build_object('organizationId', ${o}, 'invitationId', w.id, 'email', w.email)`, now)} from written w
        )
        select (select ${invitationJson("w")} from written w) as invitation,
          (select ${invitationJson("i")} from organization_invitations i where i.id = ${input.invitationId}::uuid and i.organization_id = ${o}) as current`,
  );
  return { invitation: toInvitation(r.invitation, now), current: toInvitation(r.current, now) };
}

/**
 * Accepts (or declines) an invitation by its token hash: a conditional UPDATE that only a pending,
 * unexpired invitation addressed to the user's email passes, so of N concurrent consumers one wins.
 * Accepting adds the invited roles to the user's membership (created when missing). The state
 * found is returned to say why nothing happened.
 */
export async function consumeInvitation(
  db: Database,
  input: { tokenHash: string; userId: string; acting: ActingSession; accept: boolean; ip: string | null; userAgent: string | null; now: Date },
): Promise<{ consumed: InvitationRow | null; found: InvitationRow | null; emailMatches: boolean; live: boolean; organization: { id: string; slug: string; name: string } | null }> {
  const { now } = input;
  const u = sql`${input.userId}::uuid`;
  const actor: Actor = { userId: input.userId, acting: input.acting, ip: input.ip, userAgent: input.userAgent };
  const status = input.accept ? "accepted" : "declined";
  const member = input.accept
    ? sql`, member as (
          insert into organization_members as m (organization_id, user_id, roles, status, created_at, updated_at)
          select c.organization_id, ${u}, c.roles, 'active', ${ts(now)}, ${ts(now)} from consumed c
          on conflict (organization_id, user_id) do update
            set roles = (select jsonb_agg(distinct x) from jsonb_array_elements(m.roles || excluded.roles) x), status = 'active', updated_at = excluded.updated_at
        ), verified as (
          update users set email_verified = true, email_verified_at = coalesce(email_verified_at, ${ts(now)})
          where id = ${u} and not email_verified and exists(select 1 from consumed)
        )`
    : sql``;
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`with me as (select email from users where id = ${u}),
        ok as (select ${liveActingSession(input.acting, u, now)} as live),
        found as (select * from organization_invitations where token_hash = ${input.tokenHash}),
        consumed as (
          update organization_invitations i set status = ${status}, ended_at = ${ts(now)}, accepted_by = ${u}
          where i.token_hash = ${input.tokenHash} and i.status = 'pending' and i.expires_at > ${ts(now)}
            and lower(i.email) = (select lower(email) from me) and (select live from ok)
          returning *
        )${member}, audited as (
          ${AUDIT_COLUMNS} ${auditRow(actor, `organization.invitation_${status}`, u, sql`jsonb_build_object('organizationId', c.organization_id, 'invitationId', c.id, 'roles', c.roles)`, now)} from consumed c
        )
        select (select live from ok) as live,
          (select ${invitationJson("c")} from consumed c) as consumed,
          (select ${invitationJson("f")} from found f) as found,
          coalesce((select lower(f.email) = lower(me.email) from found f, me), false) as "emailMatches",
          (select json_build_object('id', o.id, 'slug', o.slug, 'name', o.name) from organizations o join found f on f.organization_id = o.id) as organization`,
  );
  return {
    live: Boolean(r.live),
    consumed: toInvitation(r.consumed, now),
    found: toInvitation(r.found, now),
    emailMatches: Boolean(r.emailMatches),
    organization: r.organization == null ? null : parseJson(r.organization),
  };
}

// ---- org-scoped tokens -----------------------------------------------------------------------------

export interface TokenScope {
  live: boolean;
  organization: { id: string; slug: string; name: string } | null;
  roles: string[];
  customRoles: Record<string, string[]>;
  applicationPermissions: string[];
  user: { email: string; globalRole: string; tokenVersion: number } | null;
}

/** SQL: the permissions an application declares (jsonb array) */
export const applicationPermissionsSql = (applicationId: SQL) =>
  sql`coalesce((select a.settings->'permissions' from applications a where a.id = ${applicationId}), '[]'::jsonb)`;

/**
 * One statement for POST /auth/organizations/{id}/token: the session is live, the user a member;
 * then the session is scoped to the organization and the token's jti recorded (so a removal
 * revokes it), both only when allowed.
 */
export async function scopeSessionToOrganization(
  db: Database,
  input: { organizationId: string; userId: string; acting: ActingSession; applicationId: string; jti: string; expiresAt: Date; now: Date },
): Promise<TokenScope> {
  const { now } = input;
  const o = sql`${input.organizationId}::uuid`;
  const u = sql`${input.userId}::uuid`;
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`with ok as (select ${liveActingSession(input.acting, u, now)} as live),
        roles as (select ${memberRolesSql(o, u)} as roles),
        allowed as (select ok.live and jsonb_array_length(roles.roles) > 0 and exists (select 1 from organizations where id = ${o}) as yes from ok, roles),
        scoped as (
          insert into session_organizations (session_id, organization_id, updated_at)
          select ${input.acting.sessionId}::uuid, ${o}, ${ts(now)} from allowed where allowed.yes
          on conflict (session_id) do update set organization_id = excluded.organization_id, updated_at = excluded.updated_at
        ), recorded as (
          insert into organization_tokens (jti, organization_id, user_id, session_id, expires_at)
          select ${input.jti}, ${o}, ${u}, ${input.acting.sessionId}::uuid, ${ts(input.expiresAt)} from allowed where allowed.yes
        )
        select ok.live, roles.roles,
          (select json_build_object('id', o.id, 'slug', o.slug, 'name', o.name) from organizations o where o.id = ${o}) as organization,
          ${customRolesSql(o)} as "customRoles",
          ${applicationPermissionsSql(sql`${input.applicationId}::uuid`)} as "applicationPermissions",
          (select json_build_object('email', us.email, 'globalRole', us.global_role, 'tokenVersion', us.token_version) from users us where us.id = ${u}) as "user"
        from ok, roles`,
  );
  return {
    live: Boolean(r.live),
    roles: parseJson<string[]>(r.roles),
    organization: r.organization == null ? null : parseJson(r.organization),
    customRoles: parseJson<Record<string, string[]>>(r.customRoles),
    applicationPermissions: parseJson<string[]>(r.applicationPermissions),
    user: r.user == null ? null : parseJson(r.user),
  };
}

// ---- staff --------------------------------------------------------------------------------------------

export interface StaffOrganizationItem extends OrganizationRow {
  memberCount: number;
}

export async function listOrganizations(
  db: Database,
  input: { q?: string; parentId?: string; limit: number; offset: number },
): Promise<{ organizations: StaffOrganizationItem[]; total: number }> {
  const where: SQL[] = [sql`true`];
  if (input.q) {
    const like = `%${input.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(sql`(lower(o.name) like ${like} or o.slug like ${like} or lower(coalesce(o.external_id, '')) like ${like})`);
  }
  if (input.parentId) where.push(sql`o.parent_id = ${input.parentId}::uuid`);
  const cond = sql.join(where, sql` and `);
  const [r] = await rows<Record<string, unknown>>(
    db,
    sql`select (select count(*) from organizations o where ${cond})::int as total,
          coalesce((select json_agg(x order by lower(x->>'name'), x->>'id') from (
            select (${orgJson("o")}::jsonb || jsonb_build_object('memberCount', (select count(distinct om.user_id) from organization_memberships om where om.organization_id = o.id))) as x
            from organizations o where ${cond} order by lower(o.name), o.id limit ${input.limit}::int offset ${input.offset}::int) p), '[]'::json) as organizations`,
  );
  const list = parseJson<Record<string, unknown>[]>(r.organizations).map((x) => ({ ...toOrganization(x)!, memberCount: Number(x.memberCount) }));
  return { organizations: list, total: Number(r.total) };
}

export async function findOrganization(db: Database, id: string): Promise<OrganizationRow | null> {
  const [r] = await rows<{ o: unknown }>(db, sql`select ${orgJson("o")} as o from organizations o where o.id = ${id}::uuid`);
  return r ? toOrganization(r.o) : null;
}

// ---- for refresh (an org-scoped session keeps its scope while the membership holds) ----------------

/**
 * SQL (a scalar subquery, json or null): the organization scope of session `sessionId` of user
 * `userId` under application `applicationId`, null when the session has none or the membership no
 * longer holds. Put it in the refresh statement's select list (`... as "organizationScope"`).
 */
export function organizationScopeSql(sessionId: SQL, userId: SQL, applicationId: SQL): SQL {
  return sql`(select json_build_object('id', o.id, 'slug', o.slug, 'roles', x.roles,
                'customRoles', ${customRolesSql(sql`o.id`)}, 'applicationPermissions', ${applicationPermissionsSql(applicationId)})
      from session_organizations so join organizations o on o.id = so.organization_id,
           lateral (select ${memberRolesSql(sql`so.organization_id`, userId)} as roles) x
      where so.session_id = ${sessionId} and jsonb_array_length(x.roles) > 0)`;
}

/**
 * SQL (a CTE body): records an org-scoped token issued by refresh, so a removal revokes it. Give it
 * the jti the token will be signed with; it writes nothing when the scope does not hold.
 */
export function recordOrganizationTokenSql(input: { jti: string; sessionId: SQL; userId: SQL; expiresAt: Date }): SQL {
  return sql`insert into organization_tokens (jti, organization_id, user_id, session_id, expires_at)
    select ${input.jti}, so.organization_id, ${input.userId}, so.session_id, ${ts(input.expiresAt)} from session_organizations so
    where so.session_id = ${input.sessionId}
      and exists (select 1 from organization_memberships om where om.organization_id = so.organization_id and om.user_id = ${input.userId})`;
}
