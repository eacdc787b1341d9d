// Checks run before anything is sent, so a request Dojo would certainly reject never leaves the process
// and the caller gets a definitive `invalid_request` instead of an HTTP round trip.
import { DOJO_LIMITS, PAYMENT_INTENT_ID_PATTERN, REFUND_ID_PATTERN } from "./limits.ts";

/** A list of problems; empty when the input is fine. */
export type Problems = string[];

export function checkPaymentIntentId(id: unknown, problems: Problems): void {
  if (typeof id !== "string" || !PAYMENT_INTENT_ID_PATTERN.test(id)) {
    problems.push(`paymentIntentId must match ${PAYMENT_INTENT_ID_PATTERN.source}`);
  }
}

export function checkRefundId(id: unknown, problems: Problems): void {
  if (typeof id !== "string" || !REFUND_ID_PATTERN.test(id)) {
    problems.push(`refundId must match ${REFUND_ID_PATTERN.source}`);
  }
}

/** Amounts are integers in minor units (Dojo: int64); the relay never sends zero or negative. */
export function checkAmount(name: string, amount: unknown, problems: Problems): void {
  if (typeof amount !== "number" || !Number.isSafeInteger(amount) || amount <= 0) {
    problems.push(`${name} must be a positive integer in minor units`);
  }
}

export function checkOptionalText(name: string, value: unknown, max: number, problems: Problems): void {
  if (value === undefined) return;
  if (typeof value !== "string") problems.push(`${name} must be a string`);
  else if (value.length > max) problems.push(`${name} must be at most ${max} characters`);
}

/** Dojo: `idempotencyKey` is required, at most 100 characters. Printable ASCII keeps it header-safe. */
export function checkIdempotencyKey(key: unknown, problems: Problems): void {
  if (typeof key !== "string" || key.length === 0) {
    problems.push("idempotencyKey is required");
  } else if (key.length > DOJO_LIMITS.idempotencyKeyMax) {
    problems.push(`idempotencyKey must be at most ${DOJO_LIMITS.idempotencyKeyMax} characters`);
  } else if (!/^[\x21-\x7e]+$/.test(key)) {
    problems.push("idempotencyKey must be printable ASCII without spaces");
  }
}
