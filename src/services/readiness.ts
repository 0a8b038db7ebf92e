// Readiness: each dependency checked once, in parallel, with a timeout.
import { sql } from "drizzle-orm";
import type { Deps } from "../deps";
import { getFinanceDatabase, pingFinance } from "../stores/finance";

export interface CheckResult {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, CheckResult>;
}

async function timed(check: () => Promise<unknown>, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    // Only a short, non-sensitive reason: driver messages can carry hostnames and query text.
    const reason = err instanceof Error && err.message.startsWith("no answer within") ? err.message : "unreachable or failing";
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: reason };
  } finally {
    clearTimeout(timer);
  }
}

export async function checkReadiness(deps: Deps): Promise<Readiness> {
  const timeout = deps.config.http.readyTimeoutMs;
  const finance = getFinanceDatabase(deps.config);
  const [database, redis, financeCheck] = await Promise.all([
    timed(() => deps.db.execute(sql`select 1`), timeout),
    timed(async () => {
      const pong = await deps.redis.ping();
      if (pong !== "PONG") throw new Error("unexpected PING answer");
    }, timeout),
    // Finance only when FINANCE_DATABASE_URL is set (optional dependency).
    finance ? timed(() => pingFinance(finance), timeout) : undefined,
  ]);
  const checks: Record<string, CheckResult> = { database, redis };
  if (financeCheck) checks.finance = financeCheck;
  return { ready: Object.values(checks).every((c) => c.ok), checks };
}
