// The one shape every email goes out in, and the one interface every way of sending it implements
// (AWS SES in production, a Redis outbox in development, or nothing at all).

export type EmailKind =
  | "registration_pending"
  | "registration_exists"
  | "password_reset"
  | "password_changed"
  | "account_approved"
  | "account_rejected"
  | "admin_welcome"
  | "account_deactivated"
  | "organization_invitation"
  | "email_verification"
  | "magic_link"
  | "email_otp"
  | "mfa_enabled"
  | "mfa_disabled"
  | "mfa_recovery_codes";

export const EMAIL_KINDS: readonly EmailKind[] = [
  "registration_pending",
  "registration_exists",
  "password_reset",
  "password_changed",
  "account_approved",
  "account_rejected",
  "admin_welcome",
  "account_deactivated",
  "organization_invitation",
  "email_verification",
  "magic_link",
  "email_otp",
  "mfa_enabled",
  "mfa_disabled",
  "mfa_recovery_codes",
];

export interface EmailMessage {
  kind: EmailKind;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface EmailSender {
  readonly name: "ses" | "outbox" | "disabled";
  /** Sends one message; rejects when it could not be handed over. Callers use sendEmail(), which never throws. */
  send(msg: EmailMessage): Promise<void>;
}

/** The sender used when email is switched off (or unconfigured in production): accepts and drops. */
export const disabledSender: EmailSender = {
  name: "disabled",
  send: async () => {},
};
