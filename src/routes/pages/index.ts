// Hosted pages (issue 13): server-rendered with hono/jsx on the API's origin.
import { Hono } from "hono";
import type { AppEnv } from "../../http/middleware";

export const pageRoutes = new Hono<AppEnv>();
