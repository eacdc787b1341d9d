// One delivery of one message: its retry budget (Dojo tries and wall-clock age), the transport's stop
// and fencing signals, and the waits between tries. Waits for a fault of the relay's own world do not
// spend the budget: an hour without a ledger must not park every event that waited for it.
import type { PaymentIntent } from "../dojo/index.ts";
import type { IntentLease } from "../ledger/index.ts";
import { backoffDelay, sleep } from "./backoff.ts";
import type { FaultGate, FaultKind } from "./fault-gate.ts";
import type { DeliveryContext, InboundMessage, MessageResult } from "./types.ts";

/** Thrown inside a delivery when the transport asked to stop; turns into an "abandoned" result. */
export class Stopped extends Error {}

export const ABANDONED: MessageResult = { status: "abandoned", reason: "stopped before the message settled" };

export interface RetryBudget {
  readonly maxAttempts: number;
  readonly maxAgeMs: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export class Delivery {
  readonly message: InboundMessage;
  readonly ctx: DeliveryContext;
  readonly #budget: RetryBudget;
  readonly #now: () => Date;
  readonly #random: () => number;
  /** When work on the message began (not when it was queued behind its payment intent). */
  startedAt = 0;
  /** Tries that did not give a definitive answer (Dojo or an unexpected failure). */
  tries = 0;
  /** Waits for faults of the relay's own world, for their backoff. */
  #faultWaits = 0;
  /** The event's idempotency key as the ledger holds it, once read (for the summary line). */
  idempotencyKey: string | undefined;
  /** The lease on the event's payment intent this delivery works under (see IntentLeases). */
  lease: IntentLease | undefined;
  /** Whether preflight already ran in this delivery (it runs once per delivery, before submitting). */
  preflighted = false;
  /**
   * Preflight's verdict and the row it was made for. A try repeated after a fault of the relay's own
   * world (the ledger failed to store the refusal, say) reuses it while the row is unchanged, instead
   * of falling back to a refund nobody decided.
   */
  verdict:
    | { readonly row: { readonly state: string; readonly attempts: number }; readonly value: unknown }
    | undefined;
  /** The row's attempts when this delivery first read it; undefined until then. */
  attemptsAtStart: number | undefined;
  /** Attempts of this delivery that certainly changed nothing at Dojo (a rejected key, no connection). */
  unapplied = 0;
  /** The payment intent as preflight read it, kept as evidence for a person. */
  intentBefore: PaymentIntent | undefined;
  /**
   * Whether an attempt of this event may have reached Dojo without an answer: one of this delivery's,
   * or any earlier one (the ledger row had attempts when the delivery began).
   */
  ambiguous = false;

  constructor(
    message: InboundMessage,
    ctx: DeliveryContext,
    budget: RetryBudget,
    clock: { readonly now: () => Date; readonly random: () => number },
  ) {
    this.message = message;
    this.ctx = ctx;
    this.#budget = budget;
    this.#now = clock.now;
    this.#random = clock.random;
  }

  get abortSignal(): AbortSignal | undefined {
    return this.ctx.abort;
  }

  start(): void {
    this.startedAt = this.#now().getTime();
  }

  budgetSpent(): boolean {
    const age = this.#now().getTime() - this.startedAt;
    return this.tries >= this.#budget.maxAttempts || age >= this.#budget.maxAgeMs;
  }

  /** Before new work toward Dojo: a stopping consumer starts nothing new. */
  checkStop(): void {
    if (this.ctx.stop?.aborted === true) throw new Stopped();
    this.checkFenced();
  }

  /**
   * Before publishing: only fencing prevents it. A stopping consumer still publishes what has settled,
   * so a drain commits every refund that Dojo answered.
   */
  checkFenced(): void {
    if (this.ctx.fenced?.() === true) throw new Stopped();
  }

  /** Waits before the next try, within what is left of the age budget. */
  async wait(retryAfterMs: number | undefined): Promise<void> {
    const remaining = this.startedAt + this.#budget.maxAgeMs - this.#now().getTime();
    const delay = Math.max(
      0,
      Math.min(remaining, backoffDelay(this.#budget, this.tries, this.#random, retryAfterMs)),
    );
    if (!(await sleep(delay, this.ctx.stop))) throw new Stopped();
  }

  /**
   * Waits while a fault of the relay's own world lasts: backoff (so this delivery's next try probes
   * whether it cleared), cut short when another delivery sees it clear. The time spent is given back
   * to the age budget.
   */
  async waitOutFault(gate: FaultGate, kind: FaultKind): Promise<void> {
    this.#faultWaits += 1;
    const began = this.#now().getTime();
    const delay = Math.max(
      this.#budget.baseDelayMs,
      backoffDelay(this.#budget, this.#faultWaits, this.#random),
    );
    const done = new AbortController();
    const woke = gate.cleared(kind, done.signal).then(() => true);
    const slept = await Promise.race([sleep(delay, this.ctx.stop), woke]);
    done.abort();
    this.startedAt += this.#now().getTime() - began;
    if (!slept || this.ctx.stop?.aborted === true) throw new Stopped();
  }

  /** A plain wait; false when the delivery was stopped meanwhile. */
  sleepFor(ms: number): Promise<boolean> {
    return sleep(ms, this.ctx.stop);
  }

  /** A wait between publish attempts; false when the delivery was stopped meanwhile. */
  sleepAfterFailure(failures: number): Promise<boolean> {
    return sleep(backoffDelay(this.#budget, failures, this.#random), this.ctx.stop);
  }
}
