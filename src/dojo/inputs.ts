// Inputs of the client's operations, and the payment intent body (used by tests and the demo).
import type { Context } from "@opentelemetry/api";
import { DOJO_LIMITS } from "./limits.ts";
import { checkAmount, checkOptionalText, type Problems } from "./request-checks.ts";

interface Common {
  /** Picks the account; omitted means the default key. */
  readonly merchantId?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** The trace the call belongs to: each HTTP request is a child span of it and carries `traceparent`. */
  readonly trace?: Context | undefined;
}

export interface CreateRefundInput extends Common {
  readonly paymentIntentId: string;
  /** Minor units of the intent's currency (Dojo refunds carry no currency). */
  readonly amount: number;
  readonly refundReason?: string | undefined;
  readonly notes?: string | undefined;
  /** Sent as `idempotencyKey`; at most 100 characters. Reuse it for every retry of this refund. */
  readonly idempotencyKey: string;
}

export interface GetRefundInput extends Common {
  readonly refundId: string;
}

export interface GetPaymentIntentInput extends Common {
  readonly paymentIntentId: string;
}

export interface CreateReversalInput extends Common {
  readonly paymentIntentId: string;
}

export interface CaptureInput extends Common {
  readonly paymentIntentId: string;
  readonly amount: number;
  readonly tipsAmount?: number | undefined;
}

export interface CreatePaymentIntentInput extends Common {
  readonly amount: { readonly value: number; readonly currencyCode: string };
  /** 1 to 60 characters (Dojo: required). */
  readonly reference: string;
  readonly captureMode?: "Auto" | "Manual" | undefined;
  readonly description?: string | undefined;
}

export function paymentIntentBody(
  input: CreatePaymentIntentInput,
  problems: Problems,
): Record<string, unknown> {
  checkAmount("amount.value", input.amount?.value, problems);
  const currency = input.amount?.currencyCode;
  if (typeof currency !== "string" || currency.length < 1 || currency.length > DOJO_LIMITS.currencyCodeMax) {
    problems.push("amount.currencyCode must be 1 to 10 characters");
  }
  const ref = input.reference;
  if (
    typeof ref !== "string" ||
    ref.length < DOJO_LIMITS.referenceMin ||
    ref.length > DOJO_LIMITS.referenceMax
  ) {
    problems.push("reference must be 1 to 60 characters");
  }
  checkOptionalText("description", input.description, DOJO_LIMITS.descriptionMax, problems);
  if (input.captureMode !== undefined && input.captureMode !== "Auto" && input.captureMode !== "Manual") {
    problems.push("captureMode must be Auto or Manual");
  }
  return {
    amount: { value: input.amount?.value, currencyCode: currency },
    reference: ref,
    captureMode: input.captureMode,
    description: input.description,
  };
}
