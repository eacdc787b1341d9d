import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { idempotencyKeyFor } from "../../../schemas/index.ts";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { KafkaHarness, sourceEventIdOf } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");

describe("relay process: crash and shutdown", () => {
  let h: KafkaHarness;
  beforeAll(async () => {
    h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 4 }).setUp();
  });
  afterAll(async () => {
    await h?.tearDown();
  });

  it("never refunds twice when killed with SIGKILL mid-flight and restarted, and settles every event", async () => {
    const intents = await h.dojo.createIntents({ amount: 10_000, status: "Captured" }, 40);
    const events = intents.flatMap((pi) =>
      [1000, 2000, 3000].map((amount) => returnApproved({ paymentIntentId: pi, amount })),
    );
    await h.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 80, max: 200 } } } });
    await h.produce(events.map(structuredRecord));

    const first = h.spawnRelay({ LOG_LEVEL: "info", MAX_IN_FLIGHT: "16" });
    await h.waitFor(() => h.outcomes().length >= 15, "some outcomes before the kill", 40_000);
    first.kill("SIGKILL");
    await once(first, "exit");
    const beforeRestart = (await h.dojo.stats()).refundsCreated;
    expect(beforeRestart).toBeLessThan(events.length);

    await h.dojo.clearFaults();
    const second = h.spawnRelay({ LOG_LEVEL: "warn" });
    const ids = events.map((e) => e.id);
    await h.waitFor(
      () => {
        const answered = new Set(h.outcomes().map((o) => sourceEventIdOf(o) ?? ""));
        return ids.every((id) => answered.has(id));
      },
      "an outcome for every event after the restart",
      60_000,
    );
    second.kill("SIGTERM");
    await once(second, "exit");

    expect(h.outcomes("refund.failed")).toHaveLength(0);
    const stats = await h.dojo.stats();
    expect(stats.refundsCreated).toBe(events.length);
    for (const pi of intents) {
      const refunds = await h.dojo.refundsOf(pi);
      expect(refunds.refundedAmount).toBe(6000);
      expect(new Set(refunds.refunds.map((r) => r.idempotencyKey)).size).toBe(3);
    }
  });

  it("drains in-flight refunds on SIGTERM and exits 0 within the deadline", async () => {
    const intents = await h.dojo.createIntents({ amount: 5000, status: "Captured" }, 30);
    const events = intents.map((pi) => returnApproved({ paymentIntentId: pi, amount: 2500 }));
    await h.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 400, max: 600 } } } });
    const relay = h.spawnRelay({ LOG_LEVEL: "info", SHUTDOWN_TIMEOUT_MS: "4000", MAX_IN_FLIGHT: "8" });
    const before = h.outcomes().length;
    await h.produce(events.map(structuredRecord));
    await h.waitFor(() => h.outcomes().length > before, "the first outcome", 40_000);

    const signalledAt = Date.now();
    relay.kill("SIGTERM");
    const [code] = (await once(relay, "exit")) as [number | null];
    const tookMs = Date.now() - signalledAt;
    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(4000 + 3000);
    expect(relay.output()).toContain("refund-relay stopped");

    // Whatever Dojo refunded before the exit was published: refunds at Dojo == succeeded outcomes now.
    const ids = new Set(events.map((e) => e.id));
    const published = new Set(
      h
        .outcomes("refund.succeeded")
        .map((o) => sourceEventIdOf(o) ?? "")
        .filter((id) => ids.has(id)),
    );
    let refunded = 0;
    for (const pi of intents) refunded += (await h.dojo.refundsOf(pi)).refunds.length;
    await h.waitFor(
      () =>
        h.outcomes("refund.succeeded").filter((o) => ids.has(sourceEventIdOf(o) ?? "")).length >= refunded,
      "outcomes for every refund made before the exit",
      5_000,
    );
    expect(published.size).toBeGreaterThan(0);
    expect(refunded).toBeLessThan(events.length);
  });

  it("cancels Dojo calls at the drain deadline, exits 0, and settles them once after a restart", async () => {
    const intents = await h.dojo.createIntents({ amount: 5000, status: "Captured" }, 6);
    const events = intents.map((pi) => returnApproved({ paymentIntentId: pi, amount: 1000 }));
    await h.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 8000, max: 8000 } } } });
    const keys = events.map((e) => idempotencyKeyFor(e));
    const arrived = async () => {
      let n = 0;
      for (const key of keys) n += (await h.dojo.idempotency(key)).requests > 0 ? 1 : 0;
      return n;
    };
    const relay = h.spawnRelay({ LOG_LEVEL: "info", SHUTDOWN_TIMEOUT_MS: "1000" });
    await h.produce(events.map(structuredRecord));
    // Wait until every refund request is at Dojo (the simulator holds them for 8 s before answering).
    await expect.poll(arrived, { timeout: 30_000, interval: 100 }).toBe(events.length);

    const signalledAt = Date.now();
    relay.kill("SIGTERM");
    const [code] = (await once(relay, "exit")) as [number | null];
    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(1000 + 5000 + 3000);
    expect(relay.output()).toContain("drain deadline reached");
    const ids = new Set(events.map((e) => e.id));
    expect(h.outcomes().filter((o) => ids.has(sourceEventIdOf(o) ?? ""))).toHaveLength(0);

    // The cancelled refunds may or may not have been applied; a restart resumes them with the same keys.
    await h.dojo.clearFaults();
    // The simulator still holds the cancelled requests until their 8 s are up and answers the same keys
    // with 409 "in flight" meanwhile, so the restarted relay needs a retry budget longer than that.
    const second = h.spawnRelay({ LOG_LEVEL: "warn", RETRY_MAX_ATTEMPTS: "100", RETRY_MAX_DELAY_MS: "500" });
    await h.waitFor(
      () => [...ids].every((id) => h.outcomesOf(id).length > 0),
      "an outcome for every cancelled event",
      60_000,
    );
    second.kill("SIGTERM");
    await once(second, "exit");
    for (const pi of intents) {
      const refunds = await h.dojo.refundsOf(pi);
      expect(refunds.refunds).toHaveLength(1);
      expect(refunds.refundedAmount).toBe(1000);
    }
    expect(h.outcomes("refund.failed").filter((o) => ids.has(sourceEventIdOf(o) ?? ""))).toHaveLength(0);
  });
});
