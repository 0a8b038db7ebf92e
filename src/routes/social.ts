// /auth routes for social sign-in and linked identities (issue 11). Thin: parse, call the service,
// answer. The browser routes (start and callback) answer with a redirect; a refusal that has no
// trusted place to redirect to (an unregistered redirectUri, a missing or bad state) is a 400 page
// for a browser (Accept: text/html) and the JSON envelope for anything else, never a redirect.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { tokenApplication } from "../http/application";
import { readDeviceCookie } from "../http/cookies";
import { TokenTransport } from "../http/auth-schemas";
import { AppError } from "../http/errors";
import { bearer, requestMeta, type AppEnv } from "../http/middleware";
import { createRouter, envelope, errorResponse, jsonBody, jsonContent } from "../http/openapi";
import { SOCIAL_PROVIDERS } from "../services/applications/fields";
import { invalidClient, resolveApplication, resolveApplicationById } from "../services/applications/resolve";
import { listMyIdentities, unlinkMyIdentity } from "../services/social/identities";
import { finishSocial, startLink, startSocialSignIn } from "../services/social/sign-in";

const tags = ["social"];
const Provider = z.enum(SOCIAL_PROVIDERS).openapi({ param: { name: "provider", in: "path" }, example: "google" });
const RedirectUri = z.string().min(1).max(2048).openapi({ description: "One of the application's registered redirect URIs (exact match)" });
const CallbackParam = z.string().max(4096).optional();

const IdentitySchema = z
  .object({
    id: z.uuid(),
    provider: z.enum(SOCIAL_PROVIDERS),
    email: z.string().nullable(),
    emailVerified: z.boolean(),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable(),
  })
  .openapi("Identity");

/** X-API-Key names the application (or client_id does); without either, the platform application. */
const appSecurity: Record<string, string[]>[] = [{}, { ApiKey: [] }];

const redirectResponse = (description: string) => ({ description, headers: { Location: { schema: { type: "string" as const } } } });

const startRoute = createRoute({
  method: "get",
  path: "/auth/oauth/{provider}",
  tags,
  security: appSecurity,
  summary: "Start a social sign-in: 302 to the provider (PKCE S256, state, nonce), which returns to the callback",
  description:
    "The application is named by `client_id` (a browser navigation) or X-API-Key. `tokenTransport` is validated and kept with the state; the transport is chosen when the code is exchanged at POST /auth/redirect/exchange.",
  request: {
    params: z.object({ provider: Provider }),
    query: z.object({ redirectUri: RedirectUri, tokenTransport: TokenTransport.optional(), client_id: z.string().max(100).optional() }),
  },
  responses: {
    302: redirectResponse("To the provider's authorization endpoint (or, when the provider cannot be reached, to redirectUri with error=provider_unavailable)"),
    400: errorResponse("redirect_uri_not_registered (an HTML page for browsers, never a redirect), invalid_client, validation_error"),
    401: errorResponse("invalid_api_key or application_required (X-API-Key)"),
    403: errorResponse("provider_not_allowed (not in the application's settings.signIn.social)"),
    404: errorResponse("provider_not_configured (no credentials for this provider)"),
  },
});

const callbackQuery = z.object({
  state: CallbackParam,
  code: CallbackParam,
  error: CallbackParam,
  error_description: CallbackParam,
  error_uri: CallbackParam,
  iss: CallbackParam,
  scope: CallbackParam,
  authuser: CallbackParam,
  prompt: CallbackParam,
  hd: CallbackParam,
  session_state: CallbackParam,
});

const callbackResponses = {
  302: redirectResponse("To the application's redirectUri with a one-time `code` (POST /auth/redirect/exchange), `linked=<provider>` after a link, or `error=`"),
  400: errorResponse("state_not_found, state_mismatch (unknown, expired, used, or another provider's), invalid_client, validation_error (an HTML page for browsers)"),
};

const callbackGetRoute = createRoute({
  method: "get",
  path: "/auth/oauth/{provider}/callback",
  tags,
  summary: "The provider's redirect back: the state is consumed, the code exchanged with the PKCE verifier, the id_token or profile checked",
  request: { params: z.object({ provider: Provider }), query: callbackQuery },
  responses: callbackResponses,
});

const callbackPostRoute = createRoute({
  method: "post",
  path: "/auth/oauth/{provider}/callback",
  tags,
  summary: "The provider's form_post back (Apple): as the GET callback, with the parameters in an application/x-www-form-urlencoded body",
  description:
    "The body is application/x-www-form-urlencoded with `state`, `code` (or `error`) and, on Apple's first sign-in, `user` (JSON with the name); it is read by the route itself (any other body counts as no parameters: state_not_found).",
  request: { params: z.object({ provider: Provider }) },
  responses: callbackResponses,
});

const sessionSecurity: Record<string, string[]>[] = [{ Bearer: [] }, { Bearer: [], ApiKey: [] }];

const linkRoute = createRoute({
  method: "post",
  path: "/auth/identities/{provider}/link",
  tags,
  security: sessionSecurity,
  middleware: [bearer, tokenApplication] as const,
  summary: "Link a provider to the signed-in account: the authorization URL to send the browser to; it returns to redirectUri with linked=<provider> or error=",
  request: { params: z.object({ provider: Provider }), body: jsonBody(z.object({ redirectUri: RedirectUri }).strict()) },
  responses: {
    200: jsonContent(envelope(z.object({ authorizationUrl: z.string() })), "Send the browser here"),
    400: errorResponse("redirect_uri_not_registered, validation_error"),
    401: errorResponse("unauthorized, invalid_token (also: a token of another application than the X-API-Key names), invalid_api_key, token_expired, token_revoked"),
    403: errorResponse("provider_not_allowed, origin_not_allowed"),
    404: errorResponse("provider_not_configured"),
    503: errorResponse("provider_unavailable (the provider's discovery document could not be read)"),
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/auth/identities",
  tags,
  security: [{ Bearer: [] }],
  middleware: [bearer] as const,
  summary: "The provider identities linked to the caller's account",
  responses: {
    200: jsonContent(envelope(z.object({ identities: z.array(IdentitySchema) })), "Linked identities, oldest first"),
    401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked"),
  },
});

const unlinkRoute = createRoute({
  method: "delete",
  path: "/auth/identities/{id}",
  tags,
  security: [{ Bearer: [] }],
  middleware: [bearer] as const,
  summary: "Unlink one of the caller's identities (not the last way to sign in)",
  request: { params: z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) }) },
  responses: {
    200: jsonContent(envelope(z.object({ unlinked: z.literal(true) })), "Unlinked"),
    400: errorResponse("validation_error"),
    401: errorResponse("unauthorized, invalid_token, token_expired, token_revoked"),
    404: errorResponse("not_found (unknown, or another user's identity)"),
    409: errorResponse("last_sign_in_method (no password, no passkey and no other identity)"),
  },
});

// ---- helpers -------------------------------------------------------------------------------

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function wantsHtml(c: Context<AppEnv>): boolean {
  return /\btext\/html\b/i.test(c.req.header("accept") ?? "");
}

/** A refusal without a trusted redirect target: a plain page for a browser, the envelope otherwise. */
function refuse(c: Context<AppEnv>, err: unknown): Response {
  if (!(err instanceof AppError) || !wantsHtml(c)) throw err;
  c.set("errorCode", err.code);
  c.header("Cache-Control", "no-store");
  return c.html(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign-in failed</title></head>` +
      `<body><main><h1>Sign-in failed</h1><p>${escapeHtml(err.message)}</p><p><small>Error: <code>${escapeHtml(err.code)}</code></small></p>` +
      `<p>Go back to the application and start again.</p></main></body></html>`,
    err.status,
  );
}

function redirect(c: Context<AppEnv>, location: string): Response {
  c.header("Cache-Control", "no-store");
  return c.redirect(location, 302);
}

const origin = (c: Context<AppEnv>) => new URL(c.req.url).origin;

async function callback(c: Context<AppEnv>, provider: (typeof SOCIAL_PROVIDERS)[number], params: URLSearchParams): Promise<Response> {
  try {
    return redirect(c, await finishSocial(c.get("deps"), provider, params, requestMeta(c), readDeviceCookie(c)));
  } catch (err) {
    return refuse(c, err);
  }
}

export const socialRoutes = createRouter()
  .openapi(startRoute, async (c) => {
    const deps = c.get("deps");
    const { provider } = c.req.valid("param");
    const q = c.req.valid("query");
    try {
      const apiKey = c.req.header("x-api-key");
      let application = q.client_id !== undefined ? await resolveApplicationById(deps, q.client_id) : await resolveApplication(deps, apiKey);
      if (q.client_id !== undefined && apiKey) {
        const keyed = await resolveApplication(deps, apiKey);
        if (keyed.id !== application.id) throw invalidClient();
        application = keyed;
      }
      const location = await startSocialSignIn(deps, { provider, application, redirectUri: q.redirectUri, tokenTransport: q.tokenTransport, origin: origin(c) });
      return redirect(c, location) as never;
    } catch (err) {
      return refuse(c, err) as never;
    }
  })
  .openapi(callbackGetRoute, async (c) => {
    const { provider } = c.req.valid("param");
    return (await callback(c, provider, new URL(c.req.url).searchParams)) as never;
  })
  .openapi(callbackPostRoute, async (c) => {
    const { provider } = c.req.valid("param");
    const type = c.req.header("content-type")?.split(";")[0].trim().toLowerCase();
    let params = new URLSearchParams();
    if (type === "application/x-www-form-urlencoded") params = new URLSearchParams(await c.req.text());
    return (await callback(c, provider, params)) as never;
  })
  .openapi(linkRoute, async (c) => {
    const principal = c.get("principal");
    const url = await startLink(c.get("deps"), {
      provider: c.req.valid("param").provider,
      application: c.get("application")!,
      redirectUri: c.req.valid("json").redirectUri,
      userId: principal.userId,
      sessionId: principal.sessionId,
      tokenVersion: principal.tokenVersion,
      origin: origin(c),
    });
    c.header("Cache-Control", "no-store");
    return c.json({ data: { authorizationUrl: url } }, 200);
  })
  .openapi(listRoute, async (c) => {
    const list = await listMyIdentities(c.get("deps"), c.get("principal"));
    c.header("Cache-Control", "no-store");
    return c.json(
      {
        data: {
          identities: list.map((i) => ({
            id: i.id,
            provider: i.provider as (typeof SOCIAL_PROVIDERS)[number],
            email: i.email,
            emailVerified: i.emailVerified,
            createdAt: i.createdAt.toISOString(),
            lastUsedAt: i.lastUsedAt?.toISOString() ?? null,
          })),
        },
      },
      200,
    );
  })
  .openapi(unlinkRoute, async (c) => {
    await unlinkMyIdentity(c.get("deps"), c.get("principal"), c.req.valid("param").id, requestMeta(c));
    return c.json({ data: { unlinked: true as const } }, 200);
  });

export type SocialRoutes = typeof socialRoutes;
