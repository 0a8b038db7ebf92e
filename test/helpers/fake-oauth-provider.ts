// Node side of the test run (started by test/global-setup.ts): a local stand-in for Google,
// Microsoft (Entra, multi-tenant), Apple and GitHub that speaks the real protocols on loopback, so
// the Worker's social sign-in runs end to end with nothing mocked inside it:
//   - OIDC discovery (/.well-known/openid-configuration), the JWKS, an authorization endpoint that
//     sends the browser back with code + state (Apple: an auto-posting form, response_mode=form_post),
//     a token endpoint that checks the client credentials (Apple: the ES256 client-secret JWT against
//     the service's public key), the redirect URI, single use of the code and the PKCE S256 verifier,
//     and answers with an id_token signed here with jose (RS256);
//   - GitHub: /login/oauth/authorize and /login/oauth/access_token (errors in a 200 body, as GitHub
//     does), and the API's /user and /user/emails.
// The test plays the browser: it appends `fake_*` parameters to the authorization URL the Worker
// produced, which set who signs in and how the provider misbehaves:
//   fake_sub, fake_email ("" for none), fake_email_verified ("true" | "false" | "omit" | "string"),
//   fake_name, fake_tid (Microsoft tenant), fake_error (the provider refuses: error=<value>),
//   fake_tamper: wrong_key | unknown_kid | alg_none | wrong_aud | wrong_iss | expired | wrong_nonce |
//                no_nonce | tid_mismatch | no_id_token,
//   fake_emails (GitHub: JSON list of {email, primary, verified}), fake_user (Apple: the `user` JSON).
// GET /__requests lists the token requests received (for assertions on what the Worker sent). Apple's
// form also comes as the header x-fake-form-post (base64url JSON {action, fields}) for the tests.
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, jwtVerify, type JWK } from "jose";

export interface FakeOAuthProvided {
  base: string;
  google: { issuer: string; clientId: string; clientSecret: string };
  microsoft: { issuer: string; clientId: string; clientSecret: string };
  apple: { issuer: string; clientId: string; teamId: string; keyId: string; privateKey: string };
  github: { baseUrl: string; apiUrl: string; clientId: string; clientSecret: string };
}

interface Grant {
  provider: string;
  clientId: string;
  redirectUri: string;
  challenge: string;
  nonce: string | null;
  controls: Record<string, string>;
  accessToken?: string;
}

const b64url = (buf: Buffer) => buf.toString("base64url");
const random = () => b64url(randomBytes(24));

export async function startFakeOAuthProvider(): Promise<{ provided: FakeOAuthProvided; close: () => Promise<void> }> {
  const signing = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const appleClientKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const KID = "fake-signing-1";
  const jwk = (key: KeyObject, kid: string): JWK => ({ ...(key.export({ format: "jwk" }) as JWK), kid, alg: "RS256", use: "sig" });

  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  const provided: FakeOAuthProvided = {
    base,
    google: { issuer: `${base}/google`, clientId: "google-client.apps.example", clientSecret: "google-secret-" + random() },
    microsoft: { issuer: `${base}/microsoft/common/v2.0`, clientId: "11111111-2222-3333-4444-555555555555", clientSecret: "ms-secret-" + random() },
    apple: {
      issuer: `${base}/apple`,
      clientId: "dev.example.service",
      teamId: "TEAM123456",
      keyId: "APPLEKEY01",
      privateKey: appleClientKey.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    },
    github: { baseUrl: `${base}/github`, apiUrl: `${base}/github-api`, clientId: "gh-client-" + random().slice(0, 8), clientSecret: "gh-secret-" + random() },
  };
  const msIssuerTemplate = `${base}/microsoft/{tenantid}/v2.0`;

  const grants = new Map<string, Grant>();
  const tokens = new Map<string, Grant>();
  const requests: { provider: string; params: Record<string, string> }[] = [];

  const clientOf = (provider: string) =>
    provider === "google"
      ? provided.google
      : provider === "microsoft"
        ? provided.microsoft
        : provider === "github"
          ? provided.github
          : { clientId: provided.apple.clientId, clientSecret: null as string | null };

  function issuerFor(provider: string, controls: Record<string, string>): string {
    if (provider === "microsoft") return msIssuerTemplate.replace("{tenantid}", controls.fake_tid ?? "9188040d-6c67-4c5b-b112-36a304b66dad");
    return provider === "google" ? provided.google.issuer : provided.apple.issuer;
  }

  function profile(g: Grant) {
    const c = g.controls;
    return {
      sub: c.fake_sub ?? "sub-default",
      email: c.fake_email === undefined ? `${c.fake_sub ?? "someone"}@example.com` : c.fake_email || undefined,
      emailVerified: c.fake_email_verified ?? "true",
      name: c.fake_name,
    };
  }

  async function idToken(g: Grant): Promise<string | undefined> {
    const c = g.controls;
    const tamper = c.fake_tamper;
    if (tamper === "no_id_token") return undefined;
    const p = profile(g);
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = { sub: p.sub };
    if (p.email) claims.email = p.email;
    if (p.emailVerified === "true") claims.email_verified = true;
    else if (p.emailVerified === "false") claims.email_verified = false;
    else if (p.emailVerified === "string") claims.email_verified = "true";
    if (p.name) claims.name = p.name;
    if (g.provider === "microsoft") {
      const tid = c.fake_tid ?? "9188040d-6c67-4c5b-b112-36a304b66dad";
      claims.tid = tamper === "tid_mismatch" ? "00000000-0000-0000-0000-000000000000" : tid;
      if (p.emailVerified === "true") {
        delete claims.email_verified;
        claims.xms_edov = true;
      }
    }
    if (tamper === "wrong_nonce") claims.nonce = "not-the-nonce";
    else if (tamper !== "no_nonce" && g.nonce) claims.nonce = g.nonce;
    const iss = tamper === "wrong_iss" ? `${base}/elsewhere` : issuerFor(g.provider, c);
    const aud = tamper === "wrong_aud" ? "someone-else" : g.clientId;
    const iat = tamper === "expired" ? now - 7200 : now;
    const exp = tamper === "expired" ? now - 3600 : now + 600;
    if (tamper === "alg_none") {
      const header = b64url(Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })));
      const payload = b64url(Buffer.from(JSON.stringify({ ...claims, iss, aud, iat, exp })));
      return `${header}.${payload}.`;
    }
    const key = tamper === "wrong_key" || tamper === "unknown_kid" ? other.privateKey : signing.privateKey;
    const kid = tamper === "unknown_kid" ? "unknown-kid" : KID;
    return new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid, typ: "JWT" }).setIssuer(iss).setAudience(aud).setIssuedAt(iat).setExpirationTime(exp).sign(key);
  }

  async function readBody(req: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  }

  function json(res: http.ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  }

  function redirect(res: http.ServerResponse, to: string) {
    res.writeHead(302, { location: to });
    res.end();
  }

  function authorize(provider: string, url: URL, res: http.ServerResponse) {
    const q = Object.fromEntries(url.searchParams);
    const client = clientOf(provider);
    const redirectUri = q.redirect_uri;
    if (!redirectUri || q.client_id !== client.clientId) return json(res, 400, { error: "invalid_request", error_description: "unknown client or no redirect_uri" });
    const back = new URL(redirectUri);
    const fail = (error: string) => {
      back.searchParams.set("error", error);
      if (q.state) back.searchParams.set("state", q.state);
      redirect(res, back.toString());
    };
    if (q.response_type !== "code") return fail("unsupported_response_type");
    if (q.code_challenge_method !== "S256" || !q.code_challenge) return fail("invalid_request");
    if (provider !== "github" && !q.nonce) return fail("invalid_request");
    if (q.fake_error) return fail(q.fake_error);
    const controls = Object.fromEntries(Object.entries(q).filter(([k]) => k.startsWith("fake_")));
    const code = random();
    grants.set(code, { provider, clientId: client.clientId, redirectUri, challenge: q.code_challenge, nonce: q.nonce ?? null, controls });
    if (provider === "apple" && q.response_mode === "form_post") {
      const fields: Record<string, string> = { code, state: q.state ?? "" };
      if (controls.fake_user) fields.user = controls.fake_user;
      const inputs = Object.entries(fields)
        .map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}">`)
        .join("");
      res.writeHead(200, { "content-type": "text/html", "x-fake-form-post": Buffer.from(JSON.stringify({ action: redirectUri, fields })).toString("base64url") });
      res.end(`<!doctype html><form method="post" action="${redirectUri}">${inputs}</form><script>document.forms[0].submit()</script>`);
      return;
    }
    back.searchParams.set("code", code);
    if (q.state) back.searchParams.set("state", q.state);
    redirect(res, back.toString());
  }

  async function checkAppleClientSecret(secret: string | undefined): Promise<boolean> {
    if (!secret) return false;
    try {
      const { payload, protectedHeader } = await jwtVerify(secret, appleClientKey.publicKey, {
        algorithms: ["ES256"],
        issuer: provided.apple.teamId,
        subject: provided.apple.clientId,
        audience: provided.apple.issuer,
      });
      return protectedHeader.kid === provided.apple.keyId && typeof payload.exp === "number";
    } catch {
      return false;
    }
  }

  async function token(provider: string, req: http.IncomingMessage, res: http.ServerResponse) {
    const params = Object.fromEntries(new URLSearchParams(await readBody(req)));
    requests.push({ provider, params });
    // GitHub answers errors with 200 and an error body.
    const fail = (status: number, error: string) => json(res, provider === "github" ? 200 : status, { error, error_description: error });
    const client = clientOf(provider);
    if (params.client_id !== client.clientId) return fail(401, "invalid_client");
    if (provider === "apple" ? !(await checkAppleClientSecret(params.client_secret)) : params.client_secret !== client.clientSecret) return fail(401, "invalid_client");
    if (params.grant_type !== "authorization_code") return fail(400, "unsupported_grant_type");
    const grant = grants.get(params.code ?? "");
    grants.delete(params.code ?? "");
    if (!grant || grant.provider !== provider) return fail(400, provider === "github" ? "bad_verification_code" : "invalid_grant");
    if (params.redirect_uri !== grant.redirectUri) return fail(400, provider === "github" ? "redirect_uri_mismatch" : "invalid_grant");
    const challenge = b64url(createHash("sha256").update(params.code_verifier ?? "").digest());
    if (!params.code_verifier || challenge !== grant.challenge) return fail(400, "invalid_grant");
    const accessToken = random();
    grant.accessToken = accessToken;
    tokens.set(accessToken, grant);
    const body: Record<string, unknown> = { access_token: accessToken, token_type: provider === "github" ? "bearer" : "Bearer", scope: "openid email profile" };
    if (provider !== "github") {
      body.expires_in = 3600;
      const id = await idToken(grant);
      if (id) body.id_token = id;
    }
    json(res, 200, body);
  }

  function bearerGrant(req: http.IncomingMessage): Grant | undefined {
    const m = /^(?:Bearer|token) (.+)$/i.exec(req.headers.authorization ?? "");
    return m ? tokens.get(m[1]) : undefined;
  }

  function discovery(provider: string, res: http.ServerResponse) {
    const prefix = `${base}/${provider}`;
    json(res, 200, {
      issuer: provider === "microsoft" ? msIssuerTemplate : provider === "google" ? provided.google.issuer : provided.apple.issuer,
      authorization_endpoint: `${prefix}/authorize`,
      token_endpoint: `${prefix}/token`,
      userinfo_endpoint: `${prefix}/userinfo`,
      jwks_uri: `${prefix}/jwks`,
      response_types_supported: ["code"],
      subject_types_supported: ["public", "pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      code_challenge_methods_supported: ["S256"],
      token_endpoint_auth_methods_supported: ["client_secret_post"],
      scopes_supported: ["openid", "email", "profile", "name"],
      response_modes_supported: provider === "apple" ? ["query", "fragment", "form_post"] : ["query", "fragment"],
    });
  }

  server.on("request", (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", base);
      const path = url.pathname;
      if (path === "/__requests") return json(res, 200, { requests });
      // OIDC providers.
      if (path === "/google/.well-known/openid-configuration") return discovery("google", res);
      if (path === "/apple/.well-known/openid-configuration") return discovery("apple", res);
      if (path === "/microsoft/common/v2.0/.well-known/openid-configuration") return discovery("microsoft", res);
      const m = /^\/(google|apple|microsoft)\/(authorize|token|jwks|userinfo)$/.exec(path);
      if (m) {
        const [, provider, endpoint] = m;
        if (endpoint === "authorize" && req.method === "GET") return authorize(provider, url, res);
        if (endpoint === "token" && req.method === "POST") return token(provider, req, res);
        if (endpoint === "jwks") return json(res, 200, { keys: [jwk(signing.publicKey, KID)] });
        if (endpoint === "userinfo") {
          const g = bearerGrant(req);
          if (!g) return json(res, 401, { error: "invalid_token" });
          const p = profile(g);
          return json(res, 200, { sub: p.sub, email: p.email, email_verified: p.emailVerified === "true", name: p.name });
        }
      }
      // GitHub.
      if (path === "/github/login/oauth/authorize" && req.method === "GET") return authorize("github", url, res);
      if (path === "/github/login/oauth/access_token" && req.method === "POST") return token("github", req, res);
      if (path === "/github-api/user" || path === "/github-api/user/emails") {
        const g = bearerGrant(req);
        if (!g || g.provider !== "github") return json(res, 401, { message: "Bad credentials" });
        if (!req.headers["user-agent"]) return json(res, 403, { message: "User-Agent required" });
        const c = g.controls;
        const p = profile(g);
        if (path === "/github-api/user") return json(res, 200, { id: Number(c.fake_sub ?? 4242), login: c.fake_login ?? "octo", name: p.name ?? null, email: null });
        const emails = c.fake_emails
          ? JSON.parse(c.fake_emails)
          : p.email
            ? [
                { email: `noreply-${p.sub}@users.noreply.example`, primary: false, verified: true, visibility: null },
                { email: p.email, primary: true, verified: p.emailVerified === "true", visibility: "private" },
              ]
            : [];
        return json(res, 200, emails);
      }
      json(res, 404, { error: "not_found" });
    })().catch((err) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(err));
    });
  });

  return { provided, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
