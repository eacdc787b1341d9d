// The input topic is deleted and created again while the relay runs. Its offsets start over, so the
// relay's old position lies inside (or beyond) the new log: reading on from it, or committing it, would
// skip new events without a trace. The relay must notice, commit nothing more and stop; a fresh
// instance of the group then answers every new event exactly once at Dojo.
import { afterEach, describe, expect, inject, it } from "vitest";
import type { RunningRelay } from "../../../src/cli/relay-app.ts";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { KafkaHarness, sourceEventIdOf } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
let h: KafkaHarness | undefined;

afterEach(async () => {
  await h?.tearDown();
  h = undefined;
});

/** A relay whose fatal error is captured, as start.ts does before it drains and exits. */
async function startWatched(
  harness: KafkaHarness,
): Promise<{ running: RunningRelay; fatal: Promise<unknown> }> {
  let onFatal: (error: unknown) => void = () => {};
  const fatal = new Promise<unknown>((resolve) => {
    onFatal = resolve;
  });
  const running = await harness.startRelay({}, { onFatal: (error) => onFatal(error) });
  return { running, fatal };
}

describe("relay over Kafka: input topic deleted and recreated", () => {
  it.each([
    // The new log soon reaches past the old position: kafkajs may read on from there.
    { before: 12, missingForMs: 0 },
    // The old position lies beyond the new log's end: kafkajs resets to the earliest offset.
    { before: 100, missingForMs: 0 },
    // Missing long enough for kafkajs to give up on its fetches and restart the consumer.
    { before: 12, missingForMs: 6_000 },
  ])(
    "stops instead of skipping, and a restart answers each of 40 new events exactly once ($before events before, missing $missingForMs ms)",
    async ({ before, missingForMs }) => {
      const harness = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 2 }).setUp();
      h = harness;
      const oldIntents = await harness.dojo.createIntents({ amount: 5000, status: "Captured" }, before);
      const oldEvents = oldIntents.map((pi) => returnApproved({ paymentIntentId: pi, amount: 1000 }));
      const first = await startWatched(harness);
      await harness.produce(oldEvents.map(structuredRecord));
      const answered = (events: typeof oldEvents) => {
        const ids = new Set(harness.outcomes().map(sourceEventIdOf));
        return events.every((e) => ids.has(e.id));
      };
      await harness.waitFor(() => answered(oldEvents), "outcomes of the events before the recreation");
      // Everything read is committed, so the old positions are what a careless relay would keep using.
      await expect.poll(() => harness.committedTotal(), { timeout: 10_000 }).toBe(oldEvents.length);

      const recreatedAt = Date.now();
      await harness.recreateInputTopic({ missingForMs });
      const newIntents = await harness.dojo.createIntents({ amount: 5000, status: "Captured" }, 40);
      const newEvents = newIntents.map((pi) => returnApproved({ paymentIntentId: pi, amount: 2000 }));
      await harness.produce(newEvents.map(structuredRecord));

      // Either the first relay notices and stops (then a fresh one takes over, as an orchestrator
      // restarts the process), or it answers all 40 itself; never does an event go unanswered.
      const allAnswered = harness.waitFor(() => answered(newEvents), "outcomes of the new events", 40_000);
      allAnswered.catch(() => undefined);
      const outcome = await Promise.race([
        first.fatal.then((error) => ({ fatal: error })),
        allAnswered.then(() => ({ fatal: undefined })),
      ]);
      const decidedAfterMs = Date.now() - recreatedAt;
      let second: Awaited<ReturnType<typeof startWatched>> | undefined;
      if (outcome.fatal !== undefined) {
        expect(String(outcome.fatal)).toMatch(/offset|recreated/);
        await first.running.stop();
        second = await startWatched(harness);
      }
      await allAnswered;
      console.info(
        `topic recreation (${before} before, missing ${missingForMs} ms): ` +
          `${outcome.fatal === undefined ? "no fatal error" : String(outcome.fatal)}; ` +
          `${decidedAfterMs} ms after the deletion began; all 40 answered after ${Date.now() - recreatedAt} ms`,
      );

      for (const event of newEvents) {
        const refunds = await harness.dojo.refundsOf(event.data.paymentIntentId);
        expect(refunds.refunds, `refunds of ${event.id}`).toHaveLength(1);
        expect(refunds.refundedAmount).toBe(2000);
        // An event answered before the stop is answered again from the ledger after it: the same bytes.
        const outcomes = harness.outcomesOf(event.id);
        expect(outcomes.length).toBeGreaterThanOrEqual(1);
        expect(new Set(outcomes.map((o) => o.value)).size).toBe(1);
        expect(outcomes[0]?.json?.type).toBe("refund.succeeded");
      }
      for (const event of oldEvents) {
        expect((await harness.dojo.refundsOf(event.data.paymentIntentId)).refunds).toHaveLength(1);
      }
      expect(harness.outcomes("refund.failed")).toHaveLength(0);
      // The relay that took over reads the new log to its end and commits it: nothing left behind.
      await expect.poll(() => harness.committedTotal(), { timeout: 10_000 }).toBe(newEvents.length);
      if (second !== undefined) {
        expect(await Promise.race([second.fatal, Promise.resolve("none")])).toBe("none");
      }
    },
    55_000,
  );
});
