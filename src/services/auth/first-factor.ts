// Where every first factor other than the password ends (magic link, email code, social sign-in,
// passkey without MFA): the application's and the user's second-factor rules decide whether the
// answer is a session or a second step. Password sign-in applies the same gate in login.ts.
import type { Deps } from "../../deps";
import type { CallingApplication } from "../applications/resolve";
import type { RequestMeta } from "./common";
import type { SignInOutcome } from "./outcome";
import { startSessionForProvenUser, type ProvenSessionInput } from "./proven-session";

export async function completeFirstFactor(deps: Deps, application: CallingApplication, input: ProvenSessionInput, meta: RequestMeta): Promise<SignInOutcome> {
  return startSessionForProvenUser(deps, application, input, meta);
}
