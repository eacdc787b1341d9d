// Turns a Dojo client failure into the pipeline's decision: a definitive refund.failed with a stable
// code, a retry with the same idempotency key, or a fault of the relay's own configuration. The rules
// that protect money: anything that might have created a refund is never reported as refund.failed,
// and a rejected key says nothing about the refund, so it is never an answer either.
import type { FailureCode } from "../../schemas/index.ts";
import type { DojoError } from "../dojo/index.ts";

export type Decision =
  | {
      readonly kind: "fail";
      readonly code: FailureCode;
      readonly message: string;
      readonly error?: DojoError;
    }
  | { readonly kind: "retry"; readonly error: DojoError }
  /** Dojo rejected our credentials (401/403): pause and try again; nothing is answered. */
  | { readonly kind: "credentials"; readonly error: DojoError }
  /** No Dojo key for the event's merchant: parked for a person, never answered as failed. */
  | { readonly kind: "no_account"; readonly error: DojoError };

const DEFINITIVE_CODES: Partial<Record<DojoError["code"], FailureCode>> = {
  not_found: "payment_not_found",
};

function configurationFault(error: DojoError): Decision | undefined {
  if (error.code === "unauthorized" || error.code === "forbidden") return { kind: "credentials", error };
  if (error.code === "unknown_merchant") return { kind: "no_account", error };
  return undefined;
}

/**
 * Classifies the answer to a refund (or reversal) request. Every 409 on a refund is retried and, if
 * it persists, parked rather than reported: the ledger guarantees the same key always carries the same
 * body, so a conflict means Dojo is still working on our own earlier request, or claims the key was
 * used for something else, in which case that earlier request may have paid. Either way only a later
 * answer (or a person) can tell whether money moved. A 409 on a reversal means the intent's state
 * forbids it.
 */
export function classifyWriteError(error: DojoError, method: "refund" | "reversal"): Decision {
  const fault = configurationFault(error);
  if (fault !== undefined) return fault;
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
  const fault = configurationFault(error);
  if (fault !== undefined) return fault;
  if (error.kind !== "definitive") return { kind: "retry", error };
  const code = DEFINITIVE_CODES[error.code] ?? "dojo_rejected";
  return { kind: "fail", code, message: `reading the payment intent failed: ${error.message}`, error };
}
