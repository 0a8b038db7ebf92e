// /auth routes for social sign-in and linked identities (issue 11).
import { createRouter } from "../http/openapi";

export const socialRoutes = createRouter();
