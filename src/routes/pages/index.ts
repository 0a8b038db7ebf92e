// Hosted pages (issue 13): server-rendered with hono/jsx on the API's origin. This file composes
// the page routers; each lives in its own module and is built with pageRouter() and
// pageMiddleware from src/pages/ (layout, i18n, CSRF, the pages' session).
import { Hono } from "hono";
import type { AppEnv } from "../../http/middleware";
import { accountRoutes } from "./account";
import { pageAssetRoutes } from "./assets";
import { invitationRoutes } from "./invitations";
import { loginRoutes } from "./login";
import { mfaRoutes } from "./mfa";
import { passwordRoutes } from "./password";
import { portalRoutes } from "./portal";
import { signupRoutes } from "./signup";
import { stepUpRoutes } from "./step-up";
import { verifyRoutes } from "./verify";

export const pageRoutes = new Hono<AppEnv>()
  .route("/", pageAssetRoutes)
  .route("/", loginRoutes)
  .route("/", mfaRoutes)
  .route("/", signupRoutes)
  .route("/", passwordRoutes)
  .route("/", stepUpRoutes)
  .route("/", accountRoutes)
  .route("/", portalRoutes)
  .route("/", verifyRoutes)
  .route("/", invitationRoutes);
