// Builders for return.approved events as platforms publish them, for tests and benchmarks.
import { randomUUID } from "node:crypto";

export interface ReturnApprovedSpec {
  readonly id?: string;
  readonly source?: string;
  readonly paymentIntentId: string;
  readonly amount: number;
  readonly currencyCode?: string;
  readonly returnId?: string;
  readonly merchantId?: string;
  readonly reason?: string;
  readonly metadata?: Record<string, string>;
}

export function returnApproved(spec: ReturnApprovedSpec) {
  const id = spec.id ?? randomUUID();
  return {
    specversion: "1.0",
    id,
    source: spec.source ?? "urn:shop:test",
    type: "return.approved",
    time: "2026-11-26T10:00:00Z",
    subject: spec.paymentIntentId,
    datacontenttype: "application/json",
    data: {
      returnId: spec.returnId ?? `RMA-${id.slice(0, 8)}`,
      orderId: "ORD-1",
      paymentIntentId: spec.paymentIntentId,
      amount: { value: spec.amount, currencyCode: spec.currencyCode ?? "GBP" },
      reason: spec.reason ?? "Item returned",
      approvedAt: "2026-11-26T09:59:00Z",
      ...(spec.merchantId === undefined ? {} : { merchantId: spec.merchantId }),
      ...(spec.metadata === undefined ? {} : { metadata: spec.metadata }),
    },
  };
}

/** Kafka record for a structured-mode event, keyed by payment intent id. */
export function structuredRecord(event: ReturnType<typeof returnApproved>) {
  return {
    key: event.data.paymentIntentId,
    value: JSON.stringify(event),
    headers: { "content-type": "application/cloudevents+json" },
  };
}
