// Delays between tries of one event: full-jitter backoff, raised to a server's Retry-After but never
// above maxDelayMs, so a server asking for an hour does not stall an event past its retry budget.
import { type BackoffPolicy, fullJitter } from "../backoff.ts";

export { type BackoffPolicy, sleep } from "../backoff.ts";

export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number,
  retryAfterMs?: number,
): number {
  return Math.min(policy.maxDelayMs, Math.max(fullJitter(attempt, policy, random), retryAfterMs ?? 0));
}
