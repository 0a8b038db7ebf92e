// One SQL endpoint, several databases: each Neon request goes to a backend chosen by the database
// its Neon-Connection-String header names (the driver sends the whole connection string with
// every request). Named databases (the Finance fixture, "finance") get their own backend; every
// other name goes to the main one, so the Worker's DATABASE_URL may name anything. One port,
// one round-trip counter and one fault switch for all of them (the endpoint server owns those).
import type { ProtocolHandler, ProtocolRequest } from "../endpoint-server.ts";

export interface RoutedDatabase {
  handler: ProtocolHandler;
  /** Whether /__stack/reset empties it (never for a real external database). */
  wipeOnReset: boolean;
}

/** The database name of a request's Neon-Connection-String header, if it has a readable one. */
export function requestDatabase(req: Pick<ProtocolRequest, "headers">): string | undefined {
  const raw = req.headers["neon-connection-string"];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  try {
    const name = decodeURIComponent(new URL(value).pathname.replace(/^\/+/, ""));
    return name || undefined;
  } catch {
    return undefined;
  }
}

export function createDatabaseRouter(main: ProtocolHandler, databases: Record<string, RoutedDatabase>): ProtocolHandler {
  const named = new Map(Object.entries(databases));
  const pick = (req: ProtocolRequest): ProtocolHandler => {
    const name = requestDatabase(req);
    return (name !== undefined && named.get(name)?.handler) || main;
  };
  const all = [main, ...[...named.values()].map((d) => d.handler)];
  return {
    handle: (req) => pick(req).handle(req),
    errorAnswer: (message) => main.errorAnswer(message),
    reset: async () => {
      await Promise.all([main.reset(), ...[...named.values()].filter((d) => d.wipeOnReset).map((d) => d.handler.reset())]);
    },
    ping: async () => {
      await Promise.all(all.map((h) => h.ping()));
    },
    close: async () => {
      const results = await Promise.allSettled(all.map((h) => h.close()));
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
    },
    get backendName() {
      return [main.backendName, ...[...named].map(([name, d]) => `${name}=${d.handler.backendName}`)].join(", ");
    },
  };
}
