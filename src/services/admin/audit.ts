// GET /internal/audit-events: the auth audit log for platform staff (any platform role), filtered
// and paginated newest first. The cursor is opaque to clients: base64url of the last row's exact
// position, so the next page starts right after it whatever arrives in between.
import type { Deps } from "../../deps";
import { errors } from "../../http/errors";
import { queryAuditEvents, type AuditFilter, type AuditPosition, type AuditRecord } from "../../stores/audit-query";
import { forbidden, isPlatformStaff, type StaffPrincipal } from "../staff/principal";

export const AUDIT_PAGE_DEFAULT = 50;
export const AUDIT_PAGE_MAX = 200;

export interface AuditListInput {
  userId?: string;
  actorUserId?: string;
  /** Exact type, or a prefix ending in `*` (`login.*`). */
  eventType?: string;
  from?: string;
  to?: string;
  cursor?: string;
  limit?: number;
}

export interface AuditPage {
  items: Omit<AuditRecord, "position">[];
  nextCursor: string | null;
}

const POSITION_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): string {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

export function encodeAuditCursor(p: AuditPosition): string {
  return toBase64Url(JSON.stringify({ v: 1, t: p.at, i: p.id }));
}

export function decodeAuditCursor(cursor: string): AuditPosition {
  try {
    if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) throw new Error("not base64url");
    const parsed = JSON.parse(fromBase64Url(cursor)) as { v?: unknown; t?: unknown; i?: unknown };
    if (parsed.v !== 1 || typeof parsed.t !== "string" || !POSITION_AT.test(parsed.t) || typeof parsed.i !== "string" || !UUID.test(parsed.i)) {
      throw new Error("bad shape");
    }
    if (Number.isNaN(Date.parse(parsed.t))) throw new Error("bad time");
    return { at: parsed.t, id: parsed.i };
  } catch {
    throw errors.validation([{ field: "cursor", message: "is not a cursor from this endpoint" }]);
  }
}

function eventTypeFilter(eventType: string | undefined): AuditFilter["eventType"] {
  if (eventType === undefined) return undefined;
  return eventType.endsWith("*") ? { prefix: eventType.slice(0, -1) } : { exact: eventType };
}

export async function listAuditEvents(deps: Deps, staff: StaffPrincipal, input: AuditListInput): Promise<AuditPage> {
  if (!isPlatformStaff(staff.globalRole)) throw forbidden("Only platform staff may read the audit log");
  const limit = Math.min(Math.max(input.limit ?? AUDIT_PAGE_DEFAULT, 1), AUDIT_PAGE_MAX);
  const after = input.cursor !== undefined ? decodeAuditCursor(input.cursor) : null;
  const filter: AuditFilter = {
    targetUserId: input.userId,
    actorUserId: input.actorUserId,
    eventType: eventTypeFilter(input.eventType),
    from: input.from !== undefined ? new Date(input.from) : undefined,
    to: input.to !== undefined ? new Date(input.to) : undefined,
  };
  // One more than a page: whether there is a next page costs no second query.
  const found = await queryAuditEvents(deps.db, filter, after, limit + 1);
  const page = found.slice(0, limit);
  const nextCursor = found.length > limit ? encodeAuditCursor(page[page.length - 1].position) : null;
  return { items: page.map(({ position: _position, ...item }) => item), nextCursor };
}
