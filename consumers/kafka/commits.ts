// Commits every partition whose commit point moved, one commit at a time: plainly through the consumer,
// or in transactional mode as a transaction that also carries the outcomes published since the last
// one. The group's committed offsets are read first: a commit must never write an old position into a
// log whose offsets started over.
import type { Consumer } from "kafkajs";
import type { KafkaPartition } from "./delivery.ts";
import { GroupOffsetsCheck } from "./group-offsets.ts";
import type { InputState } from "./input-state.ts";
import type { TransactionalBatcher } from "./transactional-batcher.ts";

interface CommitPayload {
  readonly topics: ReadonlyArray<{
    readonly topic: string;
    readonly partitions: ReadonlyArray<{ readonly partition: number; readonly offset: unknown }>;
  }>;
}

export class OffsetCommits {
  readonly #s: InputState;
  readonly #consumer: Consumer;
  readonly #txn: TransactionalBatcher | undefined;
  readonly #group: GroupOffsetsCheck;
  #timer: NodeJS.Timeout | undefined;
  /** The commit (or group offsets check) in progress. */
  #running: Promise<void> | undefined;
  /** Offsets the coordinator acknowledged during the commit in progress, by partition. */
  readonly #acks = new Map<number, number>();

  constructor(state: InputState, consumer: Consumer, txn: TransactionalBatcher | undefined) {
    this.#s = state;
    this.#consumer = consumer;
    this.#txn = txn;
    this.#group = new GroupOffsetsCheck(state);
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => void this.commit(), intervalMs);
  }

  stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  /** The commit or group check in progress, if any. */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  /** The consumer's COMMIT_OFFSETS event: what the coordinator acknowledged. */
  acknowledged(payload: CommitPayload): void {
    for (const { topic, partitions } of payload.topics) {
      if (topic !== this.#s.topic) continue;
      for (const { partition, offset } of partitions) {
        const committed = Number(String(offset));
        this.#acks.set(partition, committed);
        this.#s.health.committed(partition, committed);
      }
    }
  }

  /**
   * Runs the group offsets check over every partition between commits (an offset acknowledged while
   * they are being read would look like a step back); commits wait for it.
   */
  async checkGroupBetweenCommits(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
    if (this.#s.offsetsUntrusted) return;
    const lanes = new Map<number, KafkaPartition>();
    for (const lane of this.#s.partitions.lanes()) lanes.set(lane.partition, lane);
    const group = this.#group.check(lanes).then(() => undefined);
    this.#running = group.finally(() => {
      this.#running = undefined;
    });
    await this.#running;
  }

  commit(): Promise<void> {
    if (this.#running !== undefined) return this.#running;
    const s = this.#s;
    if (s.partitions.rebalancing) return Promise.resolve();
    const topic = s.topic;
    const pending = new Map<number, { offset: number; lane: KafkaPartition }>();
    if (s.committable) {
      for (const lane of s.partitions.lanes()) {
        const offset = lane.offsets.takeCommit();
        if (offset !== undefined && !lane.fenced) pending.set(lane.partition, { offset, lane });
      }
    }
    const txn = this.#txn;
    if (pending.size === 0 && (txn === undefined || txn.queued === 0)) return Promise.resolve();
    this.#running = (async () => {
      const confirmed =
        pending.size === 0
          ? new Set<number>()
          : await this.#group.check(new Map([...pending].map(([p, { lane }]) => [p, lane])));
      const offsets = [...pending]
        .filter(([partition]) => confirmed?.has(partition) === true && !s.offsetsUntrusted)
        .map(([partition, { offset, lane }]) => ({ topic, partition, offset, lane }));
      if (txn !== undefined) {
        await txn.commit(offsets);
        for (const { offset, lane } of offsets) lane.offsets.committed(offset, "awaited");
        return;
      }
      if (offsets.length === 0) return;
      this.#acks.clear();
      await this.#consumer.commitOffsets(
        offsets.map(({ partition, offset }) => ({ topic, partition, offset: String(offset) })),
      );
      // kafkajs resolves without committing while it restarts after a crash; only what the
      // coordinator acknowledged counts as committed.
      for (const { partition, offset, lane } of offsets) {
        if (this.#acks.get(partition) === offset) lane.offsets.committed(offset, "seen");
      }
    })()
      .catch((error: unknown) => {
        if (txn?.fenced === true) {
          s.log.fatal({ err: error, alert: true }, "another producer with this transactional id took over");
          s.fail(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        // Typically a rebalance in progress; the next tick commits again (or the new owner redelivers).
        s.log.warn({ err: error }, "offset commit failed; will retry");
      })
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }
}
