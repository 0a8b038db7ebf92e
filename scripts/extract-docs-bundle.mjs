// /docs renders the API reference with @scalar/api-reference's standalone browser bundle, served
// by the Worker itself (no CDN: the page works offline and runs no third party's script on the
// auth origin). This copies that bundle from the installed package to src/vendor/scalar/ as a
// .txt file, which the Worker imports as a Text module (the **/*.txt rule in wrangler.toml and
// vitest.config.ts), and writes a manifest with its SHA-256, from which the Worker names the
// asset (/docs/assets/scalar-<hash>.js, cached immutably). Runs from postinstall and the
// preflight; the output is derived from the installed package and is not committed.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkgDir = join(root, "node_modules/@scalar/api-reference");
const source = join(pkgDir, "dist/browser/standalone.js");
const outDir = join(root, "src/vendor/scalar");
const bundlePath = join(outDir, "api-reference.js.txt");
const manifestPath = join(outDir, "manifest.json");

const version = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).version;

function upToDate() {
  if (!existsSync(manifestPath) || !existsSync(bundlePath)) return false;
  return JSON.parse(readFileSync(manifestPath, "utf8")).version === version;
}

// No process.exit here: the preflight imports this module before others.
if (!upToDate()) {
  // The source map is not shipped: drop the comment so a browser's devtools do not ask for it.
  const js = readFileSync(source, "utf8").replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
  if (!js.includes("createApiReference")) throw new Error(`extract-docs-bundle: ${source} does not look like Scalar's standalone bundle`);
  const sha256 = createHash("sha256").update(js).digest("hex");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(bundlePath, js);
  const manifest = { package: "@scalar/api-reference", version, sha256, hash: sha256.slice(0, 16), size: Buffer.byteLength(js) };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  console.log(`extract-docs-bundle: wrote the @scalar/api-reference ${version} standalone bundle to src/vendor/scalar/`);
}
