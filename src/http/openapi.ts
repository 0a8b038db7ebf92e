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

/**
 * U+0000 and unpaired UTF-16 surrogates: Postgres text cannot hold the first (22021), and the
 * second is not Unicode text at all (no UTF-8 form; jsonb refuses its escape). A JSON body, a query
 * string or a path can carry either, and zod's string checks let them through.
 */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Every string in validated input that could not be stored as text, by field (iterative: input depth is the client's). */
export function unstorableText(value: unknown): FieldProblem[] {
  const out: FieldProblem[] = [];
  const pending: [unknown, string][] = [[value, ""]];
  while (pending.length > 0) {
    const [v, path] = pending.pop()!;
    if (typeof v === "string") {
      if (UNSTORABLE.test(v)) out.push({ field: path || "(body)", message: "must not contain NUL (U+0000) or unpaired surrogate characters" });
    } else if (v !== null && typeof v === "object") {
      for (const [k, child] of Object.entries(v)) pending.push([child, path ? `${path}.${k}` : k]);
    }
  }
  return out.sort((a, b) => a.field.localeCompare(b.field));
}

export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw errors.validation(fieldProblems(result.error.issues as readonly Issue[]));
      // Valid by the schema but not storable: refused here, for every route and every input
      // (body, query, path), instead of as a 500 from the database or a changed value.
      const unstorable = unstorableText(result.data);
      if (unstorable.length > 0) throw errors.validation(unstorable);
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
