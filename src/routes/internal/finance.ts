// GET /internal/companies/resolve: Finance company resolution, a machine route (X-Internal-API-Key;
// absent, 404, when INTERNAL_API_KEY is unset). Needs FINANCE_DATABASE_URL (503 without it).
import { createRoute, z } from "@hono/zod-openapi";
import { internalKey } from "../../http/internal-key";
import { createRouter, envelope, errorResponse, jsonContent } from "../../http/openapi";
import { RAW_MAX_LENGTH, resolveCompany } from "../../services/finance/directory";

const ResolvedCompanySchema = z
  .object({
    companyId: z.string().openapi({ description: "Finance's company id (a UUID)", example: "3f1c2b9e-8d4a-4c57-9a43-2b1e6f0c7d11" }),
    code: z.string().openapi({ example: "ACME" }),
    name: z.string().openapi({ example: "Acme Ltd" }),
    matchedBy: z.enum(["id", "code", "name"]).openapi({ description: "What `raw` matched: the id, else the code, else the name" }),
  })
  .openapi("ResolvedCompany");

const ResolveQuery = z.object({
  raw: z
    .string({ error: "is required" })
    .trim()
    .min(1, { error: "is required" })
    .max(RAW_MAX_LENGTH, { error: `must be at most ${RAW_MAX_LENGTH} characters` })
    .openapi({ description: "A company UUID, code or name (code and name case-insensitive)", example: "ACME" }),
});

const resolveRoute = createRoute({
  method: "get",
  path: "/internal/companies/resolve",
  tags: ["internal-machine"],
  security: [{ InternalApiKey: [] }],
  middleware: [internalKey] as const,
  summary: "Resolve a company UUID from a UUID, code or name (Finance database, cached in Redis)",
  description:
    "Precedence: an existing company id, then the code, then the name (case-insensitive). Several companies at the same level resolve to the one equal to `raw` as typed, else 409 company_ambiguous with `error.details.candidates`. Answers are cached for FINANCE_CACHE_TTL (misses for FINANCE_NEGATIVE_CACHE_TTL).",
  request: { query: ResolveQuery },
  responses: {
    200: jsonContent(envelope(ResolvedCompanySchema), "The company"),
    400: errorResponse("validation_error (raw missing, blank or too long)"),
    401: errorResponse("invalid_api_key (missing or wrong X-Internal-API-Key)"),
    404: errorResponse("company_not_found; also not_found when INTERNAL_API_KEY is unset"),
    409: errorResponse("company_ambiguous (several companies match equally; see error.details.candidates)"),
    503: errorResponse("finance_not_configured (FINANCE_DATABASE_URL unset), or dependency_unavailable (Finance unreachable)"),
  },
});

export const internalFinanceRoutes = createRouter().openapi(resolveRoute, async (c) => {
  const company = await resolveCompany(c.get("deps"), c.req.valid("query").raw);
  c.header("Cache-Control", "no-store");
  return c.json({ data: company }, 200);
});
