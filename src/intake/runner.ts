// The transport-free intake: takes deliveries from a source, runs each through the pipeline without
// waiting for the one before, and answers the source with ack or release per result. It holds what
// every transport needs alike: the in-flight limit per lane, pausing intake while stopping or while the
// fault gate is closed, the stop and abort signals, the drain with a deadline, and progress stats.
import type { Logger } from "../logger.ts";
import type { DeliveryContext, InboundMessage, IntakeGate, MessageResult } from "../pipeline/index.ts";
import { Backpressure } from "./backpressure.ts";
import type { IntakeLane, SourceDelivery } from "./delivery.ts";
import { InFlight } from "./drain.ts";
import { IntakePauses } from "./pauses.ts";
import { IntakeSignals } from "./signals.ts";
import type { Intake, IntakeSource } from "./source.ts";
import { type IntakeStats, Progress } from "./stats.ts";

/** What the runner needs from the pipeline. */
export interface MessageProcessor {
  process(message: InboundMessage, ctx: DeliveryContext): Promise<MessageResult>;
}

export interface IntakeRunnerOptions {
  /**
   * A lane's pending deliveries at which it is held back (and its source stops taking from it); it is
   * let go at half of it.
   */
  readonly maxInFlightPerLane: number;
  /** While `paused`, nothing new is taken; work in flight continues. */
  readonly gate?: IntakeGate;
  readonly logger: Logger;
  /** Fields naming the source in the runner's log lines (Kafka: its input topic). */
  readonly logFields?: Readonly<Record<string, unknown>>;
}

/** How long cancelled work may take to come back after the drain deadline. */
const CANCEL_GRACE_MS = 5_000;

export class IntakeRunner<L extends IntakeLane = IntakeLane> implements Intake<L> {
  readonly #source: IntakeSource<L>;
  readonly #log: Logger;
  readonly #signals = new IntakeSignals();
  readonly #backpressure: Backpressure<L>;
  readonly #pauses: IntakePauses<L>;
  readonly #inFlight = new InFlight();
  readonly #progress = new Progress();
  #processor: MessageProcessor | undefined;

  constructor(source: IntakeSource<L>, options: IntakeRunnerOptions) {
    this.#source = source;
    this.#log = options.logger;
    this.#backpressure = new Backpressure(options.maxInFlightPerLane);
    this.#pauses = new IntakePauses({
      source,
      signals: this.#signals,
      backpressure: this.#backpressure,
      gate: options.gate,
      logger: options.logger,
      logFields: options.logFields ?? {},
    });
  }

  get stats(): IntakeStats {
    const p = this.#progress;
    return {
      inFlight: this.#inFlight.count,
      settled: p.settled,
      deadLettered: p.deadLettered,
      lastProgressAt: p.lastProgressAt,
    };
  }

  get accepting(): boolean {
    return this.#pauses.open;
  }

  get stopping(): boolean {
    return this.#signals.stopping;
  }

  /** Follows the gate and opens the source; resolves once consumption has started. */
  async start(processor: MessageProcessor): Promise<void> {
    this.#processor = processor;
    this.#pauses.watchGate();
    try {
      await this.#source.open(this);
    } catch (error) {
      this.#pauses.unwatchGate();
      throw error;
    }
  }

  take(delivery: SourceDelivery<L>): void {
    const processor = this.#processor;
    if (processor === undefined) throw new Error("the intake runner was not started");
    let result: Promise<MessageResult>;
    try {
      result = processor.process(delivery, this.#signals.context(delivery));
    } catch (error) {
      result = Promise.reject(error);
    }
    this.#inFlight.add();
    result.then(
      (r) => this.#answer(delivery, r),
      (error: unknown) => this.#failed(delivery, error),
    );
  }

  full(lane: L): boolean {
    return this.#backpressure.full(lane);
  }

  taken(lane: L): void {
    if (this.#pauses.gateClosed) this.#pauses.apply();
    if (this.#backpressure.hold(lane)) this.#pauses.apply();
  }

  repause(): void {
    this.#pauses.apply();
  }

  forget(lane: L): void {
    this.#backpressure.forget(lane);
  }

  halt(): void {
    if (!this.#pauses.halted) this.#pauses.halt();
  }

  /**
   * Drains: nothing new starts, work in flight may finish until the deadline, then what is left is
   * cancelled; the source then acknowledges what settled and disconnects. `abandoned`: deliveries the
   * source still held unacknowledged after the drain (they are delivered again).
   */
  async stop(deadlineMs: number): Promise<{ abandoned: number }> {
    if (this.#signals.stop()) this.#pauses.apply();
    this.#pauses.unwatchGate();
    this.#source.quiesce();
    if (!(await this.#inFlight.idle(deadlineMs))) {
      this.#log.warn(
        { inFlight: this.#inFlight.count },
        "drain deadline reached; cancelling Dojo calls in flight",
      );
      this.#signals.abort();
      await this.#inFlight.idle(CANCEL_GRACE_MS);
    }
    const abandoned = this.#source.pending;
    await this.#source.close();
    return { abandoned };
  }

  /** Turns a result into ack (settled) or release (abandoned). */
  #answer(delivery: SourceDelivery<L>, result: MessageResult): void {
    if (result.status === "abandoned") {
      delivery.release();
    } else {
      this.#progress.record(result);
      delivery.ack();
    }
    this.#done(delivery.lane);
  }

  /** The pipeline answers every message; getting here is a bug. The source decides what it means. */
  #failed(delivery: SourceDelivery<L>, error: unknown): void {
    delivery.release(error);
    this.#done(delivery.lane);
  }

  #done(lane: L): void {
    this.#inFlight.done();
    if (!this.#signals.stopping && this.#backpressure.relieve(lane)) this.#pauses.apply();
  }
}
