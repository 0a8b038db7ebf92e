// Pieces every auth use case shares: request metadata for audit, the user view, email
// normalisation, and issuing a token pair for a session.
import { signAccessToken } from "../../crypto/access-token";
import { sha256 } from "../../crypto/random";
import { formatRefreshToken } from "../../crypto/refresh-token";
import type { ApprovalStatus, GlobalRole } from "../../db/schema";
import type { UserProfile } from "../../stores/users";
import type { Deps } from "../../deps";
import { AppError } from "../../http/errors";

/** Who is asking, for the audit log (never used for decisions beyond rate limits). */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
}

/** Emails are compared case-insensitively and in Unicode NFC, so one address is one account. */
export function normalizeEmail(email: string): string {
  return email.trim().normalize("NFC");
}

/** Identifier for per-account limits: a digest of the normalised address, never the address itself. */
export function emailKey(email: string): Promise<string> {
  return sha256(`account:${normalizeEmail(email).toLowerCase()}`);
}

/** The user as sign-in answers show it (no secrets, no token version). */
export type UserView = Pick<
  UserProfile,
  "id" | "email" | "fullName" | "phoneNumber" | "profilePictureUrl" | "authProvider" | "globalRole" | "approvalStatus" | "isActive" | "emailVerified"
>;

export function toUserView(u: UserView): UserView {
  return {
    id: u.id,
    email: u.email,
    fullName: u.fullName,
    phoneNumber: u.phoneNumber,
    profilePictureUrl: u.profilePictureUrl,
    authProvider: u.authProvider,
    globalRole: u.globalRole,
    approvalStatus: u.approvalStatus,
    isActive: u.isActive,
    emailVerified: u.emailVerified,
  };
}

export interface IssuedTokens {
  accessToken: string;
  tokenType: "Bearer";
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
}

/** The application a session belongs to, as token issue needs it. */
export interface TokenApplication {
  id: string;
  audience: string;
}

/** How and when the session's user proved who they are: claims `amr` and `auth_time`. */
export interface SessionProof {
  amr: string[];
  authTime: Date;
}

export async function issueTokens(
  deps: Deps,
  subject: { userId: string; email: string; globalRole: GlobalRole; tokenVersion: number; emailVerified: boolean },
  session: { sessionId: string; refreshSecret: string; expiresAt: Date; proof: SessionProof },
  application: TokenApplication,
  /** The access token's id and further claims (an organization-scoped session's `org_*`). */
  access: { jti?: string; claims?: Record<string, unknown> } = {},
): Promise<IssuedTokens> {
  const now = deps.clock.now();
  const keys = await deps.keys();
  const { token, expiresIn } = await signAccessToken(
    keys,
    { issuer: deps.config.jwt.issuer, audience: application.audience, ttlMs: deps.config.jwt.accessTokenTtlMs },
    { ...subject, sessionId: session.sessionId, clientId: application.id },
    now,
    {
      ...access,
      claims: {
        ...access.claims,
        email_verified: subject.emailVerified,
        amr: session.proof.amr,
        auth_time: Math.floor(session.proof.authTime.getTime() / 1000),
      },
    },
  );
  return {
    accessToken: token,
    tokenType: "Bearer",
    expiresIn,
    refreshToken: formatRefreshToken({ sessionId: session.sessionId, secret: session.refreshSecret }),
    refreshExpiresIn: Math.max(0, Math.floor((session.expiresAt.getTime() - now.getTime()) / 1000)),
  };
}

/** The account states that block sign-in and token issue, checked only after a correct password. */
export function accountBlock(u: { approvalStatus: ApprovalStatus; isActive: boolean }): AppError | null {
  if (u.approvalStatus === "PENDING") return new AppError(403, "pending_approval", "This account is waiting for approval by platform staff");
  if (u.approvalStatus === "REJECTED") return new AppError(403, "registration_rejected", "This registration was rejected");
  if (!u.isActive) return new AppError(403, "account_inactive", "This account is inactive");
  return null;
}
