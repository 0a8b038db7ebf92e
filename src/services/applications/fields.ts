// The rules for an application's fields, as zod schemas: the staff API validates with them (400
// naming the field) and the OpenAPI document is generated from them. `settings` is one strict
// schema (unknown keys: 400) that later capabilities extend with their own sections.
import { z } from "@hono/zod-openapi";
import { APPLICATION_STATUSES, APPLICATION_TYPES } from "../../db/schema";

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function parseUrl(value: string): URL | null {
  try {
    return new URL(value);
  } catch {
    return null;
  }
}

/** https, or http on a loopback host (local development). */
function secureScheme(u: URL): boolean {
  return u.protocol === "https:" || (u.protocol === "http:" && isLoopbackHost(u.hostname));
}

/** An origin exactly as browsers send it: scheme, host and port only (no path, query, fragment or credentials). */
export function isOrigin(value: string): boolean {
  const u = parseUrl(value);
  return u !== null && secureScheme(u) && u.origin === value;
}

/**
 * A redirect URI that is compared exactly (DESIGN.md section 10): absolute, https (http only for
 * loopback), no fragment, no credentials, no wildcard.
 */
export function redirectUriProblem(value: string): string | null {
  const u = parseUrl(value);
  if (!u) return "must be an absolute URL";
  if (!secureScheme(u)) return "must use https (http only for localhost, 127.0.0.1 or [::1])";
  if (value.includes("#")) return "must not contain a fragment";
  if (value.includes("*")) return "must not contain a wildcard";
  if (u.username || u.password) return "must not contain credentials";
  return null;
}

const Origin = z
  .string()
  .max(2048)
  .refine(isOrigin, { error: "must be an origin: https://host[:port] (http only for loopback), nothing after the port" })
  .openapi({ example: "https://app.example.com" });

const RedirectUri = z
  .string()
  .max(2048)
  .superRefine((v, ctx) => {
    const problem = redirectUriProblem(v);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .openapi({ example: "https://app.example.com/callback" });

/** A list without duplicates, at most `max` entries. */
function uniqueList<T extends z.ZodType<string>>(item: T, max: number) {
  return z
    .array(item)
    .max(max)
    .refine((list) => new Set(list).size === list.length, { error: "must not repeat an entry" });
}

const Audience = z.string().min(1).max(512);

/** Social sign-in providers (issue 11). */
export const SOCIAL_PROVIDERS = ["google", "github", "microsoft", "apple"] as const;
export type SocialProvider = (typeof SOCIAL_PROVIDERS)[number];

/** How the pages name each provider (a brand name: the same in every language). */
export const PROVIDER_NAMES: Record<SocialProvider, string> = { google: "Google", github: "GitHub", microsoft: "Microsoft", apple: "Apple" };

export const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** An 8 KiB image as base64, with its data: prefix (a settings body fits MAX_BODY_BYTES). */
const LOGO_DATA_URL_MAX = 64 + Math.ceil((8 * 1024) / 3) * 4;

/** `settings`: one strict schema; later capabilities add their sections here. */
export const ApplicationSettingsSchema = z
  .object({
    branding: z
      .object({
        displayName: z.string().min(1).max(100).optional(),
        logoUrl: z.url({ protocol: /^https$/, error: "must be an https URL" }).max(2048).optional(),
        /**
         * The logo the hosted pages show, carried in the settings themselves (a page fetches nothing
         * from another site): a base64 data: URL of a PNG, JPEG, WebP or SVG image, at most 8 KiB.
         */
        logoDataUrl: z
          .string()
          .max(LOGO_DATA_URL_MAX)
          .regex(/^data:image\/(png|jpeg|webp|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}$/, { error: "must be a base64 data: URL of a PNG, JPEG, WebP or SVG image of at most 8 KiB" })
          .optional(),
        primaryColor: z
          .string()
          .regex(/^#[0-9a-fA-F]{6}$/, { error: "must be a colour like #1a2b3c" })
          .optional(),
      })
      .strict()
      .optional(),
    /** Permissions this application declares for organizations' custom roles (issue 12). */
    permissions: uniqueList(
      z.string().regex(/^[a-z][a-z0-9_-]{0,39}:[a-z][a-z0-9_-]{0,39}$/, { error: "must be resource:action (lowercase letters, digits, _ or -)" }),
      200,
    )
      .optional()
      .openapi({ description: "resource:action permissions (e.g. invoices:read) organizations may put in custom roles", example: ["invoices:read"] }),
    /** Which sign-in methods this application offers, and who may sign up through them. */
    signIn: z
      .object({
        password: z.boolean().optional().openapi({ description: "Password sign-in (default true)" }),
        magicLink: z.boolean().optional().openapi({ description: "Magic links (default true)" }),
        emailOtp: z.boolean().optional().openapi({ description: "Email one-time codes (default true)" }),
        passkey: z.boolean().optional().openapi({ description: "Passkeys (default true)" }),
        social: uniqueList(z.enum(SOCIAL_PROVIDERS), 4)
          .optional()
          .openapi({ description: "Social providers offered (default: every configured one)" }),
        requireVerifiedEmail: z.boolean().optional().openapi({ description: "Refuse sign-in (403 email_not_verified) until the email is verified (default false)" }),
        signUp: z
          .object({
            magicLink: z.boolean().optional().openapi({ description: "An unknown email creates an account through a magic link or email code (default false)" }),
            social: z.boolean().optional().openapi({ description: "A first social sign-in creates an account (default true)" }),
            approval: z
              .enum(["staff", "automatic"])
              .optional()
              .openapi({ description: "New accounts wait for staff approval (PENDING; the platform's rule) or are APPROVED at once (default staff)" }),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    /** Second factors: off, optional (a user's own choice, the default) or required for everyone. */
    mfa: z
      .object({
        policy: z.enum(["off", "optional", "required"]).optional(),
        rememberDevice: z.boolean().optional().openapi({ description: "Offer rememberDevice after MFA (default true)" }),
      })
      .strict()
      .optional(),
    /** WebAuthn overrides (defaults: WEBAUTHN_RP_ID, WEBAUTHN_RP_NAME, WEBAUTHN_ORIGINS; attestation none). */
    webauthn: z
      .object({
        rpId: z.string().min(1).max(253).optional(),
        rpName: z.string().min(1).max(100).optional(),
        origins: uniqueList(Origin, 20).optional(),
        attestation: z.enum(["none", "direct"]).optional(),
        attestationFormats: uniqueList(z.enum(["packed", "tpm", "android-key", "android-safetynet", "fido-u2f", "apple", "none"]), 7).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .openapi("ApplicationSettings", { description: "Validated settings; unknown keys are refused (400)" });

export type ApplicationSettings = z.infer<typeof ApplicationSettingsSchema>;

/** The writable fields; create requires name, slug and type, update takes any subset. */
export const ApplicationFieldsSchema = z.object({
  name: z.string().trim().min(1).max(200),
  slug: z.string().regex(SLUG, { error: "must be 1-64 lowercase letters, digits or inner hyphens" }),
  type: z.enum(APPLICATION_TYPES),
  status: z.enum(APPLICATION_STATUSES),
  allowedOrigins: uniqueList(Origin, 50),
  redirectUris: uniqueList(RedirectUri, 50),
  postLogoutRedirectUris: uniqueList(RedirectUri, 50),
  audience: Audience.nullable().openapi({ description: "The aud of tokens issued under this application; null: JWT_AUDIENCE" }),
  allowedAudiences: uniqueList(Audience, 20).openapi({ description: "Further audiences a service account of this application may request" }),
  settings: ApplicationSettingsSchema,
});

export const CreateApplicationSchema = ApplicationFieldsSchema.partial()
  .required({ name: true, slug: true, type: true })
  .strict();
export const UpdateApplicationSchema = ApplicationFieldsSchema.partial().strict();

export type CreateApplicationInput = z.infer<typeof CreateApplicationSchema>;
export type UpdateApplicationInput = z.infer<typeof UpdateApplicationSchema>;
