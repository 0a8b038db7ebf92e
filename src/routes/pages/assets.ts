// The pages' stylesheet under its content-hashed name, cached for good (a change is a new name).
import { Hono } from "hono";
import { errors } from "../../http/errors";
import type { AppEnv } from "../../http/middleware";
import { STYLESHEET, STYLESHEET_PATH } from "../../pages/styles";

export const pageAssetRoutes = new Hono<AppEnv>().get("/pages/assets/:file", (c) => {
  if (c.req.path !== STYLESHEET_PATH) throw errors.notFound(`No route for ${c.req.method} ${c.req.path}`);
  return c.body(STYLESHEET, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=31536000, immutable" });
});
