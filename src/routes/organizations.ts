// /auth/organizations/*: B2B organizations for their members (Bearer). Every route checks the
// caller's permission in that organization (services/organizations/permissions.ts); a non-member
// gets 404. Thin: parse, call a service, respond.
import { createRoute, z } from "@hono/zod-openapi";
import { bearer, requestMeta } from "../http/middleware";
import { createRouter, envelope, errorResponse, jsonBody, jsonContent } from "../http/openapi";
import {
  CreateOrganizationBody,
  MemberSchema,
  MeOrganizationSchema,
  OrganizationSchema,
  OrgId,
  organizationJson,
  PageQuery,
  PermissionList,
  RoleKey,
  RoleList,
  UpdateOrganizationBody,
  UserIdParam,
} from "../http/organization-schemas";
import { invite, organizationInvitations, respond, revoke } from "../services/organizations/invitations";
import {
  createOrganization,
  deleteOrganization,
  getOrganization,
  leaveOrganization,
  myOrganizations,
  organizationMembers,
  removeMember,
  updateMember,
  updateOrganization,
} from "../services/organizations/organizations";
import { createRole, deleteRole, organizationRoles, updateRole } from "../services/organizations/roles";
import { issueOrganizationToken } from "../services/organizations/token";

const tags = ["organizations"];
const security = [{ Bearer: [] }];
const OrgParams = z.object({ orgId: OrgId });
const MemberParams = OrgParams.extend({ userId: UserIdParam });
const RoleParams = OrgParams.extend({ key: RoleKey.openapi({ param: { name: "key", in: "path" } }) });
const InvitationParams = OrgParams.extend({ id: z.guid({ error: "must be a UUID" }).openapi({ param: { name: "id", in: "path" } }) });

const common = {
  400: errorResponse("validation_error"),
  401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked"),
};
const inOrg = {
  ...common,
  403: errorResponse("forbidden (the permission named in the message is missing)"),
  404: errorResponse("not_found (no such organization, or not a member)"),
};

const MyOrganization = MeOrganizationSchema;
const OrganizationWithMembership = z
  .object({ organization: OrganizationSchema, roles: z.array(z.string()), permissions: z.array(z.string()) })
  .openapi("OrganizationWithMembership");
const RoleSchema = z
  .object({ key: z.string(), name: z.string(), description: z.string().nullable(), permissions: z.array(z.string()), builtin: z.boolean() })
  .openapi("OrganizationRole");
const InvitationSchema = z
  .object({
    id: z.string(),
    organizationId: z.string(),
    email: z.string(),
    roles: z.array(z.string()),
    status: z.enum(["pending", "accepted", "declined", "revoked", "expired"]),
    invitedBy: z.string().nullable(),
    expiresAt: z.string(),
    createdAt: z.string(),
    endedAt: z.string().nullable(),
  })
  .openapi("OrganizationInvitation");

const Email = z.email({ pattern: z.regexes.unicodeEmail, error: "must be a valid email address" }).max(254).openapi({ example: "teammate@example.com" });
const RoleName = z.string().trim().min(1).max(100);
const Description = z.string().max(500).nullable();

// ---- routes -------------------------------------------------------------------------------------------

const listMine = createRoute({
  method: "get",
  path: "/auth/organizations",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "The caller's organizations, with the caller's roles in each",
  responses: { 200: jsonContent(envelope(z.object({ organizations: z.array(MyOrganization) })), "Organizations"), 401: common[401] },
});

const create = createRoute({
  method: "post",
  path: "/auth/organizations",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Create an organization; the caller becomes its owner",
  description: "Audited as organization.created.",
  request: { body: jsonBody(CreateOrganizationBody) },
  responses: {
    201: jsonContent(envelope(OrganizationSchema), "Created"),
    ...common,
    409: errorResponse("slug_taken, external_id_taken"),
  },
});

const getOne = createRoute({
  method: "get",
  path: "/auth/organizations/{orgId}",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "An organization with the caller's roles and permissions in it (org:read)",
  request: { params: OrgParams },
  responses: { 200: jsonContent(envelope(OrganizationWithMembership), "The organization"), ...inOrg },
});

const patchOne = createRoute({
  method: "patch",
  path: "/auth/organizations/{orgId}",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Change name, slug, externalId or metadata (org:write)",
  description: "Audited as organization.updated (before and after).",
  request: { params: OrgParams, body: jsonBody(UpdateOrganizationBody) },
  responses: { 200: jsonContent(envelope(OrganizationSchema), "Updated"), ...inOrg, 409: errorResponse("slug_taken, external_id_taken") },
});

const deleteOne = createRoute({
  method: "delete",
  path: "/auth/organizations/{orgId}",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Delete the organization (owners only); its org-scoped tokens stop working at once",
  description: "Audited as organization.deleted.",
  request: { params: OrgParams },
  responses: {
    200: jsonContent(envelope(z.object({ deleted: z.literal(true) })), "Deleted"),
    ...inOrg,
    409: errorResponse("has_children, managed_by_finance (a seed-000 company or business unit)"),
  },
});

const members = createRoute({
  method: "get",
  path: "/auth/organizations/{orgId}/members",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Members with their roles (members:read), by email",
  request: { params: OrgParams, query: PageQuery },
  responses: {
    200: jsonContent(envelope(z.object({ members: z.array(MemberSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })), "A page of members"),
    ...inOrg,
  },
});

const patchMember = createRoute({
  method: "patch",
  path: "/auth/organizations/{orgId}/members/{userId}",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Set a member's roles (members:write)",
  description:
    "Only owners grant or take away owner; nobody grants a role whose permissions they lack (403 permission_not_held). The last owner cannot be demoted (409 last_owner). Audited as organization.member_updated.",
  request: { params: MemberParams, body: jsonBody(z.object({ roles: RoleList }).strict()) },
  responses: {
    200: jsonContent(envelope(z.object({ userId: z.string(), roles: z.array(z.string()) })), "Updated"),
    ...inOrg,
    400: errorResponse("validation_error, unknown_role"),
    403: errorResponse("forbidden, permission_not_held"),
    409: errorResponse("last_owner, managed_by_finance"),
  },
});

const deleteMember = createRoute({
  method: "delete",
  path: "/auth/organizations/{orgId}/members/{userId}",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Remove a member (members:write); their org-scoped tokens stop working at once",
  description: "Only owners remove an owner; the last owner cannot be removed (409 last_owner). Audited as organization.member_removed.",
  request: { params: MemberParams },
  responses: {
    200: jsonContent(envelope(z.object({ removed: z.literal(true) })), "Removed"),
    ...inOrg,
    403: errorResponse("forbidden, permission_not_held"),
    409: errorResponse("last_owner, managed_by_finance"),
  },
});

const leave = createRoute({
  method: "post",
  path: "/auth/organizations/{orgId}/leave",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Leave the organization (any member); the last owner cannot leave",
  description: "Audited as organization.member_left.",
  request: { params: OrgParams },
  responses: { 200: jsonContent(envelope(z.object({ left: z.literal(true) })), "Left"), ...inOrg, 409: errorResponse("last_owner, managed_by_finance") },
});

const listRolesRoute = createRoute({
  method: "get",
  path: "/auth/organizations/{orgId}/roles",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Built-in and custom roles (roles:read)",
  request: { params: OrgParams },
  responses: { 200: jsonContent(envelope(z.object({ roles: z.array(RoleSchema) })), "Roles"), ...inOrg },
});

const createRoleRoute = createRoute({
  method: "post",
  path: "/auth/organizations/{orgId}/roles",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Define a custom role (roles:write)",
  description:
    "Permissions are built-in ones or ones an active application declares in settings.permissions (400 unknown_permission); the creator must hold each (403 permission_not_held); a built-in key is refused (400 reserved_role_key). Audited as organization.role_created.",
  request: {
    params: OrgParams,
    body: jsonBody(z.object({ key: RoleKey, name: RoleName, description: Description.optional(), permissions: PermissionList }).strict()),
  },
  responses: {
    201: jsonContent(envelope(RoleSchema), "Created"),
    ...inOrg,
    400: errorResponse("validation_error, reserved_role_key, unknown_permission"),
    403: errorResponse("forbidden, permission_not_held"),
    409: errorResponse("role_exists"),
  },
});

const patchRoleRoute = createRoute({
  method: "patch",
  path: "/auth/organizations/{orgId}/roles/{key}",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Change a custom role (roles:write)",
  description: "Permissions added or taken away must be the caller's own. Audited as organization.role_updated.",
  request: {
    params: RoleParams,
    body: jsonBody(z.object({ name: RoleName, description: Description, permissions: PermissionList }).partial().strict()),
  },
  responses: {
    200: jsonContent(envelope(RoleSchema), "Updated"),
    ...inOrg,
    400: errorResponse("validation_error, reserved_role_key, unknown_permission"),
    403: errorResponse("forbidden, permission_not_held"),
  },
});

const deleteRoleRoute = createRoute({
  method: "delete",
  path: "/auth/organizations/{orgId}/roles/{key}",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Delete a custom role (roles:write); refused while assigned",
  description: "Audited as organization.role_deleted.",
  request: { params: RoleParams },
  responses: {
    200: jsonContent(envelope(z.object({ deleted: z.literal(true) })), "Deleted"),
    ...inOrg,
    400: errorResponse("validation_error, reserved_role_key"),
    409: errorResponse("role_in_use (assigned to a member or a pending invitation)"),
  },
});

const listInvitationsRoute = createRoute({
  method: "get",
  path: "/auth/organizations/{orgId}/invitations",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Invitations, newest first (invitations:read)",
  request: { params: OrgParams },
  responses: { 200: jsonContent(envelope(z.object({ invitations: z.array(InvitationSchema) })), "Invitations"), ...inOrg },
});

const inviteRoute = createRoute({
  method: "post",
  path: "/auth/organizations/{orgId}/invitations",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Invite an address (invitations:write); emails a single-use link valid 7 days",
  description:
    "One pending invitation per address and organization (409 invitation_pending). The roles follow the granting rules of member changes. Audited as organization.invitation_created.",
  request: { params: OrgParams, body: jsonBody(z.object({ email: Email, roles: RoleList }).strict()) },
  responses: {
    201: jsonContent(envelope(InvitationSchema), "Invited (the token is only in the email)"),
    ...inOrg,
    400: errorResponse("validation_error, unknown_role"),
    403: errorResponse("forbidden, permission_not_held"),
    409: errorResponse("invitation_pending"),
  },
});

const revokeRoute = createRoute({
  method: "post",
  path: "/auth/organizations/{orgId}/invitations/{id}/revoke",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Revoke a pending invitation (invitations:write)",
  description: "Audited as organization.invitation_revoked.",
  request: { params: InvitationParams },
  responses: { 200: jsonContent(envelope(InvitationSchema), "Revoked"), ...inOrg, 409: errorResponse("invitation_not_pending") },
});

const TokenBody = z.object({ token: z.string().min(1).max(200) }).strict();
const Accepted = z
  .object({ organization: z.object({ id: z.string(), slug: z.string(), name: z.string() }), roles: z.array(z.string()), status: z.enum(["accepted", "declined"]) })
  .openapi("InvitationResponse");
const respondErrors = {
  ...common,
  403: errorResponse("not_the_recipient (the signed-in account's email is not the invited one)"),
  404: errorResponse("invitation_not_found"),
  409: errorResponse("invitation_used (accepted or declined already)"),
  410: errorResponse("invitation_expired, invitation_revoked"),
};

const acceptRoute = createRoute({
  method: "post",
  path: "/auth/organization-invitations/accept",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Accept an invitation with its emailed token; the caller joins with the invited roles",
  description:
    "The signed-in account's email must equal the invited address (case-insensitive). The emailed token proves control of that address, so accepting also marks the account's email verified. Single use: of concurrent accepts one succeeds. Audited as organization.invitation_accepted.",
  request: { body: jsonBody(TokenBody) },
  responses: { 200: jsonContent(envelope(Accepted), "Accepted"), ...respondErrors },
});

const declineRoute = createRoute({
  method: "post",
  path: "/auth/organization-invitations/decline",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "Decline an invitation with its emailed token",
  description: "Same recipient rule as accept. Audited as organization.invitation_declined.",
  request: { body: jsonBody(TokenBody) },
  responses: { 200: jsonContent(envelope(Accepted), "Declined"), ...respondErrors },
});

const tokenRoute = createRoute({
  method: "post",
  path: "/auth/organizations/{orgId}/token",
  tags,
  security,
  middleware: [bearer] as const,
  summary: "An access token scoped to the organization (members only)",
  description:
    "The caller's session, client_id and audience, plus org_id, org_slug, org_roles and org_permissions (built-in permissions and those the token's application declares, as the roles grant them). The session stays scoped: a refresh keeps the organization while the membership holds. Removing the member revokes the token at once.",
  request: { params: OrgParams },
  responses: {
    200: jsonContent(
      envelope(
        z
          .object({
            accessToken: z.string(),
            tokenType: z.literal("Bearer"),
            expiresIn: z.number().int(),
            organization: z.object({ id: z.string(), slug: z.string(), name: z.string(), roles: z.array(z.string()), permissions: z.array(z.string()) }),
          })
          .openapi("OrganizationToken"),
      ),
      "The org-scoped access token",
    ),
    ...inOrg,
  },
});

// ---- handlers -------------------------------------------------------------------------------------------

export const organizationRoutes = createRouter()
  .openapi(listMine, async (c) => {
    const organizations = await myOrganizations(c.get("deps"), c.get("principal"));
    c.header("Cache-Control", "no-store");
    return c.json({ data: { organizations } }, 200);
  })
  .openapi(create, async (c) => {
    const o = await createOrganization(c.get("deps"), c.get("principal"), c.req.valid("json"), requestMeta(c));
    return c.json({ data: organizationJson(o) }, 201);
  })
  .openapi(getOne, async (c) => {
    const r = await getOrganization(c.get("deps"), c.get("principal"), c.req.valid("param").orgId);
    c.header("Cache-Control", "no-store");
    return c.json({ data: { organization: organizationJson(r.organization), roles: r.roles, permissions: r.permissions } }, 200);
  })
  .openapi(patchOne, async (c) => {
    const o = await updateOrganization(c.get("deps"), c.get("principal"), c.req.valid("param").orgId, c.req.valid("json"), requestMeta(c));
    return c.json({ data: organizationJson(o) }, 200);
  })
  .openapi(deleteOne, async (c) => {
    await deleteOrganization(c.get("deps"), c.get("principal"), c.req.valid("param").orgId, requestMeta(c));
    return c.json({ data: { deleted: true as const } }, 200);
  })
  .openapi(members, async (c) => {
    const page = await organizationMembers(c.get("deps"), c.get("principal"), c.req.valid("param").orgId, c.req.valid("query"));
    c.header("Cache-Control", "no-store");
    return c.json({ data: page }, 200);
  })
  .openapi(patchMember, async (c) => {
    const { orgId, userId } = c.req.valid("param");
    const m = await updateMember(c.get("deps"), c.get("principal"), orgId, userId, c.req.valid("json").roles, requestMeta(c));
    return c.json({ data: m }, 200);
  })
  .openapi(deleteMember, async (c) => {
    const { orgId, userId } = c.req.valid("param");
    await removeMember(c.get("deps"), c.get("principal"), orgId, userId, requestMeta(c));
    return c.json({ data: { removed: true as const } }, 200);
  })
  .openapi(leave, async (c) => {
    await leaveOrganization(c.get("deps"), c.get("principal"), c.req.valid("param").orgId, requestMeta(c));
    return c.json({ data: { left: true as const } }, 200);
  })
  .openapi(listRolesRoute, async (c) => {
    const roles = await organizationRoles(c.get("deps"), c.get("principal"), c.req.valid("param").orgId);
    c.header("Cache-Control", "no-store");
    return c.json({ data: { roles } }, 200);
  })
  .openapi(createRoleRoute, async (c) => {
    const role = await createRole(c.get("deps"), c.get("principal"), c.req.valid("param").orgId, c.req.valid("json"), requestMeta(c));
    return c.json({ data: role }, 201);
  })
  .openapi(patchRoleRoute, async (c) => {
    const { orgId, key } = c.req.valid("param");
    const role = await updateRole(c.get("deps"), c.get("principal"), orgId, key, c.req.valid("json"), requestMeta(c));
    return c.json({ data: role }, 200);
  })
  .openapi(deleteRoleRoute, async (c) => {
    const { orgId, key } = c.req.valid("param");
    await deleteRole(c.get("deps"), c.get("principal"), orgId, key, requestMeta(c));
    return c.json({ data: { deleted: true as const } }, 200);
  })
  .openapi(listInvitationsRoute, async (c) => {
    const invitations = await organizationInvitations(c.get("deps"), c.get("principal"), c.req.valid("param").orgId);
    c.header("Cache-Control", "no-store");
    return c.json({ data: { invitations } }, 200);
  })
  .openapi(inviteRoute, async (c) => {
    const invitation = await invite(c.get("deps"), c.get("principal"), c.req.valid("param").orgId, c.req.valid("json"), requestMeta(c));
    return c.json({ data: invitation }, 201);
  })
  .openapi(revokeRoute, async (c) => {
    const { orgId, id } = c.req.valid("param");
    const invitation = await revoke(c.get("deps"), c.get("principal"), orgId, id, requestMeta(c));
    return c.json({ data: invitation }, 200);
  })
  .openapi(acceptRoute, async (c) => {
    const r = await respond(c.get("deps"), c.get("principal"), c.req.valid("json").token, true, requestMeta(c));
    return c.json({ data: r }, 200);
  })
  .openapi(declineRoute, async (c) => {
    const r = await respond(c.get("deps"), c.get("principal"), c.req.valid("json").token, false, requestMeta(c));
    return c.json({ data: r }, 200);
  })
  .openapi(tokenRoute, async (c) => {
    const t = await issueOrganizationToken(c.get("deps"), c.get("principal"), c.req.valid("param").orgId);
    c.header("Cache-Control", "no-store");
    c.header("Pragma", "no-cache");
    return c.json({ data: t }, 200);
  });
