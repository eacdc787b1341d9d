// refund.succeeded v1: Dojo accepted the refund (or reversal). Carries everything accounting needs.
import { z } from "zod";
import { LIMITS, MERCHANT_ID_PATTERN } from "./limits.ts";
import {
  Attempts,
  IdempotencyKey,
  OutcomeSubject,
  outcomeEnvelopeAccept,
  outcomeEnvelopeEmit,
  ProcessedAt,
  RefundId,
  RefundMethodSchema,
} from "./outcome-common.ts";
import { asciiId, Metadata, Money, PaymentIntentId, SourceEventRef } from "./primitives.ts";
import { dataschemaUri } from "./versioning.ts";

export const REFUND_SUCCEEDED_TYPE = "refund.succeeded";
export const REFUND_SUCCEEDED_V1_DATASCHEMA = dataschemaUri(REFUND_SUCCEEDED_TYPE, 1);

const dataShape = {
  sourceEvent: SourceEventRef,
  returnId: asciiId(LIMITS.returnId, "returnId of the return.approved event."),
  orderId: asciiId(LIMITS.orderId, "orderId of the return.approved event."),
  paymentIntentId: PaymentIntentId,
  merchantId: z.string().regex(MERCHANT_ID_PATTERN).optional(),
  refundId: RefundId,
  amount: Money,
  idempotencyKey: IdempotencyKey,
  method: RefundMethodSchema,
  attempts: Attempts(1),
  processedAt: ProcessedAt,
};

/** Emit view: strict; metadata is left out when the source event had none. */
export const RefundSucceededDataV1Emit = z.strictObject({ ...dataShape, metadata: Metadata.optional() });

/** Accept view: unknown fields ignored; metadata defaults to an empty map. */
export const RefundSucceededDataV1 = z.object({ ...dataShape, metadata: Metadata.default({}) });

export const RefundSucceededEventV1Emit = z.strictObject({
  ...outcomeEnvelopeEmit,
  type: z.literal(REFUND_SUCCEEDED_TYPE),
  subject: OutcomeSubject,
  dataschema: z.literal(REFUND_SUCCEEDED_V1_DATASCHEMA),
  data: RefundSucceededDataV1Emit,
});

export const RefundSucceededEventV1 = z.object({
  ...outcomeEnvelopeAccept,
  type: z.literal(REFUND_SUCCEEDED_TYPE),
  subject: z.string().optional(),
  data: RefundSucceededDataV1,
});

export type RefundSucceededEvent = z.output<typeof RefundSucceededEventV1Emit>;
export type RefundSucceededData = z.output<typeof RefundSucceededDataV1Emit>;
