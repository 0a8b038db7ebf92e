// GET /internal/audit-events: the auth audit log, for platform staff (Bearer or Cloudflare Access).
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, envelope, errorResponse, jsonContent } from "../../http/openapi";
import { staff } from "../../http/staff";
import { AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX, listAuditEvents } from "../../services/admin/audit";

const AuditEventSchema = z
  .object({
    id: z.uuid(),
    eventType: z.string().openapi({ example: "login.success" }),
    actorUserId: z.uuid().nullable().openapi({ description: "The user who acted, when a user did" }),
    actorLabel: z.string().nullable().openapi({ description: "Non-user actors: internal API key, Cloudflare Access email, system" }),
    targetUserId: z.uuid().nullable().openapi({ description: "The user the event is about" }),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: z.string().openapi({ example: "2026-11-23T10:50:17.123Z" }),
  })
  .openapi("AuditEvent");

const DateTime = z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time, e.g. 2026-11-23T10:00:00Z" });

const AuditQuery = z
  .object({
    userId: z.uuid({ error: "must be a UUID" }).optional().openapi({ description: "Events about this user (target)" }),
    actorUserId: z.uuid({ error: "must be a UUID" }).optional().openapi({ description: "Events this user performed" }),
    eventType: z
      .string()
      .max(100)
      .regex(/^[^*]+\*?$/, { error: "must be an event type, or a prefix ending in * (e.g. login.*)" })
      .optional()
      .openapi({ description: "Exact event type, or a prefix with a trailing `*` (`login.*`)", example: "login.*" }),
    from: DateTime.optional().openapi({ description: "Events at or after this instant" }),
    to: DateTime.optional().openapi({ description: "Events before this instant" }),
    cursor: z.string().max(512).optional().openapi({ description: "`nextCursor` of the previous page" }),
    limit: z.coerce
      .number({ error: "must be a whole number" })
      .int({ error: "must be a whole number" })
      .min(1, { error: `must be from 1 to ${AUDIT_PAGE_MAX}` })
      .max(AUDIT_PAGE_MAX, { error: `must be from 1 to ${AUDIT_PAGE_MAX}` })
      .optional()
      .openapi({ description: `Page size (default ${AUDIT_PAGE_DEFAULT}, at most ${AUDIT_PAGE_MAX})`, example: AUDIT_PAGE_DEFAULT }),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.from !== undefined && q.to !== undefined && Date.parse(q.from) > Date.parse(q.to)) {
      ctx.addIssue({ code: "custom", path: ["to"], message: "must not be before from" });
    }
  });

const listRoute = createRoute({
  method: "get",
  path: "/internal/audit-events",
  tags: ["internal-audit"],
  security: [{ Bearer: [] }],
  middleware: [staff] as const,
  summary: "The auth audit log, newest first, for platform staff",
  description:
    "Any platform role may read it. Staff authenticate with a Bearer access token or, when Cloudflare Access is configured, the Cf-Access-Jwt-Assertion header. Pages follow `nextCursor` (null on the last page); unknown query parameters are refused.",
  request: { query: AuditQuery },
  responses: {
    200: jsonContent(envelope(z.object({ items: z.array(AuditEventSchema), nextCursor: z.string().nullable() })), "A page of events (Cache-Control: no-store)"),
    400: errorResponse("validation_error (fields named)"),
    401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked, invalid_access_token"),
    403: errorResponse("forbidden (no platform role; Access identity without a usable staff account)"),
    503: errorResponse("dependency_unavailable (database, or the Cloudflare Access certs)"),
  },
});

export const internalAuditRoutes = createRouter().openapi(listRoute, async (c) => {
  const page = await listAuditEvents(c.get("deps"), c.get("staff"), c.req.valid("query"));
  c.header("Cache-Control", "no-store");
  return c.json(
    {
      data: {
        items: page.items.map((e) => ({ ...e, createdAt: e.createdAt.toISOString() })),
        nextCursor: page.nextCursor,
      },
    },
    200,
  );
});
