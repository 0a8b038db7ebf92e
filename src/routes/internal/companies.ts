// /internal/companies/{companyId}/...: company and business-unit memberships, for platform staff and
// the company's own OWNER and ADMIN members (rules in services/admin/memberships.ts).
import { createRoute, z } from "@hono/zod-openapi";
import { APPROVAL_STATUSES, GLOBAL_ROLES, MEMBERSHIP_ROLES } from "../../db/schema";
import { requestMeta } from "../../http/middleware";
import { createRouter, envelope, errorResponse, jsonBody, jsonContent } from "../../http/openapi";
import { staff } from "../../http/staff";
import {
  companyUsers,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  upsertBusinessUnitMember,
  upsertCompanyMember,
  type MembershipChange,
} from "../../services/admin/memberships";

// ---- schemas -----------------------------------------------------------------------------------

/** Company and business-unit ids are Finance's: any well-formed UUID (no version check). */
const FinanceId = (name: string, description: string) =>
  z.guid({ error: "must be a UUID" }).openapi({ param: { name, in: "path" }, description, example: "0b7e5a3c-9a52-4c1e-8d36-2f1f0c4d9e11" });

const CompanyParams = z.object({ companyId: FinanceId("companyId", "The company (Finance id)") });
const BusinessUnitParams = CompanyParams.extend({ businessUnitId: FinanceId("businessUnitId", "The business unit (Finance id)") });

const PageQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .optional()
    .openapi({ description: `Page size (default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE})` }),
  offset: z.coerce.number().int().min(0).max(1_000_000).optional().openapi({ description: "Users to skip (default 0)" }),
});

const Role = z.enum(MEMBERSHIP_ROLES).openapi({ description: "OWNER, ADMIN, MANAGER, MEMBER or VIEWER" });

const UpsertBody = z
  .object({
    userId: z.uuid({ error: "must be a UUID" }),
    role: Role,
    isActive: z.boolean().optional().openapi({ description: "Default true for a new membership; unchanged when omitted on an existing one" }),
  })
  .strict();

const CompanyMembershipItem = z.object({ companyId: z.string(), role: Role, isActive: z.boolean() });
const BusinessUnitMembershipItem = z.object({ companyId: z.string(), businessUnitId: z.string(), role: Role, isActive: z.boolean() });

const CompanyUserSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    fullName: z.string().nullable(),
    globalRole: z.enum(GLOBAL_ROLES),
    approvalStatus: z.enum(APPROVAL_STATUSES),
    isActive: z.boolean(),
    companyMemberships: z.array(CompanyMembershipItem).openapi({ description: "This company's membership (zero or one), active or not" }),
    businessUnitMemberships: z.array(BusinessUnitMembershipItem).openapi({ description: "This company's business-unit memberships, active or not" }),
  })
  .openapi("CompanyUser");

const CompanyUsersPage = z
  .object({
    users: z.array(CompanyUserSchema),
    total: z.number().int(),
    limit: z.number().int(),
    offset: z.number().int(),
  })
  .openapi("CompanyUsersPage");

const CompanyMembershipSchema = z
  .object({
    id: z.uuid(),
    userId: z.uuid(),
    companyId: z.string(),
    role: Role,
    isActive: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("CompanyMembership");

const BusinessUnitMembershipSchema = CompanyMembershipSchema.extend({ businessUnitId: z.string() }).openapi("BusinessUnitMembership");

const security = [{ Bearer: [] }];
const tags = ["internal-companies"];
const who = "Platform staff (any PLATFORM_* role) or an active OWNER/ADMIN member of the company.";
const staffErrors = {
  400: errorResponse("validation_error (ids must be UUIDs)"),
  401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked"),
  403: errorResponse("forbidden (not platform staff nor an OWNER/ADMIN of the company)"),
};

// ---- routes ------------------------------------------------------------------------------------

const companyUsersRoute = createRoute({
  method: "get",
  path: "/internal/companies/{companyId}/users",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Users with a membership in the company, each with that company's memberships",
  description: `${who} Lists every user with a company or business-unit membership in the company (active or not), ordered by email.`,
  request: { params: CompanyParams, query: PageQuery },
  responses: { 200: jsonContent(envelope(CompanyUsersPage), "A page of users"), ...staffErrors },
});

const upsertCompanyMembershipRoute = createRoute({
  method: "post",
  path: "/internal/companies/{companyId}/memberships",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Create or update a user's membership in the company (one per user and company)",
  description: `${who} Only platform staff and the company's OWNERs may grant OWNER or change an OWNER's membership. Audited as membership.upserted (with before and after) when something changes.`,
  request: { params: CompanyParams, body: jsonBody(UpsertBody) },
  responses: {
    200: jsonContent(envelope(CompanyMembershipSchema), "Updated, or unchanged (nothing to change)"),
    201: jsonContent(envelope(CompanyMembershipSchema), "Created"),
    ...staffErrors,
    403: errorResponse("forbidden (not a manager of the company, or a company ADMIN granting OWNER or changing an OWNER)"),
    404: errorResponse("not_found (no such user)"),
  },
});

const businessUnitUsersRoute = createRoute({
  method: "get",
  path: "/internal/companies/{companyId}/business-units/{businessUnitId}/users",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Users with an active membership in the business unit, each with that company's memberships",
  description: `${who} Ordered by email.`,
  request: { params: BusinessUnitParams, query: PageQuery },
  responses: { 200: jsonContent(envelope(CompanyUsersPage), "A page of users"), ...staffErrors },
});

const upsertBusinessUnitMembershipRoute = createRoute({
  method: "post",
  path: "/internal/companies/{companyId}/business-units/{businessUnitId}/memberships",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Create or update a user's membership in a business unit of the company (one per user and unit)",
  description: `${who} The membership records its company; a unit already recorded under another company is refused. Audited as business_unit_membership.upserted (with before and after) when something changes.`,
  request: { params: BusinessUnitParams, body: jsonBody(UpsertBody) },
  responses: {
    200: jsonContent(envelope(BusinessUnitMembershipSchema), "Updated, or unchanged (nothing to change)"),
    201: jsonContent(envelope(BusinessUnitMembershipSchema), "Created"),
    ...staffErrors,
    404: errorResponse("not_found (no such user)"),
    409: errorResponse("business_unit_company_mismatch (the unit belongs to another company)"),
  },
});

// ---- handlers ------------------------------------------------------------------------------------

function membershipView(change: MembershipChange) {
  const m = change.membership;
  return {
    id: m.id,
    userId: m.userId,
    companyId: m.companyId,
    role: m.role,
    isActive: m.isActive,
    createdAt: m.createdAt.toISOString(),
    updatedAt: m.updatedAt.toISOString(),
  };
}

export const internalCompanyRoutes = createRouter()
  .openapi(companyUsersRoute, async (c) => {
    const { companyId } = c.req.valid("param");
    const page = await companyUsers(c.get("deps"), c.get("staff"), { companyId, ...c.req.valid("query") });
    c.header("Cache-Control", "no-store");
    return c.json({ data: page }, 200);
  })
  .openapi(upsertCompanyMembershipRoute, async (c) => {
    const { companyId } = c.req.valid("param");
    const change = await upsertCompanyMember(c.get("deps"), c.get("staff"), companyId, c.req.valid("json"), requestMeta(c));
    const data = membershipView(change);
    return change.created ? c.json({ data }, 201) : c.json({ data }, 200);
  })
  .openapi(businessUnitUsersRoute, async (c) => {
    const { companyId, businessUnitId } = c.req.valid("param");
    const page = await companyUsers(c.get("deps"), c.get("staff"), { companyId, businessUnitId, ...c.req.valid("query") });
    c.header("Cache-Control", "no-store");
    return c.json({ data: page }, 200);
  })
  .openapi(upsertBusinessUnitMembershipRoute, async (c) => {
    const { companyId, businessUnitId } = c.req.valid("param");
    const change = await upsertBusinessUnitMember(c.get("deps"), c.get("staff"), companyId, businessUnitId, c.req.valid("json"), requestMeta(c));
    const data = { ...membershipView(change), businessUnitId: change.membership.businessUnitId ?? businessUnitId };
    return change.created ? c.json({ data }, 201) : c.json({ data }, 200);
  });
