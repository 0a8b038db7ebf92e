// Preflight for every npm script: the project needs Node >= 22.12 (wrangler, vitest and the
// TypeScript scripts under scripts/ rely on it). `npm install` puts Node 22 from the `node`
// devDependency first on every npm script's PATH; an install with --ignore-scripts skips the
// step that fetches that binary, and the scripts would then run on the machine's older Node.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `\nThis project needs Node >= 22.12, but npm ran Node ${process.versions.node} (${process.execPath}).\n` +
      "Fix: run `npm install` (or `npm rebuild node`) without --ignore-scripts, so the pinned Node 22\n" +
      "from the `node` devDependency lands in node_modules/.bin, or put Node >= 22.12 on your PATH.\n",
  );
  process.exit(1);
}

// The Argon2 wasm modules and the /docs bundle the Worker imports are derived from the installed
// hash-wasm and @scalar/api-reference (normally written by postinstall; repeated here for
// installs that skipped scripts). extract-wasm.mjs exits the process when it has nothing to do,
// so it comes last.
await import("./extract-docs-bundle.mjs");
await import("./extract-wasm.mjs");
