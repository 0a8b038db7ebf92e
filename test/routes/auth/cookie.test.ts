import { describe, expect, it } from "vitest";
import { call, callWithEnv, json } from "../../helpers/http";
import { bearer, createUser } from "../../helpers/users";

function cookieValue(res: Response): string {
  const header = res.headers.get("set-cookie") ?? "";
  const m = /auth_refresh=([^;]*)/.exec(header);
  if (!m) throw new Error(`no auth_refresh cookie in: ${header}`);
  return m[1];
}

describe("cookie transport", () => {
  it("puts the refresh token in an HttpOnly, Secure, SameSite cookie scoped to /auth", async () => {
    const user = await createUser();
    const res = await call("/auth/login", { json: { email: user.email, password: user.password, tokenTransport: "cookie" } });
    expect(res.status).toBe(200);
    const { data } = await json(res);
    expect(data.tokenTransport).toBe("cookie");
    expect(data).not.toHaveProperty("refreshToken");
    const header = res.headers.get("set-cookie")!;
    expect(header).toMatch(/auth_refresh=[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}/);
    expect(header).toMatch(/HttpOnly/);
    expect(header).toMatch(/Secure/);
    expect(header).toMatch(/SameSite=Lax/);
    expect(header).toMatch(/Path=\/auth/);
    expect(header).toMatch(/Max-Age=\d+/);
  });

  it("accepts the transport in the query string, and drops Secure when COOKIE_SECURE=false", async () => {
    const user = await createUser();
    const res = await callWithEnv({ COOKIE_SECURE: "false", COOKIE_SAMESITE: "Strict" }, "/auth/login?tokenTransport=cookie", {
      json: { email: user.email, password: user.password },
    });
    const header = res.headers.get("set-cookie")!;
    expect(header).not.toMatch(/Secure/);
    expect(header).toMatch(/SameSite=Strict/);
  });

  it("refreshes and logs out from the cookie", async () => {
    const user = await createUser();
    const login = await call("/auth/login", { json: { email: user.email, password: user.password, tokenTransport: "cookie" } });
    const first = cookieValue(login);
    const refreshed = await call("/auth/refresh", { method: "POST", headers: { cookie: `auth_refresh=${first}` } });
    expect(refreshed.status).toBe(200);
    const body = await json(refreshed);
    expect(body.data.tokenTransport).toBe("cookie");
    expect(body.data).not.toHaveProperty("refreshToken");
    const second = cookieValue(refreshed);
    expect(second).not.toBe(first);

    const out = await call("/auth/logout", { method: "POST", headers: { cookie: `auth_refresh=${second}` } });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/auth_refresh=;.*Max-Age=0/);
    expect((await call("/auth/me", { headers: bearer(body.data.accessToken) })).status).toBe(401);
  });

  it("refuses the cookie from a foreign origin", async () => {
    const user = await createUser();
    const login = await call("/auth/login", { json: { email: user.email, password: user.password, tokenTransport: "cookie" } });
    const token = cookieValue(login);
    const res = await call("/auth/refresh", { method: "POST", headers: { cookie: `auth_refresh=${token}`, origin: "https://evil.example.com" } });
    expect(res.status).toBe(403);
    expect((await json(res)).error.code).toBe("origin_not_allowed");
    const listed = await callWithEnv({ CORS_ALLOWED_ORIGINS: "https://app.example.com" }, "/auth/refresh", {
      method: "POST",
      headers: { cookie: `auth_refresh=${token}`, origin: "https://app.example.com" },
    });
    expect(listed.status).toBe(200);
  });
});
