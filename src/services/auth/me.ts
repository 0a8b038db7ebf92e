// The current user (/auth/me). Budget: 1 SQL round trip (user, memberships and session validity
// in one statement) after the Bearer check's Redis round trip.
import type { Deps } from "../../deps";
import { loadProfile, type UserProfile } from "../../stores/users";
import { assertCurrent, type Principal } from "./bearer";

export type Me = Omit<UserProfile, "tokenVersion">;

export async function currentUser(deps: Deps, principal: Principal): Promise<Me> {
  const [, profile] = await Promise.all([principal.markers, loadProfile(deps.db, principal.userId, principal.acting, deps.clock.now(), { organizations: true })]);
  assertCurrent(principal, profile);
  const { tokenVersion: _tv, sessionActive: _sa, ...me } = profile!;
  return me;
}
