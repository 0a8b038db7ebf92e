// Staff reset of a user's second factors (issue 10 item 9): PLATFORM_ADMIN and up; removes the
// TOTP, the recovery codes and the remembered devices, audited, and tells the user.
import type { Deps } from "../../deps";
import { errors } from "../../http/errors";
import { removeAllFactors } from "../../stores/mfa";
import type { RequestMeta } from "../auth/common";
import { notify } from "../notify";
import { forbidden, roleRank, type StaffPrincipal } from "../staff/principal";

export async function resetUserMfa(deps: Deps, staff: StaffPrincipal, userId: string, meta: RequestMeta): Promise<{ totp: boolean; recoveryCodes: number; devices: number }> {
  if (roleRank(staff.globalRole) < roleRank("PLATFORM_ADMIN")) throw forbidden("Only platform admins can reset a user's two-factor authentication");
  const now = deps.clock.now();
  const result = await removeAllFactors(deps.db, {
    userId,
    audit: { type: "mfa.reset_by_staff", actorUserId: staff.userId, ip: meta.ip, userAgent: meta.userAgent, metadata: { via: staff.via }, at: now },
  });
  if (!result.found) throw errors.notFound("No such user");
  if (result.totp && result.email) notify(deps, "mfa_disabled", result.email, { name: result.fullName });
  return { totp: result.totp, recoveryCodes: result.recoveryCodes, devices: result.devices };
}
