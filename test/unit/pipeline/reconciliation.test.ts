import { describe, expect, it } from "vitest";
import type { CreateRefundInput, DojoError, DojoResult, PaymentIntent } from "../../../src/dojo/index.ts";
import { dojoError } from "../../../src/dojo/index.ts";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import { type DeadLetterReason, type OutcomeEvent, RefundPipeline } from "../../../src/pipeline/index.ts";
import { returnApproved } from "../../support/events.ts";

const intent: PaymentIntent = {
  id: "pi_sandbox_1",
  status: "Captured",
  captureMode: "Auto",
  amount: { value: 5000, currencyCode: "GBP" },
  refundedAmount: 0,
};

function pipelineAnswering(answers: Array<DojoResult<{ refundId: string; raw: unknown }>>) {
  const calls: CreateRefundInput[] = [];
  const published: OutcomeEvent[] = [];
  const parked: DeadLetterReason[] = [];
  const pipeline = new RefundPipeline(
    {
      eventSource: "urn:refund-relay",
      idempotencyNamespace: "rr",
      maxMessageBytes: 262_144,
      maxInFlight: 4,
      preflight: true,
      reverseWhenAuthorized: false,
      retry: { maxAttempts: 5, maxAgeMs: 10_000, baseDelayMs: 1, maxDelayMs: 2 },
    },
    {
      ledger: new SqliteLedger({ path: ":memory:" }),
      logger: silentLogger,
      dojo: {
        getPaymentIntent: async () => ({ ok: true, value: intent, attempts: 1 }),
        createReversal: async () => ({ ok: false, error: dojoError("bad_request", "unused"), attempts: 1 }),
        createRefund: async (input) => {
          calls.push(input);
          const answer = answers.shift();
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
  const event = returnApproved({ paymentIntentId: intent.id, amount: 5000 });
  const message = { body: JSON.stringify(event), transport: "kafka" as const };
  return { pipeline, message, calls, published, parked };
}

const fail = (error: DojoError) => ({ ok: false as const, error, attempts: 1 });

describe("refusals after an unanswered attempt", () => {
  it("parks for reconciliation, instead of reporting refund.failed, when a retry is refused with 400", async () => {
    const t = pipelineAnswering([
      fail(dojoError("timeout", "no response")),
      fail(dojoError("bad_request", "amount exceeds the refundable amount", { status: 400 })),
    ]);
    const result = await t.pipeline.process(t.message);
    expect(result).toMatchObject({
      status: "dead-lettered",
      reason: { code: "needs_reconciliation", attempts: 2 },
    });
    expect(t.published).toHaveLength(0);
    expect(t.calls.map((c) => c.idempotencyKey)).toEqual([
      t.calls[0]?.idempotencyKey,
      t.calls[0]?.idempotencyKey,
    ]);
  });

  it("still reports a 400 on the first attempt as refund.failed", async () => {
    const t = pipelineAnswering([fail(dojoError("bad_request", "bad amount", { status: 400 }))]);
    const result = await t.pipeline.process(t.message);
    expect(result.status).toBe("published");
    expect(t.published[0]?.data).toMatchObject({ code: "dojo_rejected", attempts: 1 });
  });

  it("trusts a 401 after an unanswered attempt: the key is wrong whatever happened before", async () => {
    const t = pipelineAnswering([
      fail(dojoError("server_error", "502", { status: 502 })),
      fail(dojoError("unauthorized", "bad key", { status: 401 })),
    ]);
    await t.pipeline.process(t.message);
    expect(t.published[0]?.data).toMatchObject({ code: "unauthorized", attempts: 2 });
    expect(t.parked).toHaveLength(0);
  });

  it("retries a 409 that says the key was used with another request, then parks it", async () => {
    const mismatch = fail(dojoError("idempotency_mismatch", "key used with another body", { status: 409 }));
    const t = pipelineAnswering([mismatch, mismatch, mismatch, mismatch, mismatch]);
    const result = await t.pipeline.process(t.message);
    expect(result).toMatchObject({ status: "dead-lettered", reason: { code: "retry_budget_exhausted" } });
    expect(t.calls).toHaveLength(5);
    expect(t.published).toHaveLength(0);
  });
});

describe("refusals after a retry inside one client call", () => {
  it("parks when the client itself resent the refund before Dojo refused it", async () => {
    // The client reports 2 attempts: its first try went unanswered (for example a 502), the resend
    // with the same key was refused. The first try may have refunded.
    const t = pipelineAnswering([
      {
        ok: false,
        error: dojoError("bad_request", "amount exceeds the refundable amount", { status: 400 }),
        attempts: 2,
      },
    ]);
    const result = await t.pipeline.process(t.message);
    expect(result).toMatchObject({ status: "dead-lettered", reason: { code: "needs_reconciliation" } });
    expect(t.published).toHaveLength(0);
  });
});
