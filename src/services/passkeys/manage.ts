// The signed-in user's passkeys: list, rename, remove (each one SQL statement with its event,
// acting only while the session is live).
import type { Deps } from "../../deps";
import { deletePasskey, passkeysOf, renamePasskey, type PasskeyRow } from "../../stores/passkeys";
import type { Principal } from "../auth/bearer";
import type { RequestMeta } from "../auth/common";
import { passkeyErrors } from "./errors";

export interface PasskeyView {
  id: string;
  name: string | null;
  credentialId: string;
  rpId: string;
  aaguid: string | null;
  transports: string[];
  attestationFormat: string | null;
  backupEligible: boolean;
  backedUp: boolean;
  createdAt: string;
  lastUsedAt: string | null;
}

export function passkeyView(p: PasskeyRow): PasskeyView {
  return {
    id: p.id,
    name: p.name,
    credentialId: p.credentialId,
    rpId: p.rpId,
    aaguid: p.aaguid,
    transports: p.transports,
    attestationFormat: p.attestationFormat,
    backupEligible: p.backupEligible,
    backedUp: p.backedUp,
    createdAt: p.createdAt.toISOString(),
    lastUsedAt: p.lastUsedAt?.toISOString() ?? null,
  };
}

export async function listPasskeys(deps: Deps, principal: Principal): Promise<PasskeyView[]> {
  const [, found] = await Promise.all([principal.markers, passkeysOf(deps.db, principal.userId)]);
  return found.map(passkeyView);
}

const event = (type: string, principal: Principal, meta: RequestMeta, metadata: Record<string, unknown>, at: Date) => ({
  type,
  actorUserId: principal.userId,
  ip: meta.ip,
  userAgent: meta.userAgent,
  metadata,
  at,
});

export async function renameOwnPasskey(deps: Deps, principal: Principal, id: string, name: string, meta: RequestMeta): Promise<PasskeyView> {
  const now = deps.clock.now();
  const clean = name.trim();
  const [, renamed] = await Promise.all([
    principal.markers,
    renamePasskey(deps.db, { userId: principal.userId, id, name: clean, now, actor: principal.acting, audit: event("passkey.renamed", principal, meta, { passkeyId: id, name: clean }, now) }),
  ]);
  if (!renamed) throw passkeyErrors.missing();
  return passkeyView(renamed);
}

export async function removeOwnPasskey(deps: Deps, principal: Principal, id: string, meta: RequestMeta): Promise<void> {
  const now = deps.clock.now();
  const [, removed] = await Promise.all([
    principal.markers,
    deletePasskey(deps.db, { userId: principal.userId, id, now, actor: principal.acting, audit: event("passkey.removed", principal, meta, { passkeyId: id }, now) }),
  ]);
  if (!removed) throw passkeyErrors.missing();
}
