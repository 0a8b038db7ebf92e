// Token introspection (RFC 7662) for authenticated service accounts. Budget: 1 SQL statement (the
// caller's credentials and the token's liveness together) and 1 Redis round trip (the failure-limit
// peek), sent at the same time. Anything not currently valid, or not of the caller's application,
// is {"active": false}.
import type { Deps } from "../../deps";
import type { RequestMeta } from "../auth/common";
import type { ClientCredentials } from "./client-auth";
import { oauthErrors } from "./errors";
import { checkTokenForCaller } from "./token-check";

export type IntrospectionAnswer =
  | { active: false }
  | {
      active: true;
      sub: string;
      client_id: string;
      scope: string;
      token_use: "user" | "service";
      token_type: "Bearer";
      exp: number;
      iat: number;
      iss: string;
      aud: string | string[];
      jti: string;
      username?: string;
      email?: string;
    };

export async function introspect(deps: Deps, credentials: ClientCredentials, token: string, meta: RequestMeta): Promise<IntrospectionAnswer> {
  const { verdict } = await checkTokenForCaller(deps, { kind: "client", credentials }, token, meta, {
    route: "/oauth/introspect",
    onFailure: oauthErrors.invalidClient,
  });
  if (!verdict.valid) return { active: false };
  const c = verdict.claims;
  return {
    active: true,
    sub: c.sub,
    client_id: verdict.applicationId,
    scope: c.scopes.join(" "),
    token_use: c.kind,
    token_type: "Bearer",
    exp: c.exp,
    iat: c.iat,
    iss: c.iss,
    aud: c.aud,
    jti: c.jti,
    ...(c.kind === "user" && verdict.email ? { username: verdict.email, email: verdict.email } : {}),
  };
}
