// Turns a Dojo client failure into the pipeline's decision: a definitive refund.failed with a stable
// code, or a retry with the same idempotency key. The rule that protects money: anything that might
// have created a refund is never reported as refund.failed.
import type { FailureCode } from "../../schemas/index.ts";
import type { DojoError } from "../dojo/index.ts";

export type Decision =
  | {
      readonly kind: "fail";
      readonly code: FailureCode;
      readonly message: string;
      readonly error?: DojoError;
    }
  | { readonly kind: "retry"; readonly error: DojoError };

const DEFINITIVE_CODES: Partial<Record<DojoError["code"], FailureCode>> = {
  unauthorized: "unauthorized",
  forbidden: "forbidden",
  not_found: "payment_not_found",
  unknown_merchant: "unknown_merchant",
};

/**
 * Classifies the answer to a refund (or reversal) request. Every 409 on a refund is retried and, if
 * it persists, parked rather than reported: the ledger guarantees the same key always carries the same
 * body, so a conflict means Dojo is still working on our own earlier request, or claims the key was
 * used for something else, in which case that earlier request may have paid. Either way only a later
 * answer (or a person) can tell whether money moved. A 409 on a reversal means the intent's state
 * forbids it.
 */
export function classifyWriteError(error: DojoError, method: "refund" | "reversal"): Decision {
  if (error.kind !== "definitive") return { kind: "retry", error };
  if (method === "refund" && (error.code === "conflict" || error.code === "idempotency_mismatch")) {
    return { kind: "retry", error };
  }
  if (error.code === "conflict") {
    return {
      kind: "fail",
      code: "payment_not_refundable",
      message: "Dojo refused the reversal in the intent's current state",
      error,
    };
  }
  const code = DEFINITIVE_CODES[error.code] ?? "dojo_rejected";
  return { kind: "fail", code, message: `Dojo ${method} refused: ${error.message}`, error };
}

/** Classifies a failed read of the payment intent during preflight. */
export function classifyReadError(error: DojoError): Decision {
  if (error.kind !== "definitive") return { kind: "retry", error };
  const code = DEFINITIVE_CODES[error.code] ?? "dojo_rejected";
  return { kind: "fail", code, message: `reading the payment intent failed: ${error.message}`, error };
}
