// One example per event, checked in under generated/examples. Outcomes are produced by the real builders, so
// the examples cannot drift from what the relay emits.
import { idempotencyKeyFor } from "./identity.ts";
import { buildRefundFailed, buildRefundSucceeded } from "./outcome.ts";
import type { RefundFailedEvent } from "./refund-failed.v1.ts";
import type { RefundSucceededEvent } from "./refund-succeeded.v1.ts";

export const RETURN_APPROVED_EXAMPLE = {
  specversion: "1.0",
  id: "5f0c7c55-3b1e-4a53-9f2b-2d1f1a4c9e10",
  source: "urn:returns-platform:eu-west-2",
  type: "return.approved",
  time: "2026-03-02T14:05:09.412Z",
  subject: "pi_sandbox_RHf8sNQjx0mW2kqL7c1aBg",
  datacontenttype: "application/json",
  dataschema: "urn:refund-relay:schema:return.approved:v1",
  data: {
    returnId: "RMA-2026-000481",
    orderId: "ORD-77120",
    paymentIntentId: "pi_sandbox_RHf8sNQjx0mW2kqL7c1aBg",
    amount: { value: 4598, currencyCode: "GBP" },
    reason: "Item arrived damaged",
    notes: "Customer sent photos; courier claim opened.",
    merchantId: "shop-uk",
    approvedAt: "2026-03-02T14:05:03Z",
    lines: [
      { sku: "MUG-BLUE-350", quantity: 2, amount: { value: 1799, currencyCode: "GBP" } },
      { sku: "SHIP-STD", quantity: 1, amount: { value: 1000, currencyCode: "GBP" } },
    ],
    metadata: { channel: "web", agent: "a.smith" },
  },
} as const;

/** The same event as Amazon SNS delivers it to an SQS queue without raw message delivery. */
export const RETURN_APPROVED_SNS_EXAMPLE = {
  Type: "Notification",
  MessageId: "2a9b3c1d-6f2e-5b7a-9c1e-4d8f0a2b6c3e",
  TopicArn: "arn:aws:sns:eu-west-2:123456789012:return-approved",
  Message: JSON.stringify(RETURN_APPROVED_EXAMPLE),
  Timestamp: "2026-03-02T14:05:09.530Z",
  SignatureVersion: "1",
  Signature: "EXAMPLE",
  SigningCertURL: "https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-example.pem",
  UnsubscribeURL: "https://sns.eu-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=example",
  MessageAttributes: {
    "content-type": { Type: "String", Value: "application/cloudevents+json" },
  },
} as const;

const RELAY_SOURCE = "urn:refund-relay";
const sourceEvent = { id: RETURN_APPROVED_EXAMPLE.id, source: RETURN_APPROVED_EXAMPLE.source };
const data = RETURN_APPROVED_EXAMPLE.data;

export const REFUND_SUCCEEDED_EXAMPLE: RefundSucceededEvent = buildRefundSucceeded({
  source: RELAY_SOURCE,
  sourceEvent,
  returnId: data.returnId,
  orderId: data.orderId,
  paymentIntentId: data.paymentIntentId,
  merchantId: data.merchantId,
  refundId: "rfd_sandbox_9K2mQx4LtZ0aVb7cHd3eFg",
  amount: data.amount,
  idempotencyKey: idempotencyKeyFor(sourceEvent),
  method: "refund",
  attempts: 1,
  processedAt: "2026-03-02T14:05:10.127Z",
  metadata: data.metadata,
});

export const REFUND_FAILED_EXAMPLE: RefundFailedEvent = buildRefundFailed({
  source: RELAY_SOURCE,
  sourceEvent,
  returnId: data.returnId,
  orderId: data.orderId,
  paymentIntentId: data.paymentIntentId,
  merchantId: data.merchantId,
  amount: data.amount,
  idempotencyKey: idempotencyKeyFor(sourceEvent),
  method: "refund",
  attempts: 1,
  processedAt: "2026-03-02T14:05:10.127Z",
  code: "amount_exceeds_refundable",
  message:
    "Dojo refused the refund: amount 4598 GBP exceeds the 2999 GBP still refundable on the payment intent",
  problem: {
    type: "https://docs.dojo.tech/errors/validation",
    title: "One or more validation errors occurred.",
    status: 400,
    traceId: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    errors: { amount: ["The refund amount exceeds the refundable amount."] },
  },
  metadata: data.metadata,
});
