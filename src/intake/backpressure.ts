// The in-flight limit per lane: a lane whose pending deliveries reach the limit is held back (not
// fetched) until they fall to half of it, so one slow lane cannot pile up work while the others flow.
// The limit is also what bounds memory: a source stops taking from a full lane in the middle of a
// fetched batch, so a backlog stays in the broker (or queue) rather than in the process.
import type { IntakeLane } from "./delivery.ts";

export class Backpressure<L extends IntakeLane = IntakeLane> {
  readonly #limit: number;
  readonly #held = new Set<L>();

  constructor(limitPerLane: number) {
    this.#limit = limitPerLane;
  }

  /** Lanes held back now. */
  get held(): ReadonlySet<L> {
    return this.#held;
  }

  /** Whether the lane has reached the limit: nothing more is taken from it until it drains. */
  full(lane: L): boolean {
    return lane.pending >= this.#limit;
  }

  /** After a batch was taken: true when the lane just reached the limit and is now held back. */
  hold(lane: L): boolean {
    if (!this.full(lane) || this.#held.has(lane)) return false;
    this.#held.add(lane);
    return true;
  }

  /** After a delivery settled: true when a held-back lane fell to half the limit and is let go. */
  relieve(lane: L): boolean {
    if (!this.#held.has(lane) || lane.pending > this.#limit / 2) return false;
    this.#held.delete(lane);
    return true;
  }

  /** The lane is gone: forget it. */
  forget(lane: L): void {
    this.#held.delete(lane);
  }
}
