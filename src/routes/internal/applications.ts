// /internal/applications: the application registry and its API keys, for platform staff (Bearer
// or Cloudflare Access). Reading: PLATFORM_MODERATOR and up; writing: PLATFORM_ADMIN and up.
import { createRoute, z } from "@hono/zod-openapi";
import { APPLICATION_STATUSES, APPLICATION_TYPES } from "../../db/schema";
import { requestMeta } from "../../http/middleware";
import { stepUp } from "../../http/step-up";
import { createRouter, envelope, errorResponse, jsonBody, jsonContent } from "../../http/openapi";
import { staff } from "../../http/staff";
import { ApplicationSettingsSchema, CreateApplicationSchema, UpdateApplicationSchema } from "../../services/applications/fields";
import {
  createApiKey,
  createApplication,
  disableApplication,
  getApplication,
  listApplications,
  revokeApiKey,
  updateApplication,
} from "../../services/applications/registry";
import type { ApiKeyRecord, ApplicationRecord } from "../../stores/applications";

const ApplicationSchema = z
  .object({
    id: z.uuid(),
    slug: z.string(),
    name: z.string(),
    type: z.enum(APPLICATION_TYPES),
    status: z.enum(APPLICATION_STATUSES),
    builtin: z.boolean().openapi({ description: "The platform application: cannot be deleted or disabled" }),
    allowedOrigins: z.array(z.string()),
    redirectUris: z.array(z.string()),
    postLogoutRedirectUris: z.array(z.string()),
    audience: z.string().nullable(),
    allowedAudiences: z.array(z.string()),
    settings: ApplicationSettingsSchema,
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Application");

const ApiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string().nullable(),
    prefix: z.string().openapi({ description: "The key's first characters, to tell keys apart" }),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable().openapi({ description: "Updated at most once a minute" }),
    revokedAt: z.string().nullable(),
  })
  .openapi("ApiKey");

const ApplicationWithKeysSchema = ApplicationSchema.extend({ apiKeys: z.array(ApiKeySchema) }).openapi("ApplicationWithKeys");
const NewApiKeySchema = z
  .object({ key: z.string().openapi({ description: "The key itself: shown once, never again" }), apiKey: ApiKeySchema })
  .openapi("NewApiKey");

const uuidParam = (name: string) => z.uuid().openapi({ param: { name, in: "path" }, example: "0b9f8a8e-1c1e-4a47-9d3b-4a8d1f2f5e10" });
const IdParam = z.object({ id: uuidParam("id") });
const KeyParams = z.object({ id: uuidParam("id"), keyId: uuidParam("keyId") });

const security = [{ Bearer: [] }];
const tags = ["internal-applications"];

const staffErrors = {
  401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked"),
  403: errorResponse("forbidden (reading: PLATFORM_MODERATOR and up; changes: PLATFORM_ADMIN and up)"),
};

const listRoute = createRoute({
  method: "get",
  path: "/internal/applications",
  tags,
  security,
  middleware: [staff] as const,
  summary: "List applications (the platform application first)",
  responses: { 200: jsonContent(envelope(z.array(ApplicationSchema)), "Every application"), ...staffErrors },
});

const getRoute = createRoute({
  method: "get",
  path: "/internal/applications/{id}",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Read one application with its API keys (prefixes only)",
  request: { params: IdParam },
  responses: {
    200: jsonContent(envelope(ApplicationWithKeysSchema), "The application"),
    400: errorResponse("validation_error (malformed id)"),
    ...staffErrors,
    404: errorResponse("not_found"),
  },
});

const createAppRoute = createRoute({
  method: "post",
  path: "/internal/applications",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Register an application",
  description:
    "Origins are scheme, host and port only; redirect URIs are absolute https (http only for loopback), without fragments or wildcards, and are compared exactly. `audience` null means JWT_AUDIENCE.",
  request: { body: jsonBody(CreateApplicationSchema) },
  responses: {
    201: jsonContent(envelope(ApplicationSchema), "Created"),
    400: errorResponse("validation_error naming each field"),
    ...staffErrors,
    409: errorResponse("slug_taken"),
  },
});

const updateRoute = createRoute({
  method: "patch",
  path: "/internal/applications/{id}",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Change an application; omitted fields stay",
  description:
    "`status: disabled` stops its API keys, the refresh of its sessions and its tokens at this service's checks. The platform application's slug, type, status, audience and origins are fixed (409 builtin_application).",
  request: { params: IdParam, body: jsonBody(UpdateApplicationSchema) },
  responses: {
    200: jsonContent(envelope(ApplicationSchema), "The application after the change"),
    400: errorResponse("validation_error naming each field"),
    ...staffErrors,
    404: errorResponse("not_found"),
    409: errorResponse("slug_taken or builtin_application"),
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/internal/applications/{id}",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Disable an application (applications are never removed: sessions and audit refer to them)",
  request: { params: IdParam },
  responses: {
    200: jsonContent(envelope(ApplicationSchema), "The application, now disabled"),
    400: errorResponse("validation_error (malformed id)"),
    ...staffErrors,
    404: errorResponse("not_found"),
    409: errorResponse("builtin_application (the platform application cannot be disabled)"),
  },
});

const createKeyRoute = createRoute({
  method: "post",
  path: "/internal/applications/{id}/api-keys",
  tags,
  security,
  middleware: [staff, stepUp] as const,
  summary: "Create an API key for the application (older keys stay valid until revoked)",
  description: "The key is in the answer once; only its hash and a display prefix are stored.",
  request: { params: IdParam, body: jsonBody(z.object({ name: z.string().trim().min(1).max(100).optional() }).strict()) },
  responses: {
    201: jsonContent(envelope(NewApiKeySchema), "The new key (shown once)"),
    400: errorResponse("validation_error"),
    ...staffErrors,
    403: errorResponse("forbidden (PLATFORM_ADMIN and up); step_up_required (staff with a second factor: X-Step-Up-Token, or sign in again)"),
    404: errorResponse("not_found"),
  },
});

const revokeKeyRoute = createRoute({
  method: "delete",
  path: "/internal/applications/{id}/api-keys/{keyId}",
  tags,
  security,
  middleware: [staff] as const,
  summary: "Revoke an API key",
  request: { params: KeyParams },
  responses: {
    200: jsonContent(envelope(ApiKeySchema), "The key, revoked"),
    400: errorResponse("validation_error (malformed id)"),
    ...staffErrors,
    404: errorResponse("not_found"),
  },
});

const iso = (d: Date | null) => d?.toISOString() ?? null;

function appView(a: ApplicationRecord): z.infer<typeof ApplicationSchema> {
  return {
    id: a.id,
    slug: a.slug,
    name: a.name,
    type: a.type,
    status: a.status,
    builtin: a.builtin,
    allowedOrigins: a.allowedOrigins,
    redirectUris: a.redirectUris,
    postLogoutRedirectUris: a.postLogoutRedirectUris,
    audience: a.audience,
    allowedAudiences: a.allowedAudiences,
    settings: a.settings,
    createdAt: a.createdAt.toISOString(),
    updatedAt: a.updatedAt.toISOString(),
  };
}

function keyView(k: ApiKeyRecord): z.infer<typeof ApiKeySchema> {
  return { id: k.id, name: k.name, prefix: k.prefix, createdAt: k.createdAt.toISOString(), lastUsedAt: iso(k.lastUsedAt), revokedAt: iso(k.revokedAt) };
}

export const internalApplicationRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const apps = await listApplications(c.get("deps"), c.get("staff"));
    c.header("Cache-Control", "no-store");
    return c.json({ data: apps.map(appView) }, 200);
  })
  .openapi(getRoute, async (c) => {
    const app = await getApplication(c.get("deps"), c.get("staff"), c.req.valid("param").id);
    c.header("Cache-Control", "no-store");
    return c.json({ data: { ...appView(app), apiKeys: app.apiKeys.map(keyView) } }, 200);
  })
  .openapi(createAppRoute, async (c) => {
    const app = await createApplication(c.get("deps"), c.get("staff"), c.req.valid("json"), requestMeta(c));
    return c.json({ data: appView(app) }, 201);
  })
  .openapi(updateRoute, async (c) => {
    const app = await updateApplication(c.get("deps"), c.get("staff"), c.req.valid("param").id, c.req.valid("json"), requestMeta(c));
    return c.json({ data: appView(app) }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    const app = await disableApplication(c.get("deps"), c.get("staff"), c.req.valid("param").id, requestMeta(c));
    return c.json({ data: appView(app) }, 200);
  })
  .openapi(createKeyRoute, async (c) => {
    const { id } = c.req.valid("param");
    const created = await createApiKey(c.get("deps"), c.get("staff"), id, c.req.valid("json"), requestMeta(c));
    c.header("Cache-Control", "no-store");
    return c.json({ data: { key: created.key, apiKey: keyView(created.apiKey) } }, 201);
  })
  .openapi(revokeKeyRoute, async (c) => {
    const { id, keyId } = c.req.valid("param");
    const key = await revokeApiKey(c.get("deps"), c.get("staff"), id, keyId, requestMeta(c));
    return c.json({ data: keyView(key) }, 200);
  });
