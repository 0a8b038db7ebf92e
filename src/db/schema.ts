// The Auth database schema. drizzle-kit generates the migrations in drizzle/ from this file
// (`npm run db:generate`); never edit a generated migration by hand.
import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

export const GLOBAL_ROLES = ["NONE", "PLATFORM_MODERATOR", "PLATFORM_ADMIN", "PLATFORM_SUPERADMIN"] as const;
export const AUTH_PROVIDERS = ["password", "google", "microsoft", "sso", "other"] as const;
export const APPROVAL_STATUSES = ["PENDING", "APPROVED", "REJECTED"] as const;
export const MEMBERSHIP_ROLES = ["OWNER", "ADMIN", "MANAGER", "MEMBER", "VIEWER"] as const;
export const APPLICATION_TYPES = ["web", "spa", "native", "m2m"] as const;
export const APPLICATION_STATUSES = ["active", "disabled"] as const;

/** The built-in application (created by migration 0001): every request that names no application. */
export const PLATFORM_APPLICATION_ID = "00000000-0000-4000-8000-000000000001";

export type GlobalRole = (typeof GLOBAL_ROLES)[number];
export type AuthProvider = (typeof AUTH_PROVIDERS)[number];
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];
export type MembershipRole = (typeof MEMBERSHIP_ROLES)[number];
export type ApplicationType = (typeof APPLICATION_TYPES)[number];
export type ApplicationStatus = (typeof APPLICATION_STATUSES)[number];

export const globalRole = pgEnum("global_role", GLOBAL_ROLES);
export const authProvider = pgEnum("auth_provider", AUTH_PROVIDERS);
export const approvalStatus = pgEnum("approval_status", APPROVAL_STATUSES);
export const membershipRole = pgEnum("membership_role", MEMBERSHIP_ROLES);
export const applicationType = pgEnum("application_type", APPLICATION_TYPES);
export const applicationStatus = pgEnum("application_status", APPLICATION_STATUSES);

const timestamps = {
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
};

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** Stored as given (trimmed, NFC); uniqueness and lookups are case-insensitive via lower(email). */
    email: text("email").notNull(),
    /** Argon2id PHC string; null for accounts that cannot sign in with a password. */
    passwordHash: text("password_hash"),
    globalRole: globalRole("global_role").notNull().default("NONE"),
    tokenVersion: integer("token_version").notNull().default(0),
    fullName: text("full_name"),
    phoneNumber: text("phone_number"),
    profilePictureUrl: text("profile_picture_url"),
    authProvider: authProvider("auth_provider").notNull().default("password"),
    approvalStatus: approvalStatus("approval_status").notNull().default("PENDING"),
    isActive: boolean("is_active").notNull().default(false),
    /** Legacy identifier slots for users migrated from older systems (Finance, vendor portal). */
    legacyFinanceUserId: text("legacy_finance_user_id"),
    legacyVendorUserId: text("legacy_vendor_user_id"),
    lastLoginAt: timestamp("last_login_at", { withTimezone: true, mode: "date" }),
    passwordChangedAt: timestamp("password_changed_at", { withTimezone: true, mode: "date" }),
    /** The address was proven by a link or code sent to it (claim `email_verified`). */
    emailVerified: boolean("email_verified").notNull().default(false),
    emailVerifiedAt: timestamp("email_verified_at", { withTimezone: true, mode: "date" }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("users_email_lower_key").on(sql`lower(${t.email})`),
    index("users_global_role_idx").on(t.globalRole),
    index("users_approval_status_idx").on(t.approvalStatus),
    uniqueIndex("users_legacy_finance_user_id_key").on(t.legacyFinanceUserId),
  ],
);

/**
 * Applications (OAuth "clients"): each product that uses this service. `builtin` marks the
 * platform application, which cannot be deleted or disabled. Origins, redirect URIs and audiences
 * are JSON arrays of strings validated by the service; `settings` is validated by one zod schema
 * (src/services/applications/settings.ts).
 */
export const applications = pgTable(
  "applications",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    slug: text("slug").notNull(),
    name: text("name").notNull(),
    type: applicationType("type").notNull(),
    status: applicationStatus("status").notNull().default("active"),
    builtin: boolean("builtin").notNull().default(false),
    allowedOrigins: jsonb("allowed_origins").$type<string[]>().notNull().default([]),
    redirectUris: jsonb("redirect_uris").$type<string[]>().notNull().default([]),
    postLogoutRedirectUris: jsonb("post_logout_redirect_uris").$type<string[]>().notNull().default([]),
    /** The `aud` of tokens issued under this application; null: JWT_AUDIENCE. */
    audience: text("audience"),
    /** Further audiences a service account may ask for (client_credentials `audience`). */
    allowedAudiences: jsonb("allowed_audiences").$type<string[]>().notNull().default([]),
    settings: jsonb("settings").$type<Record<string, unknown>>().notNull().default({}),
    ...timestamps,
  },
  (t) => [uniqueIndex("applications_slug_key").on(t.slug)],
);

/** API keys naming an application on app-initiated routes (X-API-Key). Only a hash is stored. */
export const applicationApiKeys = pgTable(
  "application_api_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    applicationId: uuid("application_id")
      .notNull()
      .references(() => applications.id, { onDelete: "cascade" }),
    name: text("name"),
    /** SHA-256 (base64url) of the whole key. */
    keyHash: text("key_hash").notNull(),
    /** The first characters of the key, for people to tell keys apart. */
    prefix: text("prefix").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [uniqueIndex("application_api_keys_key_hash_key").on(t.keyHash), index("application_api_keys_application_idx").on(t.applicationId)],
);

/** Machine identities under an application (OAuth client credentials). */
export const serviceAccounts = pgTable(
  "service_accounts",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    applicationId: uuid("application_id")
      .notNull()
      .references(() => applications.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    allowedScopes: jsonb("allowed_scopes").$type<string[]>().notNull().default([]),
    status: applicationStatus("status").notNull().default("active"),
    ...timestamps,
  },
  (t) => [index("service_accounts_application_idx").on(t.applicationId)],
);

/** Client secrets of a service account; several live at once for rotation. Only a hash is stored. */
export const serviceAccountSecrets = pgTable(
  "service_account_secrets",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    serviceAccountId: uuid("service_account_id")
      .notNull()
      .references(() => serviceAccounts.id, { onDelete: "cascade" }),
    /** SHA-256 (base64url) of the secret. */
    secretHash: text("secret_hash").notNull(),
    prefix: text("prefix").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [index("service_account_secrets_account_idx").on(t.serviceAccountId)],
);

/** Access tokens revoked before their expiry (RFC 7009); rows past `expires_at` can be dropped. */
export const revokedAccessTokens = pgTable(
  "revoked_access_tokens",
  {
    jti: text("jti").primaryKey(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("revoked_access_tokens_expires_at_idx").on(t.expiresAt)],
);

/** One row per refresh family (a sign-in); the refresh token rotates within it. */
export const sessions = pgTable(
  "sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The application the session was started under; refresh and logout only work through it. */
    applicationId: uuid("application_id")
      .notNull()
      .default(PLATFORM_APPLICATION_ID)
      .references(() => applications.id),
    /** SHA-256 (base64url) of the current refresh secret. */
    refreshHash: text("refresh_hash").notNull(),
    /** Hash of the secret rotated away last, and when: a retry within the grace window gets the same successor. */
    previousRefreshHash: text("previous_refresh_hash"),
    rotatedAt: timestamp("rotated_at", { withTimezone: true, mode: "date" }),
    /** Number of rotations so far. */
    generation: integer("generation").notNull().default(0),
    /** users.token_version when the session began: a bump (logout-all, reset, deactivation) ends the session. */
    tokenVersion: integer("token_version").notNull(),
    userAgent: text("user_agent"),
    ip: text("ip"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
    revokedReason: text("revoked_reason"),
    /** How the session was proven (RFC 8176 values: pwd, otp, mfa, hwk, ...): claim `amr`. */
    amr: jsonb("amr").$type<string[]>().notNull().default(["pwd"]),
    /** When the user last proved who they are in this session (sign-in or step-up): claim `auth_time`. */
    authTime: timestamp("auth_time", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("sessions_user_id_idx").on(t.userId), index("sessions_expires_at_idx").on(t.expiresAt)],
);

export const passwordResetTokens = pgTable(
  "password_reset_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** SHA-256 (base64url) of the token; the token itself is only ever in the email. */
    tokenHash: text("token_hash").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true, mode: "date" }),
    requestedIp: text("requested_ip"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("password_reset_tokens_token_hash_key").on(t.tokenHash), index("password_reset_tokens_user_id_idx").on(t.userId)],
);

export const authAuditLogs = pgTable(
  "auth_audit_logs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    eventType: text("event_type").notNull(),
    /** Who acted (a user id), when known. No foreign key: the log outlives deleted users. */
    actorUserId: uuid("actor_user_id"),
    /** Free-form actor label for non-user actors (internal API key, Cloudflare Access email, system). */
    actorLabel: text("actor_label"),
    targetUserId: uuid("target_user_id"),
    ip: text("ip"),
    userAgent: text("user_agent"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("auth_audit_logs_created_at_idx").on(t.createdAt, t.id),
    index("auth_audit_logs_target_idx").on(t.targetUserId, t.createdAt),
    index("auth_audit_logs_actor_idx").on(t.actorUserId, t.createdAt),
    index("auth_audit_logs_event_type_idx").on(t.eventType, t.createdAt),
  ],
);

/** User <-> company (tenant) role links. Company ids are Finance's UUIDs: no cross-database keys. */
export const companyMemberships = pgTable(
  "company_memberships",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    companyId: uuid("company_id").notNull(),
    role: membershipRole("role").notNull().default("MEMBER"),
    isActive: boolean("is_active").notNull().default(true),
    ...timestamps,
  },
  (t) => [uniqueIndex("company_memberships_user_company_key").on(t.userId, t.companyId), index("company_memberships_company_idx").on(t.companyId)],
);

/** User <-> business unit role links, within a company. */
export const businessUnitMemberships = pgTable(
  "business_unit_memberships",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    companyId: uuid("company_id").notNull(),
    businessUnitId: uuid("business_unit_id").notNull(),
    role: membershipRole("role").notNull().default("MEMBER"),
    isActive: boolean("is_active").notNull().default(true),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("business_unit_memberships_user_bu_key").on(t.userId, t.businessUnitId),
    index("business_unit_memberships_company_bu_idx").on(t.companyId, t.businessUnitId),
  ],
);

export type User = typeof users.$inferSelect;
export type Session = typeof sessions.$inferSelect;
export type CompanyMembership = typeof companyMemberships.$inferSelect;
export type Application = typeof applications.$inferSelect;
export type BusinessUnitMembership = typeof businessUnitMemberships.$inferSelect;

// ---- organizations (issue 12) ------------------------------------------------------------------
// One membership model for B2B organizations and seed 000's companies and business units. A
// company is the organization whose id is the Finance company id, a business unit a child
// organization (one level); both are created by a trigger on the first company or business-unit
// membership (migration 0005), and their Finance memberships are read through the
// `organization_memberships` view together with `organization_members` (README, Architecture).

/** B2B organizations; `parentId` is one level deep (a business unit's company). */
export const organizations = pgTable(
  "organizations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    slug: text("slug").notNull(),
    externalId: text("external_id"),
    parentId: uuid("parent_id").references((): AnyPgColumn => organizations.id, { onDelete: "restrict" }),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    ...timestamps,
  },
  (t) => [uniqueIndex("organizations_slug_key").on(t.slug), uniqueIndex("organizations_external_id_key").on(t.externalId), index("organizations_parent_idx").on(t.parentId)],
);

/** Members added through this service (invitations, creators, staff); roles are role keys. */
export const organizationMembers = pgTable(
  "organization_members",
  {
    organizationId: uuid("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    roles: jsonb("roles").$type<string[]>().notNull(),
    /** active | suspended */
    status: text("status").notNull().default("active"),
    ...timestamps,
  },
  (t) => [primaryKey({ columns: [t.organizationId, t.userId] }), index("organization_members_user_idx").on(t.userId)],
);

/** Custom roles of an organization: `resource:action` permissions under a lowercase key. */
export const organizationRoles = pgTable(
  "organization_roles",
  {
    organizationId: uuid("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    name: text("name").notNull(),
    description: text("description"),
    permissions: jsonb("permissions").$type<string[]>().notNull(),
    ...timestamps,
  },
  (t) => [primaryKey({ columns: [t.organizationId, t.key] })],
);

/** Invitations by email; only a hash of the token is stored; single use, 7 days. */
export const organizationInvitations = pgTable(
  "organization_invitations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    organizationId: uuid("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    email: text("email").notNull(),
    roles: jsonb("roles").$type<string[]>().notNull(),
    /** SHA-256 (base64url) of the token. */
    tokenHash: text("token_hash").notNull(),
    invitedBy: uuid("invited_by"),
    /** pending | accepted | declined | revoked | expired */
    status: text("status").notNull().default("pending"),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    endedAt: timestamp("ended_at", { withTimezone: true, mode: "date" }),
    acceptedBy: uuid("accepted_by"),
  },
  (t) => [
    uniqueIndex("organization_invitations_token_hash_key").on(t.tokenHash),
    uniqueIndex("organization_invitations_pending_email_key")
      .on(t.organizationId, sql`lower(${t.email})`)
      .where(sql`${t.status} = 'pending'`),
  ],
);

/** The organization a session's tokens are scoped to (POST /auth/organizations/{id}/token). */
export const sessionOrganizations = pgTable("session_organizations", {
  sessionId: uuid("session_id")
    .primaryKey()
    .references(() => sessions.id, { onDelete: "cascade" }),
  organizationId: uuid("organization_id")
    .notNull()
    .references(() => organizations.id, { onDelete: "cascade" }),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/** Org-scoped access tokens issued, so a removal can revoke them (revoked_access_tokens) at once. */
export const organizationTokens = pgTable(
  "organization_tokens",
  {
    jti: text("jti").primaryKey(),
    organizationId: uuid("organization_id").notNull(),
    userId: uuid("user_id").notNull(),
    sessionId: uuid("session_id").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [index("organization_tokens_member_idx").on(t.organizationId, t.userId), index("organization_tokens_expires_at_idx").on(t.expiresAt)],
);

export type Organization = typeof organizations.$inferSelect;

// --- Second factors, passwordless sign-in, social identities and passkeys -----------------------

/** Email verification links (24 h: Postgres). Only a hash; bound to the address it was sent to. */
export const emailVerificationTokens = pgTable(
  "email_verification_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    email: text("email").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("email_verification_tokens_user_idx").on(t.userId)],
);

/**
 * A user's TOTP factor. The secret is AES-GCM encrypted under MFA_ENCRYPTION_KEY (`key_id` names
 * the key, so it can rotate). `enabled_at` null: set up but not yet confirmed. `last_used_step`:
 * the highest time step accepted, so a code works once.
 */
export const mfaTotp = pgTable("mfa_totp", {
  userId: uuid("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  secretCiphertext: text("secret_ciphertext").notNull(),
  keyId: text("key_id").notNull(),
  enabledAt: timestamp("enabled_at", { withTimezone: true, mode: "date" }),
  lastUsedStep: integer("last_used_step"),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/** Recovery codes: hashes only, each usable once. */
export const mfaRecoveryCodes = pgTable(
  "mfa_recovery_codes",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    usedAt: timestamp("used_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("mfa_recovery_codes_user_code_key").on(t.userId, t.codeHash)],
);

/** Devices that skip the second factor until `expires_at` (MFA_REMEMBER_DAYS). Token hash only. */
export const rememberedDevices = pgTable(
  "remembered_devices",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull(),
    userAgent: text("user_agent"),
    ip: text("ip"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [uniqueIndex("remembered_devices_token_hash_key").on(t.tokenHash), index("remembered_devices_user_idx").on(t.userId)],
);

/** Social sign-in identities, keyed by provider and subject (issuer + sub). */
export const userIdentities = pgTable(
  "user_identities",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    provider: text("provider").notNull(),
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    email: text("email"),
    emailVerified: boolean("email_verified").notNull().default(false),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [uniqueIndex("user_identities_provider_subject_key").on(t.provider, t.issuer, t.subject), index("user_identities_user_idx").on(t.userId)],
);

/** WebAuthn credentials (passkeys). Ids and keys base64url; the signature counter is checked. */
export const passkeys = pgTable(
  "passkeys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    credentialId: text("credential_id").notNull(),
    publicKey: text("public_key").notNull(),
    /** The authenticator's signature counter (32-bit unsigned in WebAuthn: bigint here). */
    counter: bigint("counter", { mode: "number" }).notNull().default(0),
    transports: jsonb("transports").$type<string[]>().notNull().default([]),
    rpId: text("rp_id").notNull(),
    aaguid: text("aaguid"),
    attestationFormat: text("attestation_format"),
    backupEligible: boolean("backup_eligible").notNull().default(false),
    backedUp: boolean("backed_up").notNull().default(false),
    name: text("name"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [uniqueIndex("passkeys_credential_id_key").on(t.credentialId), index("passkeys_user_idx").on(t.userId)],
);
