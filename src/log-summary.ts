// The one log line per settled message: what event it was, which refund it is about, how it ended and
// what it took. The pipeline writes it when a message settles (its outcome published, or the message
// dead-lettered); nothing else logs a settlement, so there is exactly one such line per settled
// delivery. A message abandoned at shutdown or fencing has none: it is delivered again.
import { NEEDS_A_PERSON } from "./pipeline/outcome-writer.ts";
import type { MessageResult } from "./pipeline/types.ts";

/** What the pipeline knew of the event besides its result (nothing for unreadable input). */
export interface SettledEvent {
  readonly eventId?: string | undefined;
  readonly source?: string | undefined;
  readonly returnId?: string | undefined;
  readonly paymentIntentId?: string | undefined;
  /** The event's key as the ledger holds it, once the ledger was asked. */
  readonly idempotencyKey?: string | undefined;
}

export interface SettledFields {
  readonly eventId?: string;
  readonly returnId?: string;
  readonly paymentIntentId?: string;
  readonly idempotencyKey?: string;
  /** refund.succeeded, refund.failed, or parked on the dead-letter destination. */
  readonly outcome: "succeeded" | "failed" | "dead_lettered";
  /** The refund.failed code, or the dead letter's. */
  readonly code?: string;
  /** Dojo's refund (or reversal) id. */
  readonly refundId?: string;
  /** Dojo calls made for the event. */
  readonly attempts: number;
  /** From the message reaching the pipeline to its settlement (waiting behind its payment intent included). */
  readonly durationMs: number;
  /** Answered from the ledger without a Dojo call (a redelivery). */
  readonly replayed: boolean;
  /** Why it failed or was parked, in the relay's words. */
  readonly problem?: string;
  /** A dead letter a person must look at. */
  readonly alert?: boolean;
  readonly source?: string;
}

export interface SettledLine {
  readonly level: "info" | "warn" | "error";
  readonly msg: string;
  readonly fields: SettledFields;
}

/** Refusals that say the input was wrong: worth a warning, unlike a refusal by Dojo. */
const INPUT_CODES: ReadonlySet<string> = new Set(["invalid_event", "idempotency_conflict"]);

/**
 * A dead letter's reason without pieces of the message it is about: the JSON parser quotes part of a
 * body it cannot read (`Unexpected token 'J', ..."er": Jane Doe, "... is not valid JSON`), and a body
 * is the producer's data, personal data included. The dead letter itself keeps the reason whole.
 */
export function withoutInput(problem: string): string {
  // Greedy: the quoted piece may itself hold quotes (V8 does not escape them).
  return problem.replace(/, (?:\.\.\.)?"[\s\S]*"(?:\.\.\.)? is not valid JSON/, " is not valid JSON");
}

/** The fields without those left undefined. */
const defined = (
  fields: { readonly [K in keyof SettledFields]: SettledFields[K] | undefined },
): SettledFields =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as unknown as SettledFields;

/** The summary line of a settled message; undefined for an abandoned one. */
export function settledLine(
  result: MessageResult,
  event: SettledEvent,
  durationMs: number,
): SettledLine | undefined {
  const duration = Math.max(0, Math.round(durationMs));
  switch (result.status) {
    case "published": {
      const { outcome } = result;
      const data = outcome.data;
      const failed = outcome.type === "refund.failed" ? outcome.data : undefined;
      const fields: SettledFields = defined({
        eventId: data.sourceEvent.id,
        returnId: data.returnId ?? event.returnId,
        paymentIntentId: data.paymentIntentId ?? event.paymentIntentId,
        idempotencyKey: data.idempotencyKey ?? event.idempotencyKey,
        outcome: failed === undefined ? "succeeded" : "failed",
        code: failed?.code,
        refundId: outcome.type === "refund.succeeded" ? outcome.data.refundId : undefined,
        attempts: data.attempts,
        durationMs: duration,
        replayed: result.replayed,
        problem: failed?.message,
      });
      const level = failed !== undefined && INPUT_CODES.has(failed.code) ? "warn" : "info";
      return { level, msg: "refund settled", fields };
    }
    case "dead-lettered": {
      const { reason } = result;
      const alert = NEEDS_A_PERSON.has(reason.code);
      const fields: SettledFields = defined({
        eventId: reason.eventId ?? event.eventId,
        returnId: event.returnId,
        paymentIntentId: event.paymentIntentId,
        idempotencyKey: event.idempotencyKey,
        outcome: "dead_lettered",
        code: reason.code,
        attempts: reason.attempts,
        durationMs: duration,
        replayed: false,
        problem: reason.code === "unparseable" ? withoutInput(reason.message) : reason.message,
        alert,
        source: reason.source ?? event.source,
      });
      return { level: alert ? "error" : "warn", msg: "message dead-lettered", fields };
    }
    case "abandoned":
      return undefined;
  }
}
