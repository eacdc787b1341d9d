// The fields of the outcomes: a refund.failed for an event Dojo was never called for (a preflight
// refusal, an idempotency conflict) carries no idempotencyKey and no method; attempts counts every
// HTTP request Dojo may have seen for the event, the Dojo client's own resends within a call included
// (result.attempts), across deliveries.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CreatedRefund, DojoResult, PaymentIntent } from "../../../src/dojo/index.ts";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { type PipelineSettings, RefundPipeline } from "../../../src/pipeline/index.ts";
import {
  afterRequests,
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

const PI = "pi_fields";

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

/** Answers the next refunds from a script, then Dojo's own answers. */
function scriptRefunds(dojo: DojoSim, answers: Array<DojoResult<CreatedRefund>>): void {
  dojo.onRefund = (input) => answers.shift() ?? dojo.refund(input);
}

describe("refund.failed for an event Dojo was never called for", () => {
  const refusals: Array<[string, PaymentIntent | undefined, number, string | undefined]> = [
    ["payment_not_found", undefined, 100, undefined],
    ["currency_mismatch", capturedIntent(PI, 1_000, "EUR"), 100, undefined],
    ["amount_exceeds_refundable", capturedIntent(PI, 1_000), 1_001, undefined],
    ["payment_not_captured", { ...capturedIntent(PI, 1_000), status: "Created" }, 100, undefined],
    ["payment_not_refundable", { ...capturedIntent(PI, 1_000), status: "Canceled" }, 100, undefined],
  ];

  it.each(refusals)(
    "carries no idempotencyKey and no method, and 0 attempts (%s)",
    async (code, intent, amount) => {
      const dojo = intent === undefined ? new DojoSim() : new DojoSim(intent);
      const e = event({ paymentIntentId: PI, amount });
      const outcome = published(await pipeline(dojo).process(message(e)));

      expect(outcome.type).toBe("refund.failed");
      expect(outcome.data).toMatchObject({ code, attempts: 0 });
      expect(outcome.data).not.toHaveProperty("idempotencyKey");
      expect(outcome.data).not.toHaveProperty("method");
      expect(dojo.ops()).toEqual(["getPaymentIntent"]);
      // The stored outcome is the published one, so a redelivery re-publishes the same fields.
      expect((await ledger.get(ref(e)))?.outcome).toEqual(JSON.parse(JSON.stringify(outcome)));
    },
  );

  it("answers an idempotency conflict with no idempotencyKey, no method and 0 attempts", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ id: "evt-fields-conflict", paymentIntentId: PI, amount: 500 });
    const p = pipeline(dojo);
    published(await p.process(message(e)));
    const changed = { ...e, data: { ...e.data, amount: { value: 600, currencyCode: "GBP" } } };
    const outcome = published(await p.process(message(changed)));

    expect(outcome.data).toMatchObject({ code: "idempotency_conflict", attempts: 0 });
    expect(outcome.data).not.toHaveProperty("idempotencyKey");
    expect(outcome.data).not.toHaveProperty("method");
  });
});

describe("outcomes of events Dojo was called for", () => {
  it("carry the key and method Dojo saw on a refusal of the first request", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    scriptRefunds(dojo, [fail("bad_request", "refused", 400)]);
    const e = event({ paymentIntentId: PI, amount: 500 });
    const outcome = published(await pipeline(dojo).process(message(e)));
    expect(outcome.data).toMatchObject({
      code: "dojo_rejected",
      attempts: 1,
      idempotencyKey: keyOf(e),
      method: "refund",
    });
  });

  it("count the client's own resends within one call", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    // The client sent three requests with the key; the third was answered.
    dojo.onRefund = (input) => afterRequests(dojo.refund(input), 3);
    const e = event({ paymentIntentId: PI, amount: 500 });
    const outcome = published(await pipeline(dojo).process(message(e)));
    expect(outcome.data).toMatchObject({ attempts: 3, idempotencyKey: keyOf(e), method: "refund" });
    expect(await ledger.get(ref(e))).toMatchObject({ attempts: 3 });
  });

  it("count every request across the pipeline's retries and the client's resends", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    // 2 requests unanswered, then 1 unanswered, then 2 with the second answered: 5 requests.
    scriptRefunds(dojo, [afterRequests(fail("timeout"), 2), fail("server_error", "502", 502)]);
    const inner = dojo.onRefund;
    let n = 0;
    dojo.onRefund = async (input) => {
      n += 1;
      const answer = await inner(input);
      return n === 3 ? afterRequests(answer, 2) : answer;
    };
    const e = event({ paymentIntentId: PI, amount: 500 });
    const outcome = published(
      await pipeline(dojo, { retry: { ...SETTINGS.retry, maxAttempts: 5 } }).process(message(e)),
    );
    expect(outcome.type).toBe("refund.succeeded");
    expect(outcome.data).toMatchObject({ attempts: 5 });
    expect(await ledger.get(ref(e))).toMatchObject({ attempts: 5 });
  });

  it("count a refusal's resends on a trusted refund.failed", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    scriptRefunds(dojo, [afterRequests(fail("unprocessable", "refused", 422), 2)]);
    const e = event({ paymentIntentId: PI, amount: 500 });
    const outcome = published(await pipeline(dojo).process(message(e)));
    expect(outcome.data).toMatchObject({ code: "dojo_rejected", attempts: 2 });
  });

  it("count the resends of a refusal that was parked, once the replayed event settles", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 3_000 });
    // The client's first request is applied but unanswered; its resend is refused: 2 requests.
    dojo.onRefund = (input) => {
      dojo.refund(input);
      return afterRequests(fail("unprocessable", "refused", 422), 2);
    };
    const parked = await pipeline(dojo).process(message(e));
    expect(parked).toMatchObject({ status: "dead-lettered", reason: { code: "needs_reconciliation" } });

    dojo.onRefund = (input) => dojo.refund(input);
    const outcome = published(await pipeline(dojo).process(message(e)));
    // 2 requests in the first delivery, 1 in the replay.
    expect.soft(outcome.data).toMatchObject({ refundId: dojo.made[0]?.refundId, attempts: 3 });
    // The dead letter counted them too ("Dojo calls made for the event so far").
    expect.soft(parked).toMatchObject({ reason: { attempts: 2 } });
  });

  it("count no request the client never sent (its own checks refused it)", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    scriptRefunds(dojo, [afterRequests(fail("invalid_request", "notes too long"), 0)]);
    const e = event({ paymentIntentId: PI, amount: 500 });
    const outcome = published(await pipeline(dojo).process(message(e)));
    expect(outcome.data).toMatchObject({ code: "dojo_rejected", attempts: 0 });
    expect(outcome.data).not.toHaveProperty("idempotencyKey");
    expect(outcome.data).not.toHaveProperty("method");
  });

  it("name the reversal on a reversal's success", async () => {
    const dojo = new DojoSim({ ...capturedIntent(PI, 800), status: "Authorized" });
    const e = event({ paymentIntentId: PI, amount: 800 });
    const outcome = published(await pipeline(dojo, { reverseWhenAuthorized: true }).process(message(e)));
    expect(outcome.data).toMatchObject({ method: "reversal", attempts: 1, refundId: `rv_${PI}` });
  });

  it("keep one outcome id per event and type: a redelivery re-publishes the same id", async () => {
    const dojo = new DojoSim(capturedIntent(PI, 5_000));
    const e = event({ paymentIntentId: PI, amount: 500 });
    const p = pipeline(dojo);
    const first = published(await p.process(message(e)));
    const again = published(await p.process(message(e)));
    expect(again.id).toBe(first.id);
    expect(again).toEqual(first);
  });
});
