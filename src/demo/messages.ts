// The demo's planned messages as a shop publishes them: structured-mode CloudEvents (JSON bodies), the
// invalid ones breaking the data contract in ways shops do, the unparseable ones not JSON at all.
import type { PlannedMessage } from "./plan.ts";

export const DEMO_EVENT_SOURCE = "urn:shop:demo";

export interface OutgoingMessage {
  readonly eventId: string;
  /** The payment intent, when the message names one (Kafka key, FIFO group). */
  readonly key: string | undefined;
  readonly body: string;
}

const INVALID_DATA: ReadonlyArray<(intent: string) => Record<string, unknown>> = [
  // A negative amount.
  (intent) => ({
    returnId: "RMA-NEG",
    orderId: "ORD-9",
    paymentIntentId: intent,
    amount: { value: -500, currencyCode: "GBP" },
  }),
  // A currency that is not an ISO 4217 code.
  (intent) => ({
    returnId: "RMA-CUR",
    orderId: "ORD-9",
    paymentIntentId: intent,
    amount: { value: 500, currencyCode: "pounds" },
  }),
  // No payment intent at all.
  () => ({ returnId: "RMA-NOPI", orderId: "ORD-9", amount: { value: 500, currencyCode: "GBP" } }),
  // The amount as a decimal string of pounds instead of minor units.
  (intent) => ({
    returnId: "RMA-STR",
    orderId: "ORD-9",
    paymentIntentId: intent,
    amount: { value: "5.00", currencyCode: "GBP" },
  }),
];

const UNPARSEABLE = [
  "return approved: RMA-1234 for order ORD-1",
  '{"specversion":"1.0","id":"truncated',
  "<returnApproved><id>1</id></returnApproved>",
];

/**
 * The wire message for one planned message. `intentId` is the simulator's id for the message's
 * intent; `index` picks which way an invalid or unparseable message is broken; `time` is the
 * events' time (one per run, so a duplicate is byte for byte its original).
 */
export function renderMessage(
  m: PlannedMessage,
  intentId: string | undefined,
  index: number,
  time: string,
): OutgoingMessage {
  const envelope = (data: Record<string, unknown>, subject: string | undefined) => ({
    specversion: "1.0",
    id: m.eventId,
    source: DEMO_EVENT_SOURCE,
    type: "return.approved",
    time,
    ...(subject === undefined ? {} : { subject }),
    datacontenttype: "application/json",
    data,
  });
  switch (m.kind) {
    case "unparseable":
      return {
        eventId: m.eventId,
        key: undefined,
        body: `${UNPARSEABLE[index % UNPARSEABLE.length]} [${m.eventId}]`,
      };
    case "invalid": {
      const intent = intentId ?? "pi_demo_invalid";
      const data = (INVALID_DATA[index % INVALID_DATA.length] as (i: string) => Record<string, unknown>)(
        intent,
      );
      return { eventId: m.eventId, key: intent, body: JSON.stringify(envelope(data, intent)) };
    }
    default: {
      if (intentId === undefined || m.amount === undefined)
        throw new Error(`message ${m.eventId} names no payment`);
      // A duplicate is its original byte for byte, as a producer's retry or a redelivery is.
      const data = {
        returnId: `RMA-${(m.repeats ?? m.eventId).slice(0, 8).toUpperCase()}`,
        orderId: `ORD-${(m.repeats ?? m.eventId).slice(9, 13).toUpperCase()}`,
        paymentIntentId: intentId,
        amount: { value: m.amount, currencyCode: "GBP" },
        reason: "Item returned",
        approvedAt: "2026-11-30T09:00:00Z",
      };
      return {
        eventId: m.repeats ?? m.eventId,
        key: intentId,
        body: JSON.stringify(envelope(data, intentId)),
      };
    }
  }
}
