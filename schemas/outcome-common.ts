// Pieces shared by refund.succeeded and refund.failed.
import { z } from "zod";
import { LIMITS } from "./limits.ts";
import { asciiId, EventId, EventSource, PaymentIntentId, Rfc3339, text } from "./primitives.ts";

export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;

export const IdempotencyKey = z
  .string()
  .regex(IDEMPOTENCY_KEY_PATTERN, { error: "must be 1-100 characters from A-Z a-z 0-9 . _ : -" })
  .meta({ description: "Idempotency key sent to Dojo for this event (see idempotencyKeyFor)." });

export const REFUND_METHODS = ["refund", "reversal"] as const;
export type RefundMethod = (typeof REFUND_METHODS)[number];

export const RefundMethodSchema = z.enum(REFUND_METHODS).meta({
  description: "refund: a refund of captured funds; reversal: an authorization reversed before capture.",
});

export const Attempts = (min: 0 | 1) =>
  z
    .int()
    .min(min)
    .max(LIMITS.attempts)
    .meta({ description: "Dojo requests made for this event, retries included." });

export const RefundId = asciiId(LIMITS.refundId, "Dojo refund id (for a reversal: the reversal id).");
export const ProcessedAt = Rfc3339.meta({
  description: "When the relay reached this outcome (RFC 3339, UTC).",
});

export const OUTCOME_CONTENT_TYPE = "application/json";

/** W3C Trace Context `traceparent`: version, trace id, parent id, flags (lowercase hex). */
export const TRACEPARENT_PATTERN = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?:-[ -~]*)?$/;

/**
 * CloudEvents Distributed Tracing extension: the trace the outcome belongs to, continuing the one the
 * return.approved event arrived with. Not part of the outcome's identity: a re-published outcome carries
 * the trace of the delivery that re-published it.
 */
const traceExtension = {
  traceparent: z
    .string()
    .max(512)
    .regex(TRACEPARENT_PATTERN, { error: "must be a W3C traceparent" })
    .meta({ description: "W3C Trace Context traceparent (CloudEvents distributed tracing extension)." })
    .optional(),
  tracestate: z
    .string()
    .max(512)
    .meta({ description: "W3C Trace Context tracestate, passed on unchanged." })
    .optional(),
};

/** Envelope attributes of an emitted outcome; `type`, `subject` and `dataschema` are added per event. */
export const outcomeEnvelopeEmit = {
  specversion: z.literal("1.0"),
  id: z.uuid().meta({ description: "UUID v5 from outcomeEventId: the same outcome always has the same id." }),
  source: EventSource,
  time: Rfc3339,
  datacontenttype: z.literal(OUTCOME_CONTENT_TYPE),
  ...traceExtension,
};

/** Envelope attributes as a consumer of outcomes reads them: only the CloudEvents-required ones are required. */
export const outcomeEnvelopeAccept = {
  specversion: z.literal("1.0"),
  id: EventId,
  source: EventSource,
  time: Rfc3339.optional(),
  datacontenttype: z.string().optional(),
  dataschema: z.string().optional(),
  ...traceExtension,
};

export const OutcomeSubject = PaymentIntentId.meta({
  description: "The payment intent id (also the message key).",
});

const problemText = (description: string) => text(0, LIMITS.problemText, true, description);

const problemShape = {
  type: problemText("Problem type URI.").optional(),
  title: problemText("Short summary.").optional(),
  status: z.int().min(100).max(599).optional(),
  detail: problemText("Explanation of this occurrence.").optional(),
  instance: problemText("URI of this occurrence.").optional(),
  traceId: problemText("Dojo trace id; quote it to Dojo support.").optional(),
  errors: z
    .record(z.string().min(1).max(256), z.array(problemText("Validation message.")).max(20))
    .refine((e) => Object.keys(e).length <= LIMITS.problemErrors, {
      error: `must have at most ${LIMITS.problemErrors} entries`,
    })
    .meta({ maxProperties: LIMITS.problemErrors, description: "Field name to validation messages." })
    .optional(),
};

/** Dojo's RFC 7807 problem details, as far as the relay copies them. */
export const ProblemEmit = z
  .strictObject(problemShape)
  .meta({ description: "Dojo problem details (RFC 7807)." });
export const ProblemAccept = z.object(problemShape).meta({ description: "Dojo problem details (RFC 7807)." });
export type Problem = z.output<typeof ProblemEmit>;

export const OutcomeMessage = text(1, LIMITS.message, true, "Human-readable explanation; not for branching.");
