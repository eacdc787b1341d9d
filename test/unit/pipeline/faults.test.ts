// Faults of the relay's own world say nothing about a refund: a rejected Dojo key (401/403), a ledger
// that cannot read or write, outcomes that cannot be published. The pipeline reports them to its
// FaultGate (intake pauses), waits without spending the delivery's budget, and tries again until the
// fault clears; nothing is answered or dead-lettered for them. A merchant without a Dojo key is parked
// as unknown_merchant, never answered refund.failed.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PaymentIntent } from "../../../src/dojo/index.ts";
import { type Ledger, LedgerError, SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { type PipelineSettings, RefundPipeline } from "../../../src/pipeline/index.ts";
import {
  afterRequests,
  capturedIntent,
  DojoSim,
  event,
  FakeSink,
  FlakyLedger,
  fail,
  gateLog,
  keyOf,
  message,
  published,
  ref,
  SETTINGS,
  until,
} from "./fakes.ts";

const PI = "pi_faults";

let sqlite: SqliteLedger;
let ledger: FlakyLedger;
let sink: FakeSink;

beforeEach(() => {
  sqlite = new SqliteLedger({ path: ":memory:" });
  ledger = new FlakyLedger(sqlite);
  sink = new FakeSink();
});

afterEach(async () => {
  await sqlite.close();
});

function pipeline(dojo: DojoSim, overrides: Partial<PipelineSettings> = {}, with_: { ledger?: Ledger } = {}) {
  return new RefundPipeline(
    { ...SETTINGS, ...overrides },
    { ledger: with_.ledger ?? ledger, dojo, sink, logger: silentLogger, random: () => 0 },
  );
}

const rejectedInAll = (dojo: DojoSim) =>
  dojo.rejected.getPaymentIntent + dojo.rejected.createRefund + dojo.rejected.createReversal;

/** The refunds after the first go to Dojo's `refund`; the first is applied but its answer is lost. */
function firstAnswerLost(dojo: DojoSim, after: () => void = () => {}): void {
  let n = 0;
  dojo.onRefund = (input) => {
    n += 1;
    if (n > 1) return dojo.refund(input);
    dojo.refund(input);
    after();
    return fail("timeout", "no response");
  };
}

describe("finding C: 401/403/404/unknown_merchant after an unanswered attempt are never refund.failed", () => {
  it.each([
    ["unauthorized", 401],
    ["forbidden", 403],
  ] as const)(
    "pauses on %s (HTTP %i) after a lost answer, and settles with the key's replay once the key works",
    async (code, status) => {
      const dojo = new DojoSim(capturedIntent(PI, 5_000));
      const e = event({ paymentIntentId: PI, amount: 3_000 });
      firstAnswerLost(dojo, () => {
        dojo.rejectKey = code;
      });
      const p = pipeline(dojo);
      const pauses = gateLog(p.gate);
      const pending = p.process(message(e));

      // Well beyond the delivery's budget of 3 tries.
      await until(() => rejectedInAll(dojo) >= 5, "Dojo refused the key 5 times");
      expect(p.gate.paused).toBe(true);
      expect(p.gate.active.map((f) => f.kind)).toEqual(["dojo_credentials"]);
      expect(p.gate.active[0]?.message).toContain(`HTTP ${status}`);
      expect(sink.published).toEqual([]);
      expect(sink.deadLetters).toEqual([]);

      dojo.rejectKey = undefined;
      const outcome = published(await pending);
      expect(outcome.type).toBe("refund.succeeded");
      expect(outcome.data).toMatchObject({ refundId: dojo.made[0]?.refundId, idempotencyKey: keyOf(e) });
      expect(dojo.made).toHaveLength(1);
      expect(sink.published).toEqual([outcome]);
      expect(sink.deadLetters).toEqual([]);
      expect(p.gate.paused).toBe(false);
      expect(pauses).toEqual([true, false]);
    },
  );

  it("parks a 404 after a lost answer instead of answering payment_not_found", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    let n = 0;
    dojo.onRefund = () => {
      n += 1;
      if (n === 1) return fail("timeout", "no response");
      return fail("not_found", "Dojo answered HTTP 404", 404);
    };
    // The fresh read after the refusal is refused too: nothing shows our refund is not there.
    dojo.onIntent = (input) => (n < 2 ? dojo.read(input) : fail("not_found", "Dojo answered HTTP 404", 404));

    const result = await pipeline(dojo).process(message(e));

    expect(result).toMatchObject({
      status: "dead-lettered",
      reason: { code: "needs_reconciliation", attempts: 2, eventId: e.id },
    });
    if (result.status === "dead-lettered") expect(result.reason.message).toContain("now: unknown");
    expect(sink.published).toEqual([]);
    expect(dojo.ops()).toEqual(["getPaymentIntent", "createRefund", "createRefund", "getPaymentIntent"]);
  });

  it("parks unknown_merchant after a lost answer with dead-letter code unknown_merchant", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000, merchantId: "m-gone" });
    let n = 0;
    dojo.onRefund = () => {
      n += 1;
      if (n === 1) return fail("timeout", "no response");
      // The client finds no key for the merchant and sends nothing.
      return afterRequests(fail("unknown_merchant", "no Dojo API key for merchant m-gone"), 0);
    };
    const p = pipeline(dojo);
    const pauses = gateLog(p.gate);

    const result = await p.process(message(e));

    expect(result).toMatchObject({
      status: "dead-lettered",
      reason: { code: "unknown_merchant", eventId: e.id },
    });
    if (result.status === "dead-lettered")
      expect(result.reason.message).toContain("no Dojo API key for merchant m-gone");
    expect(sink.published).toEqual([]);
    expect(pauses).toEqual([]);
    expect(await ledger.get(ref(e))).toMatchObject({ outcome: null, parked: { code: "unknown_merchant" } });
  });

  it("parks an event whose merchant has no key already at the preflight read", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    dojo.onIntent = () => afterRequests(fail("unknown_merchant", "no Dojo API key for merchant m-new"), 0);
    const e = event({ paymentIntentId: PI, amount: 3_000, merchantId: "m-new" });
    const result = await pipeline(dojo).process(message(e));
    expect(result).toMatchObject({
      status: "dead-lettered",
      reason: { code: "unknown_merchant", attempts: 0 },
    });
    expect(dojo.ops()).toEqual(["getPaymentIntent"]);
    expect(sink.published).toEqual([]);
  });
});

describe("finding D: a Dojo key rejected at run time", () => {
  it("pauses intake and answers nothing while every call gets 401, then publishes exactly one refund.succeeded", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    dojo.rejectKey = "unauthorized";
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    const p = pipeline(dojo);
    const pauses = gateLog(p.gate);
    const pending = p.process(message(e));

    await until(() => rejectedInAll(dojo) >= 6, "Dojo refused the key 6 times");
    expect(p.gate.paused).toBe(true);
    expect(p.gate.active).toEqual([expect.objectContaining({ kind: "dojo_credentials" })]);
    expect(p.gate.active[0]?.message).toContain("HTTP 401");
    expect(sink.publishAttempts).toBe(0);
    expect(sink.deadLetters).toEqual([]);
    expect(dojo.made).toEqual([]);

    dojo.rejectKey = undefined;
    const outcome = published(await pending);
    expect(outcome.type).toBe("refund.succeeded");
    expect(sink.published).toEqual([outcome]);
    expect(sink.deadLetters).toEqual([]);
    expect(dojo.made).toHaveLength(1);
    // Every refund request reached Dojo (the refused ones too): attempts counts them all.
    expect(outcome.data).toMatchObject({ attempts: dojo.refunds().length });
    expect(p.gate.paused).toBe(false);
    expect(pauses).toEqual([true, false]);
  });

  it("pauses on a 403 on the refund only, and settles once the permission is back", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    let refused = 0;
    dojo.onRefund = (input) => {
      if (refused < 4) {
        refused += 1;
        return fail("forbidden", "Dojo answered HTTP 403", 403);
      }
      return dojo.refund(input);
    };
    const p = pipeline(dojo);
    const pauses = gateLog(p.gate);
    const outcome = published(await p.process(message(e)));
    expect(outcome.type).toBe("refund.succeeded");
    expect(outcome.data).toMatchObject({ attempts: 5 });
    expect(await ledger.get(ref(e))).toMatchObject({
      attempts: 5,
      lastError: expect.stringContaining("forbidden"),
    });
    expect(sink.deadLetters).toEqual([]);
    expect(pauses).toEqual([true, false]);
  });

  it("runs preflight once the key works after a 401 on the preflight read: a currency mismatch is still refused", async () => {
    // The intent is in EUR, the return in GBP, and nothing was refunded: preflight must refuse it.
    // Refunds carry no currency, so a refund sent without preflight pays 3000 EUR.
    const dojo = new DojoSim(capturedIntent(PI, 5_000, "EUR"));
    dojo.rejectKey = "unauthorized";
    const e = event({ paymentIntentId: PI, amount: 3_000, currencyCode: "GBP" });
    const p = pipeline(dojo);
    const pending = p.process(message(e));
    await until(() => rejectedInAll(dojo) >= 1, "Dojo refused the key");
    dojo.rejectKey = undefined;
    const result = await pending;

    expect(dojo.made).toEqual([]);
    expect(dojo.refunds()).toEqual([]);
    expect(published(result).data).toMatchObject({ code: "currency_mismatch", attempts: 0 });
  });

  it("runs preflight once the key works after a 401 on the preflight read: an authorized intent is reversed", async () => {
    const authorized: PaymentIntent = { ...capturedIntent(PI, 800), status: "Authorized" };
    const dojo = new DojoSim(authorized);
    dojo.rejectKey = "unauthorized";
    const e = event({ paymentIntentId: PI, amount: 800 });
    const p = pipeline(dojo, { reverseWhenAuthorized: true });
    const pending = p.process(message(e));
    await until(() => rejectedInAll(dojo) >= 1, "Dojo refused the key");
    dojo.rejectKey = undefined;
    const outcome = published(await pending);

    expect(outcome.type).toBe("refund.succeeded");
    expect(outcome.data).toMatchObject({ method: "reversal" });
    expect(dojo.reversed).toEqual([PI]);
    expect(dojo.refunds()).toEqual([]);
  });

  it("does not count a refund refused with 401 as unanswered: a later refusal is answered refund.failed", async () => {
    // Someone else refunded all 5000; the event asks 3000. Preflight sends it (the refunded total
    // could include ours); the first request gets 401, the one after the key works gets 422. Both
    // were answered, so nothing of ours can be among the refunds: the refusal is trusted.
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    dojo.seedRefund(PI, "someone-else", 5_000);
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    let n = 0;
    dojo.onRefund = (input) => {
      n += 1;
      return n === 1 ? fail("unauthorized", "Dojo answered HTTP 401", 401) : dojo.refund(input);
    };
    const result = await pipeline(dojo).process(message(e));

    expect(dojo.refunds()).toHaveLength(2);
    expect(result.status).toBe("published");
    expect(published(result).data).toMatchObject({ code: "amount_exceeds_refundable", attempts: 2 });
  });
});

describe("finding E: a ledger outage", () => {
  it("dead-letters nothing, pauses intake meanwhile, then answers every event once", async () => {
    const dojo = new DojoSim(
      capturedIntent("pi_e1", 5_000),
      capturedIntent("pi_e2", 5_000),
      capturedIntent("pi_e3", 5_000),
    );
    const events = [
      event({ paymentIntentId: "pi_e1", amount: 100 }),
      event({ paymentIntentId: "pi_e1", amount: 200 }),
      event({ paymentIntentId: "pi_e2", amount: 300 }),
      event({ paymentIntentId: "pi_e3", amount: 400 }),
    ];
    ledger.down = true;
    const p = pipeline(dojo);
    const pauses = gateLog(p.gate);
    const pending = events.map((e) => p.process(message(e)));

    // Far beyond 3 tries per delivery.
    await until(() => ledger.failures >= 30, "the ledger failed 30 times");
    expect(p.gate.paused).toBe(true);
    expect(p.gate.active.map((f) => f.kind)).toEqual(["ledger"]);
    expect(sink.publishAttempts).toBe(0);
    expect(sink.deadLetters).toEqual([]);
    expect(dojo.calls).toEqual([]);

    ledger.down = false;
    const results = await Promise.all(pending);
    expect(results.map((r) => published(r).type)).toEqual(events.map(() => "refund.succeeded"));
    expect(sink.published.map((o) => o.data.sourceEvent.id).sort()).toEqual(events.map((e) => e.id).sort());
    expect(sink.deadLetters).toEqual([]);
    expect(dojo.made.map((m) => m.amount).sort((x, y) => x - y)).toEqual([100, 200, 300, 400]);
    expect(p.gate.paused).toBe(false);
    expect(pauses).toEqual([true, false]);
  });

  it("re-sends a refund Dojo already answered with the same key when the outcome could not be stored", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    ledger.failNext.set("settle", 5);
    const p = pipeline(dojo);
    const pauses = gateLog(p.gate);
    const outcome = published(await p.process(message(e)));

    expect(outcome.type).toBe("refund.succeeded");
    expect(dojo.made).toHaveLength(1);
    expect(new Set(dojo.refunds().map((r) => r.idempotencyKey))).toEqual(new Set([keyOf(e)]));
    expect(dojo.refunds()).toHaveLength(6);
    expect(outcome.data).toMatchObject({ refundId: dojo.made[0]?.refundId, attempts: 6 });
    expect(sink.published).toEqual([outcome]);
    expect(sink.deadLetters).toEqual([]);
    expect(pauses.at(0)).toBe(true);
    expect(pauses.at(-1)).toBe(false);
    expect(p.gate.paused).toBe(false);
  });

  it("does not send a refund that preflight refused when storing the refusal failed for a while", async () => {
    // A currency mismatch with nothing refunded: preflight refuses. Refunds carry no currency, so a
    // refund sent after the outage would pay 3000 EUR.
    const dojo = new DojoSim(capturedIntent(PI, 5_000, "EUR"));
    const e = event({ paymentIntentId: PI, amount: 3_000, currencyCode: "GBP" });
    ledger.failNext.set("settle", 1);
    const result = await pipeline(dojo).process(message(e));

    expect(dojo.refunds()).toEqual([]);
    expect(dojo.made).toEqual([]);
    expect(published(result).data).toMatchObject({ code: "currency_mismatch", attempts: 0 });
  });

  it("keeps the reversal preflight chose when the ledger failed before the submission was recorded", async () => {
    const dojo = new DojoSim({ ...capturedIntent(PI, 800), status: "Authorized" });
    const e = event({ paymentIntentId: PI, amount: 800 });
    ledger.failNext.set("markSubmitting", 1);
    const result = await pipeline(dojo, { reverseWhenAuthorized: true }).process(message(e));

    expect(dojo.refunds()).toEqual([]);
    expect(dojo.reversed).toEqual([PI]);
    expect(published(result).data).toMatchObject({ method: "reversal" });
  });

  it("treats a LedgerError as a refusal, not an outage: internal_error after the budget, intake never paused", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    ledger.error = () =>
      new LedgerError("cannot submit a refund for an event already submitted as a reversal");
    ledger.failNext.set("begin", 100);
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    const p = pipeline(dojo);
    const pauses = gateLog(p.gate);
    const result = await p.process(message(e));

    expect(result).toMatchObject({
      status: "dead-lettered",
      reason: { code: "internal_error", attempts: 3 },
    });
    expect(ledger.failed.get("begin")).toBe(3);
    expect(pauses).toEqual([]);
    expect(dojo.calls).toEqual([]);
  });
});

describe("publish faults", () => {
  it("pause intake with a publish fault while outcomes cannot be published, and publish once", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    sink.failNextPublishes = 3;
    const p = pipeline(dojo);
    const seen: string[][] = [];
    p.gate.subscribe(() => seen.push(p.gate.active.map((f) => f.kind)));
    const outcome = published(await p.process(message(event({ paymentIntentId: PI, amount: 3_000 }))));

    expect(sink.publishAttempts).toBe(4);
    expect(sink.published).toEqual([outcome]);
    expect(seen).toEqual([["publish"], []]);
    expect(dojo.made).toHaveLength(1);
  });

  it("pause intake while dead letters cannot be written, and dead-letter once", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    dojo.onRefund = () => fail("timeout");
    let failures = 2;
    const deadLetter = sink.deadLetter.bind(sink);
    sink.deadLetter = async (m, reason) => {
      if (failures-- > 0) throw new Error("broker unavailable");
      return deadLetter(m, reason);
    };
    const p = pipeline(dojo);
    const pauses = gateLog(p.gate);
    const result = await p.process(message(event({ paymentIntentId: PI, amount: 3_000 })));

    expect(result).toMatchObject({ status: "dead-lettered", reason: { code: "retry_budget_exhausted" } });
    expect(sink.deadLetters).toHaveLength(1);
    expect(pauses).toEqual([true, false]);
  });
});
