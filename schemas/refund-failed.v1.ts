// refund.failed v1: the relay gave up on a return.approved event without moving money. Fields that come from
// the source event are optional because an invalid event may not have them (code invalid_event).
import { z } from "zod";
import { FAILURE_CODE_DESCRIPTIONS, FAILURE_CODES } from "./failure-codes.ts";
import { FAILURE_CODE_PATTERN, LIMITS, MERCHANT_ID_PATTERN } from "./limits.ts";
import {
  Attempts,
  IdempotencyKey,
  OutcomeMessage,
  OutcomeSubject,
  outcomeEnvelopeAccept,
  outcomeEnvelopeEmit,
  ProblemAccept,
  ProblemEmit,
  ProcessedAt,
  RefundMethodSchema,
} from "./outcome-common.ts";
import { asciiId, Metadata, Money, PaymentIntentId, SourceEventRef } from "./primitives.ts";
import { dataschemaUri } from "./versioning.ts";

export const REFUND_FAILED_TYPE = "refund.failed";
export const REFUND_FAILED_V1_DATASCHEMA = dataschemaUri(REFUND_FAILED_TYPE, 1);

const codeDescription = `Stable failure code: ${FAILURE_CODES.map((c) => `${c} (${FAILURE_CODE_DESCRIPTIONS[c]})`).join("; ")}`;

const dataShape = {
  sourceEvent: SourceEventRef,
  returnId: asciiId(LIMITS.returnId, "returnId of the source event, when it was readable.").optional(),
  orderId: asciiId(LIMITS.orderId, "orderId of the source event, when it was readable.").optional(),
  paymentIntentId: PaymentIntentId.optional(),
  merchantId: z.string().regex(MERCHANT_ID_PATTERN).optional(),
  amount: Money.optional(),
  idempotencyKey: IdempotencyKey.optional(),
  method: RefundMethodSchema.optional(),
  attempts: Attempts(0),
  processedAt: ProcessedAt,
  message: OutcomeMessage,
};

/** Emit view: strict, and `code` must be one of FAILURE_CODES. */
export const RefundFailedDataV1Emit = z.strictObject({
  ...dataShape,
  code: z.enum(FAILURE_CODES).meta({ description: codeDescription }),
  problem: ProblemEmit.optional(),
  metadata: Metadata.optional(),
});

/**
 * Accept view: unknown fields ignored, and any well-formed code accepted, because adding a failure code is a
 * compatible change; a consumer must treat a code it does not know as a generic failure.
 */
export const RefundFailedDataV1 = z.object({
  ...dataShape,
  code: z.string().regex(FAILURE_CODE_PATTERN).meta({ description: codeDescription }),
  problem: ProblemAccept.optional(),
  metadata: Metadata.default({}),
});

export const RefundFailedEventV1Emit = z.strictObject({
  ...outcomeEnvelopeEmit,
  type: z.literal(REFUND_FAILED_TYPE),
  subject: OutcomeSubject.optional(),
  dataschema: z.literal(REFUND_FAILED_V1_DATASCHEMA),
  data: RefundFailedDataV1Emit,
});

export const RefundFailedEventV1 = z.object({
  ...outcomeEnvelopeAccept,
  type: z.literal(REFUND_FAILED_TYPE),
  subject: z.string().optional(),
  data: RefundFailedDataV1,
});

export type RefundFailedEvent = z.output<typeof RefundFailedEventV1Emit>;
export type RefundFailedData = z.output<typeof RefundFailedDataV1Emit>;
