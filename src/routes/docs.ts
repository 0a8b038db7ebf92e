// The API reference at /docs: Scalar's standalone bundle, served by this Worker under a
// content-hashed name (scripts/extract-docs-bundle.mjs copies it from @scalar/api-reference),
// rendering /openapi.json. Nothing comes from a CDN, so the page works offline and runs no third
// party's script on the auth origin (where it could call /auth/refresh with the refresh cookie).
// Off when API_DOCS_ENABLED=false (the default in production): both paths answer 404.
import { Hono, type MiddlewareHandler } from "hono";
import { errors } from "../http/errors";
import type { AppEnv } from "../http/middleware";
import { pageNonce, pageSecurity } from "../http/security-headers";
import bundle from "../vendor/scalar/api-reference.js.txt";
import manifest from "../vendor/scalar/manifest.json";

export const DOCS_BUNDLE_PATH = `/docs/assets/scalar-${manifest.hash}.js`;

/**
 * Scalar's options for a self-contained page: no font CDN, no telemetry, no AI agent or MCP
 * (they call Scalar's services), no developer toolbar, and no API client: the reference only.
 */
const SCALAR_CONFIG = {
  url: "/openapi.json",
  withDefaultFonts: false,
  telemetry: false,
  agent: { disabled: true },
  mcp: { disabled: true },
  showDeveloperTools: "never",
  hideClientButton: true,
  hideTestRequestButton: true,
  documentDownloadType: "json",
  _integration: "hono",
};

const docsEnabled: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.get("deps").config.apiDocsEnabled) throw errors.notFound(`No route for ${c.req.method} ${new URL(c.req.url).pathname}`);
  await next();
};

/**
 * Runs before the bundle. Scalar and the components it bundles add <style> elements at run time,
 * and some (vue-sonner's toasts, the theme's scoped style) come without the nonce, which the page
 * policy would block. A <style> created by a script this page already trusts gets the nonce; markup
 * parsed from a string (innerHTML) is not created this way and stays blocked. And the zod inside
 * the bundle is told not to probe `new Function` (its `z.config({ jitless: true })`): the policy
 * has no 'unsafe-eval', and the probe would only show up as a violation.
 */
const BOOTSTRAP = `globalThis.__zod_globalConfig = { jitless: true };
    (() => {
      const nonce = document.currentScript.nonce;
      const createElement = Document.prototype.createElement;
      Document.prototype.createElement = function (name, options) {
        const element = createElement.call(this, name, options);
        if (String(name).toLowerCase() === "style") element.nonce = nonce;
        return element;
      };
    })();`;

function page(nonce: string): string {
  // JSON inside <script>: "<" escaped so no string in it can close the element.
  const config = JSON.stringify(SCALAR_CONFIG).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta property="csp-nonce" content="${nonce}" />
    <title>Edge auth service API</title>
  </head>
  <body>
    <div id="app"></div>
    <script nonce="${nonce}">
    ${BOOTSTRAP}
    </script>
    <script src="${DOCS_BUNDLE_PATH}" nonce="${nonce}"></script>
    <script nonce="${nonce}">Scalar.createApiReference("#app", ${config});</script>
  </body>
</html>
`;
}

export const docsRoutes = new Hono<AppEnv>()
  // Style attributes allowed: Scalar renders highlighted code as HTML with style attributes.
  .get("/docs", docsEnabled, pageSecurity({ inlineStyleAttributes: true }), (c) => {
    // The page carries this request's nonce: no cache may hand it to another request.
    c.header("Cache-Control", "no-store");
    return c.html(page(pageNonce(c)));
  })
  .get("/docs/assets/:file", docsEnabled, (c) => {
    if (c.req.path !== DOCS_BUNDLE_PATH) throw errors.notFound(`No route for ${c.req.method} ${c.req.path}`);
    return c.body(bundle, 200, {
      "Content-Type": "text/javascript; charset=utf-8",
      // The name changes with the content, so it can be cached for good.
      "Cache-Control": "public, max-age=31536000, immutable",
    });
  });
