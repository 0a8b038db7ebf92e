// Route middleware for /internal/* administration: sets c.var.staff to the acting user. With
// Cloudflare Access configured (CF_ACCESS_TEAM_DOMAIN, CF_ACCESS_AUD) a Cf-Access-Jwt-Assertion
// header is the principal; otherwise (and when that header is absent) a Bearer access token is.
// Without the configuration the header is ignored: anyone can send it, only Access can sign it.
import type { MiddlewareHandler } from "hono";
import { accessStaff } from "../services/staff/cf-access";
import { bearerStaff } from "../services/staff/principal";
import type { AppEnv } from "./middleware";

export const staff: MiddlewareHandler<AppEnv> = async (c, next) => {
  const deps = c.get("deps");
  const assertion = c.req.header("cf-access-jwt-assertion");
  const principal =
    assertion !== undefined && deps.config.cfAccess ? await accessStaff(deps, assertion) : await bearerStaff(deps, c.req.header("authorization"));
  c.set("staff", principal);
  await next();
};
