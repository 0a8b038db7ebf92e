// Passkey test support: a signed-in user with a software authenticator (test/helpers/webauthn-authenticator.ts),
// registration and sign-in through HTTP.
import { decodeJwt } from "jose";
import { expect } from "vitest";
import { BASE, call, json } from "../../helpers/http";
import { bearer, createUser, login, type TestUser } from "../../helpers/users";
import { SoftAuthenticator, type Bend } from "../../helpers/webauthn-authenticator";

export const ORIGIN = BASE; // https://auth.test: the default RP (id auth.test) outside production

export interface PasskeyUser extends TestUser {
  token: string;
  auth: SoftAuthenticator;
}

export async function signedInUser(opts: Parameters<typeof createUser>[0] = {}, authOpts: Partial<SoftAuthenticator["defaults"]> = {}): Promise<PasskeyUser> {
  const user = await createUser(opts);
  const session = await login(user);
  return { ...user, token: session.accessToken, auth: new SoftAuthenticator({ origin: ORIGIN, ...authOpts }) };
}

export async function registerOptions(u: PasskeyUser, headers: Record<string, string> = {}): Promise<any> {
  const res = await call("/auth/passkeys/register/options", { method: "POST", json: {}, headers: { ...bearer(u.token), ...headers } });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await json(res)).data.options;
}

export function registerVerify(u: PasskeyUser, response: unknown, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return call("/auth/passkeys/register/verify", { json: { response, ...extra }, headers: { ...bearer(u.token), ...headers } });
}

/** Registers a passkey through HTTP; returns the stored passkey's view. */
export async function registerPasskey(u: PasskeyUser, bend: Bend = {}, name?: string): Promise<any> {
  const options = await registerOptions(u);
  const res = await registerVerify(u, await u.auth.create(options, bend), name ? { name } : {});
  expect(res.status, await res.clone().text()).toBe(201);
  return (await json(res)).data.passkey;
}

export async function loginOptions(email?: string, headers: Record<string, string> = {}): Promise<{ options: any; challengeId: string }> {
  const res = await call("/auth/passkeys/login/options", { json: email ? { email } : {}, headers });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await json(res)).data;
}

export function loginVerify(challengeId: string, response: unknown, headers: Record<string, string> = {}) {
  return call("/auth/passkeys/login/verify", { json: { challengeId, response }, headers });
}

/** Options, the authenticator's answer (bent as asked), verify: the HTTP response. */
export async function signInWith(auth: SoftAuthenticator, opts: { email?: string; bend?: Bend; headers?: Record<string, string> } = {}): Promise<Response> {
  const { options, challengeId } = await loginOptions(opts.email, opts.headers);
  return loginVerify(challengeId, await auth.get(options, opts.bend), opts.headers);
}

export async function errorCode(res: Response): Promise<string> {
  const body = await json(res);
  return body?.error?.code;
}

export const amrOf = (accessToken: string) => decodeJwt(accessToken).amr as string[];
