// The pages' stylesheet and scripts under their content-hashed names, cached for good (a change is
// a new name). The scripts are loaded with the page's nonce.
import { Hono } from "hono";
import { errors } from "../../http/errors";
import type { AppEnv } from "../../http/middleware";
import { STYLESHEET, STYLESHEET_PATH } from "../../pages/styles";
import { PASSKEY_ACCOUNT_JS, PASSKEY_ACCOUNT_JS_PATH, PASSKEY_LOGIN_JS, PASSKEY_LOGIN_JS_PATH } from "../../pages/passkey-login";
import { WEBAUTHN_JS, WEBAUTHN_JS_PATH } from "../../pages-assets/webauthn.js";

const ASSETS: Record<string, { body: string; type: string }> = {
  [STYLESHEET_PATH]: { body: STYLESHEET, type: "text/css; charset=utf-8" },
  [WEBAUTHN_JS_PATH]: { body: WEBAUTHN_JS, type: "text/javascript; charset=utf-8" },
  [PASSKEY_ACCOUNT_JS_PATH]: { body: PASSKEY_ACCOUNT_JS, type: "text/javascript; charset=utf-8" },
  [PASSKEY_LOGIN_JS_PATH]: { body: PASSKEY_LOGIN_JS, type: "text/javascript; charset=utf-8" },
};

export const pageAssetRoutes = new Hono<AppEnv>().get("/pages/assets/:file", (c) => {
  const asset = Object.hasOwn(ASSETS, c.req.path) ? ASSETS[c.req.path] : undefined;
  if (!asset) throw errors.notFound(`No route for ${c.req.method} ${c.req.path}`);
  return c.body(asset.body, 200, { "Content-Type": asset.type, "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff" });
});
