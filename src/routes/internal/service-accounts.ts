// /internal/applications/{id}/service-accounts: machine identities under an application and their
// client secrets, administered by platform staff (Bearer or Cloudflare Access): PLATFORM_MODERATOR
// reads, PLATFORM_ADMIN and PLATFORM_SUPERADMIN write. Thin: parse, call one service, respond.
import { createRoute, z } from "@hono/zod-openapi";
import { APPLICATION_STATUSES } from "../../db/schema";
import { requestMeta } from "../../http/middleware";
import { stepUp } from "../../http/step-up";
import { createRouter, envelope, errorResponse, jsonBody, jsonContent } from "../../http/openapi";
import { staff } from "../../http/staff";
import {
  createSecret,
  createServiceAccount,
  deleteSecret,
  deleteServiceAccount,
  getServiceAccount,
  listSecrets,
  listServiceAccounts,
  updateServiceAccount,
} from "../../services/m2m/service-accounts";
import type { ServiceAccount, ServiceAccountSecret } from "../../stores/service-accounts";

// ---- schemas -----------------------------------------------------------------------------------

/** RFC 6749 section 3.3 scope-token. */
const Scope = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "must be a scope token (printable ASCII without spaces, quotes or backslashes)")
  .openapi({ example: "orders:read" });
const Scopes = z.array(Scope).max(100);
const Name = z.string().trim().min(1).max(200).openapi({ example: "nightly-billing-job" });

const ServiceAccountSchema = z
  .object({
    id: z.uuid().openapi({ description: "Also the OAuth client_id" }),
    applicationId: z.uuid(),
    name: z.string(),
    allowedScopes: z.array(z.string()),
    status: z.enum(APPLICATION_STATUSES),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("ServiceAccount");

const SecretSchema = z
  .object({
    id: z.uuid(),
    serviceAccountId: z.uuid(),
    prefix: z.string().openapi({ description: "The secret's first 12 characters, to tell secrets apart" }),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    lastUsedAt: z.string().nullable(),
  })
  .openapi("ServiceAccountSecret");

const NewSecretSchema = SecretSchema.extend({
  secret: z.string().openapi({ description: "The client secret: shown this once, stored only as a hash" }),
}).openapi("NewServiceAccountSecret");

const uuidParam = (name: string) => z.uuid().openapi({ param: { name, in: "path" }, example: "0b9f8a8e-1c1e-4a47-9d3b-4a8d1f2f5e10" });
const AppParams = z.object({ id: uuidParam("id") });
const AccountParams = z.object({ id: uuidParam("id"), serviceAccountId: uuidParam("serviceAccountId") });
const SecretParams = AccountParams.extend({ secretId: uuidParam("secretId") });

const security = [{ Bearer: [] }];
const tags = ["internal-service-accounts"];
const staffErrors = {
  401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked"),
  403: errorResponse("forbidden (PLATFORM_MODERATOR reads; PLATFORM_ADMIN and PLATFORM_SUPERADMIN write)"),
};
const BASE = "/internal/applications/{id}/service-accounts";

// ---- routes ------------------------------------------------------------------------------------

const listRoute = createRoute({
  method: "get",
  path: BASE,
  tags,
  security,
  middleware: [staff] as const,
  summary: "List an application's service accounts",
  request: { params: AppParams },
  responses: {
    200: jsonContent(envelope(z.object({ serviceAccounts: z.array(ServiceAccountSchema) })), "Oldest first"),
    400: errorResponse("validation_error (malformed id)"),
    ...staffErrors,
    404: errorResponse("not_found (no such application)"),
  },
});

const createAccountRoute = createRoute({
  method: "post",
  path: BASE,
  tags,
  security,
  middleware: [staff] as const,
  summary: "Create a service account (OAuth client_credentials client) under an application",
  request: {
    params: AppParams,
    body: jsonBody(z.object({ name: Name, allowedScopes: Scopes.optional(), status: z.enum(APPLICATION_STATUSES).optional() }).strict()),
  },
  responses: {
    201: jsonContent(envelope(ServiceAccountSchema), "Created; add a secret next"),
    400: errorResponse("validation_error"),
    ...staffErrors,
    404: errorResponse("not_found (no such application)"),
  },
});

const getRoute = createRoute({
  method: "get",
  path: `${BASE}/{serviceAccountId}`,
  tags,
  security,
  middleware: [staff] as const,
  summary: "Read one service account",
  request: { params: AccountParams },
  responses: {
    200: jsonContent(envelope(ServiceAccountSchema), "The service account"),
    400: errorResponse("validation_error (malformed id)"),
    ...staffErrors,
    404: errorResponse("not_found"),
  },
});

const updateRoute = createRoute({
  method: "patch",
  path: `${BASE}/{serviceAccountId}`,
  tags,
  security,
  middleware: [staff] as const,
  summary: "Change a service account's name, allowed scopes or status",
  description: "Disabling an account refuses its client authentication and makes its outstanding tokens inactive at introspection.",
  request: {
    params: AccountParams,
    body: jsonBody(
      z
        .object({ name: Name.optional(), allowedScopes: Scopes.optional(), status: z.enum(APPLICATION_STATUSES).optional() })
        .strict()
        .refine((v) => Object.keys(v).length > 0, { message: "send at least one of name, allowedScopes, status" }),
    ),
  },
  responses: {
    200: jsonContent(envelope(ServiceAccountSchema), "The account after the change"),
    400: errorResponse("validation_error"),
    ...staffErrors,
    404: errorResponse("not_found"),
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: `${BASE}/{serviceAccountId}`,
  tags,
  security,
  middleware: [staff] as const,
  summary: "Delete a service account and its secrets (its tokens become inactive)",
  request: { params: AccountParams },
  responses: {
    200: jsonContent(envelope(ServiceAccountSchema), "The deleted account"),
    400: errorResponse("validation_error (malformed id)"),
    ...staffErrors,
    404: errorResponse("not_found"),
  },
});

const listSecretsRoute = createRoute({
  method: "get",
  path: `${BASE}/{serviceAccountId}/secrets`,
  tags,
  security,
  middleware: [staff] as const,
  summary: "List a service account's secrets (metadata only: never the secret or its hash)",
  request: { params: AccountParams },
  responses: {
    200: jsonContent(envelope(z.object({ secrets: z.array(SecretSchema) })), "Newest first"),
    400: errorResponse("validation_error (malformed id)"),
    ...staffErrors,
    404: errorResponse("not_found"),
  },
});

const createSecretRoute = createRoute({
  method: "post",
  path: `${BASE}/{serviceAccountId}/secrets`,
  tags,
  security,
  middleware: [staff, stepUp] as const,
  summary: "Create a client secret (shown once; several may be live at once for rotation)",
  request: {
    params: AccountParams,
    body: jsonBody(
      z
        .object({
          expiresAt: z.iso
            .datetime({ offset: true })
            .nullable()
            .optional()
            .openapi({ description: "When the secret stops working (ISO 8601, in the future); absent or null: never" }),
        })
        .strict(),
    ),
  },
  responses: {
    201: jsonContent(envelope(NewSecretSchema), "The secret, in `secret`, this once"),
    400: errorResponse("validation_error (expiresAt malformed or not in the future)"),
    ...staffErrors,
    403: errorResponse("forbidden (PLATFORM_ADMIN and up); step_up_required (staff with a second factor: X-Step-Up-Token, or sign in again)"),
    404: errorResponse("not_found"),
  },
});

const deleteSecretRoute = createRoute({
  method: "delete",
  path: `${BASE}/{serviceAccountId}/secrets/{secretId}`,
  tags,
  security,
  middleware: [staff] as const,
  summary: "Delete a client secret (tokens it authenticated become inactive)",
  request: { params: SecretParams },
  responses: {
    200: jsonContent(envelope(SecretSchema), "The deleted secret"),
    400: errorResponse("validation_error (malformed id)"),
    ...staffErrors,
    404: errorResponse("not_found"),
  },
});

// ---- handlers ----------------------------------------------------------------------------------

function accountView(a: ServiceAccount): z.infer<typeof ServiceAccountSchema> {
  return { ...a, createdAt: a.createdAt.toISOString(), updatedAt: a.updatedAt.toISOString() };
}

function secretView(s: ServiceAccountSecret): z.infer<typeof SecretSchema> {
  return {
    id: s.id,
    serviceAccountId: s.serviceAccountId,
    prefix: s.prefix,
    createdAt: s.createdAt.toISOString(),
    expiresAt: s.expiresAt?.toISOString() ?? null,
    lastUsedAt: s.lastUsedAt?.toISOString() ?? null,
  };
}

export const internalServiceAccountRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const accounts = await listServiceAccounts(c.get("deps"), c.get("staff"), c.req.valid("param").id);
    c.header("Cache-Control", "no-store");
    return c.json({ data: { serviceAccounts: accounts.map(accountView) } }, 200);
  })
  .openapi(createAccountRoute, async (c) => {
    const account = await createServiceAccount(c.get("deps"), c.get("staff"), c.req.valid("param").id, c.req.valid("json"), requestMeta(c));
    return c.json({ data: accountView(account) }, 201);
  })
  .openapi(getRoute, async (c) => {
    const p = c.req.valid("param");
    const account = await getServiceAccount(c.get("deps"), c.get("staff"), p.id, p.serviceAccountId);
    c.header("Cache-Control", "no-store");
    return c.json({ data: accountView(account) }, 200);
  })
  .openapi(updateRoute, async (c) => {
    const p = c.req.valid("param");
    const account = await updateServiceAccount(c.get("deps"), c.get("staff"), p.id, p.serviceAccountId, c.req.valid("json"), requestMeta(c));
    return c.json({ data: accountView(account) }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    const p = c.req.valid("param");
    const account = await deleteServiceAccount(c.get("deps"), c.get("staff"), p.id, p.serviceAccountId, requestMeta(c));
    return c.json({ data: accountView(account) }, 200);
  })
  .openapi(listSecretsRoute, async (c) => {
    const p = c.req.valid("param");
    const secrets = await listSecrets(c.get("deps"), c.get("staff"), p.id, p.serviceAccountId);
    c.header("Cache-Control", "no-store");
    return c.json({ data: { secrets: secrets.map(secretView) } }, 200);
  })
  .openapi(createSecretRoute, async (c) => {
    const p = c.req.valid("param");
    const body = c.req.valid("json");
    const created = await createSecret(
      c.get("deps"),
      c.get("staff"),
      p.id,
      p.serviceAccountId,
      { expiresAt: body.expiresAt ? new Date(body.expiresAt) : null },
      requestMeta(c),
    );
    c.header("Cache-Control", "no-store");
    return c.json({ data: { ...secretView(created), secret: created.secret } }, 201);
  })
  .openapi(deleteSecretRoute, async (c) => {
    const p = c.req.valid("param");
    const deleted = await deleteSecret(c.get("deps"), c.get("staff"), p.id, p.serviceAccountId, p.secretId, requestMeta(c));
    return c.json({ data: secretView(deleted) }, 200);
  });
