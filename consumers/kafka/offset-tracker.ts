// Tracks one partition's messages from fetch to settlement and computes the offset that may be
// committed: one past the highest offset below which every tracked message has settled. A message
// that is slow, or abandoned at shutdown, holds the commit point back, so it is redelivered rather
// than skipped; messages after it still run (they are idempotent through the ledger).
//
// It also notices when the partition's offsets go backwards (the topic was deleted and recreated, or
// the log was truncated below what was read): offsets are then reused by other messages, and a
// tracker that dropped them as "seen before", or a commit of an old position, would skip new events
// without a trace.

/** How a partition's offsets were found to go backwards. */
export type OffsetRegressionKind =
  /** A fetched batch starts below the position reading had reached. */
  | "batch_before_position"
  /** The partition's end (high watermark) is below the position reading had reached. */
  | "end_below_position"
  /** The partition's start is above an offset still being worked on: the log was truncated under it. */
  | "start_above_pending"
  /** The group's committed offset is below one known to have been committed: reset or deleted. */
  | "group_offset_reset";

export interface OffsetRegression {
  readonly kind: OffsetRegressionKind;
  /** The offset this side knew: the position read up to, a pending offset, or the committed offset. */
  readonly known: number;
  /** What Kafka reported instead: a batch's first offset, an end or start offset, the group's offset. */
  readonly reported: number;
}

/**
 * How long the group's committed offset may stay below one whose commit was acknowledged before it
 * counts as a reset. Offsets committed in a transaction become readable only once the transaction's
 * markers are written, a moment after the commit is acknowledged.
 */
export const GROUP_OFFSET_GRACE_MS = 3_000;

export class PartitionOffsets {
  /** Offsets handed to the pipeline and not yet below the commit point, in fetch order. */
  readonly #pending: number[] = [];
  #head = 0;
  readonly #settled = new Set<number>();
  #firstSeen = -1;
  #highestSeen = -1;
  /** The lowest offset the next fetched batch may start at; undefined accepts any. */
  #expectFrom: number | undefined;
  #committable: number | undefined;
  #committed: number | undefined;
  /**
   * The group's committed offset as last known (read from Kafka, or acknowledged to our own commit).
   * Between our own commits only other members' commits move it, and only forward: a lower value
   * means it was reset behind our back.
   */
  #groupFloor = -1;
  /** A commit acknowledged in a transaction, not yet seen in the group (its markers are on the way). */
  #awaited: number | undefined;
  #awaitedBelowSince: number | undefined;
  #halted = false;
  /** Set when the partition is revoked: its results must no longer be committed or published. */
  fenced = false;

  /** Registers a fetched offset; false when it was seen before (a re-fetch after a rebalance). */
  add(offset: number): boolean {
    if (this.#expectFrom === undefined || offset >= this.#expectFrom) this.#expectFrom = offset + 1;
    if (offset <= this.#highestSeen) return false;
    if (this.#firstSeen < 0) this.#firstSeen = offset;
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

  /** The highest offset handed to the pipeline, or -1 before the first. */
  get highestSeen(): number {
    return this.#highestSeen;
  }

  /** The oldest offset still being worked on (it holds the commit point back), if any. */
  get lowestPending(): number | undefined {
    return this.#head < this.#pending.length ? this.#pending[this.#head] : undefined;
  }

  /** The offset to commit now (next offset to read), or undefined when nothing new settled. */
  takeCommit(): number | undefined {
    if (this.#halted) return undefined;
    if (this.#committable === undefined || this.#committable === this.#committed) return undefined;
    return this.#committable;
  }

  /**
   * Records that `offset` was committed. "seen": the group holds it now (a plain commit the
   * coordinator acknowledged; it becomes the floor even if lower, as the group's value is known).
   * "awaited": a transaction holding it committed, and the group shows it once the transaction's
   * markers are written.
   */
  committed(offset: number, visibility: "seen" | "awaited" = "seen"): void {
    if (this.#committed === undefined || offset > this.#committed) this.#committed = offset;
    if (visibility === "seen") {
      this.#groupFloor = offset;
      this.#awaited = undefined;
      this.#awaitedBelowSince = undefined;
    } else if (offset > (this.#awaited ?? this.#groupFloor)) {
      this.#awaited = offset;
    }
  }

  /** True once the partition's offsets went backwards: nothing more may be committed for it. */
  get halted(): boolean {
    return this.#halted;
  }

  /** The partition's offsets can no longer be trusted (they went backwards): commit nothing more. */
  halt(): void {
    this.#halted = true;
  }

  /**
   * The partition was assigned again while this tracker's work continues (a rebalance that kept it,
   * or the consumer restarting after a crash). Fetching starts over from the group's committed
   * offset, which lies at or above the floor returned here, so offsets seen before come again and
   * are skipped; a batch below the floor means the offsets were reset.
   */
  reassigned(): void {
    const floors = [this.#groupFloor, this.#firstSeen].filter((o) => o >= 0);
    this.#expectFrom = floors.length === 0 ? undefined : Math.max(...floors);
  }

  /**
   * Checks a fetched batch before any of it is registered: its first offset against the position
   * reading reached (or, after a reassignment, the committed floor), and the partition's high
   * watermark against the offsets already read.
   */
  checkBatch(firstOffset: number, highWatermark: number): OffsetRegression | undefined {
    if (this.#expectFrom !== undefined && firstOffset < this.#expectFrom) {
      return { kind: "batch_before_position", known: this.#expectFrom, reported: firstOffset };
    }
    return this.checkEnd(highWatermark);
  }

  /**
   * Checks the partition's end offset (the next offset to be written) against the offsets already
   * read: `readUpTo` is the highest offset read when the end offset was asked for (by default now).
   */
  checkEnd(endOffset: number, readUpTo: number = this.#highestSeen): OffsetRegression | undefined {
    if (readUpTo >= 0 && endOffset <= readUpTo) {
      return { kind: "end_below_position", known: readUpTo + 1, reported: endOffset };
    }
    return undefined;
  }

  /** Checks the partition's start offset against the offsets still being worked on. */
  checkStart(startOffset: number): OffsetRegression | undefined {
    const pending = this.lowestPending;
    if (pending !== undefined && startOffset > pending) {
      return { kind: "start_above_pending", known: pending, reported: startOffset };
    }
    return undefined;
  }

  /**
   * Compares the group's committed offset as read from Kafka (negative when there is none) with the
   * offsets known to be committed. Below what the group held before, or below a plain commit it
   * acknowledged, it is a reset (Kafka deletes a deleted topic's committed offsets). Below a
   * transaction's commit it has GROUP_OFFSET_GRACE_MS to show up, and commits wait meanwhile (another
   * commit would overwrite the evidence). Otherwise the value raises the floor.
   */
  checkGroupOffset(groupOffset: number, now: number = Date.now()): OffsetRegression | undefined {
    const reported = groupOffset < 0 ? -1 : groupOffset;
    if (reported < this.#groupFloor) return { kind: "group_offset_reset", known: this.#groupFloor, reported };
    this.#groupFloor = reported;
    if (this.#awaited === undefined) return undefined;
    if (reported >= this.#awaited) {
      this.#awaited = undefined;
      this.#awaitedBelowSince = undefined;
      return undefined;
    }
    this.#awaitedBelowSince ??= now;
    if (now - this.#awaitedBelowSince < GROUP_OFFSET_GRACE_MS) return undefined;
    return { kind: "group_offset_reset", known: this.#awaited, reported };
  }

  /** Whether commits must wait: the group's offset was last seen below a transaction's commit. */
  get commitWithheld(): boolean {
    return this.#awaitedBelowSince !== undefined;
  }
}
