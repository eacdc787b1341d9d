// The transport-free refund pipeline: decode -> validate -> plan -> ledger -> settle with Dojo ->
// publish, one result per message. Transports (Kafka, SQS) hand messages in and ack exactly those
// whose result is "published" or "dead-lettered". This file orchestrates; the rules live beside it:
// delivery.ts (budget, stop and waits), settlement.ts (deciding with Dojo), preflight.ts, intent-memo.ts
// (one read per burst of an intent's events), outcome-writer.ts (publishing and parking), faults.ts and
// fault-gate.ts (faults of the relay's own world pause intake; they are never answers).
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
  type DecodeResult,
  decodeReturnApproved,
  idempotencyKeyFor,
  type ReturnApprovedEvent,
} from "../../schemas/index.ts";
import type { DojoClient } from "../dojo/index.ts";
import type { EventRef, Ledger, LedgerEntry } from "../ledger/index.ts";
import { SETTLED_STATES } from "../ledger/index.ts";
import { settledLine } from "../log-summary.ts";
import type { Logger } from "../logger.ts";
import { ABANDONED, Delivery, Stopped } from "./delivery.ts";
import { FaultGate } from "./fault-gate.ts";
import { DependencyFault, guardLedger } from "./faults.ts";
import { IntentLeases, LeaseLost, type LeaseSettings } from "./intent-leases.ts";
import { IntentMemo } from "./intent-memo.ts";
import { invalidEventOutcome } from "./invalid-event.ts";
import { OutcomeWriter } from "./outcome-writer.ts";
import { failedOutcome, type OutcomeContext, succeededOutcome } from "./outcomes.ts";
import { requestHash } from "./request-hash.ts";
import { KeyedScheduler } from "./scheduler.ts";
import { DojoSettler, expectedOf, type Settlement } from "./settlement.ts";
import type {
  DeliveryContext,
  InboundMessage,
  MessageResult,
  OutcomeEvent,
  OutcomeSink,
  PipelineObserver,
} from "./types.ts";

export interface PipelineSettings {
  /** CloudEvents source of the outcome events we publish. */
  readonly eventSource: string;
  readonly idempotencyNamespace: string;
  readonly maxMessageBytes: number;
  /** Messages worked on at once, across payment intents. */
  readonly maxInFlight: number;
  readonly preflight: boolean;
  readonly reverseWhenAuthorized: boolean;
  /**
   * Leases on payment intents, for instances sharing a ledger: this instance's name in the ledger and
   * the lease duration (default: host, process id and a random part; 30 s).
   */
  readonly lease?: Partial<LeaseSettings>;
  /** Budget of one delivery: Dojo attempts and wall-clock age before the message is parked. */
  readonly retry: {
    readonly maxAttempts: number;
    readonly maxAgeMs: number;
    readonly baseDelayMs: number;
    readonly maxDelayMs: number;
  };
}

export interface PipelineDeps {
  readonly ledger: Ledger;
  readonly dojo: Pick<DojoClient, "createRefund" | "createReversal" | "getPaymentIntent">;
  readonly sink: OutcomeSink;
  readonly logger: Logger;
  /** Where faults of the relay's own world are reported; transports pause intake on it. */
  readonly gate?: FaultGate;
  /** Hears of retries (metrics); none by default. */
  readonly observer?: PipelineObserver;
  readonly now?: () => Date;
  readonly random?: () => number;
}

export class RefundPipeline {
  readonly #s: PipelineSettings;
  readonly #now: () => Date;
  readonly #random: () => number;
  readonly #scheduler: KeyedScheduler;
  readonly #log: Logger;
  readonly #ledger: Ledger;
  readonly #gate: FaultGate;
  readonly #memo = new IntentMemo();
  readonly #writer: OutcomeWriter;
  readonly #settler: DojoSettler;
  readonly #leases: IntentLeases;
  readonly #observer: PipelineObserver;

  constructor(settings: PipelineSettings, deps: PipelineDeps) {
    this.#s = settings;
    this.#now = deps.now ?? (() => new Date());
    this.#random = deps.random ?? Math.random;
    this.#scheduler = new KeyedScheduler(settings.maxInFlight);
    this.#log = deps.logger;
    this.#gate = deps.gate ?? new FaultGate({ now: this.#now, logger: deps.logger });
    this.#ledger = guardLedger(deps.ledger, this.#gate);
    this.#observer = deps.observer ?? NO_OBSERVER;
    this.#writer = new OutcomeWriter({
      observer: this.#observer,
      sink: deps.sink,
      ledger: this.#ledger,
      gate: this.#gate,
      logger: deps.logger,
      now: this.#now,
    });
    this.#leases = new IntentLeases(
      {
        owner: settings.lease?.owner ?? defaultLeaseOwner(),
        ttlMs: settings.lease?.ttlMs ?? DEFAULT_LEASE_MS,
      },
      { ledger: this.#ledger, logger: deps.logger, now: this.#now },
    );
    this.#settler = new DojoSettler(settings, {
      ledger: this.#ledger,
      dojo: deps.dojo,
      memo: this.#memo,
      gate: this.#gate,
      observer: this.#observer,
      logger: deps.logger,
      now: this.#now,
    });
  }

  /** Messages holding a work slot right now. */
  get inFlight(): number {
    return this.#scheduler.running + this.#scheduler.queued;
  }

  /** Releases the leases this instance holds, so other instances need not wait for them to expire. */
  releaseLeases(): Promise<void> {
    return this.#leases.releaseAll();
  }

  /** Faults of the relay's own world; intake is paused while one is active. */
  get gate(): FaultGate {
    return this.#gate;
  }

  /**
   * Processes one message to a result. Messages for the same payment intent are processed one at a
   * time in the order of their calls; others run concurrently up to maxInFlight.
   */
  process(message: InboundMessage, ctx: DeliveryContext = {}): Promise<MessageResult> {
    const arrivedAt = this.#now().getTime();
    const decoded = decodeReturnApproved(message, { maxBytes: this.#s.maxMessageBytes });
    const key = decoded.ok ? decoded.event.data.paymentIntentId : undefined;
    const delivery = new Delivery(message, ctx, this.#s.retry, { now: this.#now, random: this.#random });
    if (key !== undefined) this.#memo.accepted(key);
    const result = this.#scheduler.run(key, async () => {
      // The budget's clock starts here, so waiting behind a slow refund of the same intent costs none.
      delivery.start();
      try {
        return await this.#deliver(delivery, decoded);
      } finally {
        if (key !== undefined && this.#memo.finished(key)) this.#leases.release(key);
      }
    });
    return result.then((settled) => {
      this.#logSettled(settled, decoded, delivery, this.#now().getTime() - arrivedAt);
      return settled;
    });
  }

  /** The one line per settled message (src/log-summary.ts); none for an abandoned one. */
  #logSettled(result: MessageResult, decoded: DecodeResult, delivery: Delivery, durationMs: number): void {
    const event = decoded.ok
      ? {
          eventId: decoded.event.id,
          source: decoded.event.source,
          returnId: decoded.event.data.returnId,
          paymentIntentId: decoded.event.data.paymentIntentId,
          idempotencyKey: delivery.idempotencyKey,
        }
      : { eventId: decoded.eventId, source: decoded.source, paymentIntentId: decoded.subject };
    const line = settledLine(result, event, durationMs);
    if (line !== undefined) this.#log[line.level](line.fields, line.msg);
  }

  async #deliver(delivery: Delivery, decoded: DecodeResult): Promise<MessageResult> {
    // A fault of the relay's own world is waited out without spending the budget. Other unexpected
    // failures (a bug) are retried with the same budget as Dojo failures: every step below is
    // idempotent thanks to the ledger.
    const probing = new Map<string, () => void>();
    try {
      return await this.#deliverRetrying(delivery, decoded, probing);
    } finally {
      for (const stop of probing.values()) stop();
    }
  }

  async #deliverRetrying(
    delivery: Delivery,
    decoded: DecodeResult,
    probing: Map<string, () => void>,
  ): Promise<MessageResult> {
    for (;;) {
      try {
        return decoded.ok
          ? await this.#handle(delivery, decoded.event)
          : await this.#rejectInvalid(delivery, decoded);
      } catch (error) {
        if (error instanceof Stopped) return ABANDONED;
        if (error instanceof LeaseLost && decoded.ok) {
          // Another instance took the intent over; take the lease again (waiting for it) and go on.
          this.#log.warn(
            { eventId: decoded.event.id, problem: error.message },
            "lease lost; taking it again",
          );
          this.#leases.lost(decoded.event.data.paymentIntentId);
          delivery.lease = undefined;
          continue;
        }
        try {
          if (error instanceof DependencyFault) {
            this.#gate.report(error.kind, error.message);
            if (!probing.has(error.kind)) probing.set(error.kind, this.#gate.probe(error.kind));
            this.#observer.retried(error.kind);
            await delivery.waitOutFault(this.#gate, error.kind);
            continue;
          }
          const message = error instanceof Error ? error.message : String(error);
          delivery.tries += 1;
          this.#observer.retried("internal_error");
          this.#log.error({ err: error, tries: delivery.tries }, "message processing failed; retrying");
          if (delivery.budgetSpent()) {
            const ref = decoded.ok ? { eventId: decoded.event.id, source: decoded.event.source } : undefined;
            return await this.#writer.park(
              delivery,
              {
                code: "internal_error",
                message: `processing failed repeatedly: ${message}`,
                attempts: delivery.tries,
                firstSeenAt: new Date(delivery.startedAt),
                ...(ref ?? {}),
              },
              decoded.ok ? parkedEvent(decoded.event) : undefined,
            );
          }
          await delivery.wait(undefined);
        } catch (inner) {
          if (inner instanceof Stopped) return ABANDONED;
          throw inner;
        }
      }
    }
  }

  /** Undecodable or invalid events: answered with refund.failed when they carry an id, else parked. */
  async #rejectInvalid(
    delivery: Delivery,
    decoded: Extract<DecodeResult, { ok: false }>,
  ): Promise<MessageResult> {
    const { eventId, source } = decoded;
    if (eventId !== undefined && source !== undefined) {
      // An id the ledger knows was valid when it first arrived (validation may have become stricter
      // since): answer from the ledger, never with a contradicting invalid_event.
      const known = await this.#ledger.get({ source, eventId });
      if (known !== undefined) {
        if (SETTLED_STATES.has(known.state)) return this.#republish(delivery, known);
        return this.#writer.park(
          delivery,
          {
            code: "needs_reconciliation",
            message:
              known.attempts === 0
                ? `the event no longer passes validation (${decoded.message}) but an earlier delivery of its id was accepted; Dojo was not called for it`
                : `the event no longer passes validation (${decoded.message}) but an earlier delivery of its id reached Dojo; its refund is not settled`,
            attempts: known.attempts,
            firstSeenAt: known.firstSeenAt,
            eventId,
            source,
          },
          // Listed for a person; the event itself no longer validates, so none is kept.
          { ref: { eventId, source }, event: undefined },
        );
      }
      const outcome = invalidEventOutcome(this.#s.eventSource, { ...decoded, eventId, source }, this.#now());
      await this.#writer.publish(delivery, outcome);
      return { status: "published", outcome, replayed: false };
    }
    return this.#writer.park(delivery, {
      code: decoded.stage === "unparseable" ? "unparseable" : "invalid_envelope",
      message: decoded.message,
      attempts: 0,
      firstSeenAt: new Date(delivery.startedAt),
      ...(decoded.eventId === undefined ? {} : { eventId: decoded.eventId }),
      ...(decoded.source === undefined ? {} : { source: decoded.source }),
    });
  }

  async #handle(delivery: Delivery, event: ReturnApprovedEvent): Promise<MessageResult> {
    const { data } = event;
    const ref: EventRef = { source: event.source, eventId: event.id };
    const hash = requestHash(data);
    const begun = await this.#ledger.begin(
      {
        ...ref,
        idempotencyKey: idempotencyKeyFor(event, { namespace: this.#s.idempotencyNamespace }),
        requestHash: hash,
        paymentIntentId: data.paymentIntentId,
        merchantId: data.merchantId ?? null,
        amount: data.amount.value,
        currencyCode: data.amount.currencyCode,
      },
      this.#now(),
    );
    if (begun.kind === "conflict")
      return this.#answerConflict(delivery, event, begun.entry, begun.reason, hash);
    delivery.idempotencyKey = begun.entry.idempotencyKey;
    if (!SETTLED_STATES.has(begun.entry.state)) {
      // Work on the event (and on its payment intent) happens under the intent's lease.
      delivery.lease = await this.#leases.acquire(data.paymentIntentId, delivery);
    }

    let entry = begun.entry;
    // An open row with attempts when the delivery begins was sent before (another delivery, instance or
    // process), and that attempt's answer is unknown. Judged once: a try repeated within this delivery
    // after a fault sees its own attempts, whose answers it knows.
    if (delivery.attemptsAtStart === undefined) {
      delivery.attemptsAtStart = entry.attempts;
      if (!SETTLED_STATES.has(entry.state) && entry.attempts > 0) delivery.ambiguous = true;
    }
    for (;;) {
      // Settled before (a redelivery, a crash after settling, another instance): re-publish what is stored.
      if (SETTLED_STATES.has(entry.state)) return this.#republish(delivery, entry);
      const settlement = await this.#settler.run(delivery, event, entry);
      if (settlement.state === "settled-elsewhere") {
        entry = settlement.entry;
        continue;
      }
      if (settlement.state === "parked") {
        return this.#writer.park(
          delivery,
          {
            code: settlement.code,
            message: settlement.message,
            attempts: settlement.entry.attempts,
            firstSeenAt: settlement.entry.firstSeenAt,
            eventId: event.id,
            source: event.source,
          },
          parkedEvent(event),
        );
      }
      const stored = await this.#store(delivery, event, settlement);
      if (stored.kind === "lease_lost")
        throw new LeaseLost("the ledger refused a refusal: the lease was taken over");
      if (stored.kind === "stale") {
        // The row moved on since the decision (another instance submitted it): decide again.
        entry = stored.entry;
        continue;
      }
      const outcome = stored.entry.outcome as OutcomeEvent;
      if (stored.kind === "corrected") {
        this.#log.error(
          {
            eventId: event.id,
            paymentIntentId: data.paymentIntentId,
            previous: (stored.previous as OutcomeEvent | null)?.id,
            alert: true,
          },
          "a refund answered refund.failed earlier went through at Dojo: publishing refund.succeeded; the earlier answer was wrong",
        );
      }
      await this.#writer.publish(delivery, outcome);
      this.#writer.markPublished(ref);
      return { status: "published", outcome, replayed: stored.kind === "kept" };
    }
  }

  /** Builds the outcome of a decided settlement and stores it, naming the row the decision saw. */
  #store(
    delivery: Delivery,
    event: ReturnApprovedEvent,
    settlement: Extract<Settlement, { state: "succeeded" | "failed" }>,
  ) {
    const ref = { source: event.source, eventId: event.id };
    const { entry, method, uncounted } = settlement;
    const attempts = entry.attempts + uncounted;
    const requests = uncounted + 1;
    const ctx = this.#outcomeContext(event, entry, method, attempts);
    if (settlement.state === "succeeded") {
      const outcome = succeededOutcome(ctx, settlement.refundId);
      return this.#ledger.settle(
        ref,
        { state: "succeeded", outcome, refundId: settlement.refundId, requests },
        this.#now(),
      );
    }
    const { decision } = settlement;
    const outcome = failedOutcome(ctx, decision.code, decision.message, decision.error);
    return this.#ledger.settle(
      ref,
      { state: "failed", outcome, expected: expectedOf(entry, delivery), requests },
      this.#now(),
    );
  }

  #outcomeContext(
    event: ReturnApprovedEvent,
    entry: LedgerEntry,
    method: "refund" | "reversal",
    attempts: number,
  ): OutcomeContext {
    return {
      source: this.#s.eventSource,
      event,
      // Only an event that reached Dojo has a key and a method Dojo saw.
      ...(attempts > 0 ? { idempotencyKey: entry.idempotencyKey, method } : {}),
      attempts,
      processedAt: this.#now(),
    };
  }

  /** A reused event id or key: nothing is called or stored for this version. */
  async #answerConflict(
    delivery: Delivery,
    event: ReturnApprovedEvent,
    first: LedgerEntry,
    reason: "content" | "key",
    hash: string,
  ): Promise<MessageResult> {
    const why =
      reason === "content"
        ? "this event id was already used by an event with different content"
        : "the idempotency key derived from this event already belongs to another event";
    if (!SETTLED_STATES.has(first.state)) {
      // The first version's refund is still open: answering "failed" for its id now could contradict
      // the outcome it will get, so this version waits on the dead-letter topic for a person.
      return this.#writer.park(delivery, {
        code: "idempotency_conflict",
        message: `${why}, whose refund is not settled yet; this version was not processed`,
        attempts: 0,
        firstSeenAt: new Date(delivery.startedAt),
        eventId: event.id,
        source: event.source,
      });
    }
    const outcome = failedOutcome(
      this.#outcomeContext(event, first, "refund", 0),
      "idempotency_conflict",
      `${why}; no refund was attempted for this version, the first one keeps its own outcome`,
      undefined,
      hash,
    );
    await this.#writer.publish(delivery, outcome);
    this.#log.debug({ eventId: event.id, source: event.source, reason }, "idempotency conflict");
    return { status: "published", outcome, replayed: false };
  }

  /** Re-publishes the stored outcome of a settled event; calls nothing. */
  async #republish(delivery: Delivery, entry: LedgerEntry): Promise<MessageResult> {
    const stored = entry.outcome as OutcomeEvent;
    await this.#writer.publish(delivery, stored);
    if (entry.state !== "published") this.#writer.markPublished(entry);
    return { status: "published", outcome: stored, replayed: true };
  }
}

/** What the ledger keeps of a parked event, for a person to build its outcome by hand. */
function parkedEvent(event: ReturnApprovedEvent) {
  const { specversion, id, source, type, data } = event;
  return { ref: { source, eventId: id }, event: { specversion, id, source, type, data } };
}

const NO_OBSERVER: PipelineObserver = { retried: () => {} };

/** How long a lease on a payment intent lasts without renewal, unless configured. */
export const DEFAULT_LEASE_MS = 30_000;

function defaultLeaseOwner(): string {
  return `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
}
