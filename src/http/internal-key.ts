// Route middleware for the machine routes: present only when INTERNAL_API_KEY is set (404
// otherwise, as if not mounted), guarded by X-Internal-API-Key compared in constant time with the
// current key and, during a rotation, INTERNAL_API_KEY_NEXT.
import type { MiddlewareHandler } from "hono";
import { constantTimeEqual } from "../crypto/constant-time";
import { AppError, errors } from "./errors";
import type { AppEnv } from "./middleware";

export const INTERNAL_KEY_HEADER = "x-internal-api-key";

export const internalKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { internalApiKey, internalApiKeyNext } = c.get("deps").config;
  if (!internalApiKey) throw errors.notFound(`No route for ${c.req.method} ${new URL(c.req.url).pathname}`);
  const sent = c.req.header(INTERNAL_KEY_HEADER) ?? "";
  // Compare with both keys always, so timing does not tell which one (if any) matched.
  const current = constantTimeEqual(sent, internalApiKey);
  const next_ = internalApiKeyNext ? constantTimeEqual(sent, internalApiKeyNext) : false;
  if (!sent || !(current || next_)) throw new AppError(401, "invalid_api_key", "A valid X-Internal-API-Key is required");
  await next();
};
