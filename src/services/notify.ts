// Transactional email from use cases: composed now, sent after the response (so sending never
// changes a response's timing or outcome), failures logged without recipient or content.
import type { Deps } from "../deps";
import { log } from "../runtime/log";
import { composeEmail, sendEmail, type EmailKind, type EmailParams } from "./email";

export function notify<K extends EmailKind>(deps: Deps, kind: K, to: string, params: EmailParams[K]): void {
  const message = composeEmail(kind, to, deps.config, params);
  deps.defer(() => sendEmail(deps.email, message, log));
}
