// The caller's linked identities: list them, and unlink one unless it is the last way to sign in.
// Both check the caller's session in the statement they run (a revoked token does not act).
import type { Deps } from "../../deps";
import { AppError, errors } from "../../http/errors";
import { listIdentities, unlinkIdentity, type IdentityView } from "../../stores/identities";
import { tokenRevoked, type Principal } from "../auth/bearer";
import type { RequestMeta } from "../auth/common";

export async function listMyIdentities(deps: Deps, principal: Principal): Promise<IdentityView[]> {
  const [, list] = await Promise.all([principal.markers, listIdentities(deps.db, principal.userId, principal.acting, deps.clock.now())]);
  if (!list) throw tokenRevoked();
  return list;
}

export const lastSignInMethod = () =>
  new AppError(409, "last_sign_in_method", "This identity is the account's last way to sign in: set a password or add a passkey or another provider first");

export async function unlinkMyIdentity(deps: Deps, principal: Principal, identityId: string, meta: RequestMeta): Promise<void> {
  const now = deps.clock.now();
  const [, result] = await Promise.all([
    principal.markers,
    unlinkIdentity(deps.db, { userId: principal.userId, identityId, acting: principal.acting, now, audit: { ip: meta.ip, userAgent: meta.userAgent } }),
  ]);
  if (result === "not_live") throw tokenRevoked();
  if (result === "not_found") throw errors.notFound("No such identity");
  if (result === "last_method") throw lastSignInMethod();
}
