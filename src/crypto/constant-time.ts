// Constant-time comparison for every secret this service compares (password hashes, refresh
// token hashes, API keys). The time taken depends only on the length of the expected value.
const encoder = new TextEncoder();

export function constantTimeEqual(a: Uint8Array | string, b: Uint8Array | string): boolean {
  const x = typeof a === "string" ? encoder.encode(a) : a;
  const y = typeof b === "string" ? encoder.encode(b) : b;
  // Compare against y's length always, so a length mismatch costs the same as a content mismatch.
  let diff = x.length ^ y.length;
  for (let i = 0; i < y.length; i++) diff |= (x[i % Math.max(x.length, 1)] ?? 0) ^ y[i];
  return diff === 0;
}
