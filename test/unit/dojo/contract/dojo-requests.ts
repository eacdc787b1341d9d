// Request schemas written from Dojo's published API facts (2026-02-27), independent of the client code:
// every request the client sends must match one of these exactly, headers, path and body.
import { z } from "zod";

const dateVersion = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
// `Authorization: Basic <secret key>`: the raw key, with a Dojo prefix; not base64.
const authorization = z.string().regex(/^Basic sk_(sandbox|prod)_[\x21-\x7e]+$/);
/** A header or body that must not be there at all. */
const absent = z.undefined().optional();
const segment = z.string().regex(/^[^/?#]+$/);

const baseHeaders = {
  authorization,
  version: dateVersion,
};

export const requestSchemas = {
  createRefund: z.object({
    method: z.literal("POST"),
    path: z.tuple([z.literal("payment-intents"), segment, z.literal("refunds")]),
    headers: z.looseObject({
      ...baseHeaders,
      "content-type": z.string().regex(/^application\/json\b/),
      idempotencykey: z.string().min(1).max(100),
    }),
    body: z.strictObject({
      amount: z.number().int(),
      refundReason: z.string().max(1024).nullable().optional(),
      notes: z.string().max(4096).nullable().optional(),
      previousTransactionId: z.string().max(100).nullable().optional(),
    }),
  }),
  getRefund: z.object({
    method: z.literal("GET"),
    path: z.tuple([z.literal("payment-intents"), z.literal("refunds"), segment.max(50)]),
    headers: z.looseObject({ ...baseHeaders, idempotencykey: absent }),
    body: absent,
  }),
  getPaymentIntent: z.object({
    method: z.literal("GET"),
    path: z.tuple([z.literal("payment-intents"), segment]),
    headers: z.looseObject({ ...baseHeaders, idempotencykey: absent }),
    body: absent,
  }),
  // No body, no idempotency header, and so no content type.
  createReversal: z.object({
    method: z.literal("POST"),
    path: z.tuple([z.literal("payment-intents"), segment, z.literal("reversal")]),
    headers: z.looseObject({ ...baseHeaders, idempotencykey: absent, "content-type": absent }),
    body: absent,
  }),
  capture: z.object({
    method: z.literal("POST"),
    path: z.tuple([z.literal("payment-intents"), segment, z.literal("captures")]),
    headers: z.looseObject({
      ...baseHeaders,
      "content-type": z.string().regex(/^application\/json\b/),
      idempotencykey: absent,
    }),
    body: z.strictObject({ amount: z.number().int(), tipsAmount: z.number().int().nullable().optional() }),
  }),
  createPaymentIntent: z.object({
    method: z.literal("POST"),
    path: z.tuple([z.literal("payment-intents")]),
    headers: z.looseObject({ ...baseHeaders, "content-type": z.string().regex(/^application\/json\b/) }),
    // A subset of CreatePaymentIntentRequest (additionalProperties: false): the fields the client sends.
    body: z.strictObject({
      amount: z.strictObject({ value: z.number().int(), currencyCode: z.string().min(1).max(10) }),
      reference: z.string().min(1).max(60),
      captureMode: z.enum(["Auto", "Manual"]).optional(),
      description: z.string().max(4096).nullable().optional(),
    }),
  }),
} as const;

export type OperationName = keyof typeof requestSchemas;
