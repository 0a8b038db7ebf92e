// Machine routes for automation and support: X-Internal-API-Key (INTERNAL_API_KEY, or
// INTERNAL_API_KEY_NEXT during a rotation). Absent (404) when INTERNAL_API_KEY is unset.
import { createRoute, z } from "@hono/zod-openapi";
import { internalKey } from "../../http/internal-key";
import { requestMeta } from "../../http/middleware";
import { createRouter, envelope, errorResponse, jsonContent } from "../../http/openapi";
import { ProfileSchema, profileJson } from "../../http/user-schemas";
import { revokeAllByKey, revokeSessionByKey, userContext } from "../../services/internal/machine";

// ---- schemas -----------------------------------------------------------------------------------

const IdParams = (description: string) =>
  z.object({ id: z.uuid({ error: "must be a UUID" }).openapi({ param: { name: "id", in: "path" }, description }) });

const UserContextSchema = ProfileSchema.extend({
  tokenVersion: z.number().int().openapi({ description: "Access tokens with a lower `tv` claim are revoked" }),
}).openapi("UserContext");

const security = [{ InternalApiKey: [] }];
const tags = ["internal-machine"];
const keyErrors = {
  401: errorResponse("invalid_api_key (missing or wrong X-Internal-API-Key)"),
};

// ---- routes ------------------------------------------------------------------------------------

const revokeSessionRoute = createRoute({
  method: "post",
  path: "/internal/sessions/{id}/revoke",
  tags,
  security,
  middleware: [internalKey] as const,
  summary: "End one session; its access tokens stop working at once. No body.",
  description: "Audited as session.revoked with actor_label internal-api-key.",
  request: { params: IdParams("The session id (the `sid` claim)") },
  responses: {
    200: jsonContent(envelope(z.object({ revoked: z.literal(true), sessionId: z.uuid(), userId: z.uuid() })), "Session ended"),
    400: errorResponse("validation_error (id must be a UUID)"),
    ...keyErrors,
    404: errorResponse("not_found (unknown or already ended session; also when INTERNAL_API_KEY is unset)"),
  },
});

const revokeAllRoute = createRoute({
  method: "post",
  path: "/internal/users/{id}/revoke-all",
  tags,
  security,
  middleware: [internalKey] as const,
  summary: "End every session of a user and bump the token version; every outstanding access token stops working. No body.",
  description: "Audited as sessions.revoked_all with actor_label internal-api-key.",
  request: { params: IdParams("The user id") },
  responses: {
    200: jsonContent(envelope(z.object({ revokedSessions: z.number().int(), tokenVersion: z.number().int() })), "All sessions ended"),
    400: errorResponse("validation_error (id must be a UUID)"),
    ...keyErrors,
    404: errorResponse("not_found (unknown user; also when INTERNAL_API_KEY is unset)"),
  },
});

const userContextRoute = createRoute({
  method: "get",
  path: "/internal/users/{id}/context",
  tags,
  security,
  middleware: [internalKey] as const,
  summary: "A user with active company and business-unit memberships (the /auth/me shape, plus tokenVersion)",
  request: { params: IdParams("The user id") },
  responses: {
    200: jsonContent(envelope(UserContextSchema), "The user's context"),
    400: errorResponse("validation_error (id must be a UUID)"),
    ...keyErrors,
    404: errorResponse("not_found (unknown user; also when INTERNAL_API_KEY is unset)"),
  },
});

// ---- handlers ------------------------------------------------------------------------------------

const router = createRouter();
router.openAPIRegistry.registerComponent("securitySchemes", "InternalApiKey", {
  type: "apiKey",
  in: "header",
  name: "X-Internal-API-Key",
  description: "INTERNAL_API_KEY (or INTERNAL_API_KEY_NEXT during a rotation); the machine routes are absent when INTERNAL_API_KEY is unset",
});

export const internalMachineRoutes = router
  .openapi(revokeSessionRoute, async (c) => {
    const result = await revokeSessionByKey(c.get("deps"), c.req.valid("param").id, requestMeta(c));
    return c.json({ data: { revoked: true as const, ...result } }, 200);
  })
  .openapi(revokeAllRoute, async (c) => {
    const result = await revokeAllByKey(c.get("deps"), c.req.valid("param").id, requestMeta(c));
    return c.json({ data: result }, 200);
  })
  .openapi(userContextRoute, async (c) => {
    const u = await userContext(c.get("deps"), c.req.valid("param").id);
    c.header("Cache-Control", "no-store");
    return c.json({ data: profileJson(u) }, 200);
  });
