import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { returnApproved } from "../../support/events.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
let h: KafkaHarness;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 1 }).setUp();
  await h.startRelay({ OUTCOME_MODE: "binary" });
});
afterAll(async () => {
  await h?.tearDown();
});

describe("relay over Kafka: CloudEvents binary mode", () => {
  it("accepts a binary-mode event (ce_* headers) and publishes its outcome in binary mode", async () => {
    const pi = await h.dojo.createIntent({ amount: 3000, status: "Captured" });
    const event = returnApproved({ paymentIntentId: pi, amount: 1500 });
    await h.produce([
      {
        key: pi,
        value: JSON.stringify(event.data),
        headers: {
          ce_specversion: "1.0",
          ce_id: event.id,
          ce_source: event.source,
          ce_type: "return.approved",
          "content-type": "application/json",
        },
      },
    ]);

    await h.waitFor(() => h.records.some((r) => r.topic === h.topics.succeeded), "the binary outcome");
    const outcome = h.records.find((r) => r.topic === h.topics.succeeded);
    expect(outcome?.key).toBe(pi);
    expect(outcome?.headers).toMatchObject({
      ce_specversion: "1.0",
      ce_type: "refund.succeeded",
      ce_source: "urn:refund-relay",
      ce_subject: pi,
      "content-type": "application/json",
    });
    expect(outcome?.headers.ce_id).toMatch(/^[0-9a-f-]{36}$/);
    // In binary mode the value is the data alone.
    expect(outcome?.json).toMatchObject({
      sourceEvent: { id: event.id, source: event.source },
      paymentIntentId: pi,
      amount: { value: 1500, currencyCode: "GBP" },
      method: "refund",
    });
    expect((await h.dojo.refundsOf(pi)).refundedAmount).toBe(1500);
  });
});
