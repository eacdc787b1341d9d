// Builds the outcome events from what the pipeline knows. The contracts in schemas/ own the shape;
// this file only gathers the inputs.
import {
  buildRefundFailed,
  buildRefundSucceeded,
  type FailureCode,
  type ReturnApprovedEvent,
} from "../../schemas/index.ts";
import type { DojoError } from "../dojo/index.ts";
import type { OutcomeEvent } from "./types.ts";

export interface OutcomeContext {
  /** Our CloudEvents source for outcome events. */
  readonly source: string;
  readonly event: ReturnApprovedEvent;
  /** Only when Dojo was called: the key and method it saw. */
  readonly idempotencyKey?: string;
  readonly method?: "refund" | "reversal";
  readonly attempts: number;
  readonly processedAt: Date;
}

function common(ctx: OutcomeContext) {
  const { data } = ctx.event;
  return {
    source: ctx.source,
    sourceEvent: { id: ctx.event.id, source: ctx.event.source },
    returnId: data.returnId,
    orderId: data.orderId,
    paymentIntentId: data.paymentIntentId,
    amount: data.amount,
    ...(ctx.idempotencyKey === undefined ? {} : { idempotencyKey: ctx.idempotencyKey }),
    ...(ctx.method === undefined ? {} : { method: ctx.method }),
    attempts: ctx.attempts,
    processedAt: ctx.processedAt,
    ...(data.merchantId === undefined ? {} : { merchantId: data.merchantId }),
    ...(data.metadata === undefined ? {} : { metadata: data.metadata }),
  };
}

export function succeededOutcome(ctx: OutcomeContext, refundId: string): OutcomeEvent {
  if (ctx.idempotencyKey === undefined || ctx.method === undefined) {
    throw new Error("a refund.succeeded needs the idempotency key and method Dojo saw");
  }
  return buildRefundSucceeded({
    ...common(ctx),
    idempotencyKey: ctx.idempotencyKey,
    method: ctx.method,
    refundId,
  });
}

export function failedOutcome(
  ctx: OutcomeContext,
  code: FailureCode,
  message: string,
  error?: DojoError,
  idVariant?: string,
): OutcomeEvent {
  return buildRefundFailed({
    ...common(ctx),
    code,
    message,
    ...(idVariant === undefined ? {} : { idVariant }),
    ...(error?.problem === undefined ? {} : { problem: error.problem }),
  });
}
