// Limits and patterns shared by every event schema. They are exported so that the relay, the Dojo client and
// emitters check the same values the schemas enforce, and so the README can quote them from one place.

/** Largest message body accepted, in bytes (256 KiB). Checked before any JSON parsing. */
export const DEFAULT_MAX_MESSAGE_BYTES = 262_144;

/**
 * Dojo payment intent ids (`pi_sandbox_…`, `pi_…`). The id is interpolated into a URL path by the Dojo client,
 * so only URL-safe characters are allowed: no `/`, `.`, `%`, whitespace or control characters can get through.
 * Deliberately not prefix-specific, so a new Dojo id format does not need a schema release.
 */
export const PAYMENT_INTENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;

/** Printable ASCII without space. Used for identifiers that travel through logs, URLs and headers. */
export const PRINTABLE_ASCII_PATTERN = /^[\x21-\x7E]+$/;

/** ISO 4217 alphabetic code shape. Which currencies Dojo accepts is the relay's decision, not the schema's. */
export const CURRENCY_CODE_PATTERN = /^[A-Z]{3}$/;

/** Merchant ids select a configured Dojo account; they are configuration keys, so kept simple. */
export const MERCHANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Metadata keys: a letter first (this also rules out `__proto__`), then a small safe set. */
export const METADATA_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/** CloudEvents `dataschema` must be an absolute URI. */
export const ABSOLUTE_URI_PATTERN = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7E]+$/;

/** Failure codes on the accept side: every lower snake case word, so new codes do not break old consumers. */
export const FAILURE_CODE_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

export const LIMITS = {
  eventId: 256,
  source: 512,
  subject: 256,
  dataschema: 512,
  returnId: 128,
  orderId: 128,
  refundId: 128,
  reason: 1024,
  notes: 4096,
  sku: 64,
  lines: 500,
  lineQuantity: 1_000_000,
  metadataEntries: 32,
  metadataValue: 512,
  message: 2048,
  problemText: 4096,
  problemErrors: 50,
  attempts: 1000,
} as const;
