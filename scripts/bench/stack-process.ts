// The benchmark's local stack, in a process of its own (forked by scripts/bench.ts), so that the
// load generator and the SQL/Redis endpoints do not share one event loop: the endpoints answer as
// promptly as a database elsewhere would, whatever the client is doing.
// Fresh and in memory (PGlite, in-memory Redis) on free ports, unless DATABASE_URL / REDIS_URL
// name real servers; never the developer's .local/pglite. Sends {type: "ready", ...} over IPC,
// and closes the stack on SIGTERM, SIGINT or when the parent goes away.
import { startLocalStack } from "../local-stack/index.ts";

export interface StackReady {
  type: "ready";
  workerVars: Record<string, string>;
  sqlUrl: string;
  redisUrl: string;
  describe: string;
}

const send = (message: unknown) => new Promise<void>((resolve) => process.send!(message, () => resolve()));

try {
  const stack = await startLocalStack({
    databaseUrl: process.env.DATABASE_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    finance: false,
  });
  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await stack.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void close());
  process.on("SIGINT", () => void close());
  process.on("disconnect", () => void close());
  const ready: StackReady = { type: "ready", workerVars: stack.workerVars, sqlUrl: stack.sql.url, redisUrl: stack.redis.url, describe: stack.describe() };
  await send(ready);
} catch (err) {
  await send({ type: "error", message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
