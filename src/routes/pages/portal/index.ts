// The staff portal (/portal): server-rendered pages for platform staff over the same services as
// /internal/*. Sections: the PENDING queue and users, applications (keys, settings, service
// accounts), organizations and memberships, the audit log. See src/pages/portal/ for the principal
// (pages session or Cloudflare Access), the layout and the strings.
import { Hono } from "hono";
import type { PageEnv } from "../../../pages/context";
import { portalApplicationRoutes } from "./applications";
import { portalAuditRoutes } from "./audit";
import { portalOrganizationRoutes } from "./organizations";
import { portalUserRoutes } from "./users";

export const portalRoutes = new Hono<PageEnv>()
  .route("/", portalUserRoutes)
  .route("/", portalApplicationRoutes)
  .route("/", portalOrganizationRoutes)
  .route("/", portalAuditRoutes);
