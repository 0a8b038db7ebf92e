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
import { writeRevokedJti } from "../../cache/revocation";
import { signAccessToken } from "../../crypto/access-token";
import type { GlobalRole } from "../../db/schema";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import {
  parseJson,
  scopeSessionToOrganization,
} from "../../stores/organizations";
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
  const signed = await signAccessToken(
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
    now,
    { jti, claims: { ...claims } },
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


/** The org claims from organizationScopeSql's value; null: refresh issues an unscoped token. */
export function organizationClaimsFromScope(scope: unknown): OrganizationClaims | null {
  if (scope === null || scope === undefined) return null;
  const s = parseJson<{ id: string; slug: string; roles: unknown; customRoles: unknown; applicationPermissions: unknown }>(scope);
  return organizationClaims(s, parseJson<string[]>(s.roles), parseJson<Record<string, string[]>>(s.customRoles), parseJson<string[]>(s.applicationPermissions));
}
