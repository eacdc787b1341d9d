// What readiness and metrics need from the Kafka side: whether the consumer is in its group, when the
// brokers last answered (heartbeats, joins, commits, the periodic topic check), how often the consumer
// crashed after having joined (a crash loop), and how far the group's committed offsets are behind the
// end of each partition this member owns. Everything here is recorded from events and answers the
// relay receives anyway; nothing is asked of the brokers for it.

/** Crashes after a join within this window that make a crash loop. */
export const CRASH_LOOP_WINDOW_MS = 5 * 60_000;
export const CRASH_LOOP_CRASHES = 3;

export interface KafkaHealthSnapshot {
  /** In the group: joined, and not crashed since. */
  readonly joined: boolean;
  /** Crashed since the last join; kafkajs restarts it. */
  readonly restarting: boolean;
  readonly lastError: string | undefined;
  /** When a broker last answered the consumer, its commits or the topic check. */
  readonly brokerAnsweredAt: Date | undefined;
  /** Crashes that followed a join, within CRASH_LOOP_WINDOW_MS. */
  readonly recentCrashes: number;
  /** Every crash since start (restarts that failed included). */
  readonly crashes: number;
}

export class KafkaHealth {
  #joinedAt: number | undefined;
  #crashedAt: number | undefined;
  #lastError: string | undefined;
  #answeredAt: number | undefined;
  #crashes = 0;
  /** Times of crashes that followed a join, oldest first. */
  readonly #loop: number[] = [];
  /** Each partition's end (next offset to be written) and start, as last seen. */
  readonly #ends = new Map<number, { high: number; low: number | undefined }>();
  /** The group's committed offset per partition, as last read or acknowledged (negative: none). */
  readonly #committed = new Map<number, number>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  joined(): void {
    this.#joinedAt = this.#now();
    this.#crashedAt = undefined;
    this.answered();
  }

  crashed(error: Error): void {
    const now = this.#now();
    this.#crashes += 1;
    this.#lastError = error.message;
    // A restart that fails before joining is the same outage, not another turn of a loop.
    if (this.#joinedAt !== undefined && (this.#crashedAt === undefined || this.#crashedAt < this.#joinedAt)) {
      this.#loop.push(now);
    }
    this.#crashedAt = now;
  }

  answered(): void {
    this.#answeredAt = this.#now();
  }

  /** A partition's end offsets, from a fetched batch (high only) or the topic check. */
  end(partition: number, high: number, low?: number): void {
    const known = this.#ends.get(partition);
    this.#ends.set(partition, { high, low: low ?? known?.low });
  }

  committed(partition: number, offset: number): void {
    this.#committed.set(partition, offset);
  }

  get snapshot(): KafkaHealthSnapshot {
    const now = this.#now();
    while (this.#loop.length > 0 && (this.#loop[0] as number) < now - CRASH_LOOP_WINDOW_MS)
      this.#loop.shift();
    const restarting = this.#crashedAt !== undefined;
    return {
      joined: this.#joinedAt !== undefined && !restarting,
      restarting,
      lastError: this.#lastError,
      brokerAnsweredAt: this.#answeredAt === undefined ? undefined : new Date(this.#answeredAt),
      recentCrashes: this.#loop.length,
      crashes: this.#crashes,
    };
  }

  /**
   * Messages between the group's committed offset and the end, per partition of `owned` whose end is
   * known (a partition without a committed offset counts from its start, when known).
   */
  lag(owned: Iterable<number>): Map<number, number> {
    const out = new Map<number, number>();
    for (const partition of owned) {
      const end = this.#ends.get(partition);
      if (end === undefined) continue;
      const committed = this.#committed.get(partition);
      const from = committed !== undefined && committed >= 0 ? committed : end.low;
      if (from === undefined) continue;
      out.set(partition, Math.max(0, end.high - from));
    }
    return out;
  }
}
