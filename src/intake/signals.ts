// The stop and abort signals every delivery carries into the pipeline. Stop: nothing new starts, no new
// attempt or wait begins (work not settled is abandoned and released). Abort: the drain deadline
// passed, so Dojo calls in flight are cancelled.
import type { DeliveryContext } from "../pipeline/index.ts";
import type { SourceDelivery } from "./delivery.ts";

export class IntakeSignals {
  readonly #stop = new AbortController();
  readonly #abort = new AbortController();

  get stopping(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Returns false when stopping had begun already. */
  stop(): boolean {
    if (this.#stop.signal.aborted) return false;
    this.#stop.abort();
    return true;
  }

  abort(): void {
    this.#abort.abort();
  }

  /** The context of one delivery: these signals, and whether its transport still owns it. */
  context(delivery: SourceDelivery): DeliveryContext {
    return new Scope(this.#stop.signal, this.#abort.signal, delivery);
  }
}

/** One object per delivery (the pipeline keeps it while it works on the message); no closures. */
class Scope implements DeliveryContext {
  readonly stop: AbortSignal;
  readonly abort: AbortSignal;
  readonly #delivery: SourceDelivery;

  constructor(stop: AbortSignal, abort: AbortSignal, delivery: SourceDelivery) {
    this.stop = stop;
    this.abort = abort;
    this.#delivery = delivery;
  }

  fenced(): boolean {
    return this.#delivery.fenced();
  }
}
