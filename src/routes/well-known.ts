import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, jsonContent } from "../http/openapi";

const JwkSchema = z
  .object({ kty: z.literal("RSA"), n: z.string(), e: z.string(), kid: z.string(), alg: z.literal("RS256"), use: z.literal("sig") })
  .openapi("Jwk");

const jwks = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tags: ["keys"],
  summary: "Public keys that verify this service's access tokens (current, next and retired)",
  description:
    "Cacheable: `Cache-Control: public, max-age=JWKS_MAX_AGE` and a strong ETag; send `If-None-Match` to get 304. Not wrapped in the `data` envelope: it is a standard JWK Set.",
  responses: {
    200: jsonContent(z.object({ keys: z.array(JwkSchema) }).openapi("JwkSet"), "The JWK Set"),
    304: { description: "Not modified (If-None-Match matched the ETag)" },
  },
});

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  // Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}

export const wellKnownRoutes = createRouter().openapi(jwks, async (c) => {
  const deps = c.get("deps");
  const keys = await deps.keys();
  const headers = {
    "Cache-Control": `public, max-age=${deps.config.jwt.jwksMaxAgeSeconds}`,
    ETag: keys.jwksEtag,
  };
  if (etagMatches(c.req.header("if-none-match"), keys.jwksEtag)) {
    return c.body(null, 304, headers);
  }
  return c.body(keys.jwksBody, 200, { ...headers, "Content-Type": "application/json" });
});
