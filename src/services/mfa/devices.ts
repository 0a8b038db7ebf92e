// Remembered devices (issue 10 item 8): listed and forgotten by their user.
import type { Deps } from "../../deps";
import { errors } from "../../http/errors";
import { forgetDevice, listDevices, type DeviceView } from "../../stores/mfa";
import { tokenRevoked, type Principal } from "../auth/bearer";
import type { RequestMeta } from "../auth/common";

export async function devicesOf(deps: Deps, principal: Principal): Promise<DeviceView[]> {
  const [, found] = await Promise.all([principal.markers, listDevices(deps.db, principal.userId, deps.clock.now(), principal.acting)]);
  if (!found.live) throw tokenRevoked();
  return found.devices;
}

export async function forgetOwnDevice(deps: Deps, principal: Principal, deviceId: string, meta: RequestMeta): Promise<void> {
  const now = deps.clock.now();
  const [, removed] = await Promise.all([
    principal.markers,
    forgetDevice(deps.db, {
      userId: principal.userId,
      deviceId,
      now,
      actor: principal.acting,
      audit: { type: "mfa.device.forgotten", actorUserId: principal.userId, ip: meta.ip, userAgent: meta.userAgent, metadata: {}, at: now },
    }),
  ]);
  if (!removed) throw errors.notFound("No such remembered device");
}
