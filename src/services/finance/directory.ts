// Company resolution against the Finance database (GET /internal/companies/resolve): turn what
// a caller has (a company UUID, a code like "ACME", or a name like "Acme Ltd") into Finance's
// company UUID. Finance is the system of record for companies; Auth only reads it.
//
// Matching, in this order of precedence:
//   1. a well-formed UUID that is a "Company".id;
//   2. the code, case-insensitively (codes are Finance's short identifiers, so a code match wins
//      over a name match on another company);
//   3. the name, case-insensitively.
// Several companies matching at the same level (e.g. two names differing only in case) resolve
// to the one equal to the input as typed, if exactly one is; otherwise 409 company_ambiguous,
// listing the candidates. Never a guess.
//
// Caching (Redis, optional): a hit is kept FINANCE_CACHE_TTL, a miss FINANCE_NEGATIVE_CACHE_TTL,
// keyed by the input as sent (trimmed; UUIDs lower-cased). Ambiguous answers are not cached. Redis
// failing only costs the cache: the lookup goes to Finance.
import type { Redis } from "@upstash/redis/cloudflare";
import type { Deps } from "../../deps";
import { AppError, errors } from "../../http/errors";
import { describeError, log } from "../../runtime/log";
import { findCompanyCandidates, getFinanceDatabase, type CompanyCandidate } from "../../stores/finance";

export type MatchedBy = "id" | "code" | "name";

export interface ResolvedCompany {
  companyId: string;
  code: string;
  name: string;
  matchedBy: MatchedBy;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Longest input accepted (codes and names are short; this bounds cache keys too). */
export const RAW_MAX_LENGTH = 200;

export const financeErrors = {
  notConfigured: () =>
    new AppError(503, "finance_not_configured", "Company resolution needs the Finance database, and FINANCE_DATABASE_URL is not set"),
  notFound: () => new AppError(404, "company_not_found", "No Finance company has this id, code or name"),
  ambiguous: (candidates: CompanyCandidate[]) =>
    new AppError(409, "company_ambiguous", `${candidates.length} Finance companies match; send the company id or code instead`, {
      details: { candidates: candidates.map((c) => ({ companyId: c.id, code: c.code, name: c.name })) },
    }),
};

type CacheEntry = { hit: ResolvedCompany } | { miss: true };

const cacheKey = (raw: string) => `finance:company:v1:${raw}`;

async function readCache(redis: Redis, key: string): Promise<CacheEntry | null> {
  try {
    const v = await redis.get<CacheEntry | string>(key);
    if (v === null || v === undefined) return null;
    const entry = (typeof v === "string" ? JSON.parse(v) : v) as CacheEntry;
    if ("miss" in entry && entry.miss === true) return entry;
    if ("hit" in entry && entry.hit && typeof entry.hit.companyId === "string") return entry;
    return null;
  } catch (err) {
    log({ level: "warn", msg: "finance cache read failed", ...describeError(err, { stack: false }) });
    return null;
  }
}

async function writeCache(redis: Redis, key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
  try {
    await redis.set(key, JSON.stringify(entry), { px: Math.max(1, ttlMs) });
  } catch (err) {
    log({ level: "warn", msg: "finance cache write failed", ...describeError(err, { stack: false }) });
  }
}

type Decision = { company: CompanyCandidate; matchedBy: MatchedBy } | { ambiguous: CompanyCandidate[] } | null;

/** One level of matches: the single company, or the one equal to the input as typed, or ambiguity. */
function pick(level: CompanyCandidate[], exact: (c: CompanyCandidate) => boolean, matchedBy: MatchedBy): Decision {
  if (level.length === 0) return null;
  if (level.length === 1) return { company: level[0], matchedBy };
  const exactOnes = level.filter(exact);
  return exactOnes.length === 1 ? { company: exactOnes[0], matchedBy } : { ambiguous: level };
}

/** The decision for a lookup's candidates: id, then code, then name (see the header). */
export function choose(candidates: CompanyCandidate[]): Decision {
  const byId = candidates.find((c) => c.byId);
  if (byId) return { company: byId, matchedBy: "id" };
  return (
    pick(
      candidates.filter((c) => c.byCode),
      (c) => c.exactCode,
      "code",
    ) ??
    pick(
      candidates.filter((c) => c.byName),
      (c) => c.exactName,
      "name",
    )
  );
}

/**
 * Finance's company for `raw` (a UUID, code or name). Throws 503 finance_not_configured without
 * FINANCE_DATABASE_URL, 404 company_not_found, 409 company_ambiguous, or 503
 * dependency_unavailable (finance) when Finance cannot be read. Cost: one Redis round trip on a
 * cached answer; otherwise Redis GET, one Finance SQL round trip, Redis SET.
 */
export async function resolveCompany(deps: Deps, raw: string): Promise<ResolvedCompany> {
  const finance = getFinanceDatabase(deps.config);
  if (!finance) throw financeErrors.notConfigured();
  const trimmed = raw.trim();
  if (trimmed === "" || trimmed.length > RAW_MAX_LENGTH) {
    throw errors.validation([{ field: "raw", message: `must be 1 to ${RAW_MAX_LENGTH} characters` }]);
  }
  const isUuid = UUID.test(trimmed);
  const input = isUuid ? trimmed.toLowerCase() : trimmed;
  const key = cacheKey(input);

  const cached = await readCache(deps.redis, key);
  if (cached) {
    if ("miss" in cached) throw financeErrors.notFound();
    return cached.hit;
  }

  let candidates: CompanyCandidate[];
  try {
    candidates = await findCompanyCandidates(finance, input, isUuid ? input : null);
  } catch (err) {
    log({ level: "error", msg: "finance company lookup failed", ...describeError(err, { stack: false }) });
    throw errors.dependencyUnavailable("finance");
  }

  const decision = choose(candidates);
  if (decision && "ambiguous" in decision) throw financeErrors.ambiguous(decision.ambiguous);
  if (decision === null) {
    await writeCache(deps.redis, key, { miss: true }, deps.config.finance.negativeCacheTtlMs);
    throw financeErrors.notFound();
  }
  const resolved: ResolvedCompany = {
    companyId: decision.company.id,
    code: decision.company.code,
    name: decision.company.name,
    matchedBy: decision.matchedBy,
  };
  await writeCache(deps.redis, key, { hit: resolved }, deps.config.finance.cacheTtlMs);
  return resolved;
}
