// In-memory stand-ins for the pipeline's ports: a scripted Dojo client and a recording sink.
import type { InboundMessage, OutcomeEvent } from "../../../schemas/index.ts";
import type {
  CreatedRefund,
  CreatedReversal,
  CreateRefundInput,
  CreateReversalInput,
  DojoError,
  DojoErrorCode,
  DojoResult,
  GetPaymentIntentInput,
  PaymentIntent,
} from "../../../src/dojo/index.ts";
import { dojoError } from "../../../src/dojo/index.ts";
import type { DeadLetterReason, OutcomeSink, PipelineSettings } from "../../../src/pipeline/index.ts";
import { type ReturnApprovedSpec, returnApproved } from "../../support/events.ts";

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function ok<T>(value: T): DojoResult<T> {
  return { ok: true, value, attempts: 1 };
}

export function fail<T>(code: DojoErrorCode, message = `Dojo said ${code}`, status?: number): DojoResult<T> {
  const error: DojoError = dojoError(code, message, status === undefined ? {} : { status });
  return { ok: false, error, attempts: 1 };
}

export function capturedIntent(id: string, value: number, currencyCode = "GBP"): PaymentIntent {
  return {
    id,
    status: "Captured",
    captureMode: "Auto",
    amount: { value, currencyCode },
    totalAmount: { value, currencyCode },
    refundedAmount: 0,
    captures: [],
  };
}

type Answer<T> = DojoResult<T> | Promise<DojoResult<T>>;

export type DojoCall =
  | { readonly op: "createRefund"; readonly input: CreateRefundInput }
  | { readonly op: "createReversal"; readonly input: CreateReversalInput }
  | { readonly op: "getPaymentIntent"; readonly input: GetPaymentIntentInput };

/** A Dojo client whose answers are set per test; every call is recorded in order. */
export class FakeDojo {
  readonly calls: DojoCall[] = [];
  onRefund: (input: CreateRefundInput) => Answer<CreatedRefund> = (input) =>
    ok({ refundId: `rf_${input.paymentIntentId}_${input.amount}`, raw: {} });
  onReversal: (input: CreateReversalInput) => Answer<CreatedReversal> = (input) =>
    ok({ reversalId: `rv_${input.paymentIntentId}`, raw: {} });
  onIntent: (input: GetPaymentIntentInput) => Answer<PaymentIntent> = (input) =>
    ok(capturedIntent(input.paymentIntentId, 1_000_000));

  readonly createRefund = async (input: CreateRefundInput): Promise<DojoResult<CreatedRefund>> => {
    this.calls.push({ op: "createRefund", input });
    return this.onRefund(input);
  };
  readonly createReversal = async (input: CreateReversalInput): Promise<DojoResult<CreatedReversal>> => {
    this.calls.push({ op: "createReversal", input });
    return this.onReversal(input);
  };
  readonly getPaymentIntent = async (input: GetPaymentIntentInput): Promise<DojoResult<PaymentIntent>> => {
    this.calls.push({ op: "getPaymentIntent", input });
    return this.onIntent(input);
  };

  ops(): string[] {
    return this.calls.map((c) => c.op);
  }

  refunds(): CreateRefundInput[] {
    return this.calls.flatMap((c) => (c.op === "createRefund" ? [c.input] : []));
  }
}

/** Records what the pipeline publishes and parks; can be told to fail the next publishes. */
export class FakeSink implements OutcomeSink {
  readonly published: OutcomeEvent[] = [];
  readonly deadLetters: Array<{ message: InboundMessage; reason: DeadLetterReason }> = [];
  publishAttempts = 0;
  failNextPublishes = 0;

  async publish(outcome: OutcomeEvent): Promise<void> {
    this.publishAttempts += 1;
    if (this.failNextPublishes > 0) {
      this.failNextPublishes -= 1;
      throw new Error("broker unavailable");
    }
    this.published.push(outcome);
  }

  async deadLetter(message: InboundMessage, reason: DeadLetterReason): Promise<void> {
    this.deadLetters.push({ message, reason });
  }
}

export type ReturnApprovedEvent = ReturnType<typeof returnApproved>;

export function event(spec: ReturnApprovedSpec): ReturnApprovedEvent {
  return returnApproved(spec);
}

export function message(body: unknown): InboundMessage {
  return {
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/cloudevents+json" },
    transport: "kafka",
  };
}

/** Pipeline settings for unit tests: preflight on, 3 attempts, millisecond backoff. */
export const SETTINGS: PipelineSettings = {
  eventSource: "urn:refund-relay:test",
  idempotencyNamespace: "rr",
  maxMessageBytes: 262_144,
  maxInFlight: 8,
  preflight: true,
  reverseWhenAuthorized: false,
  retry: { maxAttempts: 3, maxAgeMs: 60_000, baseDelayMs: 1, maxDelayMs: 2 },
};
