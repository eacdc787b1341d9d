// The input partitions this member works on. After a (re)join, partitions no longer owned are fenced:
// their results are neither published nor committed. Partitions kept keep their trackers, since their
// work in flight continues; kafkajs fetches them again from the group's committed offset, which the
// trackers expect.
import type { Logger } from "../../src/logger.ts";
import { KafkaPartition } from "./delivery.ts";

export class AssignedPartitions {
  readonly #log: Logger;
  readonly #lanes = new Map<number, KafkaPartition>();
  /** Partitions of the current assignment; undefined until the first join. */
  #owned: ReadonlySet<number> | undefined;
  /** Times this member joined the group. */
  joins = 0;
  /** Set from the start of a rebalance until the next join: commits wait meanwhile. */
  rebalancing = false;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Takes a new assignment; returns the partitions revoked by it (now fenced). */
  assign(partitions: readonly number[]): KafkaPartition[] {
    this.rebalancing = false;
    this.joins += 1;
    const owned = new Set(partitions);
    this.#owned = owned;
    const revoked: KafkaPartition[] = [];
    for (const [partition, lane] of this.#lanes) {
      if (owned.has(partition)) {
        lane.offsets.reassigned();
        continue;
      }
      lane.offsets.fenced = true;
      this.#lanes.delete(partition);
      revoked.push(lane);
    }
    return revoked;
  }

  get owned(): ReadonlySet<number> | undefined {
    return this.#owned;
  }

  /** Whether a batch of this partition may start work (any, before the first join). */
  owns(partition: number): boolean {
    return this.#owned === undefined || this.#owned.has(partition);
  }

  /** The partition's lane, made on its first batch. */
  lane(partition: number): KafkaPartition {
    let lane = this.#lanes.get(partition);
    if (lane === undefined) {
      lane = new KafkaPartition(partition, this.#log);
      this.#lanes.set(partition, lane);
    }
    return lane;
  }

  /** Whether `lane` is still the partition's current lane (not revoked or replaced meanwhile). */
  current(partition: number, lane: KafkaPartition): boolean {
    return this.#lanes.get(partition) === lane && !lane.fenced;
  }

  lanes(): IterableIterator<KafkaPartition> {
    return this.#lanes.values();
  }

  /** Messages fetched and not yet committable, over every owned partition. */
  get pending(): number {
    let pending = 0;
    for (const lane of this.#lanes.values()) pending += lane.pending;
    return pending;
  }
}
