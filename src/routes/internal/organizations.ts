// /internal/organizations/*: every organization for platform staff (PLATFORM_MODERATOR and up
// read; PLATFORM_ADMIN and up change). Rules in services/organizations/staff.ts.
import { createRoute, z } from "@hono/zod-openapi";
import { requestMeta } from "../../http/middleware";
import { createRouter, envelope, errorResponse, jsonBody, jsonContent } from "../../http/openapi";
import { MemberSchema, OrganizationSchema, organizationJson, PageQuery, RoleList, UpdateOrganizationBody } from "../../http/organization-schemas";
import { staff } from "../../http/staff";
import {
  staffGetOrganization,
  staffListOrganizations,
  staffMembers,
  staffRemoveMember,
  staffSetMember,
  staffUpdateOrganization,
} from "../../services/organizations/staff";

const tags = ["internal-organizations"];
const security = [{ Bearer: [] }];
const Id = z.guid({ error: "must be a UUID" }).openapi({ param: { name: "id", in: "path" } });
const Params = z.object({ id: Id });
const MemberParams = Params.extend({ userId: z.guid({ error: "must be a UUID" }).openapi({ param: { name: "userId", in: "path" } }) });
const errorsCommon = {
  400: errorResponse("validation_error"),
  401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked"),
  403: errorResponse("forbidden (reading: PLATFORM_MODERATOR and up; changing: PLATFORM_ADMIN and up)"),
};

const StaffOrganization = OrganizationSchema.extend({ memberCount: z.number().int() }).openapi("StaffOrganization");

const listRoute = createRoute({
  method: "get",
  path: "/internal/organizations",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Every organization, by name (PLATFORM_MODERATOR and up)",
  request: {
    query: PageQuery.extend({
      q: z.string().min(1).max(200).optional().openapi({ description: "Part of the name, slug or externalId" }),
      parentId: z.guid({ error: "must be a UUID" }).optional().openapi({ description: "Only the child organizations (business units) of this one" }),
    }),
  },
  responses: {
    200: jsonContent(envelope(z.object({ organizations: z.array(StaffOrganization), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })), "A page"),
    ...errorsCommon,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/internal/organizations/{id}",
  tags,
  security,
  middleware: [staff] as const,
  summary: "One organization (PLATFORM_MODERATOR and up)",
  request: { params: Params },
  responses: { 200: jsonContent(envelope(OrganizationSchema), "The organization"), ...errorsCommon, 404: errorResponse("not_found") },
});

const patchRoute = createRoute({
  method: "patch",
  path: "/internal/organizations/{id}",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Change name, slug, externalId or metadata (PLATFORM_ADMIN and up)",
  description: "Audited as organization.updated with the staff member as actor.",
  request: { params: Params, body: jsonBody(UpdateOrganizationBody) },
  responses: { 200: jsonContent(envelope(OrganizationSchema), "Updated"), ...errorsCommon, 404: errorResponse("not_found"), 409: errorResponse("slug_taken, external_id_taken") },
});

const membersRoute = createRoute({
  method: "get",
  path: "/internal/organizations/{id}/members",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Members of any organization (PLATFORM_MODERATOR and up)",
  request: { params: Params, query: PageQuery },
  responses: {
    200: jsonContent(envelope(z.object({ members: z.array(MemberSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() })), "A page"),
    ...errorsCommon,
    404: errorResponse("not_found"),
  },
});

const putMemberRoute = createRoute({
  method: "put",
  path: "/internal/organizations/{id}/members/{userId}",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Add a user to the organization or set their roles (PLATFORM_ADMIN and up)",
  description: "The last owner cannot be demoted (409 last_owner). Audited as organization.member_updated.",
  request: { params: MemberParams, body: jsonBody(z.object({ roles: RoleList }).strict()) },
  responses: {
    200: jsonContent(envelope(z.object({ userId: z.string(), roles: z.array(z.string()), created: z.boolean() })), "Set"),
    ...errorsCommon,
    400: errorResponse("validation_error, unknown_role"),
    404: errorResponse("not_found (organization or user)"),
    409: errorResponse("last_owner"),
  },
});

const deleteMemberRoute = createRoute({
  method: "delete",
  path: "/internal/organizations/{id}/members/{userId}",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Remove a member (PLATFORM_ADMIN and up); their org-scoped tokens stop working at once",
  description: "Audited as organization.member_removed.",
  request: { params: MemberParams },
  responses: {
    200: jsonContent(envelope(z.object({ removed: z.literal(true) })), "Removed"),
    ...errorsCommon,
    404: errorResponse("not_found"),
    409: errorResponse("last_owner, managed_by_finance"),
  },
});

export const internalOrganizationRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const page = await staffListOrganizations(c.get("deps"), c.get("staff"), c.req.valid("query"));
    c.header("Cache-Control", "no-store");
    return c.json({ data: { ...page, organizations: page.organizations.map((o) => ({ ...organizationJson(o), memberCount: o.memberCount })) } }, 200);
  })
  .openapi(getRoute, async (c) => {
    const o = await staffGetOrganization(c.get("deps"), c.get("staff"), c.req.valid("param").id);
    c.header("Cache-Control", "no-store");
    return c.json({ data: organizationJson(o) }, 200);
  })
  .openapi(patchRoute, async (c) => {
    const o = await staffUpdateOrganization(c.get("deps"), c.get("staff"), c.req.valid("param").id, c.req.valid("json"), requestMeta(c));
    return c.json({ data: organizationJson(o) }, 200);
  })
  .openapi(membersRoute, async (c) => {
    const page = await staffMembers(c.get("deps"), c.get("staff"), c.req.valid("param").id, c.req.valid("query"));
    c.header("Cache-Control", "no-store");
    return c.json({ data: page }, 200);
  })
  .openapi(putMemberRoute, async (c) => {
    const { id, userId } = c.req.valid("param");
    const m = await staffSetMember(c.get("deps"), c.get("staff"), id, userId, c.req.valid("json").roles, requestMeta(c));
    return c.json({ data: m }, 200);
  })
  .openapi(deleteMemberRoute, async (c) => {
    const { id, userId } = c.req.valid("param");
    await staffRemoveMember(c.get("deps"), c.get("staff"), id, userId, requestMeta(c));
    return c.json({ data: { removed: true as const } }, 200);
  });
