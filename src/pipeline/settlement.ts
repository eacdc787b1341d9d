// The Dojo settlement rules: how one event's refund is decided with Dojo, given the ledger row as it
// stands. The idempotency key at Dojo is the truth about whether this event's refund was sent; the row
// is a cache that may be missing, stale or shared, so:
// - preflight refuses only what no earlier attempt of this event could explain (see preflight.ts);
// - a refusal of our key is explained with a fresh read of the intent, and trusted only when no
//   attempt of ours may have gone unanswered, or when the intent shows no room for our refund;
//   otherwise the event is parked for a person;
// - a reversal (no key at Dojo) whose first attempt's fate is unknown is never sent again;
// - a rejected key (401/403) is a fault of the relay's own world, never an answer;
// - every ledger write names the row it expects; when the row moved on, the decision is made again.
import type { ReturnApprovedEvent } from "../../schemas/index.ts";
import type { DojoClient, PaymentIntent } from "../dojo/index.ts";
import type { EventRef, Expected, Ledger, LedgerEntry, RefundMethod } from "../ledger/index.ts";
import { SETTLED_STATES } from "../ledger/index.ts";
import type { Logger } from "../logger.ts";
import { classifyReadError, classifyWriteError, type Decision } from "./classify.ts";
import type { Delivery } from "./delivery.ts";
import type { FaultGate } from "./fault-gate.ts";
import { DependencyFault } from "./faults.ts";
import { LeaseLost } from "./intent-leases.ts";
import type { IntentMemo } from "./intent-memo.ts";
import { couldIncludeOurRefund, describeIntent, explainRefusal, preflightVerdict } from "./preflight.ts";
import type { PipelineObserver } from "./types.ts";

type Data = ReturnApprovedEvent["data"];
export type FailDecision = Extract<Decision, { kind: "fail" }>;

/**
 * `uncounted`: requests of the last Dojo call that the ledger has not counted yet. The submission
 * counts one before the call; the client may then have sent none (it refused to send) or several (it
 * resent), so this is the call's requests minus one, and 0 when no call was made.
 */
export type Settlement = { readonly entry: LedgerEntry; readonly method: RefundMethod } & (
  | { readonly state: "succeeded"; readonly refundId: string; readonly uncounted: number }
  /** A definitive refusal, to be stored only while the row is still `entry` (see Expected). */
  | { readonly state: "failed"; readonly decision: FailDecision; readonly uncounted: number }
  /** No answer that can be published: the event goes to the dead-letter destination for a person. */
  | {
      readonly state: "parked";
      readonly code: "retry_budget_exhausted" | "needs_reconciliation" | "unknown_merchant";
      readonly message: string;
    }
  /** The row was settled by another writer meanwhile; its stored outcome stands. */
  | { readonly state: "settled-elsewhere" }
);

export interface SettlerSettings {
  readonly preflight: boolean;
  readonly reverseWhenAuthorized: boolean;
}

export interface SettlerDeps {
  readonly ledger: Ledger;
  readonly dojo: Pick<DojoClient, "createRefund" | "createReversal" | "getPaymentIntent">;
  readonly memo: IntentMemo;
  readonly gate: FaultGate;
  readonly observer: PipelineObserver;
  readonly logger: Logger;
  readonly now: () => Date;
}

type WriteAnswer =
  | { readonly ok: true; readonly id: string; readonly requests: number }
  | { readonly ok: false; readonly decision: Decision; readonly requests: number };

type PreflightOutcome =
  | { readonly kind: "go"; readonly method: RefundMethod }
  | { readonly kind: "decided"; readonly decision: Decision }
  | { readonly kind: "park"; readonly message: string };

/** The row as this writer saw it, and the lease it works under: what a fenced write names. */
export function expectedOf(entry: LedgerEntry, delivery?: Delivery): Expected {
  const lease = delivery?.lease;
  return lease === undefined
    ? { state: entry.state, attempts: entry.attempts }
    : { state: entry.state, attempts: entry.attempts, lease };
}

export class DojoSettler {
  readonly #s: SettlerSettings;
  readonly #d: SettlerDeps;

  constructor(settings: SettlerSettings, deps: SettlerDeps) {
    this.#s = settings;
    this.#d = deps;
  }

  async run(delivery: Delivery, event: ReturnApprovedEvent, start: LedgerEntry): Promise<Settlement> {
    const ref: EventRef = { source: event.source, eventId: event.id };
    const { data } = event;
    let entry = start;
    for (;;) {
      delivery.checkStop();
      if (SETTLED_STATES.has(entry.state)) {
        return { state: "settled-elsewhere", entry, method: entry.method ?? "refund" };
      }
      if (entry.method === "reversal" && this.#reversalFateUnknown(delivery, entry)) {
        return this.#parkReversal(delivery, data, entry);
      }

      let method: RefundMethod = entry.method ?? "refund";
      if (this.#s.preflight && entry.method !== "reversal") {
        const verdict = await this.#plan(delivery, data, entry);
        if (verdict !== undefined) {
          if (verdict.kind === "park") {
            return { state: "parked", code: "needs_reconciliation", message: verdict.message, method, entry };
          }
          if (verdict.kind === "decided") {
            const d = verdict.decision;
            if (d.kind === "fail") return { state: "failed", decision: d, uncounted: 0, method, entry };
            if (d.kind === "credentials") throw credentialsFault(d.error);
            if (d.kind === "no_account") return noAccount(d, method, entry);
            const parked = await this.#retryLater(delivery, event, entry, method, d.error);
            if (parked !== undefined) return parked;
            continue;
          }
          if (entry.method === "refund" && verdict.method === "reversal") {
            return {
              state: "parked",
              code: "needs_reconciliation",
              message: `the payment intent is authorized and could be reversed, but this event was sent to Dojo as a refund before (intent: ${describeIntent(delivery.intentBefore)}); a person decides how to pay it back`,
              method,
              entry,
            };
          }
          method = verdict.method;
        }
      }

      delivery.checkStop();
      const taken = this.#d.memo.take(data.paymentIntentId);
      const submitted = await this.#d.ledger.markSubmitting(
        ref,
        method,
        expectedOf(entry, delivery),
        this.#d.now(),
      );
      if (!submitted.ok) {
        if (submitted.leaseLost === true) throw new LeaseLost(submitted.reason);
        // Another writer moved the row on (or settled it): decide again from the row as it is now.
        entry = submitted.entry;
        continue;
      }
      entry = submitted.entry;
      const answer =
        method === "refund"
          ? await this.#refund(data, entry.idempotencyKey, delivery)
          : await this.#reverse(data, delivery);
      if (answer.ok) {
        if (this.#d.gate.paused) this.#d.gate.clear("dojo_credentials");
        if (method === "refund") this.#d.memo.confirmRefund(data.paymentIntentId, taken, data.amount.value);
        return { state: "succeeded", refundId: answer.id, uncounted: answer.requests - 1, method, entry };
      }
      const decision = answer.decision;
      if (decision.kind !== "credentials" && this.#d.gate.paused) this.#d.gate.clear("dojo_credentials");
      if (answer.requests > 1) delivery.ambiguous = true;
      switch (decision.kind) {
        case "credentials":
        case "no_account": {
          // Nothing reached Dojo's refund logic; the row stays open for the next try.
          delivery.unapplied += 1;
          const marked = await this.#markUnknown(delivery, entry, decision.error, answer.requests);
          entry = marked.entry;
          if (decision.kind === "credentials") throw credentialsFault(decision.error);
          return noAccount(decision, method, entry);
        }
        case "retry": {
          if (decision.error.kind === "indeterminate") delivery.ambiguous = true;
          else delivery.unapplied += 1;
          const marked = await this.#markUnknown(delivery, entry, decision.error, answer.requests);
          entry = marked.entry;
          if (!marked.ok) continue;
          if (method === "reversal" && decision.error.kind === "indeterminate") {
            return this.#parkReversal(delivery, data, entry);
          }
          const parked = await this.#retryLater(delivery, event, entry, method, decision.error);
          if (parked !== undefined) return parked;
          continue;
        }
        case "fail":
          if (method === "reversal") {
            return { state: "failed", decision, uncounted: answer.requests - 1, method, entry };
          }
          return this.#judgeRefusal(delivery, data, entry, decision, answer.requests);
      }
    }
  }

  /** Records an answerless (or answer-free) call on the row this writer last saw. */
  #markUnknown(
    delivery: Delivery,
    entry: LedgerEntry,
    error: { readonly code: string; readonly message: string },
    requests: number,
  ) {
    return this.#d.ledger.markUnknown(
      entry,
      `${error.code}: ${error.message}`,
      expectedOf(entry, delivery),
      this.#d.now(),
      requests,
    );
  }

  /**
   * Preflight's verdict for this row: run once per delivery; reused when a try is repeated after a
   * fault while the row is unchanged; none once the row moved on (the row's method then decides).
   */
  async #plan(delivery: Delivery, data: Data, entry: LedgerEntry): Promise<PreflightOutcome | undefined> {
    const row = expectedOf(entry);
    const cached = delivery.verdict;
    if (cached !== undefined) {
      return cached.row.state === row.state && cached.row.attempts === row.attempts
        ? (cached.value as PreflightOutcome)
        : undefined;
    }
    if (delivery.preflighted) return undefined;
    const verdict = await this.#preflight(delivery, data);
    if (delivery.preflighted) delivery.verdict = { row, value: verdict };
    return verdict;
  }

  /**
   * Whether a reversal of this event may have reached Dojo without an answer: any attempt made before
   * this delivery, or one of this delivery's that is not known to have changed nothing.
   */
  #reversalFateUnknown(delivery: Delivery, entry: LedgerEntry): boolean {
    const before = delivery.attemptsAtStart ?? entry.attempts;
    return before > 0 || entry.attempts - before > delivery.unapplied;
  }

  /** Counts an unanswered try; parks the event when the delivery's budget is spent, else waits. */
  async #retryLater(
    delivery: Delivery,
    event: ReturnApprovedEvent,
    entry: LedgerEntry,
    method: RefundMethod,
    error: Extract<Decision, { kind: "retry" }>["error"],
  ): Promise<Settlement | undefined> {
    delivery.tries += 1;
    this.#d.observer.retried("dojo");
    this.#d.logger.warn(
      {
        eventId: event.id,
        paymentIntentId: event.data.paymentIntentId,
        code: error.code,
        tries: delivery.tries,
      },
      "no definitive answer from Dojo; will retry with the same idempotency key",
    );
    if (delivery.budgetSpent()) {
      return {
        state: "parked",
        code: "retry_budget_exhausted",
        message: `no definitive answer from Dojo after ${delivery.tries} tries in this delivery (last error: ${error.code}: ${error.message}); the refund may or may not exist: replay the event to retry with the same key, or settle it with refund-relay reconcile`,
        method,
        entry,
      };
    }
    await delivery.wait(error.retryAfterMs);
    return undefined;
  }

  /**
   * Dojo refused the refund sent with this event's key. Dojo replays a key's first refund, so the
   * refusal is trusted when no attempt of ours may have gone unanswered, or when a fresh read shows
   * the intent's refunds cannot include ours; the fresh read also names the reason with preflight's
   * code. Otherwise the refusal may be Dojo reacting to our own earlier refund: a person decides.
   */
  async #judgeRefusal(
    delivery: Delivery,
    data: Data,
    entry: LedgerEntry,
    decision: FailDecision,
    requests: number,
  ): Promise<Settlement> {
    const fresh = await this.#readIntent(data, delivery);
    if (!fresh.ok) {
      const d = classifyReadError(fresh.error);
      if (d.kind === "credentials") throw credentialsFault(d.error);
    }
    const intent = fresh.ok ? fresh.value : undefined;
    if (delivery.ambiguous && (intent === undefined || couldIncludeOurRefund(intent, data.amount.value))) {
      // The row stays open; it records the requests this call made, which Dojo saw.
      const marked = await this.#d.ledger.markUnknown(
        entry,
        `refused after an unanswered attempt: ${decision.message}`,
        expectedOf(entry, delivery),
        this.#d.now(),
        requests,
      );
      return {
        state: "parked",
        code: "needs_reconciliation",
        message: `Dojo refused the refund (${decision.message}) after an earlier attempt with the same key went unanswered, and the payment intent's refunds could include it (intent before: ${describeIntent(delivery.intentBefore)}; now: ${describeIntent(intent)}): check the payment intent, then settle it with refund-relay reconcile`,
        method: "refund",
        entry: marked.entry,
      };
    }
    const why = intent === undefined ? undefined : explainRefusal(intent, data);
    const explained: FailDecision =
      why === undefined
        ? decision
        : {
            kind: "fail",
            code: why.code,
            message: `${why.message} (read again after Dojo refused the refund)`,
            ...(decision.error === undefined ? {} : { error: decision.error }),
          };
    return { state: "failed", decision: explained, uncounted: requests - 1, method: "refund", entry };
  }

  /** Reversals carry no idempotency key: one whose fate is unknown is never sent again. */
  async #parkReversal(delivery: Delivery, data: Data, entry: LedgerEntry): Promise<Settlement> {
    const read = await this.#readIntent(data, delivery);
    const after = read.ok ? read.value : undefined;
    return {
      state: "parked",
      code: "needs_reconciliation",
      message: `a reversal was sent for this event and its outcome is unknown (intent before: ${describeIntent(delivery.intentBefore)}; now: ${describeIntent(after)}); reversals carry no idempotency key, so it is not sent again: check the payment intent, then settle it with refund-relay reconcile`,
      method: "reversal",
      entry,
    };
  }

  /**
   * Reads the payment intent and decides how (or whether) to pay the return back. A remembered read
   * (see IntentMemo) may stand in only to let a refund go ahead.
   */
  async #preflight(delivery: Delivery, data: Data): Promise<PreflightOutcome> {
    const { memo } = this.#d;
    const now = this.#d.now().getTime();
    const recalled = memo.recall(data.paymentIntentId, data.merchantId, now);
    if (recalled !== undefined && preflightVerdict(recalled, data, this.#s).kind === "refund") {
      delivery.preflighted = true;
      return { kind: "go", method: "refund" };
    }
    const read = await this.#readIntent(data, delivery);
    if (!read.ok) {
      const decision = classifyReadError(read.error);
      // A refusal or a missing account is preflight's answer; a retry or a rejected key means the
      // intent is still unread, so preflight runs again on the next try.
      if (decision.kind === "fail" || decision.kind === "no_account") delivery.preflighted = true;
      return { kind: "decided", decision };
    }
    if (this.#d.gate.paused) this.#d.gate.clear("dojo_credentials");
    delivery.preflighted = true;
    delivery.intentBefore = read.value;
    const verdict = preflightVerdict(read.value, data, this.#s);
    switch (verdict.kind) {
      case "fail":
        return { kind: "decided", decision: { kind: "fail", code: verdict.code, message: verdict.message } };
      case "park":
        return { kind: "park", message: `${verdict.message} (intent: ${describeIntent(read.value)})` };
      case "refund":
        memo.remember(data.paymentIntentId, data.merchantId, read.value, now);
        return { kind: "go", method: "refund" };
      case "reversal":
        return { kind: "go", method: "reversal" };
    }
  }

  #readIntent(data: Data, delivery: Delivery) {
    const signal = delivery.abortSignal;
    return this.#d.dojo.getPaymentIntent({
      paymentIntentId: data.paymentIntentId,
      ...(data.merchantId === undefined ? {} : { merchantId: data.merchantId }),
      ...(signal === undefined ? {} : { signal }),
      ...traceOf(delivery),
    });
  }

  async #refund(data: Data, idempotencyKey: string, delivery: Delivery): Promise<WriteAnswer> {
    const signal = delivery.abortSignal;
    const result = await this.#d.dojo.createRefund({
      paymentIntentId: data.paymentIntentId,
      amount: data.amount.value,
      refundReason: data.reason,
      idempotencyKey,
      ...(data.notes === undefined ? {} : { notes: data.notes }),
      ...(data.merchantId === undefined ? {} : { merchantId: data.merchantId }),
      ...(signal === undefined ? {} : { signal }),
      ...traceOf(delivery),
    });
    // The client resends an unanswered refund itself (same key); more than one request in the call
    // means an earlier one may have gone through, exactly as if the pipeline had retried.
    if (result.ok) return { ok: true, id: result.value.refundId, requests: result.attempts };
    return { ok: false, decision: classifyWriteError(result.error, "refund"), requests: result.attempts };
  }

  async #reverse(data: Data, delivery: Delivery): Promise<WriteAnswer> {
    const signal = delivery.abortSignal;
    const result = await this.#d.dojo.createReversal({
      paymentIntentId: data.paymentIntentId,
      ...(data.merchantId === undefined ? {} : { merchantId: data.merchantId }),
      ...(signal === undefined ? {} : { signal }),
      ...traceOf(delivery),
    });
    // Reversals are resent inside a call only when nothing was sent, so no request was ambiguous.
    if (result.ok) return { ok: true, id: result.value.reversalId, requests: 1 };
    return { ok: false, decision: classifyWriteError(result.error, "reversal"), requests: 1 };
  }
}

/** The message's processing span, as the parent of its Dojo requests. */
function traceOf(delivery: Delivery) {
  const trace = delivery.ctx.trace;
  return trace === undefined ? {} : { trace: trace.context };
}

function credentialsFault(error: {
  readonly code: string;
  readonly status?: number | undefined;
}): DependencyFault {
  return new DependencyFault(
    "dojo_credentials",
    `Dojo rejected the API key (${error.code}${error.status === undefined ? "" : `, HTTP ${error.status}`}); check DOJO_API_KEY or the accounts file`,
  );
}

function noAccount(
  decision: Extract<Decision, { kind: "no_account" }>,
  method: RefundMethod,
  entry: LedgerEntry,
): Settlement {
  return {
    state: "parked",
    code: "unknown_merchant",
    message: `${decision.error.message}; configure a Dojo key for this merchant (or a default key), restart, and replay the event`,
    method,
    entry,
  };
}

export type { PaymentIntent };
