// The group's committed offsets of the input topic against what this member knows it committed. Kafka
// deletes a deleted topic's committed offsets, so an offset below one acknowledged before means the
// topic was recreated (or the group reset behind our back): it is declared before anything is
// committed, so an old position is never written into a log whose offsets started over.
import type { Admin } from "kafkajs";
import type { KafkaPartition } from "./delivery.ts";
import type { InputState } from "./input-state.ts";

export class GroupOffsetsCheck {
  readonly #s: InputState;

  constructor(state: InputState) {
    this.#s = state;
  }

  /**
   * Reads the group's committed offsets and compares them with what each lane's tracker knows was
   * committed; returns the partitions whose offsets are confirmed. Undefined when the offsets could
   * not be read, or went back (declared).
   */
  async check(lanes: ReadonlyMap<number, KafkaPartition>): Promise<Set<number> | undefined> {
    const s = this.#s;
    const admin = s.admin;
    if (admin === undefined) return undefined;
    let group: Map<number, number>;
    try {
      group = await this.#read(admin);
    } catch (error) {
      s.log.warn({ err: error }, "could not read the group's committed offsets; commits wait");
      return undefined;
    }
    const now = Date.now();
    const confirmed = new Set<number>();
    let unknown = false;
    for (const [partition, lane] of lanes) {
      if (!s.partitions.current(partition, lane)) continue;
      const groupOffset = group.get(partition);
      if (groupOffset === undefined) {
        // A partition the admin client's metadata does not list yet (partitions were added).
        unknown = true;
        continue;
      }
      const regression = lane.offsets.checkGroupOffset(groupOffset, now);
      if (regression !== undefined) {
        s.offsetsWentBack(partition, regression);
        return undefined;
      }
      if (!lane.offsets.commitWithheld) confirmed.add(partition);
    }
    if (unknown) await admin.fetchTopicMetadata({ topics: [s.topic] }).catch(() => undefined);
    return confirmed;
  }

  /** The group's committed offsets of the input topic, by partition (negative: none). */
  async #read(admin: Admin): Promise<Map<number, number>> {
    const [result] = await admin.fetchOffsets({ groupId: this.#s.groupId, topics: [this.#s.topic] });
    const offsets = new Map((result?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    const health = this.#s.health;
    health.answered();
    for (const [partition, offset] of offsets) health.committed(partition, offset);
    return offsets;
  }
}
