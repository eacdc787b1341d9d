// Faults of the relay's own world (a rejected Dojo key, a ledger that cannot write, outcomes that
// cannot be published) say nothing about any refund. While one is active the relay takes no new work:
// the transport pauses intake, the deliveries that hit the fault wait with backoff and try again, and
// nothing is answered or dead-lettered for it. The gate is the one place that knows whether such a
// fault is active; the pipeline reports and clears faults, transports and health checks listen.
import type { Logger } from "../logger.ts";

/** The kinds of fault that pause intake. */
export type FaultKind =
  /** Dojo answered 401 or 403: the configured key is wrong, revoked or lacks permission. */
  | "dojo_credentials"
  /** The ledger could not read or write (worker gone, disk full, I/O error, database down). */
  | "ledger"
  /** Outcomes or dead letters could not be published. */
  | "publish";

export interface ActiveFault {
  readonly kind: FaultKind;
  readonly since: Date;
  readonly message: string;
}

/** What a transport needs: whether intake is paused, and word when that changes. */
export interface IntakeGate {
  readonly paused: boolean;
  /** Calls the listener on every change of `paused`; returns a function that unsubscribes. */
  subscribe(listener: (paused: boolean) => void): () => void;
}

export class FaultGate implements IntakeGate {
  readonly #active = new Map<FaultKind, ActiveFault>();
  readonly #listeners = new Set<(paused: boolean) => void>();
  readonly #cleared = new Map<FaultKind, Set<() => void>>();
  /** Deliveries retrying against each kind of fault: they are what finds out that it cleared. */
  readonly #probes = new Map<FaultKind, number>();
  readonly #now: () => Date;
  readonly #log: Logger | undefined;

  constructor(options: { readonly now?: () => Date; readonly logger?: Logger } = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#log = options.logger;
  }

  get paused(): boolean {
    return this.#active.size > 0;
  }

  /** The faults active now, oldest first. */
  get active(): readonly ActiveFault[] {
    return [...this.#active.values()];
  }

  /** Records a fault; returns true when it is new (the caller raises the alert once, not per event). */
  report(kind: FaultKind, message: string): boolean {
    if (this.#active.has(kind)) return false;
    const wasPaused = this.paused;
    this.#active.set(kind, { kind, since: this.#now(), message });
    this.#log?.error(
      { fault: kind, problem: message, alert: true },
      "the relay cannot work: intake paused until this clears; nothing is answered or dead-lettered for it",
    );
    if (!wasPaused) this.#emit(true);
    return true;
  }

  /** Clears a fault after an operation of its kind worked; returns the cleared fault, if any. */
  clear(kind: FaultKind): ActiveFault | undefined {
    const fault = this.#active.get(kind);
    if (fault === undefined) return undefined;
    this.#active.delete(kind);
    const downMs = this.#now().getTime() - fault.since.getTime();
    this.#log?.warn({ fault: kind, downMs }, "fault cleared; resuming");
    const waiters = this.#cleared.get(kind);
    this.#cleared.delete(kind);
    for (const wake of waiters ?? []) wake();
    if (!this.paused) this.#emit(false);
    return fault;
  }

  /**
   * Says that a delivery retries against a fault of this kind; call the returned function once it
   * stops doing so (it succeeded, or its message was stopped, fenced or taken away). Only such
   * retries find out that a fault cleared. When the last one stops while the fault is still active
   * (for example every message held lost its lease during a long outage), nothing would ever test
   * it again and intake would stay paused: the gate then clears the fault, so intake resumes and the
   * next message tests the dependency (and reports the fault again if it is still there).
   */
  probe(kind: FaultKind): () => void {
    this.#probes.set(kind, (this.#probes.get(kind) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.#probes.get(kind) ?? 1) - 1;
      if (left > 0) {
        this.#probes.set(kind, left);
        return;
      }
      this.#probes.delete(kind);
      if (!this.#active.has(kind)) return;
      this.#log?.warn(
        { fault: kind },
        "no message is left retrying against this fault; resuming intake so the next message tests it again",
      );
      this.clear(kind);
    };
  }

  /**
   * Resolves when the fault of this kind clears (at once if it is not active), or when `signal`
   * aborts; either way the waiter is forgotten.
   */
  cleared(kind: FaultKind, signal?: AbortSignal): Promise<void> {
    if (!this.#active.has(kind) || signal?.aborted === true) return Promise.resolve();
    return new Promise((resolve) => {
      let waiters = this.#cleared.get(kind);
      if (waiters === undefined) {
        waiters = new Set();
        this.#cleared.set(kind, waiters);
      }
      const set = waiters;
      const done = () => {
        set.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      set.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  subscribe(listener: (paused: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(paused: boolean): void {
    for (const listener of this.#listeners) listener(paused);
  }
}
