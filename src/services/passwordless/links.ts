// Where passwordless links point: this service's own origin (PUBLIC_URL, else the request's), so
// the page that receives the link is served by the same code that consumes it. One function, so
// the hosted pages (issue 13) can later move the target in one place.
import type { Config } from "../../config";

export const MAGIC_LINK_VERIFY_PATH = "/auth/magic-link/verify";

/** The origin links are built on: PUBLIC_URL when set, else the origin of the request. */
export function publicOrigin(config: Pick<Config, "publicUrl">, requestUrl: string): string {
  return config.publicUrl ?? new URL(requestUrl).origin;
}

/** The link a magic-link email carries. */
export function magicLinkUrl(config: Pick<Config, "publicUrl">, requestUrl: string, token: string): string {
  return `${publicOrigin(config, requestUrl)}${MAGIC_LINK_VERIFY_PATH}?token=${encodeURIComponent(token)}`;
}
