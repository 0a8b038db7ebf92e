// Route middleware for /internal/* administration: sets c.var.staff to the acting user, from a
// Bearer access token (Cloudflare Access is added by the staff-principal work).
import type { MiddlewareHandler } from "hono";
import { bearerStaff } from "../services/staff/principal";
import type { AppEnv } from "./middleware";

export const staff: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set("staff", await bearerStaff(c.get("deps"), c.req.header("authorization")));
  await next();
};
