// Limits and patterns shared by every event schema. They are exported so that the relay, the Dojo client and
// emitters check the same values the schemas enforce, and so the README can quote them from one place.

/** Largest message body accepted, in bytes (256 KiB). Checked before any JSON parsing. */
export const DEFAULT_MAX_MESSAGE_BYTES = 262_144;

/**
 * Largest total of a message's headers (or SQS message attributes), names and values in UTF-8 bytes. The
 * CloudEvents attributes among them are bounded one by one by the schema; this bounds all the others.
 */
export const MAX_HEADER_BYTES = 65_536;

/**
 * Deepest nesting of arrays and objects accepted in a JSON body (the envelope is level 1; the deepest the
 * contract uses is 5: `data.lines[i].amount`). Deeper bodies are refused before validation, so nothing that
 * walks the parsed value can be made to recurse without bound.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Keys refused wherever they appear in a JSON body. Assigning a parsed `__proto__` to a plain object replaces
 * its prototype, and `constructor.prototype` reaches the prototype of every object made by a class: this is
 * how prototype pollution starts in code that merges or copies events. No field of an event has these names.
 */
export const FORBIDDEN_JSON_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Metadata keys refused besides what METADATA_KEY_PATTERN rules out: metadata is the one map copied key by key
 * into outcomes, where these names reach the prototype machinery of code that merges them. (The decoder
 * refuses them anywhere in a body already; this puts the rule in the schema, for producers that validate
 * with it or with the generated JSON Schema.)
 */
export const RESERVED_METADATA_KEYS = ["constructor", "prototype"] as const;

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

/** Metadata keys: a letter first (this also rules out `__proto__`), then a small safe set; see RESERVED_METADATA_KEYS. */
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
