// Request and response schemas shared by the organization routers (members' and staff's).
import { z } from "@hono/zod-openapi";
import { SLUG } from "../services/applications/fields";
import { PERMISSION_PATTERN, ROLE_KEY_PATTERN } from "../services/organizations/permissions";

/** Organization ids: ours are UUIDs; a Finance company's or business unit's is any well-formed UUID. */
export const OrgId = z.guid({ error: "must be a UUID" }).openapi({ param: { name: "orgId", in: "path" }, example: "0b7e5a3c-9a52-4c1e-8d36-2f1f0c4d9e11" });
export const UserIdParam = z.guid({ error: "must be a UUID" }).openapi({ param: { name: "userId", in: "path" } });

export const RoleKey = z.string().regex(ROLE_KEY_PATTERN, { error: "must be a lowercase role key (a-z, 0-9, _ or -, starting with a letter, at most 40)" });
export const Permission = z.string().regex(PERMISSION_PATTERN, { error: "must be resource:action (lowercase letters, digits, _ or -)" }).openapi({ example: "invoices:read" });

function unique<T extends z.ZodType<string>>(item: T, min: number, max: number) {
  return z
    .array(item)
    .min(min)
    .max(max)
    .refine((l) => new Set(l).size === l.length, { error: "must not repeat an entry" });
}

export const RoleList = unique(RoleKey, 1, 20).openapi({ example: ["member"] });
export const PermissionList = unique(Permission, 0, 100);

const Metadata = z
  .record(z.string().max(100), z.unknown())
  .refine((m) => JSON.stringify(m).length <= 8192, { error: "must be at most 8 KB of JSON" })
  .openapi({ description: "Free-form JSON object (at most 8 KB)", example: { plan: "pro" } });

export const OrganizationFields = z.object({
  name: z.string().trim().min(1).max(200),
  // company-* and business-unit-* slugs and finance:* external ids are the Finance organizations'
  // (migration 0005 creates them on a first membership): nobody may take one first.
  slug: z
    .string()
    .regex(SLUG, { error: "must be 1-64 lowercase letters, digits or inner hyphens" })
    .refine((s) => !/^(company|business-unit)-/.test(s), { error: "company-* and business-unit-* are reserved for Finance companies and business units" }),
  externalId: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .refine((s) => !s.toLowerCase().startsWith("finance:"), { error: "finance:* is reserved for Finance companies and business units" })
    .nullable()
    .openapi({ description: "Your own id for the organization (unique)" }),
  metadata: Metadata,
});

export const CreateOrganizationBody = OrganizationFields.partial({ externalId: true, metadata: true }).strict();
export const UpdateOrganizationBody = OrganizationFields.partial().strict();

export const OrganizationSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    slug: z.string(),
    externalId: z.string().nullable(),
    parentId: z.string().nullable().openapi({ description: "A business unit's company" }),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Organization");

export const MemberSchema = z
  .object({
    userId: z.string(),
    email: z.string(),
    fullName: z.string().nullable(),
    roles: z.array(z.string()),
    sources: z.array(z.enum(["organization", "finance"])).openapi({ description: "organization: added here; finance: a seed-000 company or business-unit membership" }),
    joinedAt: z.string(),
  })
  .openapi("OrganizationMember");

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).optional().openapi({ description: "Page size (default 50, at most 200)" }),
  offset: z.coerce.number().int().min(0).max(1_000_000).optional(),
});

export function organizationJson(o: { id: string; name: string; slug: string; externalId: string | null; parentId: string | null; metadata: Record<string, unknown>; createdAt: Date; updatedAt: Date }) {
  return { ...o, createdAt: o.createdAt.toISOString(), updatedAt: o.updatedAt.toISOString() };
}

/** An item of `organizations` in GET /auth/me (and GET /auth/organizations). */
export const MeOrganizationSchema = z
  .object({ id: z.string(), slug: z.string(), name: z.string(), parentId: z.string().nullable(), roles: z.array(z.string()) })
  .openapi("MyOrganization");
