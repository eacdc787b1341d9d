import { buildRefundFailed, type DecodeFailure } from "../../schemas/index.ts";
import type { OutcomeEvent } from "./types.ts";

/**
 * The refund.failed answer to an event that carries a usable id and source but fails validation. It
 * is never stored in the ledger: the same bytes always produce the same answer (same outcome id).
 */
export function invalidEventOutcome(
  source: string,
  failure: DecodeFailure & { eventId: string; source: string },
  processedAt: Date,
): OutcomeEvent {
  return buildRefundFailed({
    source,
    sourceEvent: { id: failure.eventId, source: failure.source },
    ...(failure.subject === undefined ? {} : { paymentIntentId: failure.subject }),
    attempts: 0,
    processedAt,
    code: "invalid_event",
    message: failure.message,
  });
}
