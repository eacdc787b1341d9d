// While several events of one payment intent are pending, preflight reads the intent once and
// remembers it (plus this relay's own confirmed refunds); a remembered intent may only let a refund go
// ahead, never refuse one, and is forgotten after anything but a confirmed refund and between bursts.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OutcomeEvent } from "../../../schemas/index.ts";
import {
  type CreatedRefund,
  type DojoResult,
  type PaymentIntent,
  refundableAmount,
} from "../../../src/dojo/index.ts";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { type MessageResult, type PipelineSettings, RefundPipeline } from "../../../src/pipeline/index.ts";
import {
  capturedIntent,
  event,
  FakeDojo,
  FakeSink,
  fail,
  keyOf,
  message,
  ok,
  published,
  type ReturnApprovedEvent,
  SETTINGS,
} from "./fakes.ts";

const PI = "pi_memo";

let ledger: SqliteLedger;
let dojo: FakeDojo;
let sink: FakeSink;
/** Reads, refunds, publishes and dead letters, in the order they happened. */
let timeline: string[];

beforeEach(() => {
  ledger = new SqliteLedger({ path: ":memory:" });
  dojo = new FakeDojo();
  sink = new FakeSink();
  timeline = [];
  const publish = sink.publish.bind(sink);
  sink.publish = async (outcome) => {
    const code = failureCode(outcome);
    timeline.push(code === undefined ? `publish ${outcome.type}` : `publish ${outcome.type} ${code}`);
    return publish(outcome);
  };
  const deadLetter = sink.deadLetter.bind(sink);
  sink.deadLetter = async (m, reason) => {
    timeline.push(`dead-letter ${reason.code}`);
    return deadLetter(m, reason);
  };
});

afterEach(async () => {
  await ledger.close();
});

function pipeline(overrides: Partial<PipelineSettings> = {}): RefundPipeline {
  return new RefundPipeline(
    { ...SETTINGS, ...overrides },
    { ledger, dojo, sink, logger: silentLogger, random: () => 0 },
  );
}

/**
 * The fake Dojo holding one payment intent with state: reads return its current state, a confirmed
 * refund adds to its refunded amount, and a refund above what remains is refused with HTTP 422 as
 * Dojo itself does. `scripted` answers the next refunds instead (a timeout, a refusal) without
 * touching the intent.
 */
class IntentAtDojo {
  intent: PaymentIntent;
  readonly scripted: Array<DojoResult<CreatedRefund>> = [];
  #refunds = 0;

  constructor(intent: PaymentIntent) {
    this.intent = intent;
    dojo.onIntent = (input) => {
      timeline.push(`read ${input.merchantId ?? "default"}`);
      return ok(structuredClone(this.intent));
    };
    dojo.onRefund = (input) => {
      const next = this.scripted.shift();
      if (next !== undefined) {
        timeline.push(`refund ${input.amount} -> ${next.ok ? "ok" : next.error.code}`);
        return next;
      }
      if (input.amount > refundableAmount(this.intent).remaining) {
        timeline.push(`refund ${input.amount} -> unprocessable`);
        return fail("unprocessable", "amount exceeds the refundable amount", 422);
      }
      this.intent = { ...this.intent, refundedAmount: (this.intent.refundedAmount ?? 0) + input.amount };
      this.#refunds += 1;
      timeline.push(`refund ${input.amount} -> ok`);
      return ok({ refundId: `rf_${this.#refunds}`, raw: {} });
    };
  }

  /** A further successful capture of a Manual intent. */
  capture(amount: number): void {
    this.intent = {
      ...this.intent,
      captures: [...(this.intent.captures ?? []), { amount, status: "Successful" }],
    };
  }
}

/** Submits every event before any of them has finished: one burst of the same intent. */
function burst(p: RefundPipeline, events: ReadonlyArray<ReturnApprovedEvent>): Promise<MessageResult[]> {
  return Promise.all(events.map((e) => p.process(message(e))));
}

function amounts(...values: number[]): ReturnApprovedEvent[] {
  return values.map((amount) => event({ paymentIntentId: PI, amount }));
}

function failureCode(outcome: OutcomeEvent): string | undefined {
  return outcome.type === "refund.failed" ? outcome.data.code : undefined;
}

function count(op: "getPaymentIntent" | "createRefund"): number {
  return dojo.ops().filter((o) => o === op).length;
}

describe("RefundPipeline: preflight remembers the intent within a burst", () => {
  it("reads the intent once for several partial refunds submitted together", async () => {
    new IntentAtDojo(capturedIntent(PI, 1_000));
    const events = amounts(300, 300, 300);
    const results = await burst(pipeline(), events);

    expect(results.map((r) => published(r).type)).toEqual([
      "refund.succeeded",
      "refund.succeeded",
      "refund.succeeded",
    ]);
    expect(dojo.ops()).toEqual(["getPaymentIntent", "createRefund", "createRefund", "createRefund"]);
    expect(dojo.refunds().map((r) => r.amount)).toEqual([300, 300, 300]);
    expect(sink.published.map((o) => o.data.sourceEvent.id)).toEqual(events.map((e) => e.id));
  });

  it("counts its own confirmed refunds and refuses, on a fresh read, the one that no longer fits", async () => {
    // 1000 captured; 200 and 200 are refunded; the third asks 700 with 600 left, and the refunded
    // total (400) is below 700, so no refund of its own can be in it: preflight may refuse it.
    const at = new IntentAtDojo(capturedIntent(PI, 1_000));
    const results = await burst(pipeline(), amounts(200, 200, 700));

    expect(results.slice(0, 2).map((r) => published(r).type)).toEqual([
      "refund.succeeded",
      "refund.succeeded",
    ]);
    const third = published(results[2]);
    expect(third.type).toBe("refund.failed");
    expect(third.data).toMatchObject({ code: "amount_exceeds_refundable", attempts: 0 });
    expect(third.data).not.toHaveProperty("idempotencyKey");
    // Without our own refunds in the remembered intent, the third would have gone to Dojo (and been
    // refused there); without the fresh read, no second read before its answer.
    expect(count("createRefund")).toBe(2);
    expect(count("getPaymentIntent")).toBe(2);
    expect(timeline).toEqual([
      "read default",
      "refund 200 -> ok",
      "publish refund.succeeded",
      "refund 200 -> ok",
      "publish refund.succeeded",
      "read default",
      "publish refund.failed amount_exceeds_refundable",
    ]);
    expect(at.intent.refundedAmount).toBe(400);
  });

  it("sends, with its key, an event whose amount the remembered refunded total could hold", async () => {
    // 400, 400, 400 on 1000: the third has 200 left, but the refunded total (800) could include a
    // refund of its own, so Dojo answers it; Dojo refuses, and the fresh read names the reason.
    const at = new IntentAtDojo(capturedIntent(PI, 1_000));
    const events = amounts(400, 400, 400);
    const results = await burst(pipeline(), events);

    const third = published(results[2]);
    expect(third.data).toMatchObject({
      code: "amount_exceeds_refundable",
      message:
        "amount 400 exceeds the refundable 200 (captured 1000, refunded 800) (read again after Dojo refused the refund)",
      attempts: 1,
      method: "refund",
      idempotencyKey: keyOf(events[2] as ReturnApprovedEvent),
    });
    expect(timeline).toEqual([
      "read default",
      "refund 400 -> ok",
      "publish refund.succeeded",
      "refund 400 -> ok",
      "publish refund.succeeded",
      "refund 400 -> unprocessable",
      "read default",
      "publish refund.failed amount_exceeds_refundable",
    ]);
    expect(at.intent.refundedAmount).toBe(800);
  });

  it("lets a fresh read overrule a remembered intent that would refuse", async () => {
    // A Manual intent captured 1000; after our first refund of 600 a second capture of 1000 lands.
    const at = new IntentAtDojo({
      ...capturedIntent(PI, 2_000),
      captureMode: "Manual",
      captures: [{ amount: 1_000, status: "Successful" }],
    });
    const refund = dojo.onRefund;
    dojo.onRefund = (input) => {
      const answer = refund(input);
      if (dojo.refunds().length === 1) at.capture(1_000);
      return answer;
    };
    const results = await burst(pipeline(), amounts(300, 800));

    // Remembered: captured 1000, refunded 300, so 800 more would be refused (and 300 < 800, so no
    // refund of its own can be in it); Dojo's intent allows it.
    expect(results.map((r) => published(r).type)).toEqual(["refund.succeeded", "refund.succeeded"]);
    expect(timeline).toEqual([
      "read default",
      "refund 300 -> ok",
      "publish refund.succeeded",
      "read default",
      "refund 800 -> ok",
      "publish refund.succeeded",
    ]);
    expect(at.intent.refundedAmount).toBe(1_100);
  });
});

describe("RefundPipeline: preflight forgets the intent after a refund that did not succeed", () => {
  it("reads again after Dojo refused the refund", async () => {
    const at = new IntentAtDojo(capturedIntent(PI, 1_000));
    at.scripted.push(fail("unprocessable", "refused", 422));
    const results = await burst(pipeline(), amounts(100, 100, 100));

    expect(results.map((r) => failureCode(published(r)) ?? published(r).type)).toEqual([
      "dojo_rejected",
      "refund.succeeded",
      "refund.succeeded",
    ]);
    // The refusal is explained on a fresh read; the second event reads again (a read after a refusal
    // is not remembered); the third uses that read plus the second's refund.
    expect(timeline).toEqual([
      "read default",
      "refund 100 -> unprocessable",
      "read default",
      "publish refund.failed dojo_rejected",
      "read default",
      "refund 100 -> ok",
      "publish refund.succeeded",
      "refund 100 -> ok",
      "publish refund.succeeded",
    ]);
  });

  it("reads again after a refund parked for want of an answer", async () => {
    const at = new IntentAtDojo(capturedIntent(PI, 1_000));
    at.scripted.push(fail("timeout"), fail("timeout"));
    const results = await burst(
      pipeline({ retry: { ...SETTINGS.retry, maxAttempts: 2 } }),
      amounts(100, 100),
    );

    expect(results[0]).toMatchObject({ status: "dead-lettered", reason: { code: "retry_budget_exhausted" } });
    expect(published(results[1]).type).toBe("refund.succeeded");
    expect(timeline).toEqual([
      "read default",
      "refund 100 -> timeout",
      "refund 100 -> timeout",
      "dead-letter retry_budget_exhausted",
      "read default",
      "refund 100 -> ok",
      "publish refund.succeeded",
    ]);
  });

  it("reads again after a retryable error, even when a retry of that refund was then confirmed", async () => {
    const at = new IntentAtDojo(capturedIntent(PI, 1_000));
    at.scripted.push(fail("timeout"));
    const results = await burst(pipeline(), amounts(100, 100));

    expect(results.map((r) => published(r).type)).toEqual(["refund.succeeded", "refund.succeeded"]);
    expect(timeline).toEqual([
      "read default",
      "refund 100 -> timeout",
      "refund 100 -> ok",
      "publish refund.succeeded",
      "read default",
      "refund 100 -> ok",
      "publish refund.succeeded",
    ]);
  });
});

describe("RefundPipeline: preflight remembers nothing beyond a burst", () => {
  it("reads twice for two events processed one after the other", async () => {
    new IntentAtDojo(capturedIntent(PI, 1_000));
    const p = pipeline();
    const [first, second] = amounts(100, 100);
    if (first === undefined || second === undefined) throw new Error("two events expected");

    expect(published(await p.process(message(first))).type).toBe("refund.succeeded");
    expect(published(await p.process(message(second))).type).toBe("refund.succeeded");
    expect(timeline).toEqual([
      "read default",
      "refund 100 -> ok",
      "publish refund.succeeded",
      "read default",
      "refund 100 -> ok",
      "publish refund.succeeded",
    ]);
  });

  it("forgets the intent when its burst ends without a refund, so the next event reads again", async () => {
    new IntentAtDojo(capturedIntent(PI, 1_000));
    const p = pipeline();
    const [first, later] = amounts(100, 100);
    if (first === undefined || later === undefined) throw new Error("two events expected");

    // A refund and its own redelivery: the redelivery replays the stored outcome and calls no Dojo.
    const results = await burst(p, [first, first]);
    expect(results[1]).toMatchObject({ status: "published", replayed: true });
    expect(published(await p.process(message(later))).type).toBe("refund.succeeded");

    expect(timeline).toEqual([
      "read default",
      "refund 100 -> ok",
      "publish refund.succeeded",
      "publish refund.succeeded",
      "read default",
      "refund 100 -> ok",
      "publish refund.succeeded",
    ]);
  });
});

describe("RefundPipeline: preflight remembers per merchant", () => {
  it("reads again for another merchant's event of the same payment intent id", async () => {
    // Only merchant-a's account knows the intent.
    dojo.onIntent = (input) =>
      input.merchantId === "merchant-a"
        ? ok(capturedIntent(input.paymentIntentId, 1_000))
        : fail("not_found");
    const events = [
      event({ paymentIntentId: PI, amount: 100, merchantId: "merchant-a" }),
      event({ paymentIntentId: PI, amount: 100, merchantId: "merchant-b" }),
      event({ paymentIntentId: PI, amount: 100, merchantId: "merchant-a" }),
    ];
    const results = await burst(pipeline(), events);

    expect(results.map((r) => failureCode(published(r)) ?? published(r).type)).toEqual([
      "refund.succeeded",
      "payment_not_found",
      "refund.succeeded",
    ]);
    expect(dojo.ops()).toEqual([
      "getPaymentIntent",
      "createRefund",
      "getPaymentIntent",
      "getPaymentIntent",
      "createRefund",
    ]);
    const reads = dojo.calls.flatMap((c) => (c.op === "getPaymentIntent" ? [c.input.merchantId] : []));
    expect(reads).toEqual(["merchant-a", "merchant-b", "merchant-a"]);
    expect(dojo.refunds().map((r) => r.merchantId)).toEqual(["merchant-a", "merchant-a"]);
  });

  it("treats an event without merchantId as another merchant than one with it", async () => {
    new IntentAtDojo(capturedIntent(PI, 1_000));
    const events = [
      event({ paymentIntentId: PI, amount: 100, merchantId: "merchant-a" }),
      event({ paymentIntentId: PI, amount: 100 }),
      event({ paymentIntentId: PI, amount: 100 }),
    ];
    const results = await burst(pipeline(), events);

    expect(results.map((r) => published(r).type)).toEqual([
      "refund.succeeded",
      "refund.succeeded",
      "refund.succeeded",
    ]);
    // The third event matches the second's (default) account and uses its read.
    expect(timeline).toEqual([
      "read merchant-a",
      "refund 100 -> ok",
      "publish refund.succeeded",
      "read default",
      "refund 100 -> ok",
      "publish refund.succeeded",
      "refund 100 -> ok",
      "publish refund.succeeded",
    ]);
  });
});

describe("RefundPipeline: preflight off", () => {
  it("reads nothing before refunding; only a refusal of Dojo's is explained with a read", async () => {
    new IntentAtDojo(capturedIntent(PI, 1_000));
    const p = pipeline({ preflight: false });
    const [later] = amounts(100);
    if (later === undefined) throw new Error("one event expected");

    const results = await burst(p, amounts(400, 400, 400));
    expect(results.map((r) => failureCode(published(r)) ?? published(r).type)).toEqual([
      "refund.succeeded",
      "refund.succeeded",
      "amount_exceeds_refundable",
    ]);
    expect(published(await p.process(message(later))).type).toBe("refund.succeeded");

    expect(dojo.ops()).toEqual([
      "createRefund",
      "createRefund",
      "createRefund",
      "getPaymentIntent",
      "createRefund",
    ]);
  });
});

describe("RefundPipeline: a refund let through on a remembered read", () => {
  /** Runs `change` right after the n-th refund Dojo answers. */
  function afterRefund(n: number, change: () => void): void {
    const answer = dojo.onRefund;
    let seen = 0;
    dojo.onRefund = (input) => {
      const result = answer(input);
      seen += 1;
      if (seen === n) change();
      return result;
    };
  }

  it("is answered with preflight's code from a fresh read when Dojo refuses it", async () => {
    const at = new IntentAtDojo(capturedIntent(PI, 1_000));
    // Someone else refunds 500 right after our first refund: the remembered read is stale.
    afterRefund(1, () => {
      at.intent = { ...at.intent, refundedAmount: (at.intent.refundedAmount ?? 0) + 500 };
    });
    const results = await burst(pipeline(), amounts(300, 300));

    expect(results.map((r) => failureCode(published(r)) ?? published(r).type)).toEqual([
      "refund.succeeded",
      "amount_exceeds_refundable",
    ]);
    expect(timeline).toEqual([
      "read default",
      "refund 300 -> ok",
      "publish refund.succeeded",
      "refund 300 -> unprocessable",
      "read default",
      "publish refund.failed amount_exceeds_refundable",
    ]);
    expect(at.intent.refundedAmount).toBe(800);
  });

  it("keeps Dojo's refusal when a fresh read would have let the refund go", async () => {
    const at = new IntentAtDojo(capturedIntent(PI, 1_000));
    afterRefund(1, () => at.scripted.push(fail("unprocessable", "refused for another reason", 422)));
    const results = await burst(pipeline(), amounts(300, 300));

    expect(results.map((r) => failureCode(published(r)) ?? published(r).type)).toEqual([
      "refund.succeeded",
      "dojo_rejected",
    ]);
    expect(timeline).toEqual([
      "read default",
      "refund 300 -> ok",
      "publish refund.succeeded",
      "refund 300 -> unprocessable",
      "read default",
      "publish refund.failed dojo_rejected",
    ]);
  });

  it("is never used once the read is more than 5 s old", async () => {
    new IntentAtDojo(capturedIntent(PI, 1_000));
    let clock = Date.parse("2026-01-01T00:00:00Z");
    afterRefund(1, () => {
      clock += 5_001;
    });
    const p = new RefundPipeline(SETTINGS, {
      ledger,
      dojo,
      sink,
      logger: silentLogger,
      random: () => 0,
      now: () => new Date(clock),
    });
    const results = await burst(p, amounts(300, 300));

    expect(results.map((r) => published(r).type)).toEqual(["refund.succeeded", "refund.succeeded"]);
    expect(timeline).toEqual([
      "read default",
      "refund 300 -> ok",
      "publish refund.succeeded",
      "read default",
      "refund 300 -> ok",
      "publish refund.succeeded",
    ]);
  });
});
