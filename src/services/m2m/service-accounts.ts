// Service-account administration under an application (/internal/applications/{id}/service-accounts):
// PLATFORM_MODERATOR reads; PLATFORM_ADMIN and PLATFORM_SUPERADMIN write. Client secrets are
// "sas_" + 256 random bits (base64url), shown once at creation, stored as SHA-256 only; several
// may be live at once (rotation) and each may expire. Every change writes its audit event in the
// same statement.
import { randomSecret, sha256 } from "../../crypto/random";
import type { ApplicationStatus } from "../../db/schema";
import type { Deps } from "../../deps";
import { errors } from "../../http/errors";
import * as store from "../../stores/service-accounts";
import type { ServiceAccount, ServiceAccountSecret } from "../../stores/service-accounts";
import type { RequestMeta } from "../auth/common";
import { forbidden, isPlatformStaff, roleRank, type StaffPrincipal } from "../staff/principal";
import { CLIENT_SECRET_PREFIX } from "./client-auth";

export const SECRET_DISPLAY_PREFIX_LENGTH = 12;

function assertReader(staff: StaffPrincipal): void {
  if (!isPlatformStaff(staff.globalRole)) throw forbidden("Service accounts are for platform staff");
}

function assertWriter(staff: StaffPrincipal): void {
  assertReader(staff);
  if (roleRank(staff.globalRole) < roleRank("PLATFORM_ADMIN")) throw forbidden("Only PLATFORM_ADMIN or PLATFORM_SUPERADMIN may change service accounts");
}

function audit(deps: Deps, staff: StaffPrincipal, meta: RequestMeta): store.AuditBase {
  return {
    actorUserId: staff.userId,
    actorLabel: staff.via === "cloudflare-access" ? "cloudflare-access" : null,
    ip: meta.ip,
    userAgent: meta.userAgent,
    metadata: {},
    at: deps.clock.now(),
  };
}

const noApplication = () => errors.notFound("No such application");
const noAccount = () => errors.notFound("No such service account");
const noSecret = () => errors.notFound("No such secret");

export async function listServiceAccounts(deps: Deps, staff: StaffPrincipal, applicationId: string): Promise<ServiceAccount[]> {
  assertReader(staff);
  const found = await store.listServiceAccounts(deps.db, applicationId);
  if (!found) throw noApplication();
  return found;
}

export async function getServiceAccount(deps: Deps, staff: StaffPrincipal, applicationId: string, id: string): Promise<ServiceAccount> {
  assertReader(staff);
  const found = await store.getServiceAccount(deps.db, applicationId, id);
  if (!found) throw noAccount();
  return found;
}

export async function createServiceAccount(
  deps: Deps,
  staff: StaffPrincipal,
  applicationId: string,
  input: { name: string; allowedScopes?: string[]; status?: ApplicationStatus },
  meta: RequestMeta,
): Promise<ServiceAccount> {
  assertWriter(staff);
  const created = await store.createServiceAccount(deps.db, {
    applicationId,
    name: input.name,
    allowedScopes: [...new Set(input.allowedScopes ?? [])],
    status: input.status ?? "active",
    now: deps.clock.now(),
    audit: audit(deps, staff, meta),
  });
  if (!created) throw noApplication();
  return created;
}

export async function updateServiceAccount(
  deps: Deps,
  staff: StaffPrincipal,
  applicationId: string,
  id: string,
  changes: { name?: string; allowedScopes?: string[]; status?: ApplicationStatus },
  meta: RequestMeta,
): Promise<ServiceAccount> {
  assertWriter(staff);
  const updated = await store.updateServiceAccount(deps.db, {
    applicationId,
    id,
    changes: { ...changes, ...(changes.allowedScopes ? { allowedScopes: [...new Set(changes.allowedScopes)] } : {}) },
    now: deps.clock.now(),
    audit: audit(deps, staff, meta),
  });
  if (!updated) throw noAccount();
  return updated;
}

export async function deleteServiceAccount(deps: Deps, staff: StaffPrincipal, applicationId: string, id: string, meta: RequestMeta): Promise<ServiceAccount> {
  assertWriter(staff);
  const deleted = await store.deleteServiceAccount(deps.db, { applicationId, id, audit: audit(deps, staff, meta) });
  if (!deleted) throw noAccount();
  return deleted;
}

export async function listSecrets(deps: Deps, staff: StaffPrincipal, applicationId: string, serviceAccountId: string): Promise<ServiceAccountSecret[]> {
  assertReader(staff);
  const found = await store.listSecrets(deps.db, applicationId, serviceAccountId);
  if (!found) throw noAccount();
  return found;
}

/** Creates a secret; the plain value is in the answer only, never stored or logged. */
export async function createSecret(
  deps: Deps,
  staff: StaffPrincipal,
  applicationId: string,
  serviceAccountId: string,
  input: { expiresAt?: Date | null },
  meta: RequestMeta,
): Promise<ServiceAccountSecret & { secret: string }> {
  assertWriter(staff);
  const now = deps.clock.now();
  if (input.expiresAt && input.expiresAt.getTime() <= now.getTime()) {
    throw errors.validation([{ field: "expiresAt", message: "must be in the future" }]);
  }
  const secret = `${CLIENT_SECRET_PREFIX}${randomSecret(32)}`;
  const created = await store.createSecret(deps.db, {
    applicationId,
    serviceAccountId,
    secretHash: await sha256(secret),
    prefix: secret.slice(0, SECRET_DISPLAY_PREFIX_LENGTH),
    expiresAt: input.expiresAt ?? null,
    now,
    audit: audit(deps, staff, meta),
  });
  if (!created) throw noAccount();
  return { ...created, secret };
}

export async function deleteSecret(
  deps: Deps,
  staff: StaffPrincipal,
  applicationId: string,
  serviceAccountId: string,
  secretId: string,
  meta: RequestMeta,
): Promise<ServiceAccountSecret> {
  assertWriter(staff);
  const result = await store.deleteSecret(deps.db, { applicationId, serviceAccountId, secretId, audit: audit(deps, staff, meta) });
  if (result === "no_account") throw noAccount();
  if (result === "no_secret") throw noSecret();
  return result;
}
