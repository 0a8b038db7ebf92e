// Worker entry: the one Hono app. `AppType` is exported for typed clients (hono/client).
import { createApp } from "./app";

const app = createApp();

export type AppType = typeof app;
export default app;
