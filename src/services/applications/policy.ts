// What an application's settings mean once the defaults are filled in: the one place that reads
// `settings.signIn`, `settings.mfa` and `settings.webauthn` for the sign-in flows and the pages.
import type { Config } from "../../config";
import type { CallingApplication } from "./resolve";
import { SOCIAL_PROVIDERS, type SocialProvider } from "./fields";

export interface SignInPolicy {
  password: boolean;
  magicLink: boolean;
  emailOtp: boolean;
  passkey: boolean;
  /** Providers offered, before the configuration check (a provider without credentials is off). */
  social: SocialProvider[];
  requireVerifiedEmail: boolean;
  signUp: { magicLink: boolean; social: boolean; approval: "staff" | "automatic" };
  mfa: { policy: "off" | "optional" | "required"; rememberDevice: boolean };
}

export function signInPolicy(app: Pick<CallingApplication, "settings">): SignInPolicy {
  const s = app.settings.signIn ?? {};
  const m = app.settings.mfa ?? {};
  return {
    password: s.password ?? true,
    magicLink: s.magicLink ?? true,
    emailOtp: s.emailOtp ?? true,
    passkey: s.passkey ?? true,
    social: s.social ?? [...SOCIAL_PROVIDERS],
    requireVerifiedEmail: s.requireVerifiedEmail ?? false,
    signUp: { magicLink: s.signUp?.magicLink ?? false, social: s.signUp?.social ?? true, approval: s.signUp?.approval ?? "staff" },
    mfa: { policy: m.policy ?? "optional", rememberDevice: m.rememberDevice ?? true },
  };
}

/** The name users see for the application (TOTP issuer, page titles, emails). */
export function brandName(app: Pick<CallingApplication, "settings" | "name" | "builtin">, config: Pick<Config, "jwt">): string {
  return app.settings.branding?.displayName ?? (app.builtin ? config.jwt.issuer.replace(/^https?:\/\//, "") : app.name);
}
