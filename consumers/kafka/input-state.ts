// What the Kafka parts share about the input: its topic and group, the assigned partitions, the admin
// client, why nothing may be committed (topic missing, offsets untrusted, consumer gone), and the two
// ways to stop the relay: fail (onFatal, once) and offsetsWentBack.
import type { Admin } from "kafkajs";
import type { Intake } from "../../src/intake/index.ts";
import type { Logger } from "../../src/logger.ts";
import type { KafkaPartition } from "./delivery.ts";
import { KafkaHealth } from "./health.ts";
import type { OffsetRegression } from "./offset-tracker.ts";
import { AssignedPartitions } from "./partitions.ts";
import { describeRegression, InputOffsetsWentBackError } from "./regression.ts";

export class InputState {
  readonly topic: string;
  readonly groupId: string;
  readonly log: Logger;
  readonly partitions: AssignedPartitions;
  /** Group membership, broker answers, crashes and end offsets, for readiness and metrics. */
  readonly health = new KafkaHealth();
  /** Connected at start; the checks wait for it. */
  admin: Admin | undefined;
  /** Set when the source opens. */
  intake: Intake<KafkaPartition> | undefined;
  /** Set once the input topic was seen missing: nothing is committed, and its return is a recreation. */
  topicMissing = false;
  /** Set once the input offsets went backwards: nothing more is committed or taken. */
  offsetsUntrusted = false;
  /** Set once the consumer stopped for good: it left the group, so its offsets are no longer ours. */
  consumerGone = false;
  readonly #onFatal: ((error: unknown) => void) | undefined;
  #fatal = false;

  constructor(o: {
    topic: string;
    groupId: string;
    log: Logger;
    onFatal: ((error: unknown) => void) | undefined;
  }) {
    this.topic = o.topic;
    this.groupId = o.groupId;
    this.log = o.log;
    this.#onFatal = o.onFatal;
    this.partitions = new AssignedPartitions(o.log);
  }

  get stopping(): boolean {
    return this.intake?.stopping === true;
  }

  /** Whether settled offsets may be committed at all. */
  get committable(): boolean {
    return !this.offsetsUntrusted && !this.topicMissing && !this.consumerGone;
  }

  /** Calls onFatal once. */
  fail(error: Error): void {
    if (this.#fatal) return;
    this.#fatal = true;
    this.#onFatal?.(error);
  }

  /**
   * The input offsets went backwards: stop committing (for every partition: when a topic was
   * recreated, each of them reuses offsets, and the process is stopping anyway), stop taking work,
   * and stop the relay.
   */
  offsetsWentBack(partition: number | undefined, regression: OffsetRegression | "recreated"): void {
    if (this.offsetsUntrusted) return;
    this.offsetsUntrusted = true;
    for (const lane of this.partitions.lanes()) lane.offsets.halt();
    this.intake?.halt();
    const topic = this.topic;
    const message =
      regression === "recreated"
        ? `input topic ${topic} was missing and exists again: it was recreated and its offsets start over`
        : describeRegression(topic, partition, regression);
    const fields =
      regression === "recreated"
        ? { topic, reason: "topic_recreated" }
        : {
            topic,
            partition,
            reason: regression.kind,
            knownOffset: regression.known,
            reportedOffset: regression.reported,
          };
    this.log.error(
      { ...fields, alert: true },
      `${message}; nothing more is committed and the relay stops, to restart from the group's committed offsets`,
    );
    this.fail(new InputOffsetsWentBackError(message));
  }
}
