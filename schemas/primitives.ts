// Zod building blocks shared by the event schemas. Every string is bounded, every number is an integer.
import { z } from "zod";
import {
  ABSOLUTE_URI_PATTERN,
  CURRENCY_CODE_PATTERN,
  LIMITS,
  METADATA_KEY_PATTERN,
  PAYMENT_INTENT_ID_PATTERN,
  PRINTABLE_ASCII_PATTERN,
  RESERVED_METADATA_KEYS,
} from "./limits.ts";

// RFC 3339 section 5.6 `date-time`: seconds are mandatory, fraction optional, offset mandatory.
const RFC3339_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/** The number written by the two digits at `at` (the caller has checked that they are digits). */
function twoDigits(value: string, at: number): number {
  return (value.charCodeAt(at) - 48) * 10 + value.charCodeAt(at + 1) - 48;
}

/**
 * True for a syntactically valid RFC 3339 date-time that also names a real calendar instant. Runs for
 * every timestamp of every event, so once the pattern matched, the fields are read at their fixed
 * places (the date and time have fixed widths; an offset is the last six characters) without
 * allocating.
 */
export function isRfc3339(value: string): boolean {
  if (!RFC3339_PATTERN.test(value)) return false;
  const year = twoDigits(value, 0) * 100 + twoDigits(value, 2);
  const month = twoDigits(value, 5);
  const day = twoDigits(value, 8);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days =
    month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  if (month < 1 || month > 12 || day < 1 || day > days) return false;
  // Second 60 is allowed for leap seconds, as RFC 3339 does.
  if (twoDigits(value, 11) > 23 || twoDigits(value, 14) > 59 || twoDigits(value, 17) > 60) return false;
  const last = value.charCodeAt(value.length - 1);
  if (last !== 90 && last !== 122) {
    // "+hh:mm" or "-hh:mm"
    if (twoDigits(value, value.length - 5) > 23 || twoDigits(value, value.length - 2) > 59) return false;
  }
  return true;
}

// \p{Cc} is every C0 and C1 control character plus DEL.
export const CONTROL = /\p{Cc}/u;
export const CONTROL_EXCEPT_LINE_BREAKS = /[^\P{Cc}\t\n\r]/u;

/** No C0/C1 control characters and no lone surrogates (which cannot be encoded as UTF-8). */
export function isPrintableText(value: string, allowLineBreaks: boolean): boolean {
  if (!value.isWellFormed()) return false;
  return !(allowLineBreaks ? CONTROL_EXCEPT_LINE_BREAKS : CONTROL).test(value);
}

export const Rfc3339 = z
  .string()
  .max(40)
  .regex(RFC3339_PATTERN, { error: "must be an RFC 3339 date-time with seconds and offset" })
  .refine(isRfc3339, { error: "must be a real calendar date and time" })
  .meta({ format: "date-time" });

/** Identifier: non-empty, bounded, printable ASCII without spaces. */
export function asciiId(max: number, description: string) {
  return z
    .string()
    .min(1, { error: "must not be empty" })
    .max(max, { error: `must be at most ${max} characters` })
    .regex(PRINTABLE_ASCII_PATTERN, { error: "must be printable ASCII without spaces" })
    .meta({ description });
}

/** Free text: bounded, well-formed, no control characters (line breaks only where allowed). */
export function text(min: number, max: number, allowLineBreaks: boolean, description: string) {
  return z
    .string()
    .min(min, { error: "must not be empty" })
    .max(max, { error: `must be at most ${max} characters` })
    .refine((v) => isPrintableText(v, allowLineBreaks), {
      error: allowLineBreaks
        ? "must not contain control characters other than tab and line breaks"
        : "must not contain control characters",
    })
    .meta({ description });
}

export const PaymentIntentId = z
  .string()
  .regex(PAYMENT_INTENT_ID_PATTERN, {
    error: "must be 1-100 characters from A-Z a-z 0-9 _ - (it is used in a URL path)",
  })
  .meta({ description: "Dojo payment intent id, e.g. pi_sandbox_abc123." });

export const CurrencyCode = z
  .string()
  .regex(CURRENCY_CODE_PATTERN, { error: "must be an ISO 4217 code: three uppercase letters A-Z" })
  .meta({ description: "ISO 4217 alphabetic currency code." });

/** Money in integer minor units. Strict: an unknown key could change how much money moves. */
export const Money = z
  .strictObject({
    value: z
      .int({ error: "must be an integer number of minor units" })
      .positive({ error: "must be positive" }),
    currencyCode: CurrencyCode,
  })
  .meta({ description: "Amount in minor units (pence, cents): a positive safe integer." });

export const LineMoney = z
  .strictObject({
    value: z
      .int({ error: "must be an integer number of minor units" })
      .min(0, { error: "must not be negative" }),
    currencyCode: CurrencyCode,
  })
  .meta({ description: "Line amount in minor units; zero is allowed for free items." });

const MetadataKey = z.string().regex(METADATA_KEY_PATTERN, {
  error: "metadata keys must start with a letter, then up to 63 of A-Z a-z 0-9 _ . : -",
});

function metadata(key: z.ZodString) {
  return z
    .record(key, text(0, LIMITS.metadataValue, false, "Metadata value."))
    .refine((m) => Object.keys(m).length <= LIMITS.metadataEntries, {
      error: `must have at most ${LIMITS.metadataEntries} entries`,
    })
    .meta({
      maxProperties: LIMITS.metadataEntries,
      description: "Opaque string map, copied unchanged from return.approved to the outcome events.",
    });
}

export const Metadata = metadata(MetadataKey);

/**
 * return.approved's metadata: also refuses the RESERVED_METADATA_KEYS, which the relay would otherwise copy
 * into every outcome. (`__proto__` has no letter first; the decoder refuses all three anywhere in a body.)
 */
export const ReturnApprovedMetadata = metadata(
  MetadataKey.regex(new RegExp(`^(?!(?:${RESERVED_METADATA_KEYS.join("|")})$)`), {
    error: `metadata keys must not be ${RESERVED_METADATA_KEYS.map((k) => `"${k}"`).join(" or ")} (reserved: they reach prototypes in code that merges objects)`,
  }),
);

export const EventId = asciiId(LIMITS.eventId, "CloudEvents id; unique per source.");
export const EventSource = asciiId(LIMITS.source, "CloudEvents source (URI-reference).");
export const Subject = text(1, LIMITS.subject, false, "CloudEvents subject.");
export const DataSchemaUri = z
  .string()
  .max(LIMITS.dataschema)
  .regex(ABSOLUTE_URI_PATTERN, { error: "must be an absolute URI" })
  .meta({ description: "CloudEvents dataschema: absolute URI of the data schema." });

/** `application/json`, optionally with a UTF-8 charset parameter. JSON data is the only kind accepted. */
export const JsonContentType = z
  .string()
  .regex(/^application\/json(?:\s*;\s*charset="?(?:utf-8|UTF-8)"?)?$/, {
    error: 'must be "application/json"',
  })
  .meta({ description: "Content type of data; always application/json." });

export const SourceEventRef = z
  .strictObject({
    id: EventId,
    source: EventSource,
  })
  .meta({ description: "CloudEvents id and source of the return.approved event this outcome answers." });
