import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
let h: KafkaHarness;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 2 }).setUp();
  await h.startRelay({ KAFKA_TRANSACTIONAL: "true", KAFKA_TRANSACTIONAL_ID: `${h.groupId}-tx` });
});
afterAll(async () => {
  await h?.tearDown();
});

describe("relay over Kafka: transactional mode", () => {
  it("publishes outcomes and dead letters in transactions together with the offset commits", async () => {
    const intents = await h.dojo.createIntents({ amount: 5000, status: "Captured" }, 6);
    const events = intents.map((pi) => returnApproved({ paymentIntentId: pi, amount: 1000 }));
    await h.produce([...events.map(structuredRecord), { key: "poison", value: "not json" }]);

    // The harness collector reads with isolation read_committed (the kafkajs default), so it only sees
    // records from committed transactions.
    await h.waitFor(() => h.outcomes("refund.succeeded").length === 6, "six committed outcomes");
    await h.waitFor(() => h.deadLetters().length === 1, "the committed dead letter");
    await expect.poll(() => h.committedTotal(), { timeout: 10_000 }).toBe(7);
    expect(new Set(h.outcomes().map((o) => o.json?.data.paymentIntentId))).toEqual(new Set(intents));
    const stats = await h.dojo.stats();
    expect(stats.refundsCreated).toBe(6);
  });
});
