// The idempotency key at Dojo is the truth, the ledger a cache that may be missing or stale. Preflight
// refuses only what no earlier attempt of this event could explain; when the intent's refunds could
// include this event's own refund, the refund is sent with the event's key and Dojo answers (a key it
// has seen replays its first refund). Replaying a parked event runs the same rules: preflight once,
// then the key.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PaymentIntent } from "../../../src/dojo/index.ts";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { type PipelineSettings, RefundPipeline } from "../../../src/pipeline/index.ts";
import {
  capturedIntent,
  DojoSim,
  event,
  FakeSink,
  fail,
  keyOf,
  message,
  published,
  ref,
  SETTINGS,
} from "./fakes.ts";

const PI = "pi_keyfirst";

let ledger: SqliteLedger;
let sink: FakeSink;

beforeEach(() => {
  ledger = new SqliteLedger({ path: ":memory:" });
  sink = new FakeSink();
});

afterEach(async () => {
  await ledger.close();
});

function pipeline(dojo: DojoSim, overrides: Partial<PipelineSettings> = {}): RefundPipeline {
  return new RefundPipeline(
    { ...SETTINGS, ...overrides },
    { ledger, dojo, sink, logger: silentLogger, random: () => 0 },
  );
}

/** An intent authorized (not captured) for `value`, as a reversal would find it. */
function authorizedIntent(id: string, value: number): PaymentIntent {
  return { ...capturedIntent(id, value), status: "Authorized" };
}

describe("finding A: an instance without the ledger row (a moved partition, a lost disk)", () => {
  it("sends the refund with the event's key when the intent's refunds could include it, and publishes Dojo's replay", async () => {
    // Instance A refunded 3000 of 5000 for this event; instance B has no ledger row for it.
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    const madeByA = dojo.seedRefund(PI, keyOf(e), 3_000);

    const outcome = published(await pipeline(dojo).process(message(e)));

    // Before key-first, preflight answered amount_exceeds_refundable (3000 > the 2000 left).
    expect(outcome.type).toBe("refund.succeeded");
    expect(outcome.data).toMatchObject({
      refundId: madeByA.refundId,
      idempotencyKey: keyOf(e),
      method: "refund",
      attempts: 1,
    });
    expect(dojo.ops()).toEqual(["getPaymentIntent", "createRefund"]);
    expect(dojo.refunds()[0]).toMatchObject({ idempotencyKey: keyOf(e), amount: 3_000 });
    // Dojo replayed the key: one refund in all.
    expect(dojo.made).toHaveLength(1);
    expect(dojo.intent(PI).refundedAmount).toBe(3_000);
    expect(await ledger.get(ref(e))).toMatchObject({ state: "published", refundId: madeByA.refundId });
  });

  it("lets Dojo refuse another event's key on the same intent, named with preflight's code", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const earlier = event({ paymentIntentId: PI, amount: 3_000 });
    dojo.seedRefund(PI, keyOf(earlier), 3_000);
    // Another return of the same amount: the refunded 3000 could be its own as far as the intent shows.
    const e = event({ paymentIntentId: PI, amount: 3_000 });

    const outcome = published(await pipeline(dojo).process(message(e)));

    expect(dojo.ops()).toEqual(["getPaymentIntent", "createRefund", "getPaymentIntent"]);
    expect(outcome.type).toBe("refund.failed");
    expect(outcome.data).toMatchObject({
      code: "amount_exceeds_refundable",
      message:
        "amount 3000 exceeds the refundable 2000 (captured 5000, refunded 3000) (read again after Dojo refused the refund)",
      attempts: 1,
      idempotencyKey: keyOf(e),
    });
    expect(dojo.made).toHaveLength(1);
  });

  it("still refuses without a Dojo write an amount the refunded total cannot hold", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    dojo.seedRefund(PI, "someone-else", 2_999);
    const e = event({ paymentIntentId: PI, amount: 3_000 });

    const outcome = published(await pipeline(dojo).process(message(e)));

    expect(dojo.ops()).toEqual(["getPaymentIntent"]);
    expect(outcome.data).toMatchObject({ code: "amount_exceeds_refundable", attempts: 0 });
  });

  it("parks a Reversed intent that this event's own reversal could explain (reverseWhenAuthorized), with no Dojo write", async () => {
    // Instance A reversed the full 3000 for this event, and its ledger row is gone.
    const dojo = new DojoSim(authorizedIntent(PI, 3_000));
    dojo.reverse({ paymentIntentId: PI });
    dojo.calls.length = 0;
    const e = event({ paymentIntentId: PI, amount: 3_000 });

    const result = await pipeline(dojo, { reverseWhenAuthorized: true }).process(message(e));

    // Before key-first, preflight answered payment_not_refundable.
    expect(result).toMatchObject({
      status: "dead-lettered",
      reason: { code: "needs_reconciliation", attempts: 0, eventId: e.id },
    });
    if (result.status === "dead-lettered") {
      expect(result.reason.message).toContain("Reversed");
      expect(result.reason.message).toContain("(intent: Reversed, captured 0, refunded 0 GBP)");
    }
    expect(dojo.ops()).toEqual(["getPaymentIntent"]);
    expect(sink.published).toEqual([]);
    expect(await ledger.get(ref(e))).toMatchObject({
      state: "received",
      attempts: 0,
      outcome: null,
      parked: { code: "needs_reconciliation" },
    });
  });

  it("answers payment_not_refundable for a Reversed intent no reversal of this relay can explain", async () => {
    const dojo = new DojoSim(authorizedIntent(PI, 3_000));
    dojo.reverse({ paymentIntentId: PI });
    dojo.calls.length = 0;
    // Reversal is off: this relay never reverses.
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    const outcome = published(await pipeline(dojo, { reverseWhenAuthorized: false }).process(message(e)));
    expect(outcome.data).toMatchObject({ code: "payment_not_refundable", attempts: 0 });
    expect(dojo.ops()).toEqual(["getPaymentIntent"]);
  });

  it("parks a currency mismatch when the intent's refunds could include this event's refund", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000, "EUR"));
    const e = event({ paymentIntentId: PI, amount: 3_000, currencyCode: "GBP" });
    dojo.seedRefund(PI, keyOf(e), 3_000);
    dojo.calls.length = 0;

    const result = await pipeline(dojo).process(message(e));

    expect(result).toMatchObject({ status: "dead-lettered", reason: { code: "needs_reconciliation" } });
    expect(dojo.ops()).toEqual(["getPaymentIntent"]);
    expect(sink.published).toEqual([]);
  });
});

describe("finding H: replaying a parked event runs preflight once, then the key", () => {
  /** Refunds whose answers are lost: Dojo applies the `applied`-th one, but every answer times out. */
  function answersLost(dojo: DojoSim, applied: number): void {
    let n = 0;
    dojo.onRefund = (input) => {
      n += 1;
      if (n === applied) dojo.refund(input);
      return fail("timeout", "no response");
    };
  }

  it("replays a retry_budget_exhausted event: preflight sees the refund, the key gets Dojo's replay", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    answersLost(dojo, 2);
    const first = await pipeline(dojo).process(message(e));
    expect(first).toMatchObject({
      status: "dead-lettered",
      reason: { code: "retry_budget_exhausted", attempts: 3 },
    });
    expect(dojo.made).toHaveLength(1);

    // The dead letter is replayed to the input topic once Dojo answers again.
    dojo.onRefund = (input) => dojo.refund(input);
    dojo.calls.length = 0;
    const outcome = published(await pipeline(dojo).process(message(e)));

    expect(dojo.ops()).toEqual(["getPaymentIntent", "createRefund"]);
    expect(dojo.refunds()[0]?.idempotencyKey).toBe(keyOf(e));
    expect(outcome.type).toBe("refund.succeeded");
    expect(outcome.data).toMatchObject({ refundId: dojo.made[0]?.refundId, attempts: 4 });
    expect(dojo.made).toHaveLength(1);
    expect(await ledger.get(ref(e))).toMatchObject({ state: "published", parked: null });
  });

  it("replays a retry_budget_exhausted event whose intent cannot hold its refund: preflight refuses, no Dojo write", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    answersLost(dojo, 0);
    expect((await pipeline(dojo).process(message(e))).status).toBe("dead-lettered");
    expect(dojo.made).toHaveLength(0);

    // Meanwhile someone else refunded 2500: 2500 left, and 2500 refunded cannot include our 3000.
    dojo.seedRefund(PI, "someone-else", 2_500);
    dojo.onRefund = (input) => dojo.refund(input);
    dojo.calls.length = 0;
    const outcome = published(await pipeline(dojo).process(message(e)));

    expect(dojo.ops()).toEqual(["getPaymentIntent"]);
    expect(outcome.data).toMatchObject({
      code: "amount_exceeds_refundable",
      message: "amount 3000 exceeds the refundable 2500 (captured 5000, refunded 2500)",
      // The earlier requests reached Dojo: their count, key and method stay on the answer.
      attempts: 3,
      idempotencyKey: keyOf(e),
      method: "refund",
    });
  });

  it("replays a needs_reconciliation event parked after a refusal: preflight, then Dojo's replay of the key", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    // The first request is applied but its answer is lost; the resend is refused (Dojo still busy).
    let n = 0;
    dojo.onRefund = (input) => {
      n += 1;
      if (n === 1) {
        dojo.refund(input);
        return fail("timeout");
      }
      return fail("unprocessable", "amount exceeds the refundable amount", 422);
    };
    const first = await pipeline(dojo).process(message(e));
    expect(first).toMatchObject({ status: "dead-lettered", reason: { code: "needs_reconciliation" } });
    expect(sink.published).toEqual([]);

    dojo.onRefund = (input) => dojo.refund(input);
    dojo.calls.length = 0;
    const outcome = published(await pipeline(dojo).process(message(e)));

    expect(dojo.ops()).toEqual(["getPaymentIntent", "createRefund"]);
    expect(outcome.data).toMatchObject({ refundId: dojo.made[0]?.refundId, attempts: 3 });
    expect(dojo.made).toHaveLength(1);
  });

  it("replays a needs_reconciliation event that preflight parked: preflight runs again and parks it again", async () => {
    const dojo = new DojoSim(authorizedIntent(PI, 3_000));
    dojo.reverse({ paymentIntentId: PI });
    dojo.calls.length = 0;
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    const p = pipeline(dojo, { reverseWhenAuthorized: true });
    expect(await p.process(message(e))).toMatchObject({ reason: { code: "needs_reconciliation" } });
    expect(await p.process(message(e))).toMatchObject({ reason: { code: "needs_reconciliation" } });
    expect(dojo.ops()).toEqual(["getPaymentIntent", "getPaymentIntent"]);
    expect(sink.published).toEqual([]);
  });

  it("treats a replayed open row as possibly answered: a refusal is parked when the intent could include ours", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    answersLost(dojo, 0);
    expect((await pipeline(dojo).process(message(e))).status).toBe("dead-lettered");

    // On replay Dojo refuses the key although the intent shows 3000 refunded (someone else's, or ours).
    dojo.seedRefund(PI, "someone-else", 3_000);
    dojo.onRefund = () => fail("unprocessable", "amount exceeds the refundable amount", 422);
    const result = await pipeline(dojo).process(message(e));

    expect(result).toMatchObject({ status: "dead-lettered", reason: { code: "needs_reconciliation" } });
    expect(sink.published).toEqual([]);
  });
});
