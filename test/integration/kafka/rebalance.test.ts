import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { KafkaHarness, sourceEventIdOf } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
let h: KafkaHarness;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 4 }).setUp();
});
afterAll(async () => {
  await h?.tearDown();
});

describe("relay over Kafka: rebalancing between instances", () => {
  it("settles every event exactly once at Dojo while a second instance joins and the first leaves", async () => {
    const intents = await h.dojo.createIntents({ amount: 9000, status: "Captured" }, 40);
    const events = intents.flatMap((pi) =>
      [1000, 2000, 3000].map((amount) => returnApproved({ paymentIntentId: pi, amount })),
    );
    await h.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 150, max: 250 } } } });
    const first = await h.startRelay({ MAX_IN_FLIGHT: "4" });
    await h.produce(events.map(structuredRecord));

    await h.waitFor(() => h.outcomes().length >= 20, "outcomes from the first instance");
    const second = await h.startRelay({ MAX_IN_FLIGHT: "4" });
    await h.waitFor(() => h.outcomes().length >= 60, "outcomes after the second instance joined");
    await first.stop();

    const ids = events.map((e) => e.id);
    await h.waitFor(
      () => {
        const answered = new Set(h.outcomes().map((o) => sourceEventIdOf(o)));
        return ids.every((id) => answered.has(id));
      },
      "an outcome for every event",
      60_000,
    );
    // Both instances did part of the work.
    expect(first.relay.stats.settled).toBeGreaterThan(0);
    expect(second.relay.stats.settled).toBeGreaterThan(0);
    await second.stop();

    expect(h.outcomes("refund.failed")).toHaveLength(0);
    expect((await h.dojo.stats()).refundsCreated).toBe(events.length);
    for (const pi of intents) expect((await h.dojo.refundsOf(pi)).refundedAmount).toBe(6000);
    // Duplicated outcomes (redelivery after the rebalance) are byte-identical to the first publication.
    const byEvent = new Map<string, Set<string>>();
    for (const o of h.outcomes()) {
      const id = sourceEventIdOf(o) ?? "";
      byEvent.set(id, (byEvent.get(id) ?? new Set()).add(o.value ?? ""));
    }
    for (const values of byEvent.values()) expect(values.size).toBe(1);
  });
});
