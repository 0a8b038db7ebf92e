// The application registry for platform staff: list, read, create, change, disable, and API keys.
// Reading: PLATFORM_MODERATOR and up; writing: PLATFORM_ADMIN and PLATFORM_SUPERADMIN. The
// built-in platform application keeps its slug, type, status and audience (it stands for every
// request that names no application, its tokens carry JWT_AUDIENCE and its origins are
// CORS_ALLOWED_ORIGINS).
import { randomSecret, sha256 } from "../../crypto/random";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";
import {
  findApplication,
  insertApiKey,
  insertApplication,
  listApplications as listStored,
  revokeApiKey as revokeStored,
  updateApplication as updateStored,
  type ApiKeyRecord,
  type ApplicationFields,
  type ApplicationRecord,
} from "../../stores/applications";
import type { RequestMeta } from "../auth/common";
import { forbidden, isPlatformStaff, roleRank, type StaffPrincipal } from "../staff/principal";
import type { CreateApplicationInput, UpdateApplicationInput } from "./fields";
import { forgetApplicationCaches } from "./resolve";

export const API_KEY_PREFIX = "eak_";
const DISPLAY_PREFIX_LENGTH = 12;

export function assertCanReadApplications(actor: Pick<StaffPrincipal, "globalRole">): void {
  if (!isPlatformStaff(actor.globalRole)) throw forbidden("Applications are administered by platform staff");
}

export function assertCanWriteApplications(actor: Pick<StaffPrincipal, "globalRole">): void {
  assertCanReadApplications(actor);
  if (roleRank(actor.globalRole) < roleRank("PLATFORM_ADMIN")) throw forbidden("Only PLATFORM_ADMIN or PLATFORM_SUPERADMIN may change applications");
}

const notFound = () => new AppError(404, "not_found", "No application with this id");
const slugTaken = () => new AppError(409, "slug_taken", "Another application has this slug", { fields: [{ field: "slug", message: "is taken" }] });
const builtin = (field: string) =>
  new AppError(409, "builtin_application", `The platform application's ${field} cannot be changed`, { fields: [{ field, message: "is fixed for the platform application" }] });

function audit(staff: StaffPrincipal, type: string, meta: RequestMeta, at: Date, metadata: Record<string, unknown> = {}) {
  return { type, actorUserId: staff.userId, ip: meta.ip, userAgent: meta.userAgent, metadata: { via: staff.via, ...metadata }, at };
}

export async function listApplications(deps: Deps, staff: StaffPrincipal): Promise<ApplicationRecord[]> {
  assertCanReadApplications(staff);
  return listStored(deps.db);
}

export async function getApplication(deps: Deps, staff: StaffPrincipal, id: string): Promise<ApplicationRecord & { apiKeys: ApiKeyRecord[] }> {
  assertCanReadApplications(staff);
  const found = await findApplication(deps.db, id);
  if (!found) throw notFound();
  return found;
}

export async function createApplication(deps: Deps, staff: StaffPrincipal, input: CreateApplicationInput, meta: RequestMeta): Promise<ApplicationRecord> {
  assertCanWriteApplications(staff);
  const fields: ApplicationFields = {
    slug: input.slug,
    name: input.name,
    type: input.type,
    status: input.status ?? "active",
    allowedOrigins: input.allowedOrigins ?? [],
    redirectUris: input.redirectUris ?? [],
    postLogoutRedirectUris: input.postLogoutRedirectUris ?? [],
    audience: input.audience ?? null,
    allowedAudiences: input.allowedAudiences ?? [],
    settings: input.settings ?? {},
  };
  const created = await insertApplication(deps.db, fields, audit(staff, "application.created", meta, deps.clock.now(), { slug: fields.slug }));
  if (!created) throw slugTaken();
  return created;
}

/** Applies a change (omitted fields stay); disabling ends refresh for the application's sessions. */
export async function updateApplication(
  deps: Deps,
  staff: StaffPrincipal,
  id: string,
  input: UpdateApplicationInput,
  meta: RequestMeta,
  eventType = "application.updated",
): Promise<ApplicationRecord> {
  assertCanWriteApplications(staff);
  const current = await findApplication(deps.db, id);
  if (!current) throw notFound();
  const next: ApplicationFields = {
    slug: input.slug ?? current.slug,
    name: input.name ?? current.name,
    type: input.type ?? current.type,
    status: input.status ?? current.status,
    allowedOrigins: input.allowedOrigins ?? current.allowedOrigins,
    redirectUris: input.redirectUris ?? current.redirectUris,
    postLogoutRedirectUris: input.postLogoutRedirectUris ?? current.postLogoutRedirectUris,
    audience: input.audience === undefined ? current.audience : input.audience,
    allowedAudiences: input.allowedAudiences ?? current.allowedAudiences,
    settings: input.settings ?? current.settings,
  };
  if (current.builtin) {
    // Its origins are CORS_ALLOWED_ORIGINS and its audience JWT_AUDIENCE: configuration, not data.
    for (const field of ["slug", "type", "status", "audience", "allowedOrigins"] as const) {
      if (JSON.stringify(next[field]) !== JSON.stringify(current[field])) throw builtin(field);
    }
  }
  const changed = Object.keys(input).sort();
  const updated = await updateStored(deps.db, id, next, audit(staff, eventType, meta, deps.clock.now(), { changed }));
  // The application existed a moment ago and applications are never removed: the slug is taken.
  if (!updated) throw slugTaken();
  forgetApplicationCaches();
  return updated;
}

/** DELETE disables: the application's keys stop working, its sessions stop refreshing, its tokens fail this service's checks. */
export async function disableApplication(deps: Deps, staff: StaffPrincipal, id: string, meta: RequestMeta): Promise<ApplicationRecord> {
  return updateApplication(deps, staff, id, { status: "disabled" }, meta, "application.disabled");
}

export interface NewApiKey {
  key: string;
  apiKey: ApiKeyRecord;
}

export async function createApiKey(deps: Deps, staff: StaffPrincipal, applicationId: string, input: { name?: string }, meta: RequestMeta): Promise<NewApiKey> {
  assertCanWriteApplications(staff);
  const key = API_KEY_PREFIX + randomSecret(32);
  const apiKey = await insertApiKey(
    deps.db,
    { applicationId, name: input.name ?? null, keyHash: await sha256(key), prefix: key.slice(0, DISPLAY_PREFIX_LENGTH) },
    audit(staff, "application.api_key_created", meta, deps.clock.now()),
  );
  if (!apiKey) throw notFound();
  return { key, apiKey };
}

export async function revokeApiKey(deps: Deps, staff: StaffPrincipal, applicationId: string, keyId: string, meta: RequestMeta): Promise<ApiKeyRecord> {
  assertCanWriteApplications(staff);
  const revoked = await revokeStored(deps.db, applicationId, keyId, audit(staff, "application.api_key_revoked", meta, deps.clock.now()));
  if (!revoked) throw new AppError(404, "not_found", "No API key with this id for this application");
  forgetApplicationCaches();
  return revoked;
}
