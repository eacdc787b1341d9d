// The transport-free refund pipeline: decode -> validate -> plan -> ledger -> preflight -> Dojo ->
// classify -> publish -> settle, one result per message. Transports (Kafka, SQS) hand messages in and
// ack exactly those whose result is "published" or "dead-lettered".
import {
  type DecodeResult,
  decodeReturnApproved,
  idempotencyKeyFor,
  type ReturnApprovedEvent,
} from "../../schemas/index.ts";
import type { DojoClient, PaymentIntent } from "../dojo/index.ts";
import type { Ledger, LedgerEntry, RefundMethod } from "../ledger/index.ts";
import { SETTLED_STATES } from "../ledger/index.ts";
import type { Logger } from "../logger.ts";
import { backoffDelay, sleep } from "./backoff.ts";
import { classifyReadError, classifyWriteError, type Decision } from "./classify.ts";
import { invalidEventOutcome } from "./invalid-event.ts";
import { failedOutcome, type OutcomeContext, succeededOutcome } from "./outcomes.ts";
import { preflightVerdict } from "./preflight.ts";
import { requestHash } from "./request-hash.ts";
import { KeyedScheduler } from "./scheduler.ts";
import type {
  DeadLetterReason,
  DeliveryContext,
  InboundMessage,
  MessageResult,
  OutcomeEvent,
  OutcomeSink,
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
  readonly now?: () => Date;
  readonly random?: () => number;
}

/** How long a preflight read may stand in for the next events of the same payment intent. */
const REMEMBER_INTENT_MS = 5_000;

/** Thrown inside a delivery when the transport asked to stop; turns into an "abandoned" result. */
class Stopped extends Error {}

const ABANDONED: MessageResult = { status: "abandoned", reason: "stopped before the message settled" };

/** Per-delivery bookkeeping for the retry budget. */
interface Delivery {
  readonly message: InboundMessage;
  readonly ctx: DeliveryContext;
  /** When work on the message began (not when it was queued behind its payment intent). */
  startedAt: number;
  tries: number;
}

/** A definitive answer, with the ledger entry as it stood after the last Dojo call. */
type WriteAnswer =
  | { readonly ok: true; readonly id: string }
  | { readonly ok: false; readonly decision: Decision; readonly retriedInCall: boolean };

type Settlement = { readonly entry: LedgerEntry; readonly method: RefundMethod } & (
  | { readonly state: "succeeded"; readonly refundId: string }
  | { readonly state: "failed"; readonly decision: Extract<Decision, { kind: "fail" }> }
  /** No answer that can be published: the event goes to the dead-letter topic for a person or a replay. */
  | {
      readonly state: "parked";
      readonly code: "retry_budget_exhausted" | "needs_reconciliation";
      readonly message: string;
    }
);

/**
 * Refusals that stay true whatever an earlier, unanswered attempt did. Others (400, 409, 422, ...)
 * may be Dojo reacting to our own earlier refund (for example "amount exceeds the refundable amount"
 * because it went through), so after an ambiguous attempt they are parked for reconciliation instead
 * of being reported as refund.failed.
 */
const TRUSTED_AFTER_AMBIGUITY: ReadonlySet<string> = new Set([
  "unauthorized",
  "forbidden",
  "payment_not_found",
  "unknown_merchant",
]);

export class RefundPipeline {
  readonly #s: PipelineSettings;
  readonly #d: PipelineDeps;
  readonly #now: () => Date;
  readonly #random: () => number;
  readonly #scheduler: KeyedScheduler;
  readonly #log: Logger;
  /** Deliveries accepted and not finished, per payment intent. */
  readonly #pending = new Map<string, number>();
  /**
   * The payment intent as last read by preflight, with this relay's own refunds since added to its
   * refunded amount. Kept only while more events of the same intent are pending (they run one at a
   * time) and for at most REMEMBER_INTENT_MS after the read, so a burst of partial returns costs one
   * read. See #preflight for why this is safe.
   */
  readonly #intents = new Map<
    string,
    { readonly merchantId: string | undefined; readonly intent: PaymentIntent; readonly readAt: number }
  >();

  constructor(settings: PipelineSettings, deps: PipelineDeps) {
    this.#s = settings;
    this.#d = deps;
    this.#now = deps.now ?? (() => new Date());
    this.#random = deps.random ?? Math.random;
    this.#scheduler = new KeyedScheduler(settings.maxInFlight);
    this.#log = deps.logger;
  }

  /** Messages holding a work slot right now. */
  get inFlight(): number {
    return this.#scheduler.running + this.#scheduler.queued;
  }

  /**
   * Processes one message to a result. Messages for the same payment intent are processed one at a
   * time in the order of their calls; others run concurrently up to maxInFlight.
   */
  process(message: InboundMessage, ctx: DeliveryContext = {}): Promise<MessageResult> {
    const decoded = decodeReturnApproved(message, { maxBytes: this.#s.maxMessageBytes });
    const key = decoded.ok ? decoded.event.data.paymentIntentId : undefined;
    const delivery: Delivery = { message, ctx, startedAt: 0, tries: 0 };
    if (key !== undefined) this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
    return this.#scheduler.run(key, async () => {
      // The budget's clock starts here, so waiting behind a slow refund of the same intent costs none.
      delivery.startedAt = this.#now().getTime();
      try {
        return await this.#deliver(delivery, decoded);
      } finally {
        if (key !== undefined) this.#finished(key);
      }
    });
  }

  /** One delivery of the intent is over; the last one forgets the remembered read. */
  #finished(paymentIntentId: string): void {
    const left = (this.#pending.get(paymentIntentId) ?? 1) - 1;
    if (left > 0) this.#pending.set(paymentIntentId, left);
    else {
      this.#pending.delete(paymentIntentId);
      this.#intents.delete(paymentIntentId);
    }
  }

  /** Whether events of the intent other than the running one are waiting (worth remembering a read for). */
  #othersPending(paymentIntentId: string): boolean {
    return (this.#pending.get(paymentIntentId) ?? 0) > 1;
  }

  async #deliver(delivery: Delivery, decoded: DecodeResult): Promise<MessageResult> {
    // Unexpected failures (ledger I/O, a broker outage while publishing, a bug) are retried with the
    // same budget as Dojo failures: every step below is idempotent thanks to the ledger.
    for (;;) {
      try {
        return decoded.ok
          ? await this.#handle(delivery, decoded.event)
          : await this.#rejectInvalid(delivery, decoded);
      } catch (error) {
        if (error instanceof Stopped) return ABANDONED;
        const message = error instanceof Error ? error.message : String(error);
        delivery.tries += 1;
        this.#log.error({ err: error, tries: delivery.tries }, "message processing failed; retrying");
        try {
          if (this.#budgetSpent(delivery)) {
            return await this.#park(delivery, {
              code: "internal_error",
              message: `processing failed repeatedly: ${message}`,
              attempts: delivery.tries,
              firstSeenAt: new Date(delivery.startedAt),
              ...(decoded.ok ? { eventId: decoded.event.id, source: decoded.event.source } : {}),
            });
          }
          await this.#wait(delivery, undefined);
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
      const known = await this.#d.ledger.get({ source, eventId });
      if (known !== undefined) {
        if (SETTLED_STATES.has(known.state)) {
          const stored = known.outcome as OutcomeEvent;
          await this.#publish(delivery, stored);
          if (known.state !== "published") this.#markPublished({ source, eventId });
          return { status: "published", outcome: stored, replayed: true };
        }
        return this.#park(delivery, {
          code: "needs_reconciliation",
          message:
            known.attempts === 0
              ? `the event no longer passes validation (${decoded.message}) but an earlier delivery of its id was accepted; Dojo was not called for it`
              : `the event no longer passes validation (${decoded.message}) but an earlier delivery of its id reached Dojo; its refund is not settled`,
          attempts: known.attempts,
          firstSeenAt: known.firstSeenAt,
          eventId,
          source,
        });
      }
      const outcome = invalidEventOutcome(this.#s.eventSource, { ...decoded, eventId, source }, this.#now());
      await this.#publish(delivery, outcome);
      this.#log.warn(
        { eventId: decoded.eventId, source: decoded.source, problem: decoded.message },
        "invalid event answered",
      );
      return { status: "published", outcome, replayed: false };
    }
    return this.#park(delivery, {
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
    const idempotencyKey = idempotencyKeyFor(event, { namespace: this.#s.idempotencyNamespace });
    const ref = { source: event.source, eventId: event.id };
    const hash = requestHash(data);
    const begun = await this.#d.ledger.begin(
      {
        ...ref,
        idempotencyKey,
        requestHash: hash,
        paymentIntentId: data.paymentIntentId,
        merchantId: data.merchantId ?? null,
        amount: data.amount.value,
        currencyCode: data.amount.currencyCode,
      },
      this.#now(),
    );
    const outcomeCtx = (entry: LedgerEntry, method: RefundMethod): OutcomeContext => ({
      source: this.#s.eventSource,
      event,
      idempotencyKey: entry.idempotencyKey,
      method,
      attempts: entry.attempts,
      processedAt: this.#now(),
    });

    if (begun.kind === "conflict") {
      // The stored row belongs to the first version of the event; nothing is called or stored for this one.
      const why =
        begun.reason === "content"
          ? "this event id was already used by an event with different content"
          : "the idempotency key derived from this event already belongs to another event";
      if (!SETTLED_STATES.has(begun.entry.state)) {
        // The first version's refund is still open: answering "failed" for its id now could contradict
        // the outcome it will get, so this version waits on the dead-letter topic for a person.
        return this.#park(delivery, {
          code: "idempotency_conflict",
          message: `${why}, whose refund is not settled yet; this version was not processed`,
          attempts: 0,
          firstSeenAt: new Date(delivery.startedAt),
          eventId: event.id,
          source: event.source,
        });
      }
      const outcome = failedOutcome(
        { ...outcomeCtx(begun.entry, begun.entry.method ?? "refund"), attempts: 0 },
        "idempotency_conflict",
        `${why}; no refund was attempted for this version, the first one keeps its own outcome`,
        undefined,
        hash,
      );
      await this.#publish(delivery, outcome);
      this.#log.warn(
        { eventId: event.id, source: event.source, reason: begun.reason },
        "idempotency conflict",
      );
      return { status: "published", outcome, replayed: false };
    }

    let entry = begun.entry;
    if (!SETTLED_STATES.has(entry.state)) {
      // The stored key, not a freshly derived one: a resumed refund must reuse the key Dojo has seen
      // even if the key namespace was reconfigured in between.
      const settlement = await this.#settleWithDojo(delivery, event, entry, entry.idempotencyKey);
      if (settlement.state === "parked") {
        return this.#park(delivery, {
          code: settlement.code,
          message: settlement.message,
          attempts: settlement.entry.attempts,
          firstSeenAt: settlement.entry.firstSeenAt,
          eventId: event.id,
          source: event.source,
        });
      }
      const ctx = outcomeCtx(settlement.entry, settlement.method);
      const outcome =
        settlement.state === "succeeded"
          ? succeededOutcome(ctx, settlement.refundId)
          : failedOutcome(
              ctx,
              settlement.decision.code,
              settlement.decision.message,
              settlement.decision.error,
            );
      entry = await this.#d.ledger.settle(
        ref,
        settlement.state === "succeeded"
          ? { state: "succeeded", outcome, refundId: settlement.refundId }
          : { state: "failed", outcome },
        this.#now(),
      );
      await this.#publish(delivery, entry.outcome as OutcomeEvent);
      this.#markPublished(ref);
      this.#log.info(
        {
          eventId: event.id,
          paymentIntentId: data.paymentIntentId,
          type: (entry.outcome as OutcomeEvent).type,
          attempts: entry.attempts,
        },
        "refund settled",
      );
      return { status: "published", outcome: entry.outcome as OutcomeEvent, replayed: false };
    }

    // Settled before (a redelivery, or a crash after settling): re-publish what is stored, call nothing.
    const stored = entry.outcome as OutcomeEvent;
    await this.#publish(delivery, stored);
    if (entry.state !== "published") this.#markPublished(ref);
    this.#log.debug({ eventId: event.id, type: stored.type }, "re-published stored outcome");
    return { status: "published", outcome: stored, replayed: true };
  }

  /**
   * Gets a definitive answer from Dojo, retrying indeterminate ones with the same idempotency key.
   * Parks the event when the delivery's budget runs out first, or when a refusal cannot be trusted.
   */
  async #settleWithDojo(
    delivery: Delivery,
    event: ReturnApprovedEvent,
    start: LedgerEntry,
    idempotencyKey: string,
  ): Promise<Settlement> {
    const ref = { source: event.source, eventId: event.id };
    const { data } = event;
    let entry = start;
    // Whether some attempt for this event, in this delivery or an earlier one, may have reached Dojo
    // without an answer; after that, only some refusals can be trusted (see TRUSTED_AFTER_AMBIGUITY).
    let ambiguousBefore = false;
    for (;;) {
      this.#checkStop(delivery);
      let method: RefundMethod = entry.method ?? "refund";
      let decision: Decision | undefined;
      let onRememberedRead = false;
      const signal = delivery.ctx.abort;

      // Preflight only before the first submission: once Dojo may hold our refund, the intent's
      // refundable amount already includes it and would wrongly say "exceeds refundable".
      if (entry.attempts === 0 && entry.method === null && this.#s.preflight) {
        const verdict = await this.#preflight(data, signal);
        if (verdict.kind === "decision") decision = verdict.decision;
        else {
          method = verdict.kind;
          onRememberedRead = verdict.remembered;
        }
      }

      if (decision === undefined) {
        this.#checkStop(delivery);
        // Whatever happens below changes the intent at Dojo or leaves it unknown: the remembered read
        // survives only a refund that Dojo confirmed, with that refund added.
        const remembered = this.#intents.get(data.paymentIntentId);
        this.#intents.delete(data.paymentIntentId);
        entry = await this.#d.ledger.markSubmitting(ref, method, this.#now());
        const answer =
          method === "refund"
            ? await this.#refund(data, idempotencyKey, signal)
            : await this.#reverse(entry, data, signal);
        if (answer.ok) {
          if (remembered !== undefined && method === "refund" && this.#othersPending(data.paymentIntentId)) {
            const { intent } = remembered;
            this.#intents.set(data.paymentIntentId, {
              ...remembered,
              intent: { ...intent, refundedAmount: (intent.refundedAmount ?? 0) + data.amount.value },
            });
          }
          return { state: "succeeded", refundId: answer.id, method, entry };
        }
        decision = answer.decision;
        ambiguousBefore = ambiguousBefore || answer.retriedInCall;
        if (decision.kind === "fail" && onRememberedRead && entry.attempts === 1 && !ambiguousBefore) {
          // A refund let through on a remembered read and refused outright (so nothing was paid): the
          // intent may have changed behind our back, and a fresh read gives preflight's own answer.
          decision = (await this.#refusalOnFreshRead(data, signal)) ?? decision;
        }
        if (decision.kind === "retry") {
          entry = await this.#d.ledger.markUnknown(
            ref,
            `${decision.error.code}: ${decision.error.message}`,
            this.#now(),
          );
        }
      }

      if (decision.kind === "fail") {
        // attempts counts submissions including this one: 2 or more means an earlier one went unanswered.
        if ((entry.attempts >= 2 || ambiguousBefore) && !TRUSTED_AFTER_AMBIGUITY.has(decision.code)) {
          return {
            state: "parked",
            code: "needs_reconciliation",
            message: `Dojo refused a retry (${decision.message}) after an earlier attempt with the same key went unanswered; the earlier attempt may have refunded: check the payment intent before replaying`,
            method,
            entry,
          };
        }
        return { state: "failed", decision, method, entry };
      }
      delivery.tries += 1;
      this.#log.warn(
        {
          eventId: event.id,
          paymentIntentId: data.paymentIntentId,
          code: decision.error.code,
          tries: delivery.tries,
        },
        "no definitive answer from Dojo; will retry with the same idempotency key",
      );
      if (this.#budgetSpent(delivery)) {
        return {
          state: "parked",
          code: "retry_budget_exhausted",
          message: `no definitive answer from Dojo after ${delivery.tries} tries in this delivery (last error: ${decision.error.code}: ${decision.error.message}); the refund may or may not exist: replay the event to retry with the same key`,
          method,
          entry,
        };
      }
      await this.#wait(delivery, decision.error.retryAfterMs);
    }
  }

  /**
   * Reads the payment intent and decides how (or whether) to pay the return back. While events of one
   * intent follow each other, the last read (plus our own confirmed refunds) stands in for a new read,
   * but only to let a refund go ahead: Dojo enforces the refundable amount itself, so a remembered
   * intent that has gone stale (someone else refunded meanwhile) ends in Dojo's refusal, which
   * #settleWithDojo then answers from a fresh read. Every preflight refusal is decided on a fresh read.
   */
  async #preflight(
    data: ReturnApprovedEvent["data"],
    signal: AbortSignal | undefined,
  ): Promise<
    | { readonly kind: "refund" | "reversal"; readonly remembered: boolean }
    | { readonly kind: "decision"; readonly decision: Decision }
  > {
    const remembered = this.#intents.get(data.paymentIntentId);
    if (
      remembered !== undefined &&
      remembered.merchantId === data.merchantId &&
      this.#now().getTime() - remembered.readAt <= REMEMBER_INTENT_MS &&
      preflightVerdict(remembered.intent, data, this.#s).kind === "refund"
    ) {
      return { kind: "refund", remembered: true };
    }
    this.#intents.delete(data.paymentIntentId);
    const readAt = this.#now().getTime();
    const read = await this.#readIntent(data, signal);
    if (!read.ok) return { kind: "decision", decision: classifyReadError(read.error) };
    const verdict = preflightVerdict(read.value, data, this.#s);
    if (verdict.kind === "fail") {
      return { kind: "decision", decision: { kind: "fail", code: verdict.code, message: verdict.message } };
    }
    if (verdict.kind === "refund" && this.#othersPending(data.paymentIntentId)) {
      this.#intents.set(data.paymentIntentId, { merchantId: data.merchantId, intent: read.value, readAt });
    }
    return { kind: verdict.kind, remembered: false };
  }

  /** Preflight's refusal on a fresh read of the intent, or undefined when it would let the refund go. */
  async #refusalOnFreshRead(
    data: ReturnApprovedEvent["data"],
    signal: AbortSignal | undefined,
  ): Promise<Decision | undefined> {
    const read = await this.#readIntent(data, signal);
    if (!read.ok) return undefined;
    const verdict = preflightVerdict(read.value, data, this.#s);
    if (verdict.kind !== "fail") return undefined;
    return {
      kind: "fail",
      code: verdict.code,
      message: `${verdict.message} (read again after Dojo refused the refund)`,
    };
  }

  #readIntent(data: ReturnApprovedEvent["data"], signal: AbortSignal | undefined) {
    return this.#d.dojo.getPaymentIntent({
      paymentIntentId: data.paymentIntentId,
      ...(data.merchantId === undefined ? {} : { merchantId: data.merchantId }),
      ...(signal === undefined ? {} : { signal }),
    });
  }

  async #refund(
    data: ReturnApprovedEvent["data"],
    idempotencyKey: string,
    signal: AbortSignal | undefined,
  ): Promise<WriteAnswer> {
    const result = await this.#d.dojo.createRefund({
      paymentIntentId: data.paymentIntentId,
      amount: data.amount.value,
      refundReason: data.reason,
      idempotencyKey,
      ...(data.notes === undefined ? {} : { notes: data.notes }),
      ...(data.merchantId === undefined ? {} : { merchantId: data.merchantId }),
      ...(signal === undefined ? {} : { signal }),
    });
    if (result.ok) return { ok: true, id: result.value.refundId };
    // The client retries an unanswered refund itself (same key); more than one attempt in the call
    // means an earlier one may have gone through, exactly as if the pipeline had retried.
    return {
      ok: false,
      decision: classifyWriteError(result.error, "refund"),
      retriedInCall: result.attempts > 1,
    };
  }

  /**
   * Reversals carry no idempotency key at Dojo, so a repeated attempt first re-reads the intent: if
   * it is already Reversed, the earlier attempt worked.
   */
  async #reverse(
    entry: LedgerEntry,
    data: ReturnApprovedEvent["data"],
    signal: AbortSignal | undefined,
  ): Promise<WriteAnswer> {
    const target = {
      paymentIntentId: data.paymentIntentId,
      ...(data.merchantId === undefined ? {} : { merchantId: data.merchantId }),
      ...(signal === undefined ? {} : { signal }),
    };
    if (entry.attempts > 1) {
      const read = await this.#d.dojo.getPaymentIntent(target);
      if (!read.ok)
        return { ok: false, decision: { kind: "retry", error: read.error }, retriedInCall: false };
      if (read.value.status === "Reversed") return { ok: true, id: `reversal-of-${data.paymentIntentId}` };
      if (read.value.status !== "Authorized") {
        return {
          ok: false,
          decision: {
            kind: "fail",
            code: "payment_not_refundable",
            message: `the payment intent is ${read.value.status}`,
          },
          retriedInCall: false,
        };
      }
    }
    const result = await this.#d.dojo.createReversal(target);
    if (result.ok) return { ok: true, id: result.value.reversalId };
    // Reversals are resent inside a call only when nothing was sent, so no attempt was ambiguous.
    return { ok: false, decision: classifyWriteError(result.error, "reversal"), retriedInCall: false };
  }

  #budgetSpent(delivery: Delivery): boolean {
    const age = this.#now().getTime() - delivery.startedAt;
    return delivery.tries >= this.#s.retry.maxAttempts || age >= this.#s.retry.maxAgeMs;
  }

  /** Before new work toward Dojo: a stopping consumer starts nothing new. */
  #checkStop(delivery: Delivery): void {
    if (delivery.ctx.stop?.aborted === true) throw new Stopped();
    this.#checkFenced(delivery);
  }

  /**
   * Before publishing: only fencing prevents it. A stopping consumer still publishes what has settled,
   * so a drain commits every refund that Dojo answered.
   */
  #checkFenced(delivery: Delivery): void {
    if (delivery.ctx.fenced?.() === true) throw new Stopped();
  }

  async #wait(delivery: Delivery, retryAfterMs: number | undefined): Promise<void> {
    const remaining = delivery.startedAt + this.#s.retry.maxAgeMs - this.#now().getTime();
    const delay = Math.max(
      0,
      Math.min(remaining, backoffDelay(this.#s.retry, delivery.tries, this.#random, retryAfterMs)),
    );
    const waited = await sleep(delay, delivery.ctx.stop);
    if (!waited) throw new Stopped();
  }

  /** Publishes, retrying transport failures until the message is stopped or fenced. */
  async #publish(delivery: Delivery, outcome: OutcomeEvent): Promise<void> {
    for (let failures = 0; ; failures++) {
      this.#checkFenced(delivery);
      try {
        await this.#d.sink.publish(outcome);
        return;
      } catch (error) {
        // The message cannot be acknowledged before its outcome is out; after a while a person should look.
        this.#log.error(
          { err: error, outcomeId: outcome.id, failures: failures + 1, alert: failures + 1 >= 10 },
          "publishing an outcome failed; retrying",
        );
        const waited = await sleep(
          backoffDelay(this.#s.retry, failures + 1, this.#random),
          delivery.ctx.stop,
        );
        if (!waited) throw new Stopped();
      }
    }
  }

  /**
   * Records that the stored outcome is out. Not awaited: the outcome is already on its topic, and a
   * missing mark only means a redelivery re-publishes the same stored outcome (same id, same bytes).
   */
  #markPublished(ref: { readonly source: string; readonly eventId: string }): void {
    const warn = (error: unknown) =>
      this.#log.warn({ err: error, eventId: ref.eventId }, "could not mark the outcome as published");
    try {
      this.#d.ledger.markPublished(ref, this.#now()).catch(warn);
    } catch (error) {
      warn(error);
    }
  }

  async #park(delivery: Delivery, reason: DeadLetterReason): Promise<MessageResult> {
    for (let failures = 0; ; failures++) {
      this.#checkFenced(delivery);
      try {
        await this.#d.sink.deadLetter(delivery.message, reason);
        break;
      } catch (error) {
        this.#log.error({ err: error, failures: failures + 1 }, "dead-lettering failed; retrying");
        const waited = await sleep(
          backoffDelay(this.#s.retry, failures + 1, this.#random),
          delivery.ctx.stop,
        );
        if (!waited) return { status: "abandoned", reason: "stopped while dead-lettering" };
      }
    }
    // Everything but unreadable input needs a person: a refund whose fate is unknown, a reused id, or a
    // failure of the relay itself. Those log at error level with alert: true.
    const alert = reason.code !== "unparseable" && reason.code !== "invalid_envelope";
    this.#log[alert ? "error" : "warn"]({ ...reason, alert }, "message dead-lettered");
    return { status: "dead-lettered", reason };
  }
}
