// /auth routes for second factors: TOTP, recovery codes, the MFA challenge, step-up, remembered devices (issue 10).
import { createRouter } from "../http/openapi";

export const mfaRoutes = createRouter();
