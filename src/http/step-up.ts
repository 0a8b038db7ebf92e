// Route middleware for sensitive actions (issue 10 item 7): after `bearer` or `staff`, requires a
// step-up (X-Step-Up-Token of this session, or a sign-in within 5 minutes) when the acting user
// has a second factor; 403 step_up_required otherwise. Staff via Cloudflare Access (or any caller
// without a user session) pass: they are not users with factors here. Document 403 on the route.
import type { MiddlewareHandler } from "hono";
import { requireStepUp, staffStepUpSubject } from "../services/mfa/step-up";
import type { AppEnv } from "./middleware";

export const STEP_UP_HEADER = "x-step-up-token";

export const stepUp: MiddlewareHandler<AppEnv> = async (c, next) => {
  const deps = c.get("deps");
  const token = c.req.header(STEP_UP_HEADER);
  const principal = c.get("principal");
  const staff = c.get("staff");
  if (principal) await requireStepUp(deps, principal, token);
  else if (staff) await requireStepUp(deps, staffStepUpSubject(staff), token);
  await next();
};

export { requireStepUp };
