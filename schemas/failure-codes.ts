// Stable reasons for refund.failed. Consumers branch on these, so a code is never renamed or given a new
// meaning; new codes may be added (consumers must treat an unknown code as a generic failure).

export const FAILURE_CODES = [
  "invalid_event",
  "payment_not_found",
  "payment_not_captured",
  "payment_not_refundable",
  "currency_mismatch",
  "amount_exceeds_refundable",
  "unknown_merchant",
  "idempotency_conflict",
  "dojo_rejected",
  "unauthorized",
  "forbidden",
] as const;

export type FailureCode = (typeof FAILURE_CODES)[number];

/** One line per code; the README table and the JSON Schema descriptions are built from these. */
export const FAILURE_CODE_DESCRIPTIONS: Readonly<Record<FailureCode, string>> = {
  invalid_event:
    "The return.approved event failed validation (envelope or data). No refund was attempted; fix and re-send with a new event id.",
  payment_not_found: "Dojo does not know the payment intent (HTTP 404 on the payment intent).",
  payment_not_captured:
    "The payment intent is authorized but not captured, and the relay is not configured to reverse it.",
  payment_not_refundable:
    "The payment intent is in a state that cannot be refunded (for example reversed or canceled).",
  currency_mismatch:
    "The event's currency differs from the payment intent's currency, or Dojo does not support it.",
  amount_exceeds_refundable: "The amount is larger than what is still refundable on the payment intent.",
  unknown_merchant:
    "Not sent since the relay treats it as a configuration fault (the event is dead-lettered for a person instead); kept so older outcomes stay valid. The merchantId did not match any configured Dojo account.",
  idempotency_conflict:
    "The event reused the id of an earlier return.approved with different content. This version was not processed and no money moved for it; the earlier version keeps its own outcome, and this answer's id never equals that outcome's id.",
  dojo_rejected: "Dojo rejected the refund for another reason (HTTP 4xx); its problem details are attached.",
  unauthorized:
    "Not sent since the relay treats a rejected key as a configuration fault (it pauses and retries); kept so older outcomes stay valid. Dojo rejected the API key (HTTP 401).",
  forbidden:
    "Not sent since the relay treats a rejected key as a configuration fault (it pauses and retries); kept so older outcomes stay valid. The API key was not allowed to refund this payment (HTTP 403).",
};
