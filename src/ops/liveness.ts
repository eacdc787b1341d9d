// Whether the process is alive and not wedged: /healthz. A timer ticks every half second; when the
// event loop is blocked (a runaway computation, a synchronous call that never returns) the ticks stop.
// A /healthz request waiting behind the block either times out (the prober's verdict) or, once served,
// finds the last tick too old and answers 503. Work that is stuck without blocking the loop is a matter
// for readiness (progress), not for a restart.

const TICK_MS = 500;
/** A tick this late means the loop was blocked that long. */
export const WEDGED_AFTER_MS = 10_000;

export interface LivenessReport {
  readonly alive: boolean;
  /** Milliseconds since the event loop last ran the tick. */
  readonly sinceTickMs: number;
  readonly uptimeS: number;
  readonly reason?: string;
}

export class Liveness {
  readonly #now: () => number;
  readonly #started: number;
  readonly #onTick: () => void;
  #lastTick: number;
  #timer: NodeJS.Timeout | undefined;

  /** `onTick` runs with every tick (readiness notes when work appeared). */
  constructor(options: { readonly now?: () => number; readonly onTick?: () => void } = {}) {
    this.#now = options.now ?? Date.now;
    this.#onTick = options.onTick ?? (() => {});
    this.#started = this.#now();
    this.#lastTick = this.#started;
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      this.#lastTick = this.#now();
      this.#onTick();
    }, TICK_MS).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  evaluate(): LivenessReport {
    const now = this.#now();
    const sinceTickMs = now - this.#lastTick;
    const uptimeS = Math.round((now - this.#started) / 1000);
    if (sinceTickMs <= WEDGED_AFTER_MS) return { alive: true, sinceTickMs, uptimeS };
    return {
      alive: false,
      sinceTickMs,
      uptimeS,
      reason: `the event loop has not run its ${TICK_MS} ms timer for ${sinceTickMs} ms: the process is blocked`,
    };
  }
}
