import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
let h: KafkaHarness;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers }).setUp();
  await h.startRelay();
});
afterAll(async () => {
  await h?.tearDown();
});

describe("relay over Kafka: happy path", () => {
  it("refunds several partial returns of one payment and publishes refund.succeeded for each", async () => {
    const pi = await h.dojo.createIntent({ amount: 10_000, status: "Captured" });
    const events = [3000, 2500, 4500].map((amount, i) =>
      returnApproved({
        paymentIntentId: pi,
        amount,
        returnId: `RMA-partial-${i}`,
        metadata: { n: String(i) },
      }),
    );
    await h.produce(events.map(structuredRecord));

    await h.waitFor(() => h.outcomes("refund.succeeded").length === 3, "three refund.succeeded");
    const outcomes = h.outcomes("refund.succeeded");
    expect(outcomes.map((o) => o.json?.data.returnId)).toEqual([
      "RMA-partial-0",
      "RMA-partial-1",
      "RMA-partial-2",
    ]);
    for (const [i, o] of outcomes.entries()) {
      expect(o.key).toBe(pi);
      expect(o.headers["content-type"]).toBe("application/cloudevents+json");
      expect(o.json).toMatchObject({
        type: "refund.succeeded",
        subject: pi,
        data: {
          sourceEvent: { id: events[i]?.id, source: "urn:shop:test" },
          paymentIntentId: pi,
          amount: events[i]?.data.amount,
          method: "refund",
          attempts: 1,
          metadata: { n: String(i) },
        },
      });
      expect(o.json?.data.refundId).toMatch(/^rfnd_/);
    }
    const refunds = await h.dojo.refundsOf(pi);
    expect(refunds.refundedAmount).toBe(10_000);
    expect(refunds.refunds).toHaveLength(3);
    expect(h.outcomes("refund.failed")).toHaveLength(0);

    // Every message settled, so the group's committed offsets reach the end of each partition.
    await expect.poll(() => h.committedTotal(), { timeout: 10_000 }).toBe(3);
  });
});

describe("relay over Kafka: start-up checks", () => {
  it("refuses to start when a topic is missing, naming it", async () => {
    await expect(h.startRelay({ KAFKA_DLQ_TOPIC: `${h.topics.dlq}-absent` })).rejects.toThrow(
      new RegExp(`Kafka topics missing: ${h.topics.dlq}-absent\\.`),
    );
  });
});
