// OAuth 2.0 client credentials grant (RFC 6749 section 4.4) for service accounts. Budget: 1 SQL
// statement (the account, its application and its live secret hashes) sent together with 1 Redis
// round trip (the failure-limit peek); the secret's last_used_at and the oauth.token_issued audit
// row are written after the response (deferred, best-effort).
import { signServiceToken } from "../../crypto/service-token";
import type { Deps } from "../../deps";
import { recordServiceTokenIssued } from "../../stores/token-state";
import type { RequestMeta } from "../auth/common";
import { authenticateCaller, type ClientCredentials } from "./client-auth";
import { oauthErrors } from "./errors";

export interface ClientCredentialsInput {
  credentials: ClientCredentials;
  /** Space-separated scopes; absent or empty: every allowed scope. */
  scope?: string;
  audience?: string;
}

export interface ServiceTokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope: string;
}

export function parseScope(scope: string | undefined): string[] {
  return [...new Set((scope ?? "").split(" ").filter(Boolean))];
}

export async function clientCredentialsGrant(deps: Deps, input: ClientCredentialsInput, meta: RequestMeta): Promise<ServiceTokenResponse> {
  const { caller } = await authenticateCaller(deps, { kind: "client", credentials: input.credentials }, null, meta, {
    route: "/oauth/token",
    onFailure: oauthErrors.invalidClient,
  });
  const client = caller.client!;

  const requested = parseScope(input.scope);
  const outside = requested.filter((s) => !client.allowedScopes.includes(s));
  if (outside.length > 0) throw oauthErrors.invalidScope(`scope not allowed for this client: ${outside.slice(0, 5).join(" ")}`);
  const scopes = requested.length > 0 ? requested : client.allowedScopes;

  const ownAudience = client.audience ?? deps.config.jwt.audience;
  const audience = input.audience ?? ownAudience;
  if (audience !== ownAudience && !client.allowedAudiences.includes(audience)) {
    throw oauthErrors.invalidTarget("audience is not among the application's allowed audiences");
  }

  const now = deps.clock.now();
  const signed = await signServiceToken(
    await deps.keys(),
    { issuer: deps.config.jwt.issuer, ttlMs: deps.config.jwt.serviceTokenTtlMs },
    { serviceAccountId: client.serviceAccountId, applicationId: client.applicationId, secretId: caller.secretId!, scopes, audience },
    now,
  );
  deps.defer(() =>
    recordServiceTokenIssued(deps.db, {
      secretId: caller.secretId!,
      now,
      audit: {
        type: "oauth.token_issued",
        actorLabel: caller.label,
        ip: meta.ip,
        userAgent: meta.userAgent,
        metadata: {
          grantType: "client_credentials",
          serviceAccountId: client.serviceAccountId,
          applicationId: client.applicationId,
          secretId: caller.secretId,
          authMethod: input.credentials.method,
          scope: scopes.join(" "),
          audience,
          jti: signed.jti,
          expiresAt: signed.expiresAt.toISOString(),
        },
        at: now,
      },
    }),
  );
  return { access_token: signed.token, token_type: "Bearer", expires_in: signed.expiresIn, scope: scopes.join(" ") };
}
