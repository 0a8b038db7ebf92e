// One template per EmailKind: subject, plain text and a short, accessible HTML part (inline
// styles only, no external CSS or scripts). Every interpolated value is HTML-escaped in the html
// part; links are built from FRONTEND_URL only.
import type { Config } from "../../config";
import type { EmailKind } from "./sender";

export interface EmailContent {
  subject: string;
  text: string;
  html: string;
}

/** The parts of config.email the templates read. */
export type EmailBranding = Pick<Config["email"], "appName" | "frontendUrl" | "logoUrl">;

type Name = { name?: string | null };

/** What each kind needs besides the branding. */
export interface EmailParams {
  registration_pending: Name;
  registration_exists: Name;
  password_reset: Name & { token: string; validMinutes: number };
  password_changed: Name & { changedAt?: Date };
  account_approved: Name;
  account_rejected: Name;
  /** An account created by platform staff; with a token, the message carries a set-password link. */
  admin_welcome: Name & { email?: string; token?: string; validMinutes?: number };
  account_deactivated: Name;
  /** An invitation to an organization (issue 12): the token goes in the accept link only. */
  organization_invitation: Name & { organizationName: string; inviterEmail?: string | null; token: string; validDays: number };
  /** Email verification (issue 10): the token goes in the verify link only. */
  email_verification: Name & { token: string; validMinutes: number };
  /** A magic sign-in link: `url` is the whole link (this service's verify page), built by the caller. */
  magic_link: Name & { url: string; validMinutes: number; applicationName?: string | null };
  /** A one-time sign-in code (6 digits). */
  email_otp: Name & { code: string; validMinutes: number; applicationName?: string | null };
  /** Two-factor authentication turned on, turned off (by the user or by staff), new recovery codes. */
  mfa_enabled: Name;
  mfa_disabled: Name;
  mfa_recovery_codes: Name;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** One line, no control characters, bounded: safe for a subject or a greeting. */
function oneLine(value: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = value.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ").replace(/\s+/g, " ").trim();
  return cleaned.length > max ? cleaned.slice(0, max - 1).trimEnd() + "…" : cleaned;
}

function base(branding: EmailBranding): string {
  return branding.frontendUrl.replace(/\/+$/, "");
}

export function resetPasswordUrl(branding: EmailBranding, token: string): string {
  return `${base(branding)}/reset-password?token=${encodeURIComponent(token)}`;
}

export function forgotPasswordUrl(branding: EmailBranding): string {
  return `${base(branding)}/forgot-password`;
}

export function loginUrl(branding: EmailBranding): string {
  return `${base(branding)}/login`;
}

export function logoUrl(branding: EmailBranding): string {
  return branding.logoUrl ?? `${base(branding)}/logo_white.png`;
}

/** "45 minutes", "1 hour", "1 hour 30 minutes". */
export function formatValidity(minutes: number): string {
  const total = Math.max(1, Math.round(minutes));
  const hours = Math.floor(total / 60);
  const rest = total % 60;
  const part = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (hours === 0) return part(rest, "minute");
  return rest === 0 ? part(hours, "hour") : `${part(hours, "hour")} ${part(rest, "minute")}`;
}

/** A piece of a message: a paragraph, a call-to-action link, or a small-print paragraph. */
type Block = { p: string } | { link: { label: string; url: string } } | { note: string };

interface Draft {
  subject: string;
  name?: string | null;
  blocks: Block[];
}

function greeting(name?: string | null): string {
  const n = name ? oneLine(name, 100) : "";
  return n ? `Hello ${n},` : "Hello,";
}

function render(branding: EmailBranding, draft: Draft): EmailContent {
  const app = oneLine(branding.appName, 100);
  const subject = oneLine(draft.subject, 200);
  const hello = greeting(draft.name);

  const textParts: string[] = [hello];
  for (const b of draft.blocks) {
    if ("p" in b) textParts.push(b.p);
    else if ("note" in b) textParts.push(b.note);
    else textParts.push(`${b.link.label}:\n${b.link.url}`);
  }
  textParts.push(`— ${app}`);
  const text = textParts.join("\n\n") + "\n";

  const e = escapeHtml;
  const body: string[] = [];
  for (const b of draft.blocks) {
    if ("p" in b) body.push(`<p style="margin:0 0 16px">${e(b.p)}</p>`);
    else if ("note" in b) body.push(`<p style="margin:0 0 16px;font-size:14px;color:#4b5563">${e(b.note)}</p>`);
    else
      body.push(
        `<p style="margin:24px 0"><a href="${e(b.link.url)}" style="display:inline-block;padding:12px 20px;background:#1f2937;color:#ffffff;text-decoration:none;border-radius:6px;font-weight:bold">${e(b.link.label)}</a></p>`,
        `<p style="margin:0 0 16px;font-size:14px;color:#4b5563">If the button does not work, copy this address into your browser:<br><a href="${e(b.link.url)}" style="color:#1d4ed8;word-break:break-all">${e(b.link.url)}</a></p>`,
      );
  }
  const html = [
    `<!doctype html>`,
    `<html lang="en">`,
    `<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${e(subject)}</title></head>`,
    `<body style="margin:0;padding:0;background:#f3f4f6;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;color:#111827">`,
    `<div role="article" aria-label="${e(subject)}" lang="en" style="max-width:560px;margin:0 auto;padding:24px">`,
    `<div style="background:#1f2937;padding:16px 24px;border-radius:8px 8px 0 0"><img src="${e(logoUrl(branding))}" alt="${e(app)}" height="32" style="display:block;height:32px;border:0"></div>`,
    `<div style="background:#ffffff;padding:24px;border-radius:0 0 8px 8px">`,
    `<p style="margin:0 0 16px">${e(hello)}</p>`,
    ...body,
    `<p style="margin:24px 0 0">— ${e(app)}</p>`,
    `</div>`,
    `</div>`,
    `</body>`,
    `</html>`,
  ].join("\n");
  return { subject, text, html };
}

export function registrationPendingEmail(branding: EmailBranding, params: EmailParams["registration_pending"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  return render(branding, {
    subject: `${app}: your registration is awaiting approval`,
    name: params.name,
    blocks: [
      { p: `Thank you for registering with ${app}. Your account has been created and is waiting for approval by our team.` },
      { p: "We will email you as soon as it has been reviewed. Until then you will not be able to sign in." },
      { note: "If you did not register, you can ignore this message." },
    ],
  });
}

export function registrationExistsEmail(branding: EmailBranding, params: EmailParams["registration_exists"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  return render(branding, {
    subject: `${app}: someone tried to register with your email address`,
    name: params.name,
    blocks: [
      { p: `Someone just tried to create a new ${app} account with this email address, which already has an account. No new account was created.` },
      { p: "If it was you and you have forgotten your password, you can reset it here:" },
      { link: { label: "Reset your password", url: forgotPasswordUrl(branding) } },
      { note: "If it was not you, you can ignore this message; your account has not been changed." },
    ],
  });
}

export function passwordResetEmail(branding: EmailBranding, params: EmailParams["password_reset"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  const validity = formatValidity(params.validMinutes);
  return render(branding, {
    subject: `${app}: reset your password`,
    name: params.name,
    blocks: [
      { p: `We received a request to reset the password of your ${app} account. Use the link below to choose a new password.` },
      { link: { label: "Choose a new password", url: resetPasswordUrl(branding, params.token) } },
      { p: `The link is valid for ${validity} and can be used once.` },
      { note: "If you did not ask for a password reset, you can ignore this message; your password stays the same." },
    ],
  });
}

export function passwordChangedEmail(branding: EmailBranding, params: EmailParams["password_changed"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  const when = params.changedAt ? ` on ${params.changedAt.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, " UTC")}` : "";
  return render(branding, {
    subject: `${app}: your password was changed`,
    name: params.name,
    blocks: [
      { p: `The password of your ${app} account was changed${when}.` },
      { p: "If you did not make this change, reset your password right away and contact your administrator:" },
      { link: { label: "Reset your password", url: forgotPasswordUrl(branding) } },
    ],
  });
}

export function accountApprovedEmail(branding: EmailBranding, params: EmailParams["account_approved"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  return render(branding, {
    subject: `${app}: your account has been approved`,
    name: params.name,
    blocks: [
      { p: `Good news: your ${app} account has been approved. You can now sign in.` },
      { link: { label: "Sign in", url: loginUrl(branding) } },
    ],
  });
}

export function accountRejectedEmail(branding: EmailBranding, params: EmailParams["account_rejected"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  return render(branding, {
    subject: `${app}: your registration was not approved`,
    name: params.name,
    blocks: [
      { p: `We are sorry: your registration for ${app} was reviewed and has not been approved, so you will not be able to sign in.` },
      { note: "If you think this is a mistake, please contact the person or team who invited you." },
    ],
  });
}

export function adminWelcomeEmail(branding: EmailBranding, params: EmailParams["admin_welcome"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  const account = params.email ? ` for ${oneLine(params.email, 254)}` : "";
  const blocks: Block[] = [{ p: `An administrator has created a ${app} account${account}. Welcome!` }];
  if (params.token) {
    blocks.push(
      { p: "To get started, choose your password:" },
      { link: { label: "Choose your password", url: resetPasswordUrl(branding, params.token) } },
    );
    if (params.validMinutes !== undefined) blocks.push({ p: `The link is valid for ${formatValidity(params.validMinutes)} and can be used once.` });
    blocks.push({ note: `Once your password is set, you can sign in at ${loginUrl(branding)}.` });
  } else {
    blocks.push(
      { p: "You can sign in with the password you were given:" },
      { link: { label: "Sign in", url: loginUrl(branding) } },
      { note: `If you have not been given a password, set one at ${forgotPasswordUrl(branding)}.` },
    );
  }
  return render(branding, { subject: `Welcome to ${app}`, name: params.name, blocks });
}

export function accountDeactivatedEmail(branding: EmailBranding, params: EmailParams["account_deactivated"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  return render(branding, {
    subject: `${app}: your account has been deactivated`,
    name: params.name,
    blocks: [
      { p: `Your ${app} account has been deactivated by an administrator. You have been signed out and can no longer sign in.` },
      { note: "If you think this is a mistake, please contact your administrator." },
    ],
  });
}

export function organizationInvitationUrl(branding: EmailBranding, token: string): string {
  return `${base(branding)}/invitations/accept?token=${encodeURIComponent(token)}`;
}

export function organizationInvitationEmail(branding: EmailBranding, params: EmailParams["organization_invitation"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  const org = oneLine(params.organizationName, 100);
  const by = params.inviterEmail ? ` by ${oneLine(params.inviterEmail, 200)}` : "";
  return render(branding, {
    subject: `${app}: you are invited to join ${org}`,
    name: params.name,
    blocks: [
      { p: `You have been invited${by} to join the organization ${org} on ${app}.` },
      { link: { label: "Accept the invitation", url: organizationInvitationUrl(branding, params.token) } },
      { p: `The invitation is valid for ${params.validDays} days and can be used once. Sign in (or create an account) with this email address to accept it.` },
      { note: "If you did not expect this invitation, you can ignore this message." },
    ],
  });
}

export function verifyEmailUrl(branding: EmailBranding, token: string): string {
  return `${base(branding)}/verify-email?token=${encodeURIComponent(token)}`;
}

export function emailVerificationEmail(branding: EmailBranding, params: EmailParams["email_verification"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  return render(branding, {
    subject: `${app}: confirm your email address`,
    name: params.name,
    blocks: [
      { p: `Please confirm that this is the email address of your ${app} account.` },
      { link: { label: "Confirm your email address", url: verifyEmailUrl(branding, params.token) } },
      { p: `The link is valid for ${formatValidity(params.validMinutes)} and can be used once.` },
      { note: "If you did not create an account or ask for this message, you can ignore it." },
    ],
  });
}

export function magicLinkEmail(branding: EmailBranding, params: EmailParams["magic_link"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  const to = params.applicationName ? oneLine(params.applicationName, 100) : app;
  return render(branding, {
    subject: `${app}: your sign-in link`,
    name: params.name,
    blocks: [
      { p: `Use the link below to sign in to ${to}. You will be asked to confirm on the page it opens.` },
      { link: { label: "Sign in", url: params.url } },
      { p: `The link is valid for ${formatValidity(params.validMinutes)} and can be used once.` },
      { note: "If you did not ask to sign in, you can ignore this message; nobody can sign in without this link." },
    ],
  });
}

export function emailOtpEmail(branding: EmailBranding, params: EmailParams["email_otp"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  const to = params.applicationName ? oneLine(params.applicationName, 100) : app;
  const code = params.code.replace(/[^0-9]/g, "");
  return render(branding, {
    subject: `${app}: your sign-in code is ${code}`,
    name: params.name,
    blocks: [
      { p: `Your code to sign in to ${to} is:` },
      { p: code },
      { p: `It is valid for ${formatValidity(params.validMinutes)} and can be used once. Never share it: we will never ask you for it.` },
      { note: "If you did not ask to sign in, you can ignore this message." },
    ],
  });
}

export function mfaEnabledEmail(branding: EmailBranding, params: EmailParams["mfa_enabled"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  return render(branding, {
    subject: `${app}: two-factor authentication is on`,
    name: params.name,
    blocks: [
      { p: `Two-factor authentication was turned on for your ${app} account. Signing in now also asks for a code from your authenticator app.` },
      { p: "Keep your recovery codes somewhere safe: each one signs you in once if you lose your authenticator." },
      { note: "If you did not do this, reset your password right away and contact your administrator." },
    ],
  });
}

export function mfaDisabledEmail(branding: EmailBranding, params: EmailParams["mfa_disabled"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  return render(branding, {
    subject: `${app}: two-factor authentication is off`,
    name: params.name,
    blocks: [
      { p: `Two-factor authentication was turned off for your ${app} account, and the devices it remembered were forgotten.` },
      { note: "If you did not do this, reset your password right away and contact your administrator." },
    ],
  });
}

export function mfaRecoveryCodesEmail(branding: EmailBranding, params: EmailParams["mfa_recovery_codes"]): EmailContent {
  const app = oneLine(branding.appName, 100);
  return render(branding, {
    subject: `${app}: new recovery codes`,
    name: params.name,
    blocks: [
      { p: `A new set of recovery codes was created for your ${app} account. The earlier codes no longer work.` },
      { note: "If you did not do this, reset your password right away and contact your administrator." },
    ],
  });
}

export const templates: { [K in EmailKind]: (branding: EmailBranding, params: EmailParams[K]) => EmailContent } = {
  registration_pending: registrationPendingEmail,
  registration_exists: registrationExistsEmail,
  password_reset: passwordResetEmail,
  password_changed: passwordChangedEmail,
  account_approved: accountApprovedEmail,
  account_rejected: accountRejectedEmail,
  admin_welcome: adminWelcomeEmail,
  account_deactivated: accountDeactivatedEmail,
  organization_invitation: organizationInvitationEmail,
  email_verification: emailVerificationEmail,
  magic_link: magicLinkEmail,
  email_otp: emailOtpEmail,
  mfa_enabled: mfaEnabledEmail,
  mfa_disabled: mfaDisabledEmail,
  mfa_recovery_codes: mfaRecoveryCodesEmail,
};
