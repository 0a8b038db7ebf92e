// The verifier's in-memory JWKS cache. One JWKS request at a time (concurrent callers share it), at
// most one per cooldown window, fresh for the response's Cache-Control max-age (bounded), revalidated
// with If-None-Match, and a stale copy kept in use for a while when the endpoint cannot be reached.
//
// Why not jose's createRemoteJWKSet: it shares in-flight requests and has a cooldown too, but its
// cache age is a fixed option (it ignores Cache-Control), it reads the clock itself (a verifier's
// `now` could not drive it), it drops its keys when a refresh fails, and it does not revalidate
// with the ETag. The keys themselves are still matched and imported by jose (createLocalJWKSet).
import { createLocalJWKSet, type JWTVerifyGetKey } from "jose";
import { VerifierError } from "./errors.ts";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface JwksCacheSettings {
  url: string;
  fetch: FetchLike;
  /** Freshness when the response carries no max-age. */
  defaultMaxAgeMs: number;
  /** Bounds applied to a response's max-age. */
  minMaxAgeMs: number;
  maxMaxAgeMs: number;
  /** No JWKS request starts within this long of the previous one. */
  cooldownMs: number;
  /** How long past its freshness a cached JWKS is still used when no newer one can be had. */
  staleIfErrorMs: number;
  timeoutMs: number;
  now: () => number;
}

interface Snapshot {
  kids: ReadonlySet<string>;
  getKey: JWTVerifyGetKey;
  freshUntil: number;
  etag: string | undefined;
}

const MAX_AGE = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?\s*(?:,|$)/i;
const NO_CACHE = /(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|=|$)/i;

export class JwksCache {
  #settings: JwksCacheSettings;
  #snapshot: Snapshot | undefined;
  #inflight: Promise<void> | undefined;
  #lastAttemptAt = Number.NEGATIVE_INFINITY;
  /** JWKS requests sent (for observability and tests). */
  requests = 0;

  constructor(settings: JwksCacheSettings) {
    this.#settings = settings;
  }

  /**
   * The key resolver to verify a token whose header names `kid`. Fetches when nothing is cached,
   * when the cache has expired, or when `kid` is not in it, each subject to the cooldown.
   */
  async resolverFor(kid: string): Promise<JWTVerifyGetKey> {
    const s = this.#settings;
    const cached = this.#snapshot;
    if (cached && s.now() < cached.freshUntil && cached.kids.has(kid)) return cached.getKey;

    let failure: unknown;
    if (this.#inflight || s.now() - this.#lastAttemptAt >= s.cooldownMs) {
      try {
        await this.#refresh();
      } catch (err) {
        failure = err;
      }
    }
    const current = this.#snapshot;
    if (!current || s.now() >= current.freshUntil + s.staleIfErrorMs) {
      if (failure instanceof VerifierError) throw failure;
      throw new VerifierError("jwks_unavailable", "no JWKS is available (the last request failed less than a cooldown ago)", { cause: failure });
    }
    if (!current.kids.has(kid)) {
      // A kid we could not look up because the JWKS request just failed may well be a new key.
      if (failure instanceof VerifierError) throw failure;
      throw new VerifierError("invalid_token", "the token's key id is not in the JWKS");
    }
    return current.getKey;
  }

  #refresh(): Promise<void> {
    if (!this.#inflight) {
      this.#lastAttemptAt = this.#settings.now();
      this.#inflight = this.#load().finally(() => {
        this.#inflight = undefined;
      });
    }
    return this.#inflight;
  }

  async #load(): Promise<void> {
    const s = this.#settings;
    const previous = this.#snapshot;
    const headers: Record<string, string> = { accept: "application/json" };
    if (previous?.etag) headers["if-none-match"] = previous.etag;
    this.requests += 1;
    let res: Response;
    try {
      res = await s.fetch(s.url, { headers, signal: AbortSignal.timeout(s.timeoutMs) });
    } catch (cause) {
      throw new VerifierError("jwks_unavailable", "the JWKS request failed", { cause });
    }
    if (res.status === 304 && previous) {
      await res.body?.cancel();
      this.#snapshot = { ...previous, freshUntil: s.now() + this.#freshness(res) };
      return;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new VerifierError("jwks_unavailable", `the JWKS endpoint answered HTTP ${res.status}`);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch (cause) {
      throw new VerifierError("jwks_unavailable", "the JWKS response is not JSON", { cause });
    }
    let getKey: JWTVerifyGetKey;
    try {
      getKey = createLocalJWKSet(body as Parameters<typeof createLocalJWKSet>[0]);
    } catch (cause) {
      throw new VerifierError("jwks_unavailable", "the JWKS response is not a JSON Web Key Set", { cause });
    }
    const keys = (body as { keys: { kid?: unknown }[] }).keys;
    const kids = new Set(keys.map((k) => k.kid).filter((kid): kid is string => typeof kid === "string"));
    this.#snapshot = { kids, getKey, freshUntil: s.now() + this.#freshness(res), etag: res.headers.get("etag") ?? undefined };
  }

  /** The response's max-age less its Age, bounded; the default when it gives none. */
  #freshness(res: Response): number {
    const s = this.#settings;
    const cacheControl = res.headers.get("cache-control") ?? "";
    const maxAge = MAX_AGE.exec(cacheControl);
    let ms: number;
    const age = /^\s*(\d+)\s*$/.exec(res.headers.get("age") ?? "");
    if (maxAge) ms = (Number(maxAge[1]) - (age ? Number(age[1]) : 0)) * 1000;
    else if (NO_CACHE.test(cacheControl)) ms = 0;
    else ms = s.defaultMaxAgeMs;
    return Math.min(Math.max(ms, s.minMaxAgeMs), s.maxMaxAgeMs);
  }
}
