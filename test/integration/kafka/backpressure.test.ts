import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunningRelay } from "../../../src/cli/relay-app.ts";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
let h: KafkaHarness;
let relay: RunningRelay;

const MAX_IN_FLIGHT = 2;
const WAVE = 4;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 1 }).setUp();
  // KAFKA_FETCH_MAX_WAIT_MS is left at its default on purpose: that default is what this file checks.
  relay = await h.startRelay({ KAFKA_MAX_IN_FLIGHT_PER_PARTITION: String(MAX_IN_FLIGHT) });
});
afterAll(async () => {
  await h?.tearDown();
});

describe("relay over Kafka: backpressure", () => {
  it("fetches again promptly when a partition paused for backpressure resumes", async () => {
    // One payment intent per event, so the pipeline runs them in parallel rather than one per key.
    const intents = await h.dojo.createIntents({ amount: 5000, status: "Captured" }, 2 * WAVE);
    // Every Dojo call is slow, so each wave stays in flight long enough to pause the partition.
    await h.dojo.setFaults({ routes: { "*": { latencyMs: { min: 250, max: 250 } } } });
    const events = intents.map((pi) => returnApproved({ paymentIntentId: pi, amount: 1000 }));
    const wave1 = events.slice(0, WAVE);
    const wave2 = events.slice(WAVE);
    const answered = (wave: typeof events) => wave.filter((e) => h.outcomesOf(e.id).length > 0).length;

    // Times are taken as the collector receives outcomes, not after the awaits below.
    const at = (done: Promise<void>) => done.then(() => Date.now());
    const wave1Done = at(h.waitFor(() => answered(wave1) === WAVE, "all of wave 1", 20_000));
    const wave2Started = at(h.waitFor(() => answered(wave2) > 0, "first outcome of wave 2", 20_000));

    await h.produce(wave1.map(structuredRecord));
    // The first wave is taken up to the limit and unsettled, so the relay has paused the partition; the
    // rest of it stays in Kafka and is fetched again once the partition resumes.
    await expect
      .poll(() => relay.relay.stats.inFlight, { interval: 10, timeout: 10_000 })
      .toBe(MAX_IN_FLIGHT);
    // The second wave arrives while the partition is paused; the relay resumes it once wave 1 drains.
    await h.produce(wave2.map(structuredRecord));

    const [wave1At, wave2At] = await Promise.all([wave1Done, wave2Started]);
    await h.waitFor(() => answered(wave2) === WAVE, "all of wave 2");
    // kafkajs idles for the consumer's fetch wait whenever every partition is paused (5000 ms with its
    // own default); with the relay's short default the resumed partition is fetched at once, and the
    // gap is about one wave's Dojo calls.
    const gapMs = wave2At - wave1At;
    expect(gapMs, `gap between wave 1 and wave 2 outcomes: ${gapMs} ms`).toBeLessThan(2000);

    for (const event of events) {
      expect(h.outcomesOf(event.id).map((o) => o.json?.type)).toEqual(["refund.succeeded"]);
      expect((await h.dojo.refundsOf(event.data.paymentIntentId)).refunds).toHaveLength(1);
    }
    await expect.poll(() => h.committedTotal(), { timeout: 10_000 }).toBe(2 * WAVE);
    expect(h.outcomes()).toHaveLength(2 * WAVE);
  }, 30_000);
});
