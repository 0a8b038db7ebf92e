// Shared pieces for routers: the OpenAPIHono factory whose validation failures become the
// 400 envelope naming each field, and schema helpers so every route documents its envelope.
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ZodType } from "zod";
import { errors, type FieldProblem } from "./errors";
import type { AppEnv } from "./middleware";

type Issue = { path: PropertyKey[]; message: string; code: string; keys?: string[] };

export function fieldProblems(issues: readonly Issue[]): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const issue of issues) {
    const base = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys" && issue.keys) {
      for (const key of issue.keys) out.push({ field: base ? `${base}.${key}` : key, message: "unknown field" });
    } else {
      out.push({ field: base || "(body)", message: issue.message });
    }
  }
  return out;
}

export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw errors.validation(fieldProblems(result.error.issues as readonly Issue[]));
    },
  });
}

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "validation_error" }),
      message: z.string(),
      fields: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .openapi("Error");

/** `{ data: schema }` */
export function envelope<T extends ZodType>(schema: T) {
  return z.object({ data: schema });
}

export function jsonContent<T extends ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

export function errorResponse(description: string) {
  return jsonContent(ErrorSchema, description);
}

/** A required JSON request body (optional bodies would skip validation when no content type is sent). */
export function jsonBody<T extends ZodType>(schema: T, description?: string) {
  return { content: { "application/json": { schema } }, required: true, ...(description ? { description } : {}) };
}
