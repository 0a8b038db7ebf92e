import { readFileSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import type { FakeOAuthProvided } from "./test/helpers/fake-oauth-provider.ts";

// Nothing in a test run may reach out to the internet.
process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_HIDE_BANNER = "true";

// The Worker is configured here rather than through wrangler.toml so that a developer's
// .dev.vars never leaks into tests; the runtime settings are read from wrangler.toml.
const wranglerToml = readFileSync(new URL("./wrangler.toml", import.meta.url), "utf8");
const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(wranglerToml)![1];
const compatibilityFlags = JSON.parse(/^compatibility_flags\s*=\s*(\[.*\])/m.exec(wranglerToml)![1]) as string[];

/** The four providers' credentials and endpoints, pointed at the fake. */
function socialBindings(fake: FakeOAuthProvided): Record<string, string> {
  return {
    GOOGLE_CLIENT_ID: fake.google.clientId,
    GOOGLE_CLIENT_SECRET: fake.google.clientSecret,
    GOOGLE_ISSUER: fake.google.issuer,
    MICROSOFT_CLIENT_ID: fake.microsoft.clientId,
    MICROSOFT_CLIENT_SECRET: fake.microsoft.clientSecret,
    MICROSOFT_ISSUER: fake.microsoft.issuer,
    APPLE_CLIENT_ID: fake.apple.clientId,
    APPLE_TEAM_ID: fake.apple.teamId,
    APPLE_KEY_ID: fake.apple.keyId,
    APPLE_PRIVATE_KEY: fake.apple.privateKey,
    APPLE_ISSUER: fake.apple.issuer,
    GITHUB_CLIENT_ID: fake.github.clientId,
    GITHUB_CLIENT_SECRET: fake.github.clientSecret,
    GITHUB_BASE_URL: fake.github.baseUrl,
    GITHUB_API_URL: fake.github.apiUrl,
  };
}

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => {
      const stack = inject("stack");
      const keys = inject("keys");
      return {
        main: "./src/index.ts",
        miniflare: {
          compatibilityDate,
          compatibilityFlags,
          modulesRules: [
            { type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: false },
            { type: "Text", include: ["**/*.txt"], fallthrough: false },
          ],
          bindings: {
            APP_ENV: "test",
            DATABASE_URL: "postgresql://local:local@127.0.0.1/auth",
            ...stack.workerVars,
            JWT_SIGNING_KEY_PEM: keys.pkcs8,
            JWT_KID: "test-key-1",
            JWT_ISSUER: "https://auth.test",
            JWT_AUDIENCE: "test-apps",
            // Fast hashes for the suite; the parameters are still honoured end to end.
            ARGON2_MEMORY: "1024",
            ARGON2_TIME: "1",
            TEST_SQL_CONTROL_URL: stack.sqlControl,
            TEST_REDIS_CONTROL_URL: stack.redisControl,
            TEST_BACKENDS: stack.backends,
            TEST_KEYS: JSON.stringify(keys),
            TEST_FINANCE_DATABASE_URL: inject("finance").databaseUrl,
            TEST_CF_ACCESS_CERTS_URL: inject("cfAccess").certsUrl,
            TEST_CF_ACCESS_PRIVATE_KEY: inject("cfAccess").privateKey,
            TEST_CF_ACCESS_UNKNOWN_PRIVATE_KEY: inject("cfAccess").unknownPrivateKey,
            // Social sign-in against the local fake provider (test/helpers/fake-oauth-provider.ts).
            ...socialBindings(inject("oauthFake")),
            TEST_OAUTH_FAKE: JSON.stringify(inject("oauthFake")),
          },
        },
      };
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    // Node-side tests of the operator commands run with vitest.node.config.ts.
    exclude: ["test/node/**", "test/browser/**", "**/node_modules/**"],
    globalSetup: ["./test/global-setup.ts"],
    setupFiles: ["./test/setup.ts"],
    // One shared database and Redis: files run one after another, each from clean data.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
