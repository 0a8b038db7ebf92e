// POST /auth.v1.TokenService/ValidateToken: the token validation service for backends that want
// more than a signature check (seed 001 offers it over gRPC), served in the Connect protocol's unary
// JSON form so any Connect client (or curl) can call it. The caller authenticates with an
// application API key (X-API-Key) or service-account credentials (HTTP Basic); the token gets the
// same checks as /oauth/introspect, and only tokens of the caller's application are reported valid.
// A decided answer is 200 with {valid, userId, email, clientId, scopes, tokenUse, error}; a bad
// caller credential or body is a Connect error ({code, message}) with its HTTP status.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError } from "../http/errors";
import { requestMeta, type AppEnv } from "../http/middleware";
import { fieldProblems, jsonContent, unstorableText } from "../http/openapi";
import { describeError, log } from "../runtime/log";
import { dependencyFailure } from "../runtime/metrics";
import { clientCredentialsOf, type CallerCredentials } from "../services/m2m/client-auth";
import { OAuthError } from "../services/m2m/errors";
import { checkTokenForCaller } from "../services/m2m/token-check";

export const VALIDATE_TOKEN_PATH = "/auth.v1.TokenService/ValidateToken";

const ValidateTokenRequest = z
  .object({ accessToken: z.string().max(8192).openapi({ description: "The access token to check (user or service)" }) })
  .strict()
  .openapi("ValidateTokenRequest");

const ValidateTokenResponse = z
  .object({
    valid: z.boolean(),
    userId: z.string().openapi({ description: "sub: the user, or the service account; empty when not valid" }),
    email: z.string().openapi({ description: "User tokens: the user's email; otherwise empty" }),
    clientId: z.string().openapi({ description: "The application" }),
    scopes: z.array(z.string()),
    tokenUse: z.string().openapi({ description: '"user" or "service"; empty when not valid' }),
    error: z.string().openapi({ description: "Empty when valid; otherwise invalid_token, token_expired or token_revoked" }),
  })
  .openapi("ValidateTokenResponse");

const ConnectErrorSchema = z
  .object({ code: z.string().openapi({ example: "unauthenticated" }), message: z.string() })
  .openapi("ConnectError");

class ConnectError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: "invalid_argument" | "unauthenticated" | "resource_exhausted" | "unavailable" | "internal",
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const unauthenticated = () => new ConnectError(401, "unauthenticated", "send an application API key (X-API-Key) or service-account credentials (HTTP Basic)");

const route = createRoute({
  method: "post",
  path: VALIDATE_TOKEN_PATH,
  tags: ["token-service"],
  // ApiKey (X-API-Key) is registered by the app; ClientBasic by the /oauth router.
  security: [{ ApiKey: [] }, { ClientBasic: [] }],
  summary: "Validate an access token (Connect unary JSON; the gRPC TokenService of seed 001)",
  description:
    "Content-Type must be application/json. The same checks as /oauth/introspect (signature, expiry, session, token version, secret, application, revocation); only tokens of the caller's application are valid.",
  request: { body: { content: { "application/json": { schema: ValidateTokenRequest } }, required: false } },
  responses: {
    200: jsonContent(ValidateTokenResponse, "The verdict (valid false with a short error code)"),
    400: jsonContent(ConnectErrorSchema, "invalid_argument: a missing, malformed or non-JSON body (field named)"),
    401: jsonContent(ConnectErrorSchema, "unauthenticated: a missing or bad API key or client credentials"),
    415: jsonContent(ConnectErrorSchema, "invalid_argument: Content-Type is not application/json"),
    429: jsonContent(ConnectErrorSchema, "resource_exhausted: too many failed caller authentications (Retry-After)"),
    503: jsonContent(ConnectErrorSchema, "unavailable: a dependency is down"),
  },
});

type Issue = Parameters<typeof fieldProblems>[0][number];


export function connectErrorResponse(c: Context<AppEnv>, err: unknown): Response {
  let e: ConnectError;
  if (err instanceof ConnectError) e = err;
  else if (err instanceof OAuthError) e = err.status === 400 ? new ConnectError(400, "invalid_argument", err.description) : unauthenticated();
  else if (err instanceof AppError && err.status === 429) e = new ConnectError(429, "resource_exhausted", err.message, err.extra.headers ?? {});
  else if (err instanceof AppError && err.status === 503) e = new ConnectError(503, "unavailable", err.message);
  else if (err instanceof AppError && (err.status === 413 || err.status === 415)) e = new ConnectError(err.status, "invalid_argument", err.message);
  else if (err instanceof AppError && err.status < 500) e = new ConnectError(400, "invalid_argument", err.message);
  else if (err instanceof HTTPException && err.status === 415) e = new ConnectError(415, "invalid_argument", "send the request as application/json (Connect unary JSON)");
  else if (err instanceof HTTPException && err.status < 500) e = new ConnectError(400, "invalid_argument", "the request body is not valid JSON");
  else if (dependencyFailure(err) !== null) e = new ConnectError(503, "unavailable", "a required service is unavailable; try again shortly");
  else {
    log({ level: "error", msg: "unhandled error", requestId: c.get("requestId"), code: "internal", ...describeError(err, { stack: true }) });
    e = new ConnectError(500, "internal", "an unexpected error occurred");
  }
  c.set("errorCode", e.code);
  const res = c.json({ code: e.code, message: e.message }, e.status);
  res.headers.set("Cache-Control", "no-store");
  for (const [k, v] of Object.entries(e.headers)) res.headers.set(k, v);
  return res;
}

async function callerCredentials(c: Context<AppEnv>): Promise<CallerCredentials> {
  const apiKey = c.req.header("x-api-key");
  const authorization = c.req.header("authorization");
  if (apiKey !== undefined && authorization !== undefined) {
    throw new ConnectError(400, "invalid_argument", "send either X-API-Key or HTTP Basic credentials, not both");
  }
  if (apiKey !== undefined) {
    if (apiKey.length === 0 || apiKey.length > 512) throw unauthenticated();
    return { kind: "api_key", key: apiKey };
  }
  return { kind: "client", credentials: await clientCredentialsOf(c.get("deps"), authorization, {}, requestMeta(c), "/auth.v1.TokenService/ValidateToken") };
}

const router = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) {
      const fields = fieldProblems(result.error.issues as readonly Issue[]);
      throw new ConnectError(400, "invalid_argument", fields.map((f) => `${f.field}: ${f.message}`).join("; "));
    }
    const unstorable = unstorableText(result.data);
    if (unstorable.length > 0) throw new ConnectError(400, "invalid_argument", unstorable.map((f) => `${f.field}: ${f.message}`).join("; "));
  },
});

router.onError((err, c) => connectErrorResponse(c, err));


export const tokenServiceRoutes = router.openapi(route, async (c) => {
  const type = c.req.header("content-type")?.split(";")[0].trim().toLowerCase();
  if (type !== "application/json") throw new ConnectError(415, "invalid_argument", "send the request as application/json (Connect unary JSON)");
  const body = (c.req.valid as (target: string) => unknown).call(c.req, "json") as z.infer<typeof ValidateTokenRequest> | undefined;
  if (!body) throw new ConnectError(400, "invalid_argument", "accessToken: required");
  const caller = await callerCredentials(c);
  const { verdict } = await checkTokenForCaller(c.get("deps"), caller, body.accessToken, requestMeta(c), {
    route: VALIDATE_TOKEN_PATH,
    onFailure: unauthenticated,
  });
  c.header("Cache-Control", "no-store");
  if (!verdict.valid) {
    return c.json({ valid: false, userId: "", email: "", clientId: "", scopes: [], tokenUse: "", error: verdict.error }, 200);
  }
  const claims = verdict.claims;
  return c.json(
    {
      valid: true,
      userId: claims.sub,
      email: verdict.email ?? "",
      clientId: verdict.applicationId,
      scopes: claims.scopes,
      tokenUse: claims.kind,
      error: "",
    },
    200,
  );
});
