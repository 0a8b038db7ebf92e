// POST /auth/redirect/exchange: the end of every browser sign-in flow (magic link, social, hosted
// pages): a one-time code from the redirect URL becomes the sign-in answer.
import { createRoute, z } from "@hono/zod-openapi";
import { application } from "../http/application";
import { SignInAnswerSchema, TokenTransport, signInAnswer } from "../http/auth-schemas";
import { createRouter, envelope, errorResponse, jsonBody, jsonContent } from "../http/openapi";
import { exchangeRedirectCode } from "../services/auth/redirect-code";

/** X-API-Key names the application; without it, the platform application. */
const appSecurity: Record<string, string[]>[] = [{}, { ApiKey: [] }];

const exchangeRoute = createRoute({
  method: "post",
  path: "/auth/redirect/exchange",
  tags: ["auth"],
  middleware: [application] as const,
  security: appSecurity,
  summary: "Exchange the one-time code of a redirect (magic link, social sign-in, hosted pages) for the sign-in answer, once, within 60 s",
  request: {
    body: jsonBody(
      z
        .object({
          code: z.string().min(1).max(200),
          redirectUri: z.string().max(2048).optional().openapi({ description: "When sent, must be the redirect URI the code was issued for" }),
          tokenTransport: TokenTransport.optional(),
        })
        .strict(),
    ),
  },
  responses: {
    200: jsonContent(envelope(SignInAnswerSchema), "Tokens, or the second step still needed (Cache-Control: no-store)"),
    400: errorResponse("invalid_code (unknown, expired, used, or another application's); validation_error"),
    401: errorResponse("invalid_api_key or application_required (X-API-Key)"),
    403: errorResponse("origin_not_allowed"),
  },
});

export const redirectRoutes = createRouter().openapi(exchangeRoute, async (c) => {
  const body = c.req.valid("json");
  const outcome = await exchangeRedirectCode(c.get("deps"), c.get("application")!, body.code, body.redirectUri);
  return c.json({ data: signInAnswer(c, outcome, body.tokenTransport ?? "json") }, 200);
});

export type RedirectRoutes = typeof redirectRoutes;
