// The typed client apps get from `hono/client` with the exported AppType: calls are typed by
// route, and they go through the real app.
import { hc } from "hono/client";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { AppType } from "../../src/index";
import { BASE, workerFetch } from "../helpers/http";
import { createUser } from "../helpers/users";

const client = hc<AppType>(BASE, { fetch: workerFetch });

describe("typed client (hono/client + AppType)", () => {
  it("signs in and reads /auth/me with typed calls", async () => {
    const user = await createUser({ fullName: "Typed Client" });
    const res = await client.auth.login.$post({ query: {}, json: { email: user.email, password: user.password } });
    expect(res.status).toBe(200);
    if (res.status !== 200) return;
    const { data: answer } = await res.json();
    // A sign-in answers tokens or the second step it needs: the type makes the client tell them apart.
    if (!("accessToken" in answer)) throw new Error("expected tokens, got a second step");
    const data = answer;
    expectTypeOf(data.accessToken).toEqualTypeOf<string>();
    const me = await client.auth.me.$get(undefined, { headers: { authorization: `Bearer ${data.accessToken}` } });
    expect(me.status).toBe(200);
    if (me.status !== 200) return;
    const body = await me.json();
    expect(body.data.fullName).toBe("Typed Client");
    expectTypeOf(body.data.companyMemberships).toBeArray();
  });
});
