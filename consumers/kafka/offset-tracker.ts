// Tracks one partition's messages from fetch to settlement and computes the offset that may be
// committed: one past the highest offset below which every tracked message has settled. A message
// that is slow, or abandoned at shutdown, holds the commit point back, so it is redelivered rather
// than skipped; messages after it still run (they are idempotent through the ledger).

export class PartitionOffsets {
  /** Offsets handed to the pipeline and not yet below the commit point, in fetch order. */
  readonly #pending: number[] = [];
  #head = 0;
  readonly #settled = new Set<number>();
  #highestSeen = -1;
  #committable: number | undefined;
  #committed: number | undefined;
  /** Set when the partition is revoked: its results must no longer be committed or published. */
  fenced = false;

  /** Registers a fetched offset; false when it was seen before (a re-fetch after a rebalance). */
  add(offset: number): boolean {
    if (offset <= this.#highestSeen) return false;
    this.#highestSeen = offset;
    this.#pending.push(offset);
    return true;
  }

  /** Marks an offset settled; true when the commit point moved. */
  settle(offset: number): boolean {
    this.#settled.add(offset);
    let moved = false;
    while (this.#head < this.#pending.length) {
      const next = this.#pending[this.#head] as number;
      if (!this.#settled.has(next)) break;
      this.#settled.delete(next);
      this.#head += 1;
      this.#committable = next + 1;
      moved = true;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending.splice(0, this.#head);
      this.#head = 0;
    }
    return moved;
  }

  /** Messages fetched and not yet committable. */
  get inFlight(): number {
    return this.#pending.length - this.#head;
  }

  /** The offset to commit now (next offset to read), or undefined when nothing new settled. */
  takeCommit(): number | undefined {
    if (this.#committable === undefined || this.#committable === this.#committed) return undefined;
    return this.#committable;
  }

  /** Records that `offset` was committed. */
  committed(offset: number): void {
    if (this.#committed === undefined || offset > this.#committed) this.#committed = offset;
  }
}
