import { defineConfig } from "vitest/config";

// Node-side tests: the operator commands (scripts/) against a local stack of their own, and the
// browser tests (test/browser/: Debian's Chromium against the Worker under wrangler dev).
export default defineConfig({
  test: {
    name: "node",
    include: ["test/node/**/*.test.ts", "test/browser/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
