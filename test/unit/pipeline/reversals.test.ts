// Reversals carry no idempotency key at Dojo: one whose earlier attempt's fate is unknown (the row is a
// reversal with attempts, or this delivery's reversal ended without an answer) is never sent again, and
// the event is parked for a person with the intent before and after. Preflight never runs for a
// reversal row. A rejected key on a reversal is a fault of the relay's own world like any other.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PaymentIntent } from "../../../src/dojo/index.ts";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { RefundPipeline } from "../../../src/pipeline/index.ts";
import {
  capturedIntent,
  DojoSim,
  event,
  FakeSink,
  fail,
  gateLog,
  message,
  published,
  ref,
  SETTINGS,
  until,
} from "./fakes.ts";

const PI = "pi_rev";
const authorized = (value: number): PaymentIntent => ({ ...capturedIntent(PI, value), status: "Authorized" });

let ledger: SqliteLedger;
let sink: FakeSink;

beforeEach(() => {
  ledger = new SqliteLedger({ path: ":memory:" });
  sink = new FakeSink();
});

afterEach(async () => {
  await ledger.close();
});

function pipeline(dojo: DojoSim): RefundPipeline {
  return new RefundPipeline(
    { ...SETTINGS, reverseWhenAuthorized: true },
    { ledger, dojo, sink, logger: silentLogger, random: () => 0 },
  );
}

describe("reversals whose fate is unknown", () => {
  it.each(["timeout", "server_error", "connection_reset", "aborted"] as const)(
    "parks a reversal answered with %s without sending it again",
    async (code) => {
      const dojo = new DojoSim(authorized(800));
      dojo.onReversal = (input) => {
        dojo.reverse(input);
        return fail(code);
      };
      const e = event({ paymentIntentId: PI, amount: 800 });
      const result = await pipeline(dojo).process(message(e));

      expect(result).toMatchObject({
        status: "dead-lettered",
        reason: { code: "needs_reconciliation", attempts: 1 },
      });
      if (result.status === "dead-lettered") {
        expect(result.reason.message).toContain("intent before: Authorized");
        expect(result.reason.message).toContain("now: Reversed");
      }
      expect(dojo.ops().filter((op) => op === "createReversal")).toHaveLength(1);
      expect(sink.published).toEqual([]);
    },
  );

  it("parks a redelivered reversal row with attempts without preflight and without a second reversal", async () => {
    const dojo = new DojoSim(authorized(800));
    dojo.onReversal = () => fail("timeout");
    const e = event({ paymentIntentId: PI, amount: 800 });
    expect((await pipeline(dojo).process(message(e))).status).toBe("dead-lettered");

    // Replayed with Dojo healthy: the earlier reversal may have gone through.
    dojo.onReversal = (input) => dojo.reverse(input);
    dojo.calls.length = 0;
    const again = await pipeline(dojo).process(message(e));

    expect(again).toMatchObject({
      status: "dead-lettered",
      reason: { code: "needs_reconciliation", attempts: 1 },
    });
    // One read, as evidence for a person; no preflight read before it, no reversal.
    expect(dojo.ops()).toEqual(["getPaymentIntent"]);
    expect(dojo.reversed).toEqual([]);
    expect(await ledger.get(ref(e))).toMatchObject({ method: "reversal", attempts: 1, outcome: null });
  });

  it("sends a reversal again after a connection that failed before sending: nothing reached Dojo", async () => {
    const dojo = new DojoSim(authorized(800));
    let n = 0;
    dojo.onReversal = (input) => (++n === 1 ? fail("connect_failed", "ECONNREFUSED") : dojo.reverse(input));
    const e = event({ paymentIntentId: PI, amount: 800 });
    const outcome = published(await pipeline(dojo).process(message(e)));

    expect(outcome.data).toMatchObject({ method: "reversal", refundId: `rv_${PI}` });
    expect(dojo.ops().filter((op) => op === "createReversal")).toHaveLength(2);
    expect(dojo.reversed).toEqual([PI]);
  });

  it("never sends a reversal again in a later delivery, even after a connection that failed: the row cannot tell", async () => {
    const dojo = new DojoSim(authorized(800));
    dojo.onReversal = () => fail("connect_failed", "ECONNREFUSED");
    const e = event({ paymentIntentId: PI, amount: 800 });
    const stop = new AbortController();
    const first = pipeline(dojo).process(message(e), { stop: stop.signal });
    await until(() => dojo.ops().includes("createReversal"), "the first reversal was tried");
    stop.abort();
    expect(await first).toMatchObject({ status: "abandoned" });

    dojo.onReversal = (input) => dojo.reverse(input);
    const again = await pipeline(dojo).process(message(e));
    expect(again).toMatchObject({ status: "dead-lettered", reason: { code: "needs_reconciliation" } });
    expect(dojo.ops().filter((op) => op === "createReversal")).toHaveLength(1);
  });
});

describe("reversals that Dojo answered", () => {
  it("publishes a reversal's success as refund.succeeded with method reversal", async () => {
    const dojo = new DojoSim(authorized(800));
    const e = event({ paymentIntentId: PI, amount: 800 });
    const outcome = published(await pipeline(dojo).process(message(e)));
    expect(outcome.data).toMatchObject({ method: "reversal", refundId: `rv_${PI}`, attempts: 1 });
    expect(dojo.ops()).toEqual(["getPaymentIntent", "createReversal"]);
    expect(dojo.reversed).toEqual([PI]);
  });

  it("answers a reversal Dojo refused in the intent's state (409) as payment_not_refundable", async () => {
    const dojo = new DojoSim(authorized(800));
    dojo.onReversal = () => fail("conflict", "Dojo answered HTTP 409", 409);
    const e = event({ paymentIntentId: PI, amount: 800 });
    const outcome = published(await pipeline(dojo).process(message(e)));
    expect(outcome.data).toMatchObject({ code: "payment_not_refundable", method: "reversal", attempts: 1 });
  });

  it("waits out a 401 on the reversal (Dojo refused the request, nothing was reversed) and reverses once the key works", async () => {
    const dojo = new DojoSim(authorized(800));
    let refused = 0;
    dojo.onReversal = (input) => {
      if (refused < 2) {
        refused += 1;
        return fail("unauthorized", "Dojo answered HTTP 401", 401);
      }
      return dojo.reverse(input);
    };
    const e = event({ paymentIntentId: PI, amount: 800 });
    const p = pipeline(dojo);
    const pauses = gateLog(p.gate);
    const result = await p.process(message(e));

    expect(result.status).toBe("published");
    expect(published(result).data).toMatchObject({ method: "reversal" });
    expect(dojo.reversed).toEqual([PI]);
    expect(p.gate.paused).toBe(false);
    expect(pauses).toEqual([true, false]);
  });
});
