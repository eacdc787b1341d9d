import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
let h: KafkaHarness;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 2 }).setUp();
  await h.startRelay();
});
afterAll(async () => {
  await h?.tearDown();
});

const failureOf = (eventId: string) => h.outcomesOf(eventId).find((o) => o.json?.type === "refund.failed");

describe("relay over Kafka: duplicates and conflicts", () => {
  it("refunds once for an event delivered five times and publishes identical outcomes", async () => {
    const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    const event = returnApproved({ paymentIntentId: pi, amount: 1200 });
    await h.produce(Array.from({ length: 5 }, () => structuredRecord(event)));

    await h.waitFor(() => h.outcomesOf(event.id).length === 5, "five outcomes for the duplicated event");
    const outcomes = h.outcomesOf(event.id);
    expect(new Set(outcomes.map((o) => o.value)).size).toBe(1);
    expect(outcomes[0]?.json?.type).toBe("refund.succeeded");
    const refunds = await h.dojo.refundsOf(pi);
    expect(refunds.refunds).toHaveLength(1);
    expect(refunds.refundedAmount).toBe(1200);
    const key = outcomes[0]?.json?.data.idempotencyKey as string;
    expect((await h.dojo.idempotency(key)).requests).toBe(1);
  });

  it("answers idempotency_conflict to a reused event id with other content, without calling Dojo", async () => {
    const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    const id = randomUUID();
    const original = returnApproved({ id, paymentIntentId: pi, amount: 1000 });
    const altered = returnApproved({ id, paymentIntentId: pi, amount: 4000 });
    await h.produce([structuredRecord(original), structuredRecord(altered)]);

    await h.waitFor(() => h.outcomesOf(id).length === 2, "two outcomes for the reused id");
    // The two answers travel on different topics, so their arrival order is not fixed.
    const first = h.outcomesOf(id).find((o) => o.json?.type === "refund.succeeded");
    const second = h.outcomesOf(id).find((o) => o.json?.type === "refund.failed");
    expect(first?.json?.data.amount).toEqual({ value: 1000, currencyCode: "GBP" });
    expect(second?.json?.id).not.toBe(first?.json?.id);
    expect(second?.json).toMatchObject({
      type: "refund.failed",
      data: { code: "idempotency_conflict", attempts: 0 },
    });
    const refunds = await h.dojo.refundsOf(pi);
    expect(refunds.refunds.map((r) => r.amount)).toEqual([1000]);
    const key = first?.json?.data.idempotencyKey as string;
    expect((await h.dojo.idempotency(key)).requests).toBe(1);
  });
});

describe("relay over Kafka: definitive refusals", () => {
  it("refunds the first of two partial returns that together exceed the payment and refuses the second", async () => {
    const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    const first = returnApproved({ paymentIntentId: pi, amount: 3000 });
    const second = returnApproved({ paymentIntentId: pi, amount: 2500 });
    await h.produce([structuredRecord(first), structuredRecord(second)]);

    await h.waitFor(() => h.outcomesFor(pi).length === 2, "two outcomes for the intent");
    expect(h.outcomesOf(first.id)[0]?.json?.type).toBe("refund.succeeded");
    expect(failureOf(second.id)?.json?.data).toMatchObject({
      code: "amount_exceeds_refundable",
      paymentIntentId: pi,
      amount: { value: 2500, currencyCode: "GBP" },
    });
    const refunds = await h.dojo.refundsOf(pi);
    expect(refunds.refundedAmount).toBe(3000);
  });

  it("refuses an uncaptured payment, a currency mismatch and an unknown payment intent with their codes", async () => {
    const authorized = await h.dojo.createIntent({
      amount: 5000,
      status: "Authorized",
      captureMode: "Manual",
    });
    const euro = await h.dojo.createIntent({ amount: 5000, status: "Captured", currencyCode: "EUR" });
    const notCaptured = returnApproved({ paymentIntentId: authorized, amount: 5000 });
    const wrongCurrency = returnApproved({ paymentIntentId: euro, amount: 100, currencyCode: "GBP" });
    const unknown = returnApproved({
      paymentIntentId: `pi_sandbox_missing_${randomUUID().slice(0, 8)}`,
      amount: 100,
    });
    await h.produce([notCaptured, wrongCurrency, unknown].map(structuredRecord));

    await h.waitFor(
      () => [notCaptured, wrongCurrency, unknown].every((e) => failureOf(e.id) !== undefined),
      "three refund.failed",
    );
    expect(failureOf(notCaptured.id)?.json?.data.code).toBe("payment_not_captured");
    expect(failureOf(wrongCurrency.id)?.json?.data.code).toBe("currency_mismatch");
    expect(failureOf(unknown.id)?.json?.data.code).toBe("payment_not_found");
    expect((await h.dojo.refundsOf(authorized)).refunds).toHaveLength(0);
    expect((await h.dojo.refundsOf(euro)).refunds).toHaveLength(0);
    // Preflight answered all three: the refund endpoint was never called for them.
    const refundCalls = await h.dojo.requests({ route: "createRefund" });
    const pis = new Set([authorized, euro, unknown.data.paymentIntentId]);
    expect(refundCalls.filter((r) => [...pis].some((p) => r.path.includes(p)))).toHaveLength(0);
  });
});

describe("relay over Kafka: malformed input", () => {
  it("answers invalid events, dead-letters unparseable ones, and keeps the partition flowing", async () => {
    const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    const invalid = returnApproved({ paymentIntentId: pi, amount: 100 });
    (invalid.data.amount as { value: unknown }).value = 12.5;
    const after = returnApproved({ paymentIntentId: pi, amount: 700 });
    // Same key, so all three land on one partition in this order.
    await h.produce([
      structuredRecord(invalid),
      { key: pi, value: "{ this is not json", headers: { "content-type": "application/cloudevents+json" } },
      structuredRecord(after),
    ]);

    // Outcomes go to two topics, so they may arrive in either order: wait for both.
    await h.waitFor(
      () => h.outcomesOf(after.id).length === 1 && failureOf(invalid.id) !== undefined,
      "the invalid event's answer and the event after the poison message",
    );
    expect(failureOf(invalid.id)?.json?.data).toMatchObject({ code: "invalid_event", attempts: 0 });
    expect(String(failureOf(invalid.id)?.json?.data.message)).toContain("data.amount.value");
    await h.waitFor(() => h.deadLetters().some((d) => d.key === pi), "the dead letter");
    const dead = h.deadLetters().find((d) => d.key === pi);
    expect(dead?.value).toBe("{ this is not json");
    expect(dead?.headers).toMatchObject({
      "rr-error-code": "unparseable",
      "rr-original-topic": h.topics.input,
      "rr-attempts": "0",
    });
    expect(dead?.headers["rr-original-offset"]).toMatch(/^\d+$/);
    expect(h.outcomesOf(after.id)[0]?.json?.type).toBe("refund.succeeded");
    expect((await h.dojo.refundsOf(pi)).refunds.map((r) => r.amount)).toEqual([700]);
  });
});
