import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { RefundPipeline } from "../../../src/pipeline/index.ts";
import { event, FakeDojo, FakeSink, fail, message, SETTINGS } from "./fakes.ts";

let ledger: SqliteLedger;
let dojo: FakeDojo;
let sink: FakeSink;
let pipeline: RefundPipeline;

beforeEach(() => {
  ledger = new SqliteLedger({ path: ":memory:" });
  dojo = new FakeDojo();
  sink = new FakeSink();
  pipeline = new RefundPipeline(
    { ...SETTINGS, retry: { ...SETTINGS.retry, maxAttempts: 2 } },
    { ledger, dojo, sink, logger: silentLogger, random: () => 0 },
  );
});
afterEach(async () => {
  await ledger.close();
});

describe("a reused event id", () => {
  it("answers with an outcome id that differs from the first version's own outcome", async () => {
    dojo.onRefund = () => fail("bad_request", "rejected", 400);
    const first = event({ id: "evt-reused", paymentIntentId: "pi_a", amount: 500 });
    await pipeline.process(message(first));
    const changed = { ...first, data: { ...first.data, amount: { value: 700, currencyCode: "GBP" } } };
    await pipeline.process(message(changed));

    const [original, conflict] = sink.published;
    expect(original?.data).toMatchObject({ code: "dojo_rejected" });
    expect(conflict?.data).toMatchObject({ code: "idempotency_conflict", attempts: 0 });
    expect(conflict?.type).toBe(original?.type);
    expect(conflict?.id).not.toBe(original?.id);
  });

  it("parks the second version while the first version's refund is still open", async () => {
    dojo.onRefund = () => fail("server_error", "502", 502);
    const first = event({ id: "evt-open", paymentIntentId: "pi_b", amount: 500 });
    expect(await pipeline.process(message(first))).toMatchObject({
      status: "dead-lettered",
      reason: { code: "retry_budget_exhausted" },
    });
    const changed = { ...first, data: { ...first.data, reason: "another reason" } };
    const result = await pipeline.process(message(changed));
    expect(result).toMatchObject({
      status: "dead-lettered",
      reason: { code: "idempotency_conflict", attempts: 0 },
    });
    expect(sink.published).toHaveLength(0);
  });
});

describe("an event that fails validation after its id was processed", () => {
  it("re-publishes the stored outcome instead of answering invalid_event", async () => {
    const valid = event({ id: "evt-stricter", paymentIntentId: "pi_c", amount: 500 });
    await pipeline.process(message(valid));
    const stored = sink.published[0];
    const nowInvalid = { ...valid, data: { ...valid.data, amount: { value: -1, currencyCode: "GBP" } } };
    const result = await pipeline.process(message(nowInvalid));
    expect(result).toMatchObject({ status: "published", replayed: true });
    expect(sink.published[1]).toEqual(stored);
    expect(dojo.refunds()).toHaveLength(1);
  });

  it("parks it when the stored refund is not settled", async () => {
    dojo.onRefund = () => fail("timeout", "no answer");
    const valid = event({ id: "evt-stricter-open", paymentIntentId: "pi_d", amount: 500 });
    await pipeline.process(message(valid));
    const nowInvalid = { ...valid, data: { ...valid.data, amount: { value: 1.5, currencyCode: "GBP" } } };
    const result = await pipeline.process(message(nowInvalid));
    expect(result).toMatchObject({ status: "dead-lettered", reason: { code: "needs_reconciliation" } });
    expect(sink.published).toHaveLength(0);
  });
});
