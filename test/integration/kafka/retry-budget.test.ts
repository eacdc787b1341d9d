import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
let h: KafkaHarness;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 1 }).setUp();
  await h.startRelay({ RETRY_MAX_ATTEMPTS: "3", RETRY_MAX_AGE_MS: "20000" });
});
afterAll(async () => {
  await h?.tearDown();
});

describe("relay over Kafka: retry budget", () => {
  it("parks an event whose refund stays indeterminate, never reporting it failed, and moves on", async () => {
    const stuck = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    const fine = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
    await h.dojo.setFaults({ routes: { createRefund: { error503Rate: 1 } } });
    const parked = returnApproved({ paymentIntentId: stuck, amount: 1000 });
    await h.produce([structuredRecord(parked)]);

    await h.waitFor(() => h.deadLetters().length === 1, "the parked event");
    const dead = h.deadLetters()[0];
    expect(dead?.headers).toMatchObject({
      "rr-error-code": "retry_budget_exhausted",
      "rr-event-id": parked.id,
      "rr-original-topic": h.topics.input,
      "rr-original-partition": "0",
    });
    expect(Number(dead?.headers["rr-attempts"])).toBeGreaterThanOrEqual(3);
    expect(dead?.headers["rr-error-message"]).toContain("may or may not exist");
    expect(JSON.parse(dead?.value ?? "{}").id).toBe(parked.id);
    expect(h.outcomesOf(parked.id)).toHaveLength(0);

    // The partition is not blocked: the next event is refunded once Dojo recovers.
    await h.dojo.clearFaults();
    const next = returnApproved({ paymentIntentId: fine, amount: 500 });
    await h.produce([structuredRecord(next)]);
    await h.waitFor(() => h.outcomesOf(next.id).length === 1, "the next event");
    expect(h.outcomesOf(next.id)[0]?.json?.type).toBe("refund.succeeded");

    // Replaying the dead letter resumes with the same key and settles it.
    await h.produce([
      { key: stuck, value: dead?.value ?? null, headers: { "content-type": "application/cloudevents+json" } },
    ]);
    await h.waitFor(() => h.outcomesOf(parked.id).length === 1, "the replayed event");
    expect(h.outcomesOf(parked.id)[0]?.json?.type).toBe("refund.succeeded");
    expect((await h.dojo.refundsOf(stuck)).refunds).toHaveLength(1);
  });
});
