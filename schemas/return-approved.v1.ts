// return.approved v1: a return was approved and its payment should be refunded. Input of the relay.
import { z } from "zod";
import { LIMITS, MERCHANT_ID_PATTERN } from "./limits.ts";
import {
  asciiId,
  DataSchemaUri,
  EventId,
  EventSource,
  JsonContentType,
  LineMoney,
  Money,
  PaymentIntentId,
  ReturnApprovedMetadata,
  Rfc3339,
  Subject,
  text,
} from "./primitives.ts";
import { dataschemaUri, dataschemaVersion } from "./versioning.ts";

export const RETURN_APPROVED_TYPE = "return.approved";
export const RETURN_APPROVED_TYPES = ["return.approved", "return.approved.v1"] as const;
export const RETURN_APPROVED_V1_DATASCHEMA = dataschemaUri(RETURN_APPROVED_TYPE, 1);

const ReturnLine = z.object({
  sku: asciiId(LIMITS.sku, "Stock keeping unit of the returned item."),
  quantity: z
    .int({ error: "must be an integer" })
    .positive({ error: "must be positive" })
    .max(LIMITS.lineQuantity, { error: `must be at most ${LIMITS.lineQuantity}` }),
  amount: LineMoney,
});

const dataShape = {
  returnId: asciiId(LIMITS.returnId, "Id of the approved return in the returns platform."),
  orderId: asciiId(LIMITS.orderId, "Id of the order the return belongs to."),
  paymentIntentId: PaymentIntentId,
  amount: Money,
  reason: text(1, LIMITS.reason, false, "Why the money is returned; sent to Dojo as refundReason."),
  notes: text(0, LIMITS.notes, true, "Free-text notes; sent to Dojo as notes.").optional(),
  merchantId: z
    .string()
    .regex(MERCHANT_ID_PATTERN, {
      error: "must be 1-64 characters from A-Z a-z 0-9 _ . - starting with a letter or digit",
    })
    .meta({ description: "Selects the Dojo account; the relay's default account when absent." })
    .optional(),
  approvedAt: Rfc3339.meta({ description: "When the return was approved (RFC 3339)." }),
  lines: z
    .array(ReturnLine)
    .min(1, { error: "must not be empty when present" })
    .max(LIMITS.lines, { error: `must have at most ${LIMITS.lines} lines` })
    .meta({ description: "Returned items, for accounting; the refunded amount is `amount`, not their sum." })
    .optional(),
  metadata: ReturnApprovedMetadata.optional(),
};

// Line amounts in another currency than the refund would make the accounting record meaningless.
function sameCurrency(
  data: {
    amount: { currencyCode: string };
    lines?: ReadonlyArray<{ amount: { currencyCode: string } }> | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  data.lines?.forEach((line, i) => {
    if (line.amount.currencyCode !== data.amount.currencyCode) {
      ctx.addIssue({
        code: "custom",
        path: ["lines", i, "amount", "currencyCode"],
        message: `must equal amount.currencyCode (${data.amount.currencyCode})`,
      });
    }
  });
}

/**
 * Accept view (what the relay reads). Unknown data fields are ignored and dropped, so a producer can add an
 * optional field before the relay knows it; `amount` stays strict because an unknown key there could change
 * the meaning of the money.
 */
export const ReturnApprovedDataV1 = z.object(dataShape).superRefine(sameCurrency);

/** Emit view (what a producer must send): the same fields, no unknown ones. */
export const ReturnApprovedDataV1Emit = z.strictObject(dataShape).superRefine(sameCurrency);

export type ReturnApprovedData = z.output<typeof ReturnApprovedDataV1>;

const envelopeShape = {
  specversion: z.literal("1.0", { error: 'must be "1.0"' }),
  id: EventId,
  source: EventSource,
  time: Rfc3339.optional(),
  subject: Subject.optional(),
  datacontenttype: JsonContentType.optional(),
};

function dataschemaIsV1(event: { dataschema?: string | undefined }, ctx: z.RefinementCtx): void {
  if (event.dataschema === undefined) return;
  const version = dataschemaVersion(event.dataschema);
  if (version !== undefined && version !== 1) {
    ctx.addIssue({
      code: "custom",
      path: ["dataschema"],
      message: `names version ${version}; this relay reads return.approved version 1 only`,
    });
  }
}

/** Structured-mode CloudEvent, accept view: `type` may carry the version; extension attributes are ignored. */
export const ReturnApprovedEventV1 = z
  .object({
    ...envelopeShape,
    type: z.literal(RETURN_APPROVED_TYPES, { error: 'must be "return.approved" (or "return.approved.v1")' }),
    dataschema: DataSchemaUri.optional(),
    data: ReturnApprovedDataV1,
  })
  .superRefine(dataschemaIsV1);

/** Structured-mode CloudEvent, emit view: the canonical type and dataschema, a time, nothing unknown. */
export const ReturnApprovedEventV1Emit = z.strictObject({
  ...envelopeShape,
  type: z.literal(RETURN_APPROVED_TYPE),
  time: Rfc3339,
  dataschema: z.literal(RETURN_APPROVED_V1_DATASCHEMA).optional(),
  data: ReturnApprovedDataV1Emit,
});

export type ReturnApprovedEvent = z.output<typeof ReturnApprovedEventV1>;
