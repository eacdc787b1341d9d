// Retry timing: exponential backoff with full jitter (a random delay between 0 and the exponential cap),
// `Retry-After` honoured when the server sends it, every delay capped, and the whole call bounded by a
// time budget. Dojo's own SDKs do not retry, so the policy is ours.

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

/** Full jitter: uniform in [0, min(maxDelay, base * 2^(failures-1))). */
export function backoffDelay(failures: number, policy: RetryPolicy, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failures - 1));
  return Math.floor(random() * cap);
}

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
    delay = backoffDelay(failures, policy, random);
  }
  return elapsedMs + delay >= policy.budgetMs ? undefined : delay;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
