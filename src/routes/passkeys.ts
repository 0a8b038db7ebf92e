// /auth routes for WebAuthn passkeys (issue 11).
import { createRouter } from "../http/openapi";

export const passkeyRoutes = createRouter();
