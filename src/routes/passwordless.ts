// /auth routes for email verification, magic links and email one-time codes (issue 10).
import { createRouter } from "../http/openapi";

export const passwordlessRoutes = createRouter();
