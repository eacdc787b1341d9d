// Getting answers out: publishing outcomes, parking messages on the dead-letter destination, and the
// ledger marks that follow. A sink that cannot publish is a fault of the relay's own world: the message
// waits (its outcome is stored), intake pauses through the gate, and nothing is dead-lettered for it.
import type { EventRef, Ledger, ParkCode } from "../ledger/index.ts";
import type { Logger } from "../logger.ts";
import { type Delivery, Stopped } from "./delivery.ts";
import type { FaultGate } from "./fault-gate.ts";
import type {
  DeadLetterReason,
  DeliveryTrace,
  MessageResult,
  OutcomeEvent,
  OutcomeSink,
  PipelineObserver,
} from "./types.ts";

/** Parked codes that a person must look at (all but unreadable input). */
export const NEEDS_A_PERSON: ReadonlySet<DeadLetterReason["code"]> = new Set([
  "retry_budget_exhausted",
  "needs_reconciliation",
  "idempotency_conflict",
  "internal_error",
  "unknown_merchant",
]);

export class OutcomeWriter {
  readonly #sink: OutcomeSink;
  readonly #ledger: Ledger;
  readonly #gate: FaultGate;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #observer: PipelineObserver;

  constructor(deps: {
    readonly sink: OutcomeSink;
    readonly ledger: Ledger;
    readonly gate: FaultGate;
    readonly observer: PipelineObserver;
    readonly logger: Logger;
    readonly now: () => Date;
  }) {
    this.#observer = deps.observer;
    this.#sink = deps.sink;
    this.#ledger = deps.ledger;
    this.#gate = deps.gate;
    this.#log = deps.logger;
    this.#now = deps.now;
  }

  /**
   * Publishes, retrying transport failures until the message is stopped or fenced. The outcome goes
   * out in the delivery's trace; what the ledger stores stays without one.
   */
  async publish(delivery: Delivery, outcome: OutcomeEvent): Promise<void> {
    const traced = withTrace(outcome, delivery.ctx.trace);
    let probing: (() => void) | undefined;
    try {
      for (let failures = 0; ; failures++) {
        delivery.checkFenced();
        try {
          await this.#sink.publish(traced);
          if (failures > 0) this.#gate.clear("publish");
          return;
        } catch (error) {
          // The message cannot be acknowledged before its outcome is out.
          this.#gate.report("publish", `publishing outcomes failed: ${(error as Error).message}`);
          probing ??= this.#gate.probe("publish");
          this.#observer.retried("publish");
          this.#log.warn(
            { err: error, outcomeId: outcome.id, failures: failures + 1 },
            "publishing an outcome failed; retrying",
          );
          if (!(await delivery.sleepAfterFailure(failures + 1))) throw new Stopped();
        }
      }
    } finally {
      probing?.();
    }
  }

  /**
   * Records that the stored outcome is out. Not awaited: the outcome is already on its topic, and a
   * missing mark only means a redelivery re-publishes the same stored outcome (same id, same bytes).
   */
  markPublished(ref: EventRef): void {
    const warn = (error: unknown) =>
      this.#log.warn({ err: error, eventId: ref.eventId }, "could not mark the outcome as published");
    try {
      this.#ledger.markPublished(ref, this.#now()).catch(warn);
    } catch (error) {
      warn(error);
    }
  }

  /**
   * Sends the message to the dead-letter destination (retrying until it is out, or the delivery is
   * stopped), and records in the ledger that the event waits for a person.
   */
  async park(
    delivery: Delivery,
    reason: DeadLetterReason,
    parked?: { readonly ref: EventRef; readonly event: unknown },
  ): Promise<MessageResult> {
    let probing: (() => void) | undefined;
    try {
      for (let failures = 0; ; failures++) {
        delivery.checkFenced();
        try {
          await this.#sink.deadLetter(delivery.message, reason);
          if (failures > 0) this.#gate.clear("publish");
          break;
        } catch (error) {
          this.#gate.report("publish", `dead-lettering failed: ${(error as Error).message}`);
          probing ??= this.#gate.probe("publish");
          this.#observer.retried("publish");
          this.#log.warn({ err: error, failures: failures + 1 }, "dead-lettering failed; retrying");
          if (!(await delivery.sleepAfterFailure(failures + 1))) {
            return { status: "abandoned", reason: "stopped while dead-lettering" };
          }
        }
      }
    } finally {
      probing?.();
    }
    const parkable =
      reason.code !== "idempotency_conflict" &&
      reason.code !== "unparseable" &&
      reason.code !== "invalid_envelope";
    if (parked !== undefined && parkable) {
      const { ref } = parked;
      // For `refund-relay reconcile`; the dead letter itself is the record that counts.
      await this.#ledger
        .markParked(ref, reason.code as ParkCode, reason.message, this.#now(), parked.event)
        .catch((error: unknown) =>
          this.#log.warn(
            { err: error, eventId: ref.eventId },
            "could not record the parked event in the ledger",
          ),
        );
    }
    // The pipeline's summary line says it (an error with `alert: true` when a person is needed).
    return { status: "dead-lettered", reason };
  }
}

/** The outcome with the trace context of the delivery publishing it (CloudEvents distributed tracing). */
function withTrace(outcome: OutcomeEvent, trace: DeliveryTrace | undefined): OutcomeEvent {
  if (trace === undefined) return outcome;
  return trace.tracestate === undefined
    ? { ...outcome, traceparent: trace.traceparent }
    : { ...outcome, traceparent: trace.traceparent, tracestate: trace.tracestate };
}
