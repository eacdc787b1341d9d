// Field limits from Dojo's published 2026-02-27 schema, shared by the client's pre-send checks and the
// simulator so both enforce the same numbers.

/**
 * Payment intent ids as this service accepts them. Dojo's ids look like `pi_sandbox_…` / `pi_…`;
 * Dojo publishes no pattern, so this is our own guard that keeps ids safe inside a URL path.
 */
export const PAYMENT_INTENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;

/** Refund ids (`rfnd_…`); Dojo gives `refundId` a maxLength of 50 on the retrieve path. */
export const REFUND_ID_PATTERN = /^[A-Za-z0-9_-]{1,50}$/;

export const DOJO_LIMITS = {
  /** `idempotencyKey` header on create refund: maxLength 100, no documented minimum or charset. */
  idempotencyKeyMax: 100,
  refundReasonMax: 1024,
  notesMax: 4096,
  previousTransactionIdMax: 100,
  referenceMin: 1,
  referenceMax: 60,
  descriptionMax: 4096,
  currencyCodeMax: 10,
} as const;

/** Versions Dojo has published; the relay pins the newest. */
export const DOJO_API_VERSIONS = ["2026-02-27", "2025-09-10", "2024-02-05", "2022-04-07"] as const;
export const DEFAULT_DOJO_API_VERSION = "2026-02-27";
