// Retry timing: exponential backoff with full jitter (a random delay between 0 and the exponential cap),
// `Retry-After` honoured when the server sends it, every delay capped, and the whole call bounded by a
// time budget. Dojo's own SDKs do not retry, so the policy is ours.
import { fullJitter } from "../backoff.ts";

export { sleep } from "../backoff.ts";

export interface RetryPolicy {
  /** Attempts in total, the first one included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  /** No single wait is longer; a Retry-After above it ends the retries. */
  readonly maxDelayMs: number;
  /** Wall-clock limit for one call: its attempts and waits; an attempt's deadline is cut to fit. */
  readonly budgetMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  budgetMs: 20_000,
};

/**
 * The wait before the next attempt, or undefined to stop: attempts used up, a Retry-After longer than
 * the cap, or a wait that would end past the budget.
 */
export function nextDelay(args: {
  readonly failures: number;
  readonly elapsedMs: number;
  readonly retryAfterMs: number | undefined;
  readonly policy: RetryPolicy;
  readonly random: () => number;
}): number | undefined {
  const { failures, elapsedMs, retryAfterMs, policy, random } = args;
  if (failures >= policy.maxAttempts) return undefined;
  let delay: number;
  if (retryAfterMs !== undefined) {
    if (retryAfterMs > policy.maxDelayMs) return undefined;
    delay = retryAfterMs;
  } else {
    delay = fullJitter(failures, policy, random);
  }
  return elapsedMs + delay >= policy.budgetMs ? undefined : delay;
}
