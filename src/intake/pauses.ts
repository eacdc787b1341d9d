// Whether intake is open, and telling the source: it is closed while stopping, once the source was
// halted, or while the fault gate is closed (a fault of the relay's own world; work in flight goes on).
// Open, every lane is fetched except those held back for backpressure.
import type { Logger } from "../logger.ts";
import type { IntakeGate } from "../pipeline/index.ts";
import type { Backpressure } from "./backpressure.ts";
import type { IntakeLane } from "./delivery.ts";
import type { IntakeSignals } from "./signals.ts";
import type { IntakeSource } from "./source.ts";

export interface PausesDeps<L extends IntakeLane> {
  readonly source: IntakeSource<L>;
  readonly signals: IntakeSignals;
  readonly backpressure: Backpressure<L>;
  readonly gate: IntakeGate | undefined;
  readonly logger: Logger;
  /** Fields naming the source in log lines (Kafka: its input topic). */
  readonly logFields: Readonly<Record<string, unknown>>;
}

export class IntakePauses<L extends IntakeLane> {
  readonly #d: PausesDeps<L>;
  #halted = false;
  #unsubscribe: (() => void) | undefined;

  constructor(deps: PausesDeps<L>) {
    this.#d = deps;
  }

  /** A getter, not a field: the gate changes under the runner's feet (even within one batch). */
  get gateClosed(): boolean {
    return this.#d.gate?.paused === true;
  }

  get halted(): boolean {
    return this.#halted;
  }

  get open(): boolean {
    return !this.#d.signals.stopping && !this.#halted && !this.gateClosed;
  }

  /** Pauses or resumes the source to match the state. */
  apply(): void {
    if (this.open) this.#d.source.resume(this.#d.backpressure.held);
    else this.#d.source.pause();
  }

  halt(): void {
    this.#halted = true;
    this.apply();
  }

  /** Follows the gate from now on. */
  watchGate(): void {
    const { gate, logger, logFields } = this.#d;
    if (gate === undefined || this.#unsubscribe !== undefined) return;
    this.#unsubscribe = gate.subscribe((paused) => {
      if (paused) {
        logger.warn(
          logFields,
          "intake paused: a fault of the relay's own world is active; work in flight continues",
        );
      } else {
        logger.warn(logFields, "intake resumed: the fault cleared");
      }
      this.apply();
    });
    if (this.gateClosed) logger.warn(logFields, "intake paused from the start: a fault is active");
  }

  unwatchGate(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }
}
