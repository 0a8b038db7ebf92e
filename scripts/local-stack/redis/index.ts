// The local Upstash Redis endpoint: a RedisBackend (a real Redis when a URL is given, else the
// embedded in-memory one) behind Upstash's REST protocol on the shared endpoint server.
//
//   const backend = await createRedisBackend({ redisUrl: process.env.REDIS_URL });
//   const endpoint = await startRedisEndpoint({ backend, token: "local-token" });
//   new Redis({ url: endpoint.url, token: "local-token" })   // @upstash/redis
import { startEndpointServer, type EndpointServer } from "../endpoint-server.ts";
import type { RedisBackend } from "./backend.ts";
import { MemoryBackend, type MemoryBackendOptions } from "./memory-backend.ts";
import { ServerBackend } from "./server-backend.ts";
import { classify, createUpstashRestHandler } from "./upstash-rest.ts";

export { ReplyError, StatusReply, type CommandArg, type RedisBackend, type Reply } from "./backend.ts";
export { MemoryBackend, type MemoryBackendOptions } from "./memory-backend.ts";
export { ServerBackend, type ServerBackendOptions } from "./server-backend.ts";
export { classify, createUpstashRestHandler, encodeReply, type UpstashRestOptions } from "./upstash-rest.ts";

export interface CreateRedisBackendOptions {
  /** redis://host:port/db of a real Redis (7+); without it the embedded in-memory backend is used. */
  redisUrl?: string;
  /** Only for the real Redis. */
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** Only for the in-memory backend. */
  memory?: MemoryBackendOptions;
}

/** A real Redis when redisUrl is given (rejects when it cannot connect), else the in-memory backend. */
export async function createRedisBackend(options: CreateRedisBackendOptions = {}): Promise<RedisBackend> {
  if (options.redisUrl) {
    return ServerBackend.connect({
      url: options.redisUrl,
      connectTimeoutMs: options.connectTimeoutMs,
      commandTimeoutMs: options.commandTimeoutMs,
    });
  }
  return new MemoryBackend(options.memory);
}

export interface StartRedisEndpointOptions {
  backend: RedisBackend;
  /** Bearer token the endpoint accepts (the Worker's UPSTASH_REDIS_REST_TOKEN). */
  token: string;
  /** Default: a free port. */
  port?: number;
  host?: string;
  /** Fixed delay added to every round trip (edge simulation). */
  latencyMs?: number;
}

/** Serves Upstash's REST protocol for the backend; closing the server closes the backend. */
export function startRedisEndpoint(options: StartRedisEndpointOptions): Promise<EndpointServer> {
  const handler = createUpstashRestHandler(options.backend, { token: options.token });
  return startEndpointServer(handler, {
    name: "redis",
    port: options.port,
    host: options.host,
    latencyMs: options.latencyMs,
    classify,
  });
}
