// /internal/users: user administration by platform staff (Bearer or Cloudflare Access). Thin:
// parse and validate, call one service, respond. Role rules: src/services/admin/roles.ts.
import { createRoute, z } from "@hono/zod-openapi";
import { APPROVAL_STATUSES, AUTH_PROVIDERS, GLOBAL_ROLES } from "../../db/schema";
import { requestMeta } from "../../http/middleware";
import { UserSchema } from "../../http/user-schemas";
import { createRouter, envelope, errorResponse, jsonBody, jsonContent } from "../../http/openapi";
import { staff } from "../../http/staff";
import { createUser, DEFAULT_PAGE_SIZE, deleteUser, getUser, listUsers, MAX_PAGE_SIZE, updateUser, type AdminUser } from "../../services/admin/users";
import { MAX_PASSWORD_LENGTH } from "../../services/password-policy";
import { resetUserMfa } from "../../services/mfa/staff";
import { loadMfaSummary } from "../../stores/mfa";

// ---- schemas -----------------------------------------------------------------------------------

const Email = z
  .email({ pattern: z.regexes.unicodeEmail, error: "must be a valid email address" })
  .max(254)
  .openapi({ example: "new.user@example.com" });
const NewPassword = z
  .string()
  .min(1)
  .max(MAX_PASSWORD_LENGTH * 4)
  .openapi({ description: "Checked against the password policy (length, common passwords, email); never stored or logged" });
const OptionalText = (max: number) => z.string().max(max).nullable().optional();
const PictureUrl = z.url({ protocol: /^https?$/ }).max(2048).nullable().optional().or(z.literal(""));

/** The writable user fields, shared by create (email required) and update (everything optional). */
const UserFields = z.object({
  password: NewPassword.optional(),
  fullName: OptionalText(200),
  globalRole: z.enum(GLOBAL_ROLES).optional(),
  isActive: z.boolean().optional(),
  approvalStatus: z.enum(APPROVAL_STATUSES).optional(),
  phoneNumber: OptionalText(50),
  profilePictureUrl: PictureUrl,
  authProvider: z.enum(AUTH_PROVIDERS).optional(),
});

const AdminUserSchema = UserSchema.extend({
  lastLoginAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi("AdminUser");

const UserPageSchema = z
  .object({
    users: z.array(AdminUserSchema),
    nextCursor: z.string().nullable().openapi({ description: "Pass as `cursor` for the next page; null on the last page" }),
  })
  .openapi("AdminUserPage");

const IdParam = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" }, example: "0b9f8a8e-1c1e-4a47-9d3b-4a8d1f2f5e10" }) });

const security = [{ Bearer: [] }];
const tags = ["internal-users"];
const staffErrors = {
  401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked"),
  403: errorResponse("forbidden (role rules: see the README, Staff administration)"),
};

// ---- routes ------------------------------------------------------------------------------------

const listRoute = createRoute({
  method: "get",
  path: "/internal/users",
  tags,
  security,
  middleware: [staff] as const,
  summary: "List users (platform staff), filtered, in creation order with cursor pagination",
  request: {
    query: z
      .object({
        q: z.string().max(200).optional().openapi({ description: "Case-insensitive substring of the email or the full name" }),
        globalRole: z.enum(GLOBAL_ROLES).optional(),
        approvalStatus: z.enum(APPROVAL_STATUSES).optional(),
        isActive: z.enum(["true", "false"]).optional(),
        companyId: z.uuid().optional().openapi({ description: "Users with an active membership in this company" }),
        limit: z.coerce
          .number()
          .int()
          .min(1)
          .max(MAX_PAGE_SIZE)
          .optional()
          .openapi({ type: "integer", description: `Page size, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})` }),
        cursor: z.string().max(512).optional().openapi({ description: "nextCursor of the previous page" }),
      })
      .strict(),
  },
  responses: {
    200: jsonContent(envelope(UserPageSchema), "A page of users, ordered by (createdAt, id)"),
    400: errorResponse("validation_error (bad filter, limit or cursor)"),
    ...staffErrors,
  },
});

/** A user's second factors, for staff (issue 10). */
const MfaSummarySchema = z
  .object({
    totp: z.boolean().openapi({ description: "TOTP is on" }),
    recoveryCodesRemaining: z.number().int(),
    passkeys: z.number().int().optional().openapi({ description: "Registered passkeys" }),
  })
  .openapi("UserMfaSummary");

const resetMfaRoute = createRoute({
  method: "delete",
  path: "/internal/users/{id}/mfa",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Remove a user's second factors: TOTP, recovery codes and remembered devices (PLATFORM_ADMIN and up; audited, the user is emailed)",
  request: { params: IdParam },
  responses: {
    200: jsonContent(envelope(z.object({ totp: z.boolean(), recoveryCodes: z.number().int(), devices: z.number().int() })), "What was removed"),
    400: errorResponse("validation_error (malformed id)"),
    ...staffErrors,
    404: errorResponse("not_found"),
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/internal/users/{id}",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Read one user (platform staff)",
  request: { params: IdParam },
  responses: {
    200: jsonContent(envelope(AdminUserSchema.extend({ mfa: MfaSummarySchema })), "The user, with which second factors are on"),
    400: errorResponse("validation_error (malformed id)"),
    ...staffErrors,
    404: errorResponse("not_found"),
  },
});

const createUserRoute = createRoute({
  method: "post",
  path: "/internal/users",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Create a user (PLATFORM_ADMIN: roles below its own; PLATFORM_SUPERADMIN: any role)",
  description:
    'Defaults: globalRole NONE, authProvider "password", approvalStatus APPROVED, isActive true. A password is required for authProvider "password". An approved, active user gets a welcome email.',
  request: {
    body: jsonBody(
      UserFields.extend({ email: Email }).strict(),
    ),
  },
  responses: {
    201: jsonContent(envelope(AdminUserSchema), "Created"),
    400: errorResponse("validation_error or weak_password"),
    ...staffErrors,
    409: errorResponse("email_taken (case-insensitive)"),
  },
});

const updateRoute = createRoute({
  method: "patch",
  path: "/internal/users/{id}",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Change a user; omitted fields stay as they are",
  description:
    "PLATFORM_MODERATOR may send approvalStatus only. emailVerified marks the address verified or not (audited); a changed email is unverified unless emailVerified: true is sent with it. A password change, deactivation, rejection (any loss of approval) or a lowered role bumps the token version and ends every session of the user. Approval, rejection and deactivation email the user.",
  request: {
    params: IdParam,
    body: jsonBody(
      UserFields.extend({
        email: Email.optional(),
        emailVerified: z.boolean().optional().openapi({ description: "Mark the address verified (or not)" }),
      }).strict(),
    ),
  },
  responses: {
    200: jsonContent(envelope(AdminUserSchema), "The user after the change"),
    400: errorResponse("validation_error or weak_password"),
    ...staffErrors,
    404: errorResponse("not_found"),
    409: errorResponse("email_taken, last_superadmin, or conflict (changed concurrently; retry)"),
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/internal/users/{id}",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Soft-delete a user: inactive, token version bumped, every session ended",
  request: { params: IdParam },
  responses: {
    200: jsonContent(envelope(AdminUserSchema), "The user, now inactive"),
    400: errorResponse("validation_error (malformed id)"),
    ...staffErrors,
    404: errorResponse("not_found"),
    409: errorResponse("last_superadmin, or conflict (changed concurrently; retry)"),
  },
});

// ---- handlers ------------------------------------------------------------------------------------

function view(u: AdminUser): z.infer<typeof AdminUserSchema> {
  return {
    ...u,
    lastLoginAt: u.lastLoginAt?.toISOString() ?? null,
    createdAt: u.createdAt.toISOString(),
    updatedAt: u.updatedAt.toISOString(),
  };
}

export const internalUserRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const { isActive, ...query } = c.req.valid("query");
    const page = await listUsers(c.get("deps"), c.get("staff"), { ...query, isActive: isActive === undefined ? undefined : isActive === "true" });
    c.header("Cache-Control", "no-store");
    return c.json({ data: { users: page.users.map(view), nextCursor: page.nextCursor } }, 200);
  })
  .openapi(getRoute, async (c) => {
    const [user, mfa] = await Promise.all([getUser(c.get("deps"), c.get("staff"), c.req.valid("param").id), loadMfaSummary(c.get("deps").db, c.req.valid("param").id)]);
    c.header("Cache-Control", "no-store");
    return c.json({ data: { ...view(user), mfa } }, 200);
  })
  .openapi(resetMfaRoute, async (c) => {
    const removed = await resetUserMfa(c.get("deps"), c.get("staff"), c.req.valid("param").id, requestMeta(c));
    return c.json({ data: removed }, 200);
  })
  .openapi(createUserRoute, async (c) => {
    const user = await createUser(c.get("deps"), c.get("staff"), c.req.valid("json"), requestMeta(c));
    return c.json({ data: view(user) }, 201);
  })
  .openapi(updateRoute, async (c) => {
    const user = await updateUser(c.get("deps"), c.get("staff"), c.req.valid("param").id, c.req.valid("json"), requestMeta(c));
    return c.json({ data: view(user) }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    const user = await deleteUser(c.get("deps"), c.get("staff"), c.req.valid("param").id, requestMeta(c));
    return c.json({ data: view(user) }, 200);
  });
