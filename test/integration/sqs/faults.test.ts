import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { FaultConfigInput } from "../../../src/sim/index.ts";
import { returnApproved } from "../../support/events.ts";
import { sqsServers } from "../../support/fauxqs.ts";
import { SqsHarness, structuredMessage } from "../../support/sqs-harness.ts";

const servers = await sqsServers();

describe.each(servers)("relay over SQS ($name): Dojo faults end in exactly one refund", ({ endpoint }) => {
  let h: SqsHarness;

  beforeAll(async () => {
    h = await new SqsHarness({ endpoint }).setUp();
    // Short deadlines so a hanging Dojo is given up on quickly; a generous budget so faults are outlasted.
    await h.startRelay({ DOJO_TIMEOUT_MS: "800", RETRY_MAX_ATTEMPTS: "30", RETRY_MAX_AGE_MS: "60000" });
  });
  afterEach(async () => {
    await h.dojo.clearFaults();
  });
  afterAll(async () => {
    await h?.tearDown();
  });

  async function refundUnder(faults: FaultConfigInput) {
    const pi = await h.dojo.createIntent({ amount: 9000, status: "Captured" });
    await h.dojo.setFaults(faults);
    const event = returnApproved({ paymentIntentId: pi, amount: 4000 });
    await h.send([structuredMessage(event)]);
    await h.waitFor(() => h.outcomesOf(event.id).length > 0, "an outcome despite faults", 30_000);
    const outcomes = h.outcomesOf(event.id);
    const refunds = await h.dojo.refundsOf(pi);
    const key = outcomes[0]?.json?.data.idempotencyKey as string;
    return { outcomes, refunds, counters: await h.dojo.idempotency(key) };
  }

  it("outlasts 500, 502 and 503 answers", async () => {
    const { outcomes, refunds, counters } = await refundUnder({
      routes: { createRefund: { script: ["500", "502", "503", "500"] } },
    });
    expect(outcomes.map((o) => o.json?.type)).toEqual(["refund.succeeded"]);
    expect(refunds.refunds).toHaveLength(1);
    expect(counters.refundsCreated).toBe(1);
    expect(counters.requests).toBe(5);
  });

  it("retries with the same key when Dojo never answers", async () => {
    const { outcomes, refunds, counters } = await refundUnder({
      routes: { createRefund: { script: ["hang"] } },
    });
    expect(outcomes.map((o) => o.json?.type)).toEqual(["refund.succeeded"]);
    expect(refunds.refunds).toHaveLength(1);
    expect(counters.refundsCreated).toBe(1);
    expect(counters.requests).toBeGreaterThanOrEqual(2);
  });

  it("does not pay twice when Dojo applies the refund and drops the connection", async () => {
    const { outcomes, refunds, counters } = await refundUnder({
      routes: { createRefund: { script: ["drop_after_apply", "drop_after_apply"] } },
    });
    expect(outcomes.map((o) => o.json?.type)).toEqual(["refund.succeeded"]);
    expect(refunds.refunds).toHaveLength(1);
    expect(refunds.refundedAmount).toBe(4000);
    expect(counters.refundsCreated).toBe(1);
    expect(counters.replays).toBeGreaterThanOrEqual(1);
    expect(outcomes[0]?.json?.data.refundId).toBe(refunds.refunds[0]?.refundId);
  });
});
