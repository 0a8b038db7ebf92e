import { createRoute, z } from "@hono/zod-openapi";
import { checkReadiness } from "../services/readiness";
import { createRouter, envelope, errorResponse, jsonContent } from "../http/openapi";

const CheckSchema = z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() });

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["health"],
  summary: "Liveness: the Worker answers (no I/O)",
  responses: { 200: jsonContent(envelope(z.object({ status: z.literal("ok") })), "The Worker is up") },
});

const ready = createRoute({
  method: "get",
  path: "/ready",
  tags: ["health"],
  summary: "Readiness: Postgres, Redis and (when FINANCE_DATABASE_URL is set) Finance each answer within READY_TIMEOUT_MS",
  responses: {
    200: jsonContent(envelope(z.object({ status: z.literal("ready"), checks: z.record(z.string(), CheckSchema) })), "All dependencies answer"),
    503: errorResponse("A dependency failed; `error.details.checks` names it"),
  },
});

export const healthRoutes = createRouter()
  .openapi(health, (c) => c.json({ data: { status: "ok" as const } }, 200))
  .openapi(ready, async (c) => {
    const result = await checkReadiness(c.get("deps"));
    c.header("Cache-Control", "no-store");
    if (!result.ready) {
      const failed = Object.entries(result.checks)
        .filter(([, r]) => !r.ok)
        .map(([name]) => name);
      return c.json(
        { error: { code: "not_ready", message: `Not ready: ${failed.join(", ")} failed`, details: { failed, checks: result.checks } } },
        503,
      );
    }
    return c.json({ data: { status: "ready" as const, checks: result.checks } }, 200);
  });
