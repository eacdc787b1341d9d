import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { idempotencyKeyFor, type OutcomeEvent } from "../../../schemas/index.ts";
import { type Ledger, SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { type PipelineSettings, RefundPipeline } from "../../../src/pipeline/index.ts";
import {
  capturedIntent,
  deferred,
  event,
  FakeDojo,
  FakeSink,
  FlakyLedger,
  fail,
  gateLog,
  keyOf,
  message,
  ok,
  published,
  ref,
  SETTINGS,
  until,
} from "./fakes.ts";

let ledger: SqliteLedger;
let dojo: FakeDojo;
let sink: FakeSink;

beforeEach(() => {
  ledger = new SqliteLedger({ path: ":memory:" });
  dojo = new FakeDojo();
  sink = new FakeSink();
});

afterEach(async () => {
  await ledger.close();
});

function pipeline(
  overrides: Partial<PipelineSettings> = {},
  extra: { now?: () => Date; ledger?: Ledger } = {},
): RefundPipeline {
  return new RefundPipeline(
    { ...SETTINGS, ...overrides },
    { ledger, dojo, sink, logger: silentLogger, random: () => 0, ...extra },
  );
}

function failureCode(outcome: OutcomeEvent): string | undefined {
  return outcome.type === "refund.failed" ? outcome.data.code : undefined;
}

describe("RefundPipeline: one event to one refund", () => {
  it("publishes refund.succeeded with the refund id, one attempt and method refund", async () => {
    const e = event({ paymentIntentId: "pi_ok", amount: 500 });
    const result = await pipeline().process(message(e));
    const outcome = published(result);
    expect(result).toMatchObject({ status: "published", replayed: false });
    expect(outcome.type).toBe("refund.succeeded");
    expect(outcome.data).toMatchObject({
      refundId: "rf_pi_ok_500",
      attempts: 1,
      method: "refund",
      paymentIntentId: "pi_ok",
      amount: { value: 500, currencyCode: "GBP" },
      sourceEvent: { id: e.id, source: e.source },
      idempotencyKey: idempotencyKeyFor(e, { namespace: "rr" }),
    });
    expect(sink.published).toEqual([outcome]);
    expect(dojo.ops()).toEqual(["getPaymentIntent", "createRefund"]);
    expect(dojo.refunds()[0]).toMatchObject({
      paymentIntentId: "pi_ok",
      amount: 500,
      refundReason: "Item returned",
      idempotencyKey: idempotencyKeyFor(e, { namespace: "rr" }),
    });
    expect(await ledger.get(ref(e))).toMatchObject({ state: "published", refundId: "rf_pi_ok_500" });
  });

  it("re-publishes the stored outcome on redelivery without calling Dojo", async () => {
    const e = event({ paymentIntentId: "pi_redeliver", amount: 700 });
    const p = pipeline();
    const first = published(await p.process(message(e)));
    const callsAfterFirst = dojo.calls.length;

    const again = await p.process(message(e));
    expect(again).toMatchObject({ status: "published", replayed: true });
    expect(published(again)).toEqual(first);
    expect(dojo.calls).toHaveLength(callsAfterFirst);
    expect(sink.published).toEqual([first, first]);
  });

  it("re-publishes a stored refund.failed identically too", async () => {
    dojo.onIntent = () => fail("not_found", "no such intent", 404);
    const e = event({ paymentIntentId: "pi_missing", amount: 100 });
    const p = pipeline();
    const first = published(await p.process(message(e)));
    const again = published(await p.process(message(e)));
    expect(again).toEqual(first);
    expect(dojo.calls).toHaveLength(1);
  });

  it("answers the same id with different content with idempotency_conflict and no Dojo call", async () => {
    const e = event({ id: "evt-conflict", paymentIntentId: "pi_conflict", amount: 500 });
    const p = pipeline();
    published(await p.process(message(e)));
    const callsAfterFirst = dojo.calls.length;

    const changed = { ...e, data: { ...e.data, amount: { value: 900, currencyCode: "GBP" } } };
    const result = await p.process(message(changed));
    const outcome = published(result);
    expect(result).toMatchObject({ replayed: false });
    expect(outcome.type).toBe("refund.failed");
    expect(outcome.data).toMatchObject({ code: "idempotency_conflict", attempts: 0 });
    expect(dojo.calls).toHaveLength(callsAfterFirst);
    // The first version's row is untouched.
    expect(await ledger.get(ref(e))).toMatchObject({ state: "published", amount: 500 });
  });

  it("does not treat a changed envelope time as different content", async () => {
    const e = event({ paymentIntentId: "pi_time", amount: 500 });
    const p = pipeline();
    const first = published(await p.process(message(e)));
    const later = published(await p.process(message({ ...e, time: "2026-11-27T00:00:00Z" })));
    expect(later).toEqual(first);
  });
});

describe("RefundPipeline: retries without paying twice", () => {
  it("retries indeterminate errors with the same idempotency key until Dojo answers", async () => {
    const answers = [
      fail<never>("timeout"),
      fail<never>("server_error", "502", 502),
      fail<never>("conflict"),
    ];
    dojo.onRefund = (input) => answers.shift() ?? ok({ refundId: `rf_${input.amount}`, raw: {} });
    const e = event({ paymentIntentId: "pi_flaky", amount: 250 });
    const outcome = published(
      await pipeline({ retry: { ...SETTINGS.retry, maxAttempts: 5 } }).process(message(e)),
    );

    expect(outcome.type).toBe("refund.succeeded");
    expect(outcome.data).toMatchObject({ attempts: 4, refundId: "rf_250" });
    const keys = dojo.refunds().map((r) => r.idempotencyKey);
    expect(keys).toHaveLength(4);
    expect(new Set(keys)).toEqual(new Set([idempotencyKeyFor(e, { namespace: "rr" })]));
    // Preflight runs once, before the first submission only.
    expect(dojo.ops().filter((op) => op === "getPaymentIntent")).toHaveLength(1);
  });

  it("dead-letters after the retry budget and leaves the ledger entry unsettled, never refund.failed", async () => {
    dojo.onRefund = () => fail("timeout");
    const e = event({ paymentIntentId: "pi_down", amount: 300 });
    const m = message(e);
    const result = await pipeline().process(m);

    expect(result.status).toBe("dead-lettered");
    expect(sink.published).toEqual([]);
    expect(sink.deadLetters).toHaveLength(1);
    const parked = sink.deadLetters[0];
    expect(parked?.message).toBe(m);
    expect(parked?.reason).toMatchObject({
      code: "retry_budget_exhausted",
      attempts: 3,
      eventId: e.id,
      source: e.source,
    });
    expect(parked?.reason.message).toContain("timeout");
    expect(dojo.refunds()).toHaveLength(3);
    expect(await ledger.get(ref(e))).toMatchObject({ state: "unknown", attempts: 3, outcome: null });
  });

  it.each([
    "timeout",
    "server_error",
    "connection_reset",
    "rate_limited",
    "aborted",
    "unexpected_response",
    "idempotency_in_flight",
    "idempotency_mismatch",
    "connect_failed",
    "conflict",
  ] as const)("never publishes refund.failed for a refund answered with %s", async (code) => {
    dojo.onRefund = () => fail(code);
    const result = await pipeline({ retry: { ...SETTINGS.retry, maxAttempts: 2 } }).process(
      message(event({ paymentIntentId: "pi_unsure", amount: 10 })),
    );
    expect(result.status).toBe("dead-lettered");
    expect(sink.published).toEqual([]);
  });

  it("parks a refusal that follows an unanswered attempt when the intent's refunds could include ours", async () => {
    const answers = [fail<never>("timeout"), fail<never>("unprocessable", "amount exceeds refundable", 422)];
    dojo.onRefund = () => answers.shift() ?? ok({ refundId: "rf_never", raw: {} });
    // Preflight sees nothing refunded; after the refusal the intent shows 50 refunded: maybe ours.
    let reads = 0;
    dojo.onIntent = (input) =>
      ok({ ...capturedIntent(input.paymentIntentId, 1_000), refundedAmount: ++reads === 1 ? 0 : 50 });
    const e = event({ paymentIntentId: "pi_ambiguous", amount: 50 });
    const result = await pipeline().process(message(e));
    expect(result).toMatchObject({
      status: "dead-lettered",
      reason: { code: "needs_reconciliation", attempts: 2, eventId: e.id },
    });
    expect(sink.published).toEqual([]);
    expect(dojo.refunds()).toHaveLength(2);
    expect((await ledger.get(ref(e)))?.outcome).toBeNull();
  });

  it("never answers a 401 after a timeout: it waits for the key, then settles with the same key", async () => {
    const answers = [fail<never>("timeout"), fail<never>("unauthorized", "bad key", 401)];
    dojo.onRefund = () => answers.shift() ?? ok({ refundId: "rf_later", raw: {} });
    const p = pipeline();
    const pauses = gateLog(p.gate);
    const e = event({ paymentIntentId: "pi_401", amount: 5 });
    const outcome = published(await p.process(message(e)));
    expect(outcome.type).toBe("refund.succeeded");
    expect(outcome.data).toMatchObject({ refundId: "rf_later", attempts: 3 });
    expect(sink.published).toEqual([outcome]);
    expect(pauses).toEqual([true, false]);
    expect(new Set(dojo.refunds().map((r) => r.idempotencyKey))).toEqual(new Set([keyOf(e)]));
  });

  it("reports a refusal of the very first attempt as refund.failed", async () => {
    dojo.onRefund = () => fail("unprocessable", "nope", 422);
    const outcome = published(
      await pipeline().process(message(event({ paymentIntentId: "pi_422", amount: 5 }))),
    );
    expect(outcome.data).toMatchObject({ code: "dojo_rejected", attempts: 1 });
  });

  it("resumes an event that already reached Dojo with the stored key, after preflight", async () => {
    dojo.onRefund = () => fail("timeout");
    const e = event({ paymentIntentId: "pi_resume", amount: 400 });
    const first = await pipeline().process(message(e));
    expect(first.status).toBe("dead-lettered");
    const storedKey = (await ledger.get(ref(e)))?.idempotencyKey;
    expect(storedKey).toBe(idempotencyKeyFor(e, { namespace: "rr" }));

    // Second delivery, by a relay whose key namespace has since been changed: the stored key still wins.
    dojo.calls.length = 0;
    dojo.onRefund = () => ok({ refundId: "rf_resumed", raw: {} });
    const outcome = published(await pipeline({ idempotencyNamespace: "other" }).process(message(e)));

    // Preflight runs once per delivery, resumed rows of method refund included.
    expect(dojo.ops()).toEqual(["getPaymentIntent", "createRefund"]);
    expect(dojo.refunds()[0]?.idempotencyKey).toBe(storedKey);
    expect(outcome.type).toBe("refund.succeeded");
    expect(outcome.data).toMatchObject({ refundId: "rf_resumed", attempts: 4, idempotencyKey: storedKey });
  });

  it("retries an indeterminate read of the payment intent instead of failing", async () => {
    const reads = [fail<never>("server_error"), fail<never>("timeout")];
    dojo.onIntent = (input) => reads.shift() ?? ok(capturedIntent(input.paymentIntentId, 1_000));
    const outcome = published(
      await pipeline().process(message(event({ paymentIntentId: "pi_r", amount: 5 }))),
    );
    expect(outcome.type).toBe("refund.succeeded");
    expect(dojo.ops()).toEqual(["getPaymentIntent", "getPaymentIntent", "getPaymentIntent", "createRefund"]);
    expect(outcome.data).toMatchObject({ attempts: 1 });
  });

  it("stops retrying when the delivery is older than retry.maxAgeMs", async () => {
    let clock = Date.parse("2026-11-26T10:00:00Z");
    dojo.onRefund = () => {
      clock += 10_000;
      return fail("timeout");
    };
    const p = pipeline(
      { retry: { ...SETTINGS.retry, maxAttempts: 100, maxAgeMs: 15_000 } },
      { now: () => new Date(clock) },
    );
    const result = await p.process(message(event({ paymentIntentId: "pi_old", amount: 5 })));
    expect(result).toMatchObject({ status: "dead-lettered", reason: { code: "retry_budget_exhausted" } });
    expect(dojo.refunds()).toHaveLength(2);
  });
});

describe("RefundPipeline: preflight", () => {
  it("reports a payment intent Dojo does not know as payment_not_found without refunding", async () => {
    dojo.onIntent = () => fail("not_found", "Dojo answered HTTP 404", 404);
    const outcome = published(
      await pipeline().process(message(event({ paymentIntentId: "pi_x", amount: 1 }))),
    );
    expect(outcome.type).toBe("refund.failed");
    expect(outcome.data).toMatchObject({ code: "payment_not_found", attempts: 0 });
    expect(dojo.ops()).toEqual(["getPaymentIntent"]);
  });

  it("reports a currency mismatch without refunding", async () => {
    dojo.onIntent = (input) => ok(capturedIntent(input.paymentIntentId, 1_000, "EUR"));
    const e = event({ paymentIntentId: "pi_eur", amount: 100, currencyCode: "GBP" });
    const outcome = published(await pipeline().process(message(e)));
    expect(failureCode(outcome)).toBe("currency_mismatch");
    expect(dojo.ops()).toEqual(["getPaymentIntent"]);
    expect(await ledger.get(ref(e))).toMatchObject({ state: "published", attempts: 0 });
  });

  it("reports an amount above the refundable amount without refunding", async () => {
    // 950 left, 50 refunded: no refund of 951 can be among the intent's refunds.
    dojo.onIntent = (input) => ok({ ...capturedIntent(input.paymentIntentId, 1_000), refundedAmount: 50 });
    const outcome = published(
      await pipeline().process(message(event({ paymentIntentId: "pi_big", amount: 951 }))),
    );
    expect(failureCode(outcome)).toBe("amount_exceeds_refundable");
    expect(outcome.data).toMatchObject({ attempts: 0 });
    expect(dojo.ops()).toEqual(["getPaymentIntent"]);
  });

  it("sends an amount above what remains with its key when the refunded total could include it", async () => {
    // 100 left, 900 refunded: an earlier attempt of this event may have made a refund of 101.
    dojo.onIntent = (input) => ok({ ...capturedIntent(input.paymentIntentId, 1_000), refundedAmount: 900 });
    const e = event({ paymentIntentId: "pi_big2", amount: 101 });
    const outcome = published(await pipeline().process(message(e)));
    expect(dojo.ops()).toEqual(["getPaymentIntent", "createRefund"]);
    expect(dojo.refunds()[0]?.idempotencyKey).toBe(keyOf(e));
    expect(outcome.type).toBe("refund.succeeded");
  });

  it("skips the payment intent read when preflight is off", async () => {
    dojo.onIntent = () => fail("not_found");
    const outcome = published(
      await pipeline({ preflight: false }).process(message(event({ paymentIntentId: "pi_np", amount: 1 }))),
    );
    expect(outcome.type).toBe("refund.succeeded");
    expect(dojo.ops()).toEqual(["createRefund"]);
  });

  it("reverses an authorized intent for its full amount when reverseWhenAuthorized is on", async () => {
    dojo.onIntent = (input) => ok({ ...capturedIntent(input.paymentIntentId, 800), status: "Authorized" });
    const e = event({ paymentIntentId: "pi_auth", amount: 800 });
    const outcome = published(await pipeline({ reverseWhenAuthorized: true }).process(message(e)));
    expect(outcome.type).toBe("refund.succeeded");
    expect(outcome.data).toMatchObject({ method: "reversal", refundId: "rv_pi_auth", attempts: 1 });
    expect(dojo.ops()).toEqual(["getPaymentIntent", "createReversal"]);
    expect(await ledger.get(ref(e))).toMatchObject({ method: "reversal", state: "published" });
  });

  it("does not reverse an authorized intent when reverseWhenAuthorized is off", async () => {
    dojo.onIntent = (input) => ok({ ...capturedIntent(input.paymentIntentId, 800), status: "Authorized" });
    const outcome = published(
      await pipeline().process(message(event({ paymentIntentId: "pi_a2", amount: 800 }))),
    );
    expect(failureCode(outcome)).toBe("payment_not_captured");
    expect(dojo.ops()).toEqual(["getPaymentIntent"]);
  });

  it("never repeats a reversal that went unanswered: parks it with the intent before and after", async () => {
    let reads = 0;
    dojo.onIntent = (input) => {
      reads += 1;
      const status = reads === 1 ? "Authorized" : "Reversed";
      return ok({ ...capturedIntent(input.paymentIntentId, 800), status });
    };
    dojo.onReversal = () => fail("timeout");
    const e = event({ paymentIntentId: "pi_rv", amount: 800 });
    const result = await pipeline({ reverseWhenAuthorized: true }).process(message(e));
    expect(result).toMatchObject({
      status: "dead-lettered",
      reason: { code: "needs_reconciliation", attempts: 1 },
    });
    if (result.status === "dead-lettered") {
      expect(result.reason.message).toContain("intent before: Authorized, captured 0, refunded 0 GBP");
      expect(result.reason.message).toContain("now: Reversed");
    }
    // The read after the timeout is evidence for a person, not a decision: no second reversal.
    expect(dojo.ops()).toEqual(["getPaymentIntent", "createReversal", "getPaymentIntent"]);
    expect(sink.published).toEqual([]);
    expect(await ledger.get(ref(e))).toMatchObject({ method: "reversal", state: "unknown", attempts: 1 });
  });
});

describe("RefundPipeline: invalid input", () => {
  it("answers an invalid event that carries an id with refund.failed invalid_event", async () => {
    const e = event({ paymentIntentId: "pi_inv", amount: -5 });
    const result = await pipeline().process(message(e));
    const outcome = published(result);
    expect(outcome.type).toBe("refund.failed");
    expect(outcome.data).toMatchObject({
      code: "invalid_event",
      attempts: 0,
      sourceEvent: { id: e.id, source: e.source },
      paymentIntentId: "pi_inv",
    });
    expect(dojo.calls).toEqual([]);
    expect(await ledger.get(ref(e))).toBeUndefined();
  });

  it("dead-letters bytes that are not JSON as unparseable", async () => {
    const m = message("{not json");
    const result = await pipeline().process(m);
    expect(result).toMatchObject({ status: "dead-lettered", reason: { code: "unparseable", attempts: 0 } });
    expect(sink.deadLetters).toEqual([
      { message: m, reason: expect.objectContaining({ code: "unparseable" }) },
    ]);
    expect(sink.published).toEqual([]);
    expect(dojo.calls).toEqual([]);
  });

  it("dead-letters an event without a usable id as invalid_envelope", async () => {
    const e = event({ paymentIntentId: "pi_noid", amount: 5 });
    const result = await pipeline().process(message({ ...e, id: "" }));
    expect(result).toMatchObject({ status: "dead-lettered", reason: { code: "invalid_envelope" } });
    expect(sink.published).toEqual([]);
  });
});

describe("RefundPipeline: shutdown, fencing and publishing", () => {
  it("abandons the message when the consumer stops before a retry wait, publishing nothing", async () => {
    const stop = new AbortController();
    dojo.onRefund = () => {
      stop.abort();
      return fail("timeout");
    };
    const e = event({ paymentIntentId: "pi_stop", amount: 5 });
    const result = await pipeline().process(message(e), { stop: stop.signal });
    expect(result.status).toBe("abandoned");
    expect(sink.published).toEqual([]);
    expect(sink.deadLetters).toEqual([]);
    expect(dojo.refunds()).toHaveLength(1);
    expect(await ledger.get(ref(e))).toMatchObject({ state: "unknown", attempts: 1 });
  });

  it("starts no Dojo call for a message delivered after the consumer stopped", async () => {
    const stop = new AbortController();
    stop.abort();
    const result = await pipeline().process(message(event({ paymentIntentId: "pi_s", amount: 5 })), {
      stop: stop.signal,
    });
    expect(result.status).toBe("abandoned");
    expect(dojo.calls).toEqual([]);
    expect(sink.published).toEqual([]);
  });

  it("still publishes a refund Dojo already answered when the consumer stops meanwhile", async () => {
    const stop = new AbortController();
    dojo.onRefund = () => {
      stop.abort();
      return ok({ refundId: "rf_drain", raw: {} });
    };
    const result = await pipeline().process(message(event({ paymentIntentId: "pi_d", amount: 5 })), {
      stop: stop.signal,
    });
    expect(published(result).data).toMatchObject({ refundId: "rf_drain" });
  });

  it("publishes nothing once the partition is fenced, and the settled outcome is replayed later", async () => {
    let fenced = false;
    dojo.onRefund = () => {
      fenced = true;
      return ok({ refundId: "rf_fenced", raw: {} });
    };
    const e = event({ paymentIntentId: "pi_fence", amount: 5 });
    const result = await pipeline().process(message(e), { fenced: () => fenced });
    expect(result.status).toBe("abandoned");
    expect(sink.published).toEqual([]);
    expect(sink.deadLetters).toEqual([]);
    expect(await ledger.get(ref(e))).toMatchObject({ state: "succeeded", refundId: "rf_fenced" });

    const again = await pipeline().process(message(e));
    expect(again).toMatchObject({ status: "published", replayed: true });
    expect(dojo.refunds()).toHaveLength(1);
    expect(await ledger.get(ref(e))).toMatchObject({ state: "published" });
  });

  it("does nothing at all for a message fenced from the start", async () => {
    const result = await pipeline().process(message(event({ paymentIntentId: "pi_f0", amount: 5 })), {
      fenced: () => true,
    });
    expect(result.status).toBe("abandoned");
    expect(dojo.calls).toEqual([]);
    expect(sink.publishAttempts).toBe(0);
  });

  it("retries a failing publish and publishes the outcome exactly once", async () => {
    sink.failNextPublishes = 2;
    const result = await pipeline().process(message(event({ paymentIntentId: "pi_pub", amount: 5 })));
    expect(result.status).toBe("published");
    expect(sink.publishAttempts).toBe(3);
    expect(sink.published).toHaveLength(1);
    expect(dojo.refunds()).toHaveLength(1);
  });
});

describe("RefundPipeline: unexpected failures", () => {
  it("waits out a failing ledger write, pausing intake, and then settles the event normally", async () => {
    const flaky = new FlakyLedger(ledger);
    flaky.failNext.set("begin", 2);
    const p = pipeline({}, { ledger: flaky });
    const pauses = gateLog(p.gate);
    const result = await p.process(message(event({ paymentIntentId: "pi_io", amount: 5 })));
    expect(published(result).type).toBe("refund.succeeded");
    expect(flaky.failed.get("begin")).toBe(2);
    expect(pauses).toEqual([true, false]);
    expect(dojo.refunds()).toHaveLength(1);
  });

  it("never dead-letters an event for a ledger that keeps failing: it waits until the consumer stops", async () => {
    const flaky = new FlakyLedger(ledger);
    flaky.down = true;
    const stop = new AbortController();
    const e = event({ paymentIntentId: "pi_io2", amount: 5 });
    const p = pipeline({}, { ledger: flaky });
    const pending = p.process(message(e), { stop: stop.signal });
    // Far beyond the budget of 3 tries.
    await until(() => flaky.failures >= 10, "the ledger failed 10 times");
    expect(p.gate.paused).toBe(true);
    expect(p.gate.active.map((f) => f.kind)).toEqual(["ledger"]);
    stop.abort();
    expect(await pending).toMatchObject({ status: "abandoned" });
    expect(dojo.calls).toEqual([]);
    expect(sink.published).toEqual([]);
    expect(sink.deadLetters).toEqual([]);
  });

  it("still dead-letters as internal_error after the budget when the failure is not the ledger's (a bug)", async () => {
    dojo.onIntent = () => {
      throw new Error("a bug in the client");
    };
    const e = event({ paymentIntentId: "pi_bug", amount: 5 });
    const p = pipeline();
    const result = await p.process(message(e));
    expect(result).toMatchObject({
      status: "dead-lettered",
      reason: { code: "internal_error", attempts: 3, eventId: e.id, source: e.source },
    });
    if (result.status === "dead-lettered") expect(result.reason.message).toContain("a bug in the client");
    expect(dojo.ops()).toEqual(["getPaymentIntent", "getPaymentIntent", "getPaymentIntent"]);
    expect(p.gate.paused).toBe(false);
    expect(sink.published).toEqual([]);
  });

  it("abandons a settled outcome it cannot publish before the consumer stops, and replays it later", async () => {
    const stop = new AbortController();
    sink.failNextPublishes = 1;
    const publish = sink.publish.bind(sink);
    sink.publish = async (outcome) => {
      stop.abort();
      return publish(outcome);
    };
    const e = event({ paymentIntentId: "pi_pubstop", amount: 5 });
    const result = await pipeline().process(message(e), { stop: stop.signal });
    expect(result.status).toBe("abandoned");
    expect(sink.published).toEqual([]);
    expect(await ledger.get(ref(e))).toMatchObject({ state: "succeeded" });

    sink.publish = publish;
    const again = await pipeline().process(message(e));
    expect(again).toMatchObject({ status: "published", replayed: true });
    expect(dojo.refunds()).toHaveLength(1);
  });
});

describe("RefundPipeline: the published mark", () => {
  it("marks the outcome published after publishing it", async () => {
    const e = event({ paymentIntentId: "pi_mark", amount: 5 });
    expect(published(await pipeline().process(message(e))).type).toBe("refund.succeeded");
    expect(await ledger.get(ref(e))).toMatchObject({ state: "published" });
  });

  it("does not hold up or repeat the message when the mark fails, even synchronously", async () => {
    for (const failure of ["rejects", "throws"] as const) {
      const broken = new FlakyLedger(ledger);
      broken.markPublished = () => {
        if (failure === "throws") throw new Error("ledger unavailable");
        return Promise.reject(new Error("ledger unavailable"));
      };
      const e = event({ paymentIntentId: `pi_mark_${failure}`, amount: 5 });
      const before = sink.published.length;
      const result = await pipeline({}, { ledger: broken }).process(message(e));
      expect(result).toMatchObject({ status: "published", replayed: false });
      expect(sink.published.length - before).toBe(1);
      // The outcome is stored; only the mark is missing, so a redelivery would re-publish the same outcome.
      expect(await ledger.get(ref(e))).toMatchObject({ state: "succeeded" });
    }
    expect(dojo.refunds()).toHaveLength(2);
  });
});

describe("RefundPipeline: ordering", () => {
  it("processes events of one payment intent in order while another intent runs in parallel", async () => {
    const log: string[] = [];
    const gates = new Map([100, 200, 300].map((amount) => [amount, deferred()]));
    const started = new Map([100, 200, 300].map((amount) => [amount, deferred()]));
    dojo.onIntent = (input) => {
      log.push(`read ${input.paymentIntentId}`);
      return ok(capturedIntent(input.paymentIntentId, 10_000));
    };
    dojo.onRefund = async (input) => {
      log.push(`start ${input.amount}`);
      started.get(input.amount)?.resolve();
      await gates.get(input.amount)?.promise;
      log.push(`end ${input.amount}`);
      return ok({ refundId: `rf_${input.amount}`, raw: {} });
    };
    const p = pipeline();
    const first = p.process(message(event({ paymentIntentId: "pi_A", amount: 100 })));
    const second = p.process(message(event({ paymentIntentId: "pi_A", amount: 200 })));
    const other = p.process(message(event({ paymentIntentId: "pi_B", amount: 300 })));

    await started.get(100)?.promise;
    await started.get(300)?.promise;
    gates.get(300)?.resolve();
    expect(published(await other).data).toMatchObject({ refundId: "rf_300" });
    // pi_B finished while pi_A's first refund is still open; pi_A's second has not even been read.
    expect(log).not.toContain("end 100");
    expect(log.filter((l) => l === "read pi_A")).toHaveLength(1);
    expect(log).not.toContain("start 200");

    gates.get(100)?.resolve();
    gates.get(200)?.resolve();
    expect(published(await first).data).toMatchObject({ refundId: "rf_100" });
    expect(published(await second).data).toMatchObject({ refundId: "rf_200" });
    expect(log.indexOf("start 200")).toBeGreaterThan(log.indexOf("end 100"));
  });

  it("publishes the outcomes of one intent in arrival order", async () => {
    const p = pipeline({ maxInFlight: 4 });
    const events = [1, 2, 3, 4, 5].map((amount) => event({ paymentIntentId: "pi_seq", amount }));
    const results = await Promise.all(events.map((e) => p.process(message(e))));
    expect(results.every((r) => r.status === "published")).toBe(true);
    expect(sink.published.map((o) => o.data.sourceEvent.id)).toEqual(events.map((e) => e.id));
  });
});
