import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fullJitter } from "../../../src/backoff.ts";
import { paymentIntentSchema, refundableAmount } from "../../../src/dojo/index.ts";
import { readRefund, readReversal } from "../../../src/dojo/responses.ts";
import { nextDelay, type RetryPolicy, sleep } from "../../../src/dojo/retry.ts";

const policy: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000, budgetMs: 3000 };

describe("backoff", () => {
  it("stays within [0, min(maxDelay, base * 2^(n-1))) for any random value (full jitter)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (n, r) => {
          const d = fullJitter(n, policy, () => r);
          return d >= 0 && d < Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
        },
      ),
    );
  });

  it("stops after maxAttempts, at a Retry-After above the cap, and when the budget would be passed", () => {
    const random = () => 0.5;
    expect(nextDelay({ failures: 1, elapsedMs: 0, retryAfterMs: undefined, policy, random })).toBe(50);
    expect(nextDelay({ failures: 3, elapsedMs: 0, retryAfterMs: undefined, policy, random })).toBe(200);
    expect(nextDelay({ failures: 5, elapsedMs: 0, retryAfterMs: undefined, policy, random })).toBeUndefined();
    expect(nextDelay({ failures: 1, elapsedMs: 0, retryAfterMs: 700, policy, random })).toBe(700);
    expect(nextDelay({ failures: 1, elapsedMs: 0, retryAfterMs: 1001, policy, random })).toBeUndefined();
    expect(
      nextDelay({ failures: 1, elapsedMs: 2990, retryAfterMs: undefined, policy, random }),
    ).toBeUndefined();
  });

  it("wakes early from a wait when the signal aborts", async () => {
    const controller = new AbortController();
    const started = performance.now();
    const pending = sleep(10_000, controller.signal);
    controller.abort();
    expect(await pending).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("tolerant response parsing", () => {
  it("relies only on refundId in a refund body", () => {
    expect(readRefund({ refundId: "rfnd_1", message: "ok", status: "Created" })?.refundId).toBe("rfnd_1");
    expect(readRefund({ paymentIntentId: "pi_1" })).toBeUndefined();
    expect(readRefund("rfnd_1")).toBeUndefined();
  });

  it("reads reversalId and falls back to id", () => {
    expect(readReversal({ message: null, reversalId: "rvs_a" })?.reversalId).toBe("rvs_a");
    expect(readReversal({ id: "rvs_b" })?.reversalId).toBe("rvs_b");
    expect(readReversal({ reversalId: null, id: "rvs_c" })?.reversalId).toBe("rvs_c");
    expect(readReversal({ message: "done" })).toBeUndefined();
  });

  it("keeps unknown payment intent fields such as paymentEvents", () => {
    const parsed = paymentIntentSchema.parse({
      id: "pi_sandbox_1",
      status: "Captured",
      captureMode: "Auto",
      amount: { value: 1000, currencyCode: "GBP" },
      paymentEvents: [{ eventType: "Captured" }],
    });
    expect(parsed).toHaveProperty("paymentEvents");
  });
});

describe("refundableAmount", () => {
  const base = { id: "pi_1", refundedAmount: 0, captures: [] };
  it("uses totalAmount for Auto intents, falling back to amount", () => {
    const intent = paymentIntentSchema.parse({
      ...base,
      status: "Captured",
      captureMode: "Auto",
      amount: { value: 900, currencyCode: "GBP" },
      totalAmount: { value: 1000, currencyCode: "GBP" },
      refundedAmount: 300,
    });
    expect(refundableAmount(intent)).toEqual({
      captured: 1000,
      refunded: 300,
      remaining: 700,
      currencyCode: "GBP",
    });
    const noTotal = paymentIntentSchema.parse({
      ...base,
      status: "Captured",
      amount: { value: 900, currencyCode: "EUR" },
    });
    expect(refundableAmount(noTotal)).toMatchObject({ captured: 900, remaining: 900, currencyCode: "EUR" });
  });

  it("sums only Successful captures for Manual intents and treats a null refundedAmount as 0", () => {
    const intent = paymentIntentSchema.parse({
      ...base,
      status: "Captured",
      captureMode: "Manual",
      amount: { value: 1000, currencyCode: "GBP" },
      refundedAmount: null,
      captures: [
        { id: "cp_1", amount: 400, status: "Successful" },
        { id: "cp_2", amount: 300, status: "Declined" },
        { id: "cp_3", amount: 100, status: "Successful" },
      ],
    });
    expect(refundableAmount(intent)).toEqual({
      captured: 500,
      refunded: 0,
      remaining: 500,
      currencyCode: "GBP",
    });
  });

  it.each(["Created", "Authorized", "Reversed", "Canceled"])(
    "finds nothing refundable on a %s intent",
    (status) => {
      const intent = paymentIntentSchema.parse({
        ...base,
        status,
        amount: { value: 1000, currencyCode: "GBP" },
      });
      expect(refundableAmount(intent).remaining).toBe(0);
    },
  );
});
