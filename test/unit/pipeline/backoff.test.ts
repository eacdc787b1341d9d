import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { backoffDelay, sleep } from "../../../src/pipeline/backoff.ts";

const policy = { baseDelayMs: 100, maxDelayMs: 10_000 };
const justBelowOne = 1 - Number.EPSILON;

describe("backoffDelay", () => {
  it("draws uniformly between 0 and the exponential step (full jitter)", () => {
    expect(backoffDelay(policy, 1, () => 0)).toBe(0);
    expect(backoffDelay(policy, 1, () => 0.5)).toBe(50);
    expect(backoffDelay(policy, 1, () => justBelowOne)).toBe(99);
    expect(backoffDelay(policy, 2, () => justBelowOne)).toBe(199);
    expect(backoffDelay(policy, 3, () => 0.5)).toBe(200);
    expect(backoffDelay(policy, 5, () => 0.5)).toBe(800);
  });

  it("stays within [0, min(maxDelay, base * 2^(attempt-1))) for every attempt and draw", () => {
    for (let attempt = 1; attempt <= 40; attempt++) {
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      for (const r of [0, 0.1, 0.37, 0.5, 0.9, justBelowOne]) {
        const delay = backoffDelay(policy, attempt, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(ceiling);
      }
    }
  });

  it("caps the step at maxDelayMs", () => {
    expect(backoffDelay(policy, 10, () => 0.5)).toBe(5_000);
    expect(backoffDelay(policy, 20, () => justBelowOne)).toBe(9_999);
  });

  it("treats attempts below 1 like the first attempt", () => {
    expect(backoffDelay(policy, 0, () => 0.5)).toBe(50);
    expect(backoffDelay(policy, -7, () => 0.5)).toBe(50);
  });

  it("stays finite and capped for huge attempt numbers", () => {
    for (const attempt of [31, 1_000, 1e9, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY]) {
      const delay = backoffDelay(policy, attempt, () => 0.5);
      expect(delay).toBe(5_000);
    }
    const huge = { baseDelayMs: 1_000, maxDelayMs: Number.MAX_SAFE_INTEGER };
    expect(Number.isFinite(backoffDelay(huge, 1e6, () => justBelowOne))).toBe(true);
  });

  it("never goes below a Retry-After that fits under the cap", () => {
    expect(backoffDelay(policy, 1, () => 0, 3_000)).toBe(3_000);
    expect(backoffDelay(policy, 1, () => justBelowOne, 3_000)).toBe(3_000);
    // A jittered delay already above Retry-After is kept.
    expect(backoffDelay(policy, 7, () => 0.5, 1_000)).toBe(3_200);
  });

  it("ignores a Retry-After of zero or none", () => {
    expect(backoffDelay(policy, 3, () => 0.25, 0)).toBe(100);
    expect(backoffDelay(policy, 3, () => 0.25, undefined)).toBe(100);
  });
});

describe("sleep", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("resolves true once the full delay has passed, not before", async () => {
    let result: boolean | undefined;
    void sleep(1_000).then((r) => {
      result = r;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toBe(true);
  });

  it("resolves true with a signal that never aborts, and stops listening afterwards", async () => {
    const controller = new AbortController();
    const removed = vi.spyOn(controller.signal, "removeEventListener");
    const done = sleep(50, controller.signal);
    await vi.advanceTimersByTimeAsync(50);
    await expect(done).resolves.toBe(true);
    expect(removed).toHaveBeenCalledWith("abort", expect.any(Function));
  });

  it("resolves false immediately when the signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(sleep(60_000, controller.signal)).resolves.toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("resolves false as soon as the signal aborts and clears its timer", async () => {
    const controller = new AbortController();
    let result: boolean | undefined;
    void sleep(60_000, controller.signal).then((r) => {
      result = r;
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(result).toBeUndefined();
    controller.abort();
    await Promise.resolve();
    expect(result).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});
