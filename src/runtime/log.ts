// Structured logs: one JSON object per line. Never log secrets, tokens, password material or
// request bodies; callers pass only what is safe.
export type LogSink = (line: Record<string, unknown>) => void;

let sink: LogSink = (line) => console.log(JSON.stringify(line));

/** For tests that assert on log content: replaces the sink and returns the previous one. */
export function setLogSink(next: LogSink): LogSink {
  const previous = sink;
  sink = next;
  return previous;
}

export function log(line: Record<string, unknown>): void {
  sink({ time: new Date().toISOString(), ...line });
}

/**
 * A loggable description of an error that never carries query parameters or other values:
 * drizzle's messages append "params: ..." (hashes, emails, tokens) and Upstash's append the whole
 * command, so everything from there on is cut, from the message and from the stack alike. The
 * driver's SQLSTATE code and message are kept.
 */
export function describeError(err: unknown, opts: { stack?: boolean } = {}): Record<string, unknown> {
  if (!(err instanceof Error)) return { errorName: typeof err };
  // drizzle appends "\nparams: ..."; Upstash appends ", command was: [...]" (keys and values).
  const strip = (text: string | undefined) => (text ? text.split(/\nparams:|, command was: /)[0].slice(0, 2000) : undefined);
  const cause = (err as { cause?: unknown }).cause;
  const causeInfo =
    cause instanceof Error
      ? { causeName: cause.name, causeCode: (cause as { code?: unknown }).code, causeMessage: strip(cause.message) }
      : {};
  const stack = opts.stack !== false && err.stack ? err.stack.slice(err.stack.indexOf("\n    at ") + 1) : undefined;
  return { errorName: err.name, errorCode: (err as { code?: unknown }).code, errorMessage: strip(err.message), ...causeInfo, ...(stack ? { stack: strip(stack) } : {}) };
}
