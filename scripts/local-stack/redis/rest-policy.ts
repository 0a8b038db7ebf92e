// Commands the local endpoint refuses over REST, for both backends alike. Each REST request
// is independent, so connection-state commands make no sense (MULTI/EXEC: use /multi-exec),
// blocking commands would stall the one shared connection of the server backend, and admin
// commands could reach beyond the selected database of a developer's real Redis.
const UNAVAILABLE = new Set([
  // connection state
  "multi", "exec", "discard", "watch", "unwatch", "select", "swapdb", "move", "quit", "reset",
  "hello", "auth", "client", "readonly", "readwrite", "asking",
  // pub/sub and monitor modes
  "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "monitor",
  // blocking
  "blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin", "bzpopmax", "bzmpop", "wait", "waitaof",
  // server administration
  "shutdown", "debug", "config", "replicaof", "slaveof", "sync", "psync", "failover", "save", "bgsave",
  "bgrewriteaof", "module", "cluster", "migrate", "acl",
]);

/** The error message for a command the endpoint refuses, or null when it is allowed. */
export function restUnavailableError(lowerName: string): string | null {
  if (!UNAVAILABLE.has(lowerName)) return null;
  const hint = lowerName === "multi" || lowerName === "exec" ? " Use the /multi-exec endpoint (redis.multi()) instead." : "";
  return `ERR Command is not available: '${lowerName}'. The local Upstash REST endpoint does not support it.${hint}`;
}
