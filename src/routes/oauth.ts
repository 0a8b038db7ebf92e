// /oauth/*: the OAuth 2.0 endpoints for machine clients, in the RFCs' own shapes rather than this
// service's envelope: POST /oauth/token (client_credentials, RFC 6749 section 4.4), POST
// /oauth/introspect (RFC 7662) and POST /oauth/revoke (RFC 7009). Parameters arrive form-encoded
// as the RFCs require (JSON is accepted too); unknown parameters are ignored (RFC 6749 section
// 3.2). Every answer, errors included, carries Cache-Control: no-store; errors are
// {"error","error_description"} (section 5.2), bad client credentials 401 with WWW-Authenticate.
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError } from "../http/errors";
import { requestMeta, type AppEnv } from "../http/middleware";
import { fieldProblems, jsonContent, unstorableText } from "../http/openapi";
import { describeError, log } from "../runtime/log";
import { dependencyFailure } from "../runtime/metrics";
import { clientCredentialsOf } from "../services/m2m/client-auth";
import { clientCredentialsGrant } from "../services/m2m/client-credentials";
import { OAuthError, oauthErrors, toOAuthError } from "../services/m2m/errors";
import { introspect } from "../services/m2m/introspection";
import { revokeToken } from "../services/m2m/revocation";

// ---- schemas -----------------------------------------------------------------------------------

/** RFC 6749 section 3.3: scope tokens are printable ASCII except space, `"` and `\`, separated by single spaces. */
const SCOPE = /^([\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*)?$/;

const ClientAuthFields = {
  client_id: z.string().min(1).max(200).optional().openapi({ description: "client_secret_post: the service account id (omit with HTTP Basic)" }),
  client_secret: z.string().min(1).max(512).optional().openapi({ description: "client_secret_post: a secret of the service account (omit with HTTP Basic)" }),
};

const TokenRequest = z
  .object({
    grant_type: z.string().min(1).max(100).openapi({ example: "client_credentials", description: "Only client_credentials" }),
    scope: z
      .string()
      .max(2000)
      .regex(SCOPE, "must be space-separated scope tokens")
      .optional()
      .openapi({ description: "Space-separated; a subset of the account's allowed scopes. Absent: all of them" }),
    audience: z.string().min(1).max(500).optional().openapi({ description: "The token's aud: the application's audience (default) or one of its allowedAudiences" }),
    ...ClientAuthFields,
  })
  .openapi("ClientCredentialsRequest");

const TokenHint = z.enum(["access_token", "refresh_token"]);

const IntrospectRequest = z
  .object({
    token: z.string().min(1).max(8192),
    token_type_hint: z.string().max(100).optional().openapi({ description: "access_token or refresh_token; a hint only" }),
    ...ClientAuthFields,
  })
  .openapi("IntrospectionRequest");

const RevokeRequest = z
  .object({
    token: z.string().min(1).max(8192),
    token_type_hint: z.string().max(100).optional().openapi({ description: "access_token or refresh_token; a hint only (an unknown hint is ignored)" }),
    ...ClientAuthFields,
  })
  .openapi("RevocationRequest");

const TokenResponse = z
  .object({
    access_token: z.string(),
    token_type: z.literal("Bearer"),
    expires_in: z.number().int().openapi({ description: "Seconds (SERVICE_TOKEN_TTL)" }),
    scope: z.string().openapi({ description: "The granted scopes, space-separated" }),
  })
  .openapi("ClientCredentialsToken");

const IntrospectionResponse = z
  .object({
    active: z.boolean(),
    sub: z.string().optional(),
    client_id: z.string().optional().openapi({ description: "The application" }),
    scope: z.string().optional(),
    token_use: z.enum(["user", "service"]).optional(),
    token_type: z.literal("Bearer").optional(),
    exp: z.number().int().optional(),
    iat: z.number().int().optional(),
    iss: z.string().optional(),
    aud: z.union([z.string(), z.array(z.string())]).optional(),
    jti: z.string().optional(),
    username: z.string().optional().openapi({ description: "User tokens: the user's email" }),
    email: z.string().optional(),
  })
  .openapi("IntrospectionResponse");

export const OAuthErrorSchema = z
  .object({
    error: z.string().openapi({ example: "invalid_client" }),
    error_description: z.string(),
  })
  .openapi("OAuthError");

function formOrJson<T extends z.ZodType>(schema: T, description: string) {
  return {
    content: {
      "application/x-www-form-urlencoded": { schema },
      "application/json": { schema },
    },
    // Not `required`: zod-openapi would then demand both media types at once; a missing or other
    // body is answered invalid_request by the handler.
    required: false,
    description,
  };
}

const oauthError = (description: string) => jsonContent(OAuthErrorSchema, description);
const security: Record<string, string[]>[] = [{ ClientBasic: [] }, {}];
const tags = ["oauth"];
const clientErrors = {
  400: oauthError("invalid_request (a missing or malformed parameter, named in error_description; Basic and body credentials together)"),
  401: oauthError("invalid_client (unknown client, wrong, expired or deleted secret, disabled account or application), with WWW-Authenticate: Basic"),
  429: oauthError("temporarily_unavailable: too many failed client authentications from this client id or IP (Retry-After)"),
  503: oauthError("temporarily_unavailable: a dependency is down"),
};

// ---- routes ------------------------------------------------------------------------------------

const tokenRoute = createRoute({
  method: "post",
  path: "/oauth/token",
  tags,
  security,
  summary: "OAuth 2.0 token endpoint: client_credentials for service accounts (RFC 6749 section 4.4)",
  description:
    "Client authentication: HTTP Basic (client_secret_basic; id and secret form-urlencoded, then base64) or client_id and client_secret in the body (client_secret_post), never both. The token is an RS256 at+jwt with sub = the service account, client_id = its application, scope, token_use \"service\", lifetime SERVICE_TOKEN_TTL.",
  request: { body: formOrJson(TokenRequest, "Form-encoded (RFC 6749) or JSON") },
  responses: {
    200: jsonContent(TokenResponse, "An access token (Cache-Control: no-store)"),
    ...clientErrors,
    400: oauthError(
      "invalid_request (missing or malformed parameter, named; both Basic and body credentials), unsupported_grant_type, invalid_scope (a scope outside the allowed set), invalid_target (an audience not allowed)",
    ),
  },
});

const introspectRoute = createRoute({
  method: "post",
  path: "/oauth/introspect",
  tags,
  security,
  summary: "Token introspection (RFC 7662), for service accounts",
  description:
    'Answers {"active": false} for anything not currently valid (bad signature, expired, ended session, bumped token version, deleted secret, disabled account or application, revoked) and for tokens of other applications.',
  request: { body: formOrJson(IntrospectRequest, "Form-encoded (RFC 7662) or JSON") },
  responses: {
    200: jsonContent(IntrospectionResponse, "The token's state"),
    ...clientErrors,
  },
});

const revokeRoute = createRoute({
  method: "post",
  path: "/oauth/revoke",
  tags,
  security,
  summary: "Token revocation (RFC 7009), for service accounts",
  description:
    "A refresh token of the caller's application ends its session; an access token of the caller's application is refused by this service until it expires. An unknown, invalid or foreign token changes nothing and is still 200.",
  request: { body: formOrJson(RevokeRequest, "Form-encoded (RFC 7009) or JSON") },
  responses: {
    200: { description: "Revoked, or nothing to revoke (empty body)" },
    ...clientErrors,
  },
});

// ---- handlers ----------------------------------------------------------------------------------

type Issue = Parameters<typeof fieldProblems>[0][number];

function noStore(c: Context<AppEnv>): void {
  c.header("Cache-Control", "no-store");
  c.header("Pragma", "no-cache");
}


export function oauthErrorResponse(c: Context<AppEnv>, err: unknown): Response {
  let oauth: OAuthError;
  if (err instanceof OAuthError) oauth = err;
  else if (err instanceof AppError) oauth = toOAuthError(err);
  else if (err instanceof HTTPException && err.status === 415) {
    oauth = oauthErrors.invalidRequest("send the parameters as application/x-www-form-urlencoded (or application/json)");
  } else if (err instanceof HTTPException && err.status < 500) {
    oauth = oauthErrors.invalidRequest(/json/i.test(err.message) ? "the request body is not valid JSON" : "the request body could not be read");
  } else if (dependencyFailure(err) !== null) {
    oauth = new OAuthError(503, "temporarily_unavailable", "a required service is unavailable; try again shortly", { "Retry-After": "1" });
  } else {
    log({ level: "error", msg: "unhandled error", requestId: c.get("requestId"), code: "server_error", ...describeError(err, { stack: true }) });
    oauth = new OAuthError(500, "server_error", "an unexpected error occurred");
  }
  c.set("errorCode", oauth.error);
  const res = c.json(oauth.body(), oauth.status as ContentfulStatusCode);
  res.headers.set("Cache-Control", "no-store");
  res.headers.set("Pragma", "no-cache");
  for (const [k, v] of Object.entries(oauth.headers)) res.headers.set(k, v);
  return res;
}

function invalidFields(issues: readonly Issue[]): OAuthError {
  return oauthErrors.invalidRequest(fieldProblems(issues).map((f) => `${f.field}: ${f.message}`).join("; "));
}

/**
 * The validated parameters, from whichever body was sent. Without a body (no content type) the
 * schema still judges the empty parameter set, so the answer names what is missing.
 */
function params<S extends z.ZodType>(c: Context<AppEnv>, schema: S): z.infer<S> {
  const type = c.req.header("content-type")?.split(";")[0].trim().toLowerCase();
  const read = (target: string) => (c.req.valid as (t: string) => unknown).call(c.req, target);
  if (type === "application/x-www-form-urlencoded" || type === "multipart/form-data") return read("form") as z.infer<S>;
  if (type !== undefined && (type === "application/json" || /^application\/[^;]*\+json$/.test(type))) return read("json") as z.infer<S>;
  const empty = schema.safeParse({});
  if (!empty.success) throw invalidFields(empty.error.issues as readonly Issue[]);
  return empty.data;
}

const router = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw invalidFields(result.error.issues as readonly Issue[]);
    const unstorable = unstorableText(result.data);
    if (unstorable.length > 0) throw oauthErrors.invalidRequest(unstorable.map((f) => `${f.field}: ${f.message}`).join("; "));
  },
});

router.onError((err, c) => oauthErrorResponse(c, err));

router.openAPIRegistry.registerComponent("securitySchemes", "ClientBasic", {
  type: "http",
  scheme: "basic",
  description: "client_secret_basic: the service account id and a client secret (or send client_id and client_secret in the body instead)",
});

export const oauthRoutes = router
  .openapi(tokenRoute, async (c) => {
    const p = params(c, TokenRequest);
    if (p.grant_type !== "client_credentials") throw oauthErrors.unsupportedGrantType(p.grant_type);
    const credentials = await clientCredentialsOf(c.get("deps"), c.req.header("authorization"), p, requestMeta(c), "/oauth/token");
    const token = await clientCredentialsGrant(c.get("deps"), { credentials, scope: p.scope, audience: p.audience }, requestMeta(c));
    noStore(c);
    return c.json(token, 200);
  })
  .openapi(introspectRoute, async (c) => {
    const p = params(c, IntrospectRequest);
    const credentials = await clientCredentialsOf(c.get("deps"), c.req.header("authorization"), p, requestMeta(c), "/oauth/introspect");
    const answer = await introspect(c.get("deps"), credentials, p.token, requestMeta(c));
    noStore(c);
    return c.json(answer, 200);
  })
  .openapi(revokeRoute, async (c) => {
    const p = params(c, RevokeRequest);
    const credentials = await clientCredentialsOf(c.get("deps"), c.req.header("authorization"), p, requestMeta(c), "/oauth/revoke");
    const hint = TokenHint.safeParse(p.token_type_hint);
    await revokeToken(c.get("deps"), credentials, { token: p.token, hint: hint.success ? hint.data : undefined }, requestMeta(c));
    noStore(c);
    return c.body(null, 200);
  });
