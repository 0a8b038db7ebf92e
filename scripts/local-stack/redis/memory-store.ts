// The in-memory keyspace behind memory-backend.ts: typed values, TTLs in milliseconds
// (lazy expiry on access plus a periodic sweep), a SCAN order that survives deletions,
// Redis' glob matcher and a small sorted-set structure.
//
// Keys, hash fields and set/zset members are held as "latin1" strings: one char per byte,
// so they stay binary-safe and compare bytewise like Redis' memcmp.
import { ReplyError } from "./backend.ts";

export type Entry =
  | { type: "string"; value: Buffer }
  | { type: "hash"; value: Map<string, Buffer> }
  | { type: "set"; value: Set<string> }
  | { type: "zset"; value: ZSet }
  | { type: "list"; value: Buffer[] };

export type EntryType = Entry["type"];

export const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";

interface Slot {
  entry: Entry;
  /** Creation order; SCAN cursors are sequence numbers. */
  seq: number;
}

export class Keyspace {
  private data = new Map<string, Slot>();
  private expires = new Map<string, number>();
  /** Keys in creation order (may hold stale rows for deleted keys; see compact). */
  private order: { key: string; seq: number }[] = [];
  private nextSeq = 1;
  private frozenNow: number | null = null;

  /** Current time in ms; frozen while a script or transaction runs, as in Redis 7. */
  now(): number {
    return this.frozenNow ?? Date.now();
  }

  /** Runs fn with a fixed clock (nested calls keep the outer time). */
  withFrozenTime<T>(fn: () => T): T {
    if (this.frozenNow !== null) return fn();
    this.frozenNow = Date.now();
    try {
      return fn();
    } finally {
      this.frozenNow = null;
    }
  }

  private expireIfNeeded(key: string): boolean {
    const at = this.expires.get(key);
    if (at !== undefined && at <= this.now()) {
      this.delete(key);
      return true;
    }
    return false;
  }

  get(key: string): Entry | undefined {
    const slot = this.data.get(key);
    if (!slot) return undefined;
    if (this.expireIfNeeded(key)) return undefined;
    return slot.entry;
  }

  /** The entry when it has this type, undefined when missing; WRONGTYPE otherwise. */
  getTyped<T extends EntryType>(key: string, type: T): Extract<Entry, { type: T }> | undefined {
    const e = this.get(key);
    if (!e) return undefined;
    if (e.type !== type) throw new ReplyError(WRONGTYPE);
    return e as Extract<Entry, { type: T }>;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Stores a value; an existing key keeps its SCAN position, and its TTL only with keepTtl. */
  set(key: string, entry: Entry, keepTtl = false): void {
    const slot = this.data.get(key);
    if (slot && !this.expireIfNeeded(key)) {
      slot.entry = entry;
      if (!keepTtl) this.expires.delete(key);
      return;
    }
    // Stale rows (deleted keys) are dropped here, never while a scan walks the array.
    if (this.order.length > 64 && this.order.length > this.data.size * 2) this.compact();
    const seq = this.nextSeq++;
    this.data.set(key, { entry, seq });
    this.order.push({ key, seq });
  }

  delete(key: string): boolean {
    const had = this.data.delete(key);
    this.expires.delete(key);
    return had;
  }

  /** Deletes the key when its collection became empty (Redis never keeps empty aggregates). */
  deleteIfEmpty(key: string): void {
    const e = this.data.get(key);
    if (!e) return;
    const v = e.entry;
    const size = v.type === "string" ? 1 : v.type === "list" ? v.value.length : v.value.size;
    if (size === 0) this.delete(key);
  }

  getExpire(key: string): number | undefined {
    if (!this.has(key)) return undefined;
    return this.expires.get(key);
  }

  /** Sets an absolute expiry in ms; a time in the past deletes the key. */
  setExpire(key: string, atMs: number): void {
    if (atMs <= this.now()) {
      this.delete(key);
      return;
    }
    this.expires.set(key, atMs);
  }

  persist(key: string): boolean {
    return this.expires.delete(key);
  }

  get size(): number {
    return this.data.size;
  }

  /** All live keys (expired ones are dropped on the way). */
  keys(): string[] {
    const out: string[] = [];
    for (const key of [...this.data.keys()]) if (this.get(key)) out.push(key);
    return out;
  }

  flush(): void {
    this.data.clear();
    this.expires.clear();
    this.order = [];
  }

  /**
   * One SCAN step: examines up to `count` keys created after `cursor` (a sequence number).
   * Keys that live through a whole scan are returned exactly once, as Redis guarantees.
   */
  scan(cursor: number, count: number): { next: number; keys: string[] } {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.order[mid].seq <= cursor) lo = mid + 1;
      else hi = mid;
    }
    const keys: string[] = [];
    let examined = 0;
    let i = lo;
    for (; i < this.order.length && examined < count; i++) {
      const row = this.order[i];
      const slot = this.data.get(row.key);
      if (!slot || slot.seq !== row.seq) continue;
      examined++;
      if (this.get(row.key)) keys.push(row.key);
    }
    const next = i >= this.order.length ? 0 : this.order[i - 1].seq;
    return { next, keys };
  }

  private compact(): void {
    this.order = [];
    for (const [key, slot] of this.data) this.order.push({ key, seq: slot.seq });
  }

  /** Periodic expiry: drops expired keys, spending at most budgetMs. */
  sweepExpired(budgetMs = 5): number {
    const start = Date.now();
    const now = this.now();
    let n = 0;
    for (const [key, at] of this.expires) {
      if (at <= now) {
        this.delete(key);
        n++;
      }
      if ((n & 255) === 255 && Date.now() - start > budgetMs) break;
    }
    return n;
  }
}

// ---- sorted sets ---------------------------------------------------------------------------

export class ZSet {
  readonly scores = new Map<string, number>();
  private sorted: { member: string; score: number }[] | null = null;

  get size(): number {
    return this.scores.size;
  }

  set(member: string, score: number): void {
    this.scores.set(member, score);
    this.sorted = null;
  }

  delete(member: string): boolean {
    const had = this.scores.delete(member);
    if (had) this.sorted = null;
    return had;
  }

  /** Members ordered by score, then bytewise by member. */
  ordered(): { member: string; score: number }[] {
    if (!this.sorted) {
      this.sorted = [...this.scores].map(([member, score]) => ({ member, score }));
      this.sorted.sort((a, b) => (a.score < b.score ? -1 : a.score > b.score ? 1 : a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
    }
    return this.sorted;
  }

  rank(member: string): number | null {
    if (!this.scores.has(member)) return null;
    return this.ordered().findIndex((x) => x.member === member);
  }
}

// ---- glob matching (port of Redis' stringmatchlen) ------------------------------------------

export function globMatch(pattern: string, str: string, nocase = false): boolean {
  const skip = { longer: false };
  return matchImpl(pattern, 0, str, 0, nocase, skip, 0);
}

function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

function matchImpl(p: string, pi: number, s: string, si: number, nocase: boolean, skip: { longer: boolean }, depth: number): boolean {
  if (depth > 1000) return false; // Redis caps nesting too
  const pc = (i: number) => (i < p.length ? p.charCodeAt(i) : 0);
  const sc = (i: number) => (i < s.length ? s.charCodeAt(i) : 0);
  while (pi < p.length && si < s.length) {
    const c = pc(pi);
    if (c === 42 /* * */) {
      while (pi + 1 < p.length && pc(pi + 1) === 42) pi++;
      if (pi + 1 === p.length) return true;
      while (si < s.length) {
        if (matchImpl(p, pi + 1, s, si, nocase, skip, depth + 1)) return true;
        if (skip.longer) return false;
        si++;
      }
      skip.longer = true;
      return false;
    } else if (c === 63 /* ? */) {
      si++;
    } else if (c === 91 /* [ */) {
      pi++;
      const not = pc(pi) === 94; /* ^ */
      if (not) pi++;
      let match = false;
      for (;;) {
        if (pc(pi) === 92 /* \ */ && p.length - pi >= 2) {
          pi++;
          if (pc(pi) === sc(si)) match = true;
        } else if (pc(pi) === 93 /* ] */) {
          break;
        } else if (pi >= p.length) {
          pi--;
          break;
        } else if (p.length - pi >= 3 && pc(pi + 1) === 45 /* - */) {
          let start = pc(pi);
          let end = pc(pi + 2);
          let ch = sc(si);
          if (start > end) [start, end] = [end, start];
          if (nocase) {
            start = lower(start);
            end = lower(end);
            ch = lower(ch);
          }
          pi += 2;
          if (ch >= start && ch <= end) match = true;
        } else if (nocase ? lower(pc(pi)) === lower(sc(si)) : pc(pi) === sc(si)) {
          match = true;
        }
        pi++;
      }
      if (not) match = !match;
      if (!match) return false;
      si++;
    } else {
      if (c === 92 /* \ */ && p.length - pi >= 2) pi++;
      const a = pc(pi);
      const b = sc(si);
      if (nocase ? lower(a) !== lower(b) : a !== b) return false;
      si++;
    }
    pi++;
    if (si >= s.length) {
      while (pi < p.length && pc(pi) === 42) pi++;
      break;
    }
  }
  return pi >= p.length && si >= s.length;
}
