// What a transport implements to feed the intake runner, and what the runner offers it in return.
// The transport knows how to fetch, pause, acknowledge and redeliver; the runner decides when: it holds
// the in-flight limit, the stop and abort signals, the intake gate, and the answer to each result.
import type { OutcomeSink } from "../pipeline/index.ts";
import type { IntakeLane, SourceDelivery } from "./delivery.ts";

/** A transport's source of deliveries. */
export interface IntakeSource<L extends IntakeLane = IntakeLane> {
  /** Connects and starts handing deliveries to `intake`; resolves once consumption has started. */
  open(intake: Intake<L>): Promise<void>;
  /** Fetch nothing (stopping, halted, or the intake gate is closed). Must not throw. */
  pause(): void;
  /** Fetch again from every lane except those held back for backpressure. Must not throw. */
  resume(heldBack: ReadonlySet<L>): void;
  /** Deliveries the transport still holds unacknowledged: they come back if the process stops now. */
  readonly pending: number;
  /** Stopping has begun and nothing more will be taken: stop background work (before the drain). */
  quiesce(): void;
  /** After the drain: acknowledge what settled and disconnect. May be called again by a second stop. */
  close(): Promise<void>;
}

/** A transport: where deliveries come from, and where their outcomes and dead letters go. */
export interface Transport<L extends IntakeLane = IntakeLane> {
  readonly source: IntakeSource<L>;
  readonly sink: OutcomeSink;
}

/** What the runner offers its source (the runner itself; no object per call). */
export interface Intake<L extends IntakeLane = IntakeLane> {
  /**
   * Whether new work may start: not stopping, not halted, intake gate open. Read it before each
   * message: the gate can close in the middle of a batch.
   */
  readonly accepting: boolean;
  /** True once stop() began: nothing new starts, and the source's own alarms stand down. */
  readonly stopping: boolean;
  /** Starts the pipeline on a delivery; its result comes back as its ack() or release(). */
  take(delivery: SourceDelivery<L>): void;
  /**
   * Whether `lane` reached its in-flight limit: take nothing more from it now, not even the rest of a
   * batch in hand. What is not taken must come back later (the lane is held back until it drains), so
   * what the process holds stays bounded by the limit rather than by the backlog or the fetch size.
   */
  full(lane: L): boolean;
  /** After a batch from `lane` was taken: holds the lane back once it reached the in-flight limit. */
  taken(lane: L): void;
  /** Applies the pause state again (the transport forgot it, e.g. its consumer restarted). */
  repause(): void;
  /** The lane is gone (partition revoked): it is no longer held back. */
  forget(lane: L): void;
  /** The source cannot be trusted any more: take nothing more, for good (the relay is stopping). */
  halt(): void;
}
