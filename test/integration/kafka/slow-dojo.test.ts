import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningRelay } from "../../../src/cli/relay-app.ts";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
let h: KafkaHarness;
let relay: RunningRelay;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 1 }).setUp();
  // One message in flight pauses the partition; Dojo answers after longer than the session timeout.
  relay = await h.startRelay({
    KAFKA_MAX_IN_FLIGHT_PER_PARTITION: "1",
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    DOJO_TIMEOUT_MS: "20000",
  });
});
afterAll(async () => {
  await h?.tearDown();
});

describe("relay over Kafka: long Dojo calls", () => {
  it("keeps its group membership with heartbeats while a paused partition waits on a slow refund", async () => {
    const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    await h.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 9000, max: 9000 } } } });
    const events = [1000, 2000].map((amount) => returnApproved({ paymentIntentId: pi, amount }));
    await h.produce(events.map(structuredRecord));

    await h.waitFor(() => h.outcomesFor(pi).length === 2, "both outcomes", 45_000);
    expect(relay.relay.stats.groupJoins).toBe(1);
    expect(h.outcomesFor(pi).map((o) => o.json?.type)).toEqual(["refund.succeeded", "refund.succeeded"]);
    expect((await h.dojo.refundsOf(pi)).refunds).toHaveLength(2);
  }, 60_000);
});
