// Organization-scoped access tokens (POST /auth/organizations/{orgId}/token) and what refresh and
// /auth/me need from organizations. Budget: the Bearer check (its Redis round trip, the audience
// cached) plus one SQL statement: session live, membership, custom roles, the application's
// declared permissions, the session's scope and the token's record, all in one.
//
// An org-scoped token is a user token of the caller's session (same `sid`, `client_id`, audience)
// with `org_id org_slug org_roles org_permissions`; it dies with the session. Its jti is recorded
// (organization_tokens) so that removing the member revokes it at once (revoked_access_tokens and
// the revoked-jti marker every Bearer check reads). The session remembers the organization
// (session_organizations): a refresh keeps the scope only while the membership holds.
import { SignJWT } from "jose";
import { sql, type SQL } from "drizzle-orm";
import { writeRevokedJti } from "../../cache/revocation";
import { ACCESS_TOKEN_TYPE } from "../../crypto/access-token";
import type { KeySet } from "../../crypto/keys";
import type { GlobalRole } from "../../db/schema";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import {
  applicationPermissionsSql,
  customRolesSql,
  memberRolesSql,
  parseJson,
  scopeSessionToOrganization,
  userOrganizationsSql,
  type UserOrganization,
} from "../../stores/organizations";
import { rows, ts } from "../../stores/sql";
import { applicationAudience } from "../applications/resolve";
import { tokenRevoked, type Principal } from "../auth/bearer";
import { permissionsOf, tokenPermissions } from "./permissions";

export interface OrganizationClaims {
  org_id: string;
  org_slug: string;
  org_roles: string[];
  org_permissions: string[];
}

/** The org claims for a membership: roles sorted, permissions as tokenPermissions decides. */
export function organizationClaims(
  organization: { id: string; slug: string },
  roles: string[],
  customRoles: Record<string, string[]>,
  applicationPermissions: string[],
): OrganizationClaims {
  return {
    org_id: organization.id,
    org_slug: organization.slug,
    org_roles: [...roles].sort(),
    org_permissions: tokenPermissions(permissionsOf(roles, customRoles), applicationPermissions),
  };
}

/** Signs a user access token with org claims; mirrors signAccessToken (crypto/access-token.ts). */
export async function signOrganizationAccessToken(
  keys: KeySet,
  settings: { issuer: string; audience: string; ttlMs: number },
  subject: { userId: string; sessionId: string; email: string; globalRole: GlobalRole; tokenVersion: number; clientId: string },
  org: OrganizationClaims,
  now: Date,
  jti: string = crypto.randomUUID(),
): Promise<{ token: string; expiresIn: number; jti: string }> {
  const iat = Math.floor(now.getTime() / 1000);
  const expiresIn = Math.floor(settings.ttlMs / 1000);
  const token = await new SignJWT({
    sid: subject.sessionId,
    email: subject.email,
    globalRole: subject.globalRole,
    tv: subject.tokenVersion,
    client_id: subject.clientId,
    org_id: org.org_id,
    org_slug: org.org_slug,
    org_roles: org.org_roles,
    org_permissions: org.org_permissions,
  })
    .setProtectedHeader({ alg: "RS256", typ: ACCESS_TOKEN_TYPE, kid: keys.signingKid })
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setSubject(subject.userId)
    .setJti(jti)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + expiresIn)
    .sign(keys.signingKey);
  return { token, expiresIn, jti };
}

export interface OrganizationToken {
  accessToken: string;
  tokenType: "Bearer";
  expiresIn: number;
  organization: { id: string; slug: string; name: string; roles: string[]; permissions: string[] };
}

/** POST /auth/organizations/{orgId}/token: members only; the caller's session becomes org-scoped. */
export async function issueOrganizationToken(deps: Deps, principal: Principal, organizationId: string): Promise<OrganizationToken> {
  const now = deps.clock.now();
  const ttlMs = deps.config.jwt.accessTokenTtlMs;
  const jti = crypto.randomUUID();
  const expiresAt = new Date(Math.floor(now.getTime() / 1000) * 1000 + Math.floor(ttlMs / 1000) * 1000);
  const [, scope, application, keys] = await Promise.all([
    principal.markers,
    scopeSessionToOrganization(deps.db, {
      organizationId,
      userId: principal.userId,
      acting: principal.acting,
      applicationId: principal.clientId,
      jti,
      expiresAt,
      now,
    }),
    applicationAudience(deps, principal.clientId),
    deps.keys(),
  ]);
  if (!scope.live || !scope.user || !application || !application.active) throw tokenRevoked();
  // A non-member learns nothing about the organization, as on every organization route.
  if (!scope.organization || scope.roles.length === 0) throw new AppError(404, "not_found", "No such organization");
  const claims = organizationClaims(scope.organization, scope.roles, scope.customRoles, scope.applicationPermissions);
  const signed = await signOrganizationAccessToken(
    keys,
    { issuer: deps.config.jwt.issuer, audience: application.audience, ttlMs },
    {
      userId: principal.userId,
      sessionId: principal.sessionId,
      email: scope.user.email,
      globalRole: scope.user.globalRole as GlobalRole,
      tokenVersion: scope.user.tokenVersion,
      clientId: principal.clientId,
    },
    claims,
    now,
    jti,
  );
  return {
    accessToken: signed.token,
    tokenType: "Bearer",
    expiresIn: signed.expiresIn,
    organization: { id: scope.organization.id, slug: scope.organization.slug, name: scope.organization.name, roles: claims.org_roles, permissions: claims.org_permissions },
  };
}

/** Revoked-jti markers for org tokens revoked in Postgres (best effort; Postgres decides anyway). */
export async function markRevoked(deps: Deps, revoked: { jti: string; expiresAt: Date }[]): Promise<void> {
  const now = deps.clock.now();
  await Promise.all(revoked.map((r) => writeRevokedJti(deps.redis, r.jti, r.expiresAt, now)));
}

// ---- for refresh (wired by the refresh service) ---------------------------------------------------

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

/** The org claims from organizationScopeSql's value; null: refresh issues an unscoped token. */
export function organizationClaimsFromScope(scope: unknown): OrganizationClaims | null {
  if (scope === null || scope === undefined) return null;
  const s = parseJson<{ id: string; slug: string; roles: unknown; customRoles: unknown; applicationPermissions: unknown }>(scope);
  return organizationClaims(s, parseJson<string[]>(s.roles), parseJson<Record<string, string[]>>(s.customRoles), parseJson<string[]>(s.applicationPermissions));
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

/**
 * The same as the two fragments above, as its own statement (one more SQL round trip), for a
 * caller that would rather not merge them: records `jti` when the scope holds, returns the claims.
 */
export async function organizationScopeForRefresh(
  deps: Deps,
  input: { sessionId: string; userId: string; applicationId: string; jti: string; expiresAt: Date },
): Promise<OrganizationClaims | null> {
  const s = sql`${input.sessionId}::uuid`;
  const u = sql`${input.userId}::uuid`;
  const [r] = await rows<{ scope: unknown }>(
    deps.db,
    sql`with recorded as (${recordOrganizationTokenSql({ jti: input.jti, sessionId: s, userId: u, expiresAt: input.expiresAt })})
        select ${organizationScopeSql(s, u, sql`${input.applicationId}::uuid`)} as scope`,
  );
  return organizationClaimsFromScope(r?.scope);
}

// ---- for /auth/me ------------------------------------------------------------------------------------

/** SQL (json array): the user's organizations `{ id, slug, name, parentId, roles }` for /auth/me. */
export function meOrganizationsSql(userId: SQL): SQL {
  return userOrganizationsSql(userId);
}

export function meOrganizations(value: unknown): UserOrganization[] {
  return parseJson<UserOrganization[]>(value ?? []);
}
