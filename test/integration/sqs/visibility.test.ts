// A Dojo call slower than the visibility timeout: with the heartbeat the message stays invisible and
// is received once; without it SQS delivers it again meanwhile, and the second delivery is answered
// from the ledger. Either way Dojo refunds once.
import { afterEach, describe, expect, it } from "vitest";
import type { SqsRelay } from "../../../consumers/sqs/index.ts";
import type { RunningRelay } from "../../../src/cli/relay-app.ts";
import { returnApproved } from "../../support/events.ts";
import { sqsServers } from "../../support/fauxqs.ts";
import { SqsHarness, structuredMessage } from "../../support/sqs-harness.ts";

const servers = await sqsServers();
let h: SqsHarness | undefined;

afterEach(async () => {
  await h?.tearDown();
  h = undefined;
});

async function slowRefund(endpoint: string, heartbeat: boolean) {
  h = await new SqsHarness({ endpoint }).setUp();
  const relay: RunningRelay<SqsRelay> = await h.startRelay({
    SQS_VISIBILITY_TIMEOUT_S: "2",
    SQS_HEARTBEAT: String(heartbeat),
    DOJO_TIMEOUT_MS: "20000",
  });
  const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
  await h.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 5000, max: 5000 } } } });
  const event = returnApproved({ paymentIntentId: pi, amount: 2000 });
  await h.send([structuredMessage(event)]);
  return { harness: h, relay, pi, event };
}

describe.each(servers)("relay over SQS ($name): visibility while Dojo is slow", ({ endpoint }) => {
  it("keeps the message invisible with the heartbeat: one receive, one refund, one outcome", async () => {
    const { harness, relay, pi, event } = await slowRefund(endpoint, true);
    await harness.waitFor(() => harness.outcomesOf(event.id).length === 1, "the outcome", 20_000);
    await expect.poll(() => harness.depth(), { timeout: 5_000 }).toEqual({ visible: 0, inFlight: 0 });
    expect(relay.relay.stats).toMatchObject({ received: 1, deleted: 1, leasesLost: 0 });
    expect((await harness.dojo.refundsOf(pi)).refunds).toHaveLength(1);
    expect(harness.outcomesOf(event.id).map((o) => o.json?.type)).toEqual(["refund.succeeded"]);
  });

  it("without the heartbeat, answers the second delivery from the ledger: still one refund", async () => {
    const { harness, relay, pi, event } = await slowRefund(endpoint, false);
    await harness.waitFor(
      () => harness.outcomesOf(event.id).length >= 2,
      "outcomes of both deliveries",
      20_000,
    );
    await expect.poll(() => harness.depth(), { timeout: 5_000 }).toEqual({ visible: 0, inFlight: 0 });
    expect(relay.relay.stats.received).toBeGreaterThanOrEqual(2);
    const outcomes = harness.outcomesOf(event.id);
    expect(new Set(outcomes.map((o) => o.json?.id)).size).toBe(1);
    expect(outcomes.every((o) => o.json?.type === "refund.succeeded")).toBe(true);
    const refunds = await harness.dojo.refundsOf(pi);
    expect(refunds.refunds).toHaveLength(1);
    const counters = await harness.dojo.idempotency(outcomes[0]?.json?.data.idempotencyKey as string);
    expect(counters.refundsCreated).toBe(1);
    expect(counters.requests).toBe(1);
  });
});
