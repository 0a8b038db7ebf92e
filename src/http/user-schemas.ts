// Response schemas for a user as the API shows it, shared by /auth/* and /internal/*, and the one
// place that turns a stored profile into its JSON form.
import { z } from "@hono/zod-openapi";
import { APPROVAL_STATUSES, AUTH_PROVIDERS, GLOBAL_ROLES, MEMBERSHIP_ROLES } from "../db/schema";
import type { UserProfile } from "../stores/users";

export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    fullName: z.string().nullable(),
    phoneNumber: z.string().nullable(),
    profilePictureUrl: z.string().nullable(),
    authProvider: z.enum(AUTH_PROVIDERS),
    globalRole: z.enum(GLOBAL_ROLES),
    approvalStatus: z.enum(APPROVAL_STATUSES),
    isActive: z.boolean(),
    emailVerified: z.boolean().openapi({ description: "The address was proven by a link or code sent to it (claim email_verified)" }),
  })
  .openapi("User");

const CompanyMembershipSchema = z.object({ companyId: z.uuid(), role: z.enum(MEMBERSHIP_ROLES), isActive: z.boolean() });
const BusinessUnitMembershipSchema = z.object({
  companyId: z.uuid(),
  businessUnitId: z.uuid(),
  role: z.enum(MEMBERSHIP_ROLES),
  isActive: z.boolean(),
});

/** The /auth/me shape: the user, timestamps, and active company and business-unit memberships. */
export const ProfileSchema = UserSchema.extend({
  lastLoginAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  companyMemberships: z.array(CompanyMembershipSchema),
  businessUnitMemberships: z.array(BusinessUnitMembershipSchema),
}).openapi("Me");

export type ProfileJson = z.infer<typeof ProfileSchema>;

export function profileJson<P extends Omit<UserProfile, "tokenVersion">>(p: P): Omit<P, "lastLoginAt" | "createdAt" | "updatedAt" | "companyMemberships" | "businessUnitMemberships"> & ProfileJson {
  return {
    ...p,
    lastLoginAt: p.lastLoginAt?.toISOString() ?? null,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
    companyMemberships: p.companyMemberships as ProfileJson["companyMemberships"],
    businessUnitMemberships: p.businessUnitMemberships as ProfileJson["businessUnitMemberships"],
  };
}
