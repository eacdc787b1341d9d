import { once } from "node:events";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { returnApproved } from "../../support/events.ts";
import { sqsServers } from "../../support/fauxqs.ts";
import { SqsHarness, sourceEventIdOf, structuredMessage } from "../../support/sqs-harness.ts";

const servers = await sqsServers();

describe.each(servers)("relay process over SQS ($name): shutdown and crash", ({ endpoint }) => {
  // Queues of their own per test: a long poll a stopped relay aborted may still wait at SQS for up to
  // 20 s and take the next test's messages.
  let h: SqsHarness;
  beforeEach(async () => {
    h = await new SqsHarness({ endpoint }).setUp();
  });
  afterEach(async () => {
    await h?.tearDown();
  });

  it("drains on SIGTERM, exits 0, releases what it did not start, and a restart settles the rest once", async () => {
    const intents = await h.dojo.createIntents({ amount: 5000, status: "Captured" }, 30);
    const events = intents.map((pi) => returnApproved({ paymentIntentId: pi, amount: 2500 }));
    await h.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 400, max: 600 } } } });
    const relay = h.spawnRelay({
      LOG_LEVEL: "info",
      SHUTDOWN_TIMEOUT_MS: "4000",
      MAX_IN_FLIGHT: "8",
      SQS_VISIBILITY_TIMEOUT_S: "5",
    });
    await h.send(events.map((e) => structuredMessage(e)));
    await h.waitFor(() => h.outcomes().length > 0, "the first outcome", 30_000);

    const signalledAt = Date.now();
    relay.kill("SIGTERM");
    const [code] = (await once(relay, "exit")) as [number | null];
    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(4000 + 3000);
    expect(relay.output()).toContain("refund-relay stopped");

    // What Dojo refunded before the exit was published and deleted; the rest was released at once.
    // A long poll aborted at the shutdown may still wait at SQS and take a message released in the
    // same moment: that one comes back when its visibility (5 s here) runs out.
    let refunded = 0;
    for (const pi of intents) refunded += (await h.dojo.refundsOf(pi)).refunds.length;
    await h.waitFor(() => h.outcomes("refund.succeeded").length >= refunded, "an outcome per refund", 5_000);
    expect(refunded).toBeLessThan(events.length);
    const left = await h.depth();
    expect(left.visible + left.inFlight).toBe(events.length - refunded);
    expect(left.inFlight).toBeLessThanOrEqual(10);

    await h.dojo.clearFaults();
    const second = h.spawnRelay({ LOG_LEVEL: "warn" });
    const ids = events.map((e) => e.id);
    await h.waitFor(
      () => {
        const answered = new Set(h.outcomes().map((o) => sourceEventIdOf(o) ?? ""));
        return ids.every((id) => answered.has(id));
      },
      "an outcome for every event after the restart",
      30_000,
    );
    second.kill("SIGTERM");
    await once(second, "exit");
    for (const pi of intents) expect((await h.dojo.refundsOf(pi)).refunds).toHaveLength(1);
    expect(h.outcomes("refund.failed")).toHaveLength(0);
  });

  it("never refunds twice when killed with SIGKILL mid-flight: the messages come back and are settled once", async () => {
    const intents = await h.dojo.createIntents({ amount: 10_000, status: "Captured" }, 20);
    const events = intents.flatMap((pi) =>
      [1000, 2000].map((amount) => returnApproved({ paymentIntentId: pi, amount })),
    );
    await h.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 80, max: 200 } } } });
    // A short visibility, so what the killed relay held comes back within seconds, and short leases on
    // payment intents, so the restarted relay need not wait 30 s for the dead one's to expire.
    const first = h.spawnRelay({
      MAX_IN_FLIGHT: "8",
      SQS_VISIBILITY_TIMEOUT_S: "3",
      LEDGER_LEASE_MS: "2000",
    });
    await h.send(events.map((e) => structuredMessage(e)));
    await h.waitFor(() => h.outcomes().length >= 8, "some outcomes before the kill", 30_000);
    first.kill("SIGKILL");
    await once(first, "exit");

    await h.dojo.clearFaults();
    const second = h.spawnRelay({ LOG_LEVEL: "warn", LEDGER_LEASE_MS: "2000" });
    const ids = events.map((e) => e.id);
    await h.waitFor(
      () => {
        const answered = new Set(h.outcomes().map((o) => sourceEventIdOf(o) ?? ""));
        return ids.every((id) => answered.has(id));
      },
      "an outcome for every event after the restart",
      30_000,
    );
    second.kill("SIGTERM");
    await once(second, "exit");
    for (const pi of intents) {
      const refunds = await h.dojo.refundsOf(pi);
      expect(refunds.refundedAmount).toBe(3000);
      expect(new Set(refunds.refunds.map((r) => r.idempotencyKey)).size).toBe(2);
      expect(refunds.refunds).toHaveLength(2);
    }
  });

  it("stops at once when idle: the long poll on its way is aborted", async () => {
    const relay = h.spawnRelay({ LOG_LEVEL: "info", SQS_WAIT_TIME_S: "20" });
    await expect
      .poll(() => relay.output(), { timeout: 15_000, interval: 50 })
      .toContain("refund-relay started");
    // Let the long polls begin.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const signalledAt = Date.now();
    relay.kill("SIGTERM");
    const [code] = (await once(relay, "exit")) as [number | null];
    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(3_000);
  });
});
