import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { refundableAmount } from "../../../src/dojo/index.ts";
import { freshKey, type Harness, startHarness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());
beforeEach(() => h.control.reset());

describe("createRefund against the simulator", () => {
  it("creates one refund and returns its refundId on the first attempt", async () => {
    const client = h.client();
    const id = await h.control.createIntent({ amount: 1000, status: "Captured" });
    const key = freshKey();
    const result = await client.createRefund({
      paymentIntentId: id,
      amount: 400,
      idempotencyKey: key,
      refundReason: "return",
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.attempts).toBe(1);
    expect(result.value.refundId).toMatch(/^rfnd_/);
    const refunds = await h.control.refundsOf(id);
    expect(refunds.refunds.map((r) => r.refundId)).toEqual([result.value.refundId]);
    expect(refunds.refunds[0]?.idempotencyKey).toBe(key);
    expect(await h.control.idempotency(key)).toMatchObject({ requests: 1, refundsCreated: 1 });
  });

  it("replays the original refund when the same key and body are sent again", async () => {
    const client = h.client();
    const id = await h.control.createIntent({ amount: 1000, status: "Captured" });
    const key = freshKey();
    const first = await client.createRefund({ paymentIntentId: id, amount: 300, idempotencyKey: key });
    const second = await client.createRefund({ paymentIntentId: id, amount: 300, idempotencyKey: key });
    expect(first.ok && second.ok).toBe(true);
    if (!first.ok || !second.ok) return;
    expect(second.value.refundId).toBe(first.value.refundId);
    expect(await h.control.idempotency(key)).toMatchObject({ requests: 2, refundsCreated: 1, replays: 1 });
    expect((await h.control.refundsOf(id)).refundedAmount).toBe(300);
  });

  it("reports a key reused with a different amount as a definitive idempotency_mismatch", async () => {
    const client = h.client();
    const id = await h.control.createIntent({ amount: 1000, status: "Captured" });
    const key = freshKey();
    await client.createRefund({ paymentIntentId: id, amount: 300, idempotencyKey: key });
    const result = await client.createRefund({ paymentIntentId: id, amount: 301, idempotencyKey: key });
    expect(result).toMatchObject({
      ok: false,
      attempts: 1,
      error: { code: "idempotency_mismatch", kind: "definitive", status: 409 },
    });
    expect((await h.control.stats()).refundsCreated).toBe(1);
  });

  it("keeps refundedAmount current so refundableAmount shrinks with each partial refund", async () => {
    const client = h.client();
    const id = await h.control.createIntent({ amount: 1000, status: "Captured", currencyCode: "EUR" });
    await client.createRefund({ paymentIntentId: id, amount: 250, idempotencyKey: freshKey() });
    await client.createRefund({ paymentIntentId: id, amount: 250, idempotencyKey: freshKey() });
    const intent = await client.getPaymentIntent({ paymentIntentId: id });
    expect(intent.ok).toBe(true);
    if (!intent.ok) return;
    expect(intent.value.status).toBe("Captured");
    expect(refundableAmount(intent.value)).toEqual({
      captured: 1000,
      refunded: 500,
      remaining: 500,
      currencyCode: "EUR",
    });
    await client.createRefund({ paymentIntentId: id, amount: 500, idempotencyKey: freshKey() });
    const after = await client.getPaymentIntent({ paymentIntentId: id });
    expect(after.ok && after.value.status).toBe("Refunded");
    expect(after.ok && refundableAmount(after.value).remaining).toBe(0);
  });

  it("refuses a refund above the remaining amount as a definitive bad_request, without retrying", async () => {
    const client = h.client();
    const id = await h.control.createIntent({ amount: 1000, status: "Captured" });
    await client.createRefund({ paymentIntentId: id, amount: 900, idempotencyKey: freshKey() });
    const result = await client.createRefund({
      paymentIntentId: id,
      amount: 101,
      idempotencyKey: freshKey(),
    });
    expect(result).toMatchObject({
      ok: false,
      attempts: 1,
      error: { code: "bad_request", kind: "definitive", status: 400 },
    });
    if (result.ok) return;
    expect(result.error.problem?.errors?.amount?.[0]).toContain("refundable");
    expect(result.error.problem?.traceId).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it("refuses a refund on an intent that is only authorised as a definitive conflict", async () => {
    const client = h.client();
    const id = await h.control.createIntent({ amount: 1000, captureMode: "Manual", status: "Authorized" });
    const result = await client.createRefund({
      paymentIntentId: id,
      amount: 100,
      idempotencyKey: freshKey(),
    });
    expect(result).toMatchObject({ ok: false, error: { code: "conflict", kind: "definitive", status: 409 } });
    expect((await h.control.stats()).refundsCreated).toBe(0);
  });

  it("retrieves a created refund by id, and reports an unknown refund id as not_found", async () => {
    const client = h.client();
    const id = await h.control.createIntent({ amount: 1000, status: "Captured" });
    const created = await client.createRefund({
      paymentIntentId: id,
      amount: 10,
      idempotencyKey: freshKey(),
    });
    if (!created.ok) throw new Error(created.error.message);
    const got = await client.getRefund({ refundId: created.value.refundId });
    expect(got).toMatchObject({ ok: true, value: { refundId: created.value.refundId, paymentIntentId: id } });
    expect(await client.getRefund({ refundId: "rfnd_missing" })).toMatchObject({
      ok: false,
      error: { code: "not_found" },
    });
    expect(await client.getRefund({ refundId: "r".repeat(51) })).toMatchObject({
      ok: false,
      attempts: 0,
      error: { code: "invalid_request" },
    });
  });

  it("reports an unknown payment intent as not_found", async () => {
    const result = await h
      .client()
      .createRefund({ paymentIntentId: "pi_sandbox_nope", amount: 1, idempotencyKey: freshKey() });
    expect(result).toMatchObject({
      ok: false,
      attempts: 1,
      error: { code: "not_found", kind: "definitive", status: 404 },
    });
  });

  it("refunds a Manual intent up to the sum of its successful captures", async () => {
    const client = h.client();
    const id = await h.control.createIntent({ amount: 1000, captureMode: "Manual", status: "Authorized" });
    expect((await client.capture({ paymentIntentId: id, amount: 600 })).ok).toBe(true);
    const intent = await client.getPaymentIntent({ paymentIntentId: id });
    expect(intent.ok && refundableAmount(intent.value)).toMatchObject({ captured: 600, remaining: 600 });
    const tooMuch = await client.createRefund({
      paymentIntentId: id,
      amount: 601,
      idempotencyKey: freshKey(),
    });
    expect(tooMuch.ok).toBe(false);
    const exact = await client.createRefund({ paymentIntentId: id, amount: 600, idempotencyKey: freshKey() });
    expect(exact.ok).toBe(true);
  });
});

describe("checks before sending", () => {
  const cases: [string, Record<string, unknown>][] = [
    ["a fractional amount", { amount: 10.5 }],
    ["a zero amount", { amount: 0 }],
    ["a refundReason of 1025 characters", { refundReason: "r".repeat(1025) }],
    ["notes of 4097 characters", { notes: "n".repeat(4097) }],
    ["an idempotency key of 101 characters", { idempotencyKey: "k".repeat(101) }],
    ["an empty idempotency key", { idempotencyKey: "" }],
    ["a payment intent id with a slash", { paymentIntentId: "pi/../../admin" }],
    ["a payment intent id of 101 characters", { paymentIntentId: "p".repeat(101) }],
  ];
  it.each(cases)("rejects %s as invalid_request without any request", async (_name, override) => {
    const before = (await h.control.stats()).requestsTotal;
    const input = { paymentIntentId: "pi_sandbox_x", amount: 100, idempotencyKey: freshKey(), ...override };
    const result = await h
      .client()
      .createRefund(input as Parameters<ReturnType<Harness["client"]>["createRefund"]>[0]);
    expect(result).toMatchObject({
      ok: false,
      attempts: 0,
      error: { code: "invalid_request", kind: "definitive" },
    });
    expect((await h.control.stats()).requestsTotal).toBe(before);
  });

  it("accepts the limits themselves: 1024-character reason, 4096-character notes, 100-character key", async () => {
    const id = await h.control.createIntent({ amount: 1000, status: "Captured" });
    const result = await h.client().createRefund({
      paymentIntentId: id,
      amount: 1,
      refundReason: "r".repeat(1024),
      notes: "n".repeat(4096),
      idempotencyKey: "k".repeat(100),
    });
    expect(result.ok).toBe(true);
  });
});
