import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes SQL migrations for src/db/schema.ts into drizzle/ (checked in).
// Applying them is `npm run db:migrate` (DATABASE_URL) or the local stack (npm run dev / tests).
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
});
