// A refusal of this event's key is explained with a fresh read of the intent. It is trusted
// (refund.failed) when no attempt of this event may have gone unanswered; when one may have (an
// indeterminate error, the client's own resend, an open row with attempts at the start of the
// delivery), it is trusted only if the fresh read shows refunds that cannot include ours; otherwise
// the event is parked for a person with the intent before and after.
import { afterEach, describe, expect, it } from "vitest";
import type { CreatedRefund, CreateRefundInput, DojoResult, PaymentIntent } from "../../../src/dojo/index.ts";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { type DeadLetterReason, type OutcomeEvent, RefundPipeline } from "../../../src/pipeline/index.ts";
import { afterRequests, capturedIntent, event, fail, keyOf, message, ok, SETTINGS } from "./fakes.ts";

const PI = "pi_sandbox_1";
const before = capturedIntent(PI, 5_000);
const refunded = (amount: number): PaymentIntent => ({ ...before, refundedAmount: amount });

const ledgers: SqliteLedger[] = [];
afterEach(async () => {
  for (const l of ledgers.splice(0)) await l.close();
});

/**
 * A pipeline whose Dojo answers refunds and intent reads from scripts, in order; the last read is
 * repeated once the script runs out. An extra refund call fails the test.
 */
function scripted(refunds: Array<DojoResult<CreatedRefund>>, reads: Array<DojoResult<PaymentIntent>>) {
  const calls: CreateRefundInput[] = [];
  const ops: string[] = [];
  const published: OutcomeEvent[] = [];
  const parked: DeadLetterReason[] = [];
  const ledger = new SqliteLedger({ path: ":memory:" });
  ledgers.push(ledger);
  let lastRead = reads[0] ?? ok(before);
  const pipeline = new RefundPipeline(
    { ...SETTINGS, retry: { ...SETTINGS.retry, maxAttempts: 5 } },
    {
      ledger,
      logger: silentLogger,
      random: () => 0,
      dojo: {
        getPaymentIntent: async () => {
          ops.push("read");
          lastRead = reads.shift() ?? lastRead;
          return lastRead;
        },
        createReversal: async () => fail("bad_request", "unused"),
        createRefund: async (input) => {
          ops.push("refund");
          calls.push(input);
          const answer = refunds.shift();
          if (answer === undefined) throw new Error("unexpected extra refund call");
          return answer;
        },
      },
      sink: {
        publish: async (o) => void published.push(o),
        deadLetter: async (_m, reason) => void parked.push(reason),
      },
    },
  );
  const e = event({ paymentIntentId: PI, amount: 5_000 });
  return { pipeline, e, run: () => pipeline.process(message(e)), calls, ops, published, parked, ledger };
}

const refusal = (status = 400) =>
  fail<CreatedRefund>(
    status === 422 ? "unprocessable" : "bad_request",
    "amount exceeds the refundable amount",
    status,
  );

describe("a refusal with no attempt unanswered", () => {
  it("is trusted: refund.failed with Dojo's code when the fresh read shows no reason", async () => {
    const t = scripted([refusal()], [ok(before)]);
    const result = await t.run();
    expect(result.status).toBe("published");
    expect(t.published[0]?.data).toMatchObject({ code: "dojo_rejected", attempts: 1, method: "refund" });
    expect(t.ops).toEqual(["read", "refund", "read"]);
  });

  it("is trusted even when the fresh read shows refunds that could include ours, named with preflight's code", async () => {
    // Preflight saw room; meanwhile someone else refunded everything. Nothing of ours can be unanswered.
    const t = scripted([refusal(422)], [ok(before), ok({ ...refunded(5_000), status: "Refunded" })]);
    await t.run();
    expect(t.parked).toEqual([]);
    expect(t.published[0]?.data).toMatchObject({
      code: "amount_exceeds_refundable",
      message:
        "amount 5000 exceeds the refundable 0 (captured 5000, refunded 5000) (read again after Dojo refused the refund)",
      attempts: 1,
    });
  });
});

describe("a refusal after an unanswered attempt in this delivery", () => {
  it("parks for reconciliation, with the intent before and after, when the fresh read could include our refund", async () => {
    const t = scripted(
      [fail("timeout", "no response"), refusal()],
      [ok(before), ok({ ...refunded(5_000), status: "Refunded" })],
    );
    const result = await t.run();
    expect(result).toMatchObject({
      status: "dead-lettered",
      reason: { code: "needs_reconciliation", attempts: 2 },
    });
    expect(t.published).toHaveLength(0);
    expect(t.calls.map((c) => c.idempotencyKey)).toEqual([keyOf(t.e), keyOf(t.e)]);
    const reason = t.parked[0]?.message ?? "";
    expect(reason).toContain("intent before: Captured, captured 5000, refunded 0 GBP");
    expect(reason).toContain("now: Refunded, captured 5000, refunded 5000 GBP");
    expect(await t.ledger.get({ source: t.e.source, eventId: t.e.id })).toMatchObject({
      outcome: null,
      parked: { code: "needs_reconciliation" },
    });
  });

  it("parks when the fresh read fails: nothing shows that our refund is not among the intent's", async () => {
    const t = scripted([fail("timeout"), refusal()], [ok(before), fail("server_error", "502", 502)]);
    const result = await t.run();
    expect(result).toMatchObject({ status: "dead-lettered", reason: { code: "needs_reconciliation" } });
    expect(t.parked[0]?.message).toContain("now: unknown");
    expect(t.published).toHaveLength(0);
  });

  it("is trusted when the fresh read shows a refunded total below the amount, with preflight's code", async () => {
    const t = scripted([fail("server_error", "502", 502), refusal(422)], [ok(before), ok(refunded(4_000))]);
    const result = await t.run();
    expect(result.status).toBe("published");
    expect(t.published[0]?.data).toMatchObject({
      code: "amount_exceeds_refundable",
      message:
        "amount 5000 exceeds the refundable 1000 (captured 5000, refunded 4000) (read again after Dojo refused the refund)",
      attempts: 2,
      idempotencyKey: keyOf(t.e),
      method: "refund",
    });
  });

  it("is trusted with Dojo's own code when the fresh read shows nothing refunded", async () => {
    const t = scripted([fail("timeout"), refusal()], [ok(before)]);
    await t.run();
    expect(t.published[0]?.data).toMatchObject({ code: "dojo_rejected", attempts: 2 });
    expect(t.parked).toEqual([]);
  });

  it("is not ambiguous after an error that says nothing was sent (connect_failed)", async () => {
    const t = scripted(
      [fail("connect_failed", "ECONNREFUSED"), refusal()],
      [ok(before), ok({ ...refunded(5_000), status: "Refunded" })],
    );
    await t.run();
    expect(t.parked).toEqual([]);
    expect(t.published[0]?.data).toMatchObject({ code: "amount_exceeds_refundable" });
  });

  it("retries a 409 that says the key was used with another request, then parks it", async () => {
    const mismatch = () => fail<CreatedRefund>("idempotency_mismatch", "key used with another body", 409);
    const t = scripted([mismatch(), mismatch(), mismatch(), mismatch(), mismatch()], [ok(before)]);
    const result = await t.run();
    expect(result).toMatchObject({ status: "dead-lettered", reason: { code: "retry_budget_exhausted" } });
    expect(t.calls).toHaveLength(5);
    expect(t.published).toHaveLength(0);
  });
});

describe("a refusal after a resend inside one client call", () => {
  it("parks when the client itself resent the refund and the fresh read could include it", async () => {
    // The client reports 2 requests: its first went unanswered (a 502), the resend with the same key
    // was refused. The first may have refunded.
    const t = scripted(
      [afterRequests(refusal(), 2)],
      [ok(before), ok({ ...refunded(5_000), status: "Refunded" })],
    );
    const result = await t.run();
    expect(result).toMatchObject({ status: "dead-lettered", reason: { code: "needs_reconciliation" } });
    expect(t.published).toHaveLength(0);
  });

  it("is trusted, counting both requests, when the fresh read shows nothing refunded", async () => {
    const t = scripted([afterRequests(refusal(), 2)], [ok(before)]);
    await t.run();
    expect(t.published[0]?.data).toMatchObject({ code: "dojo_rejected", attempts: 2 });
    expect(await t.ledger.get({ source: t.e.source, eventId: t.e.id })).toMatchObject({
      state: "published",
      attempts: 2,
    });
  });
});
