// A Kafka delivery and the partition it came from. The partition is the intake lane: its pending
// count (fetched, not yet below the commit point) decides backpressure, and acking a delivery marks
// its offset settled so the commit point can move past it. A released delivery stays unsettled and
// holds the commit point back, so it is fetched again after a restart or by the partition's next owner.
import type { KafkaMessage } from "kafkajs";
import type { SourceDelivery } from "../../src/intake/index.ts";
import type { Logger } from "../../src/logger.ts";
import { headersToRecord } from "./headers.ts";
import { PartitionOffsets } from "./offset-tracker.ts";

/** Where a consumed message came from; dead letters carry it so they can be traced and replayed. */
export interface KafkaOrigin {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly timestamp: string;
}

/** An assigned partition of the input topic: its offsets tracker, as an intake lane. */
export class KafkaPartition {
  readonly partition: number;
  readonly offsets = new PartitionOffsets();
  readonly log: Logger;

  constructor(partition: number, log: Logger) {
    this.partition = partition;
    this.log = log;
  }

  /** Messages fetched and not yet committable. */
  get pending(): number {
    return this.offsets.inFlight;
  }

  /** Set when the partition was revoked: its results are neither published nor committed. */
  get fenced(): boolean {
    return this.offsets.fenced;
  }
}

export class KafkaDelivery implements SourceDelivery<KafkaPartition, KafkaOrigin> {
  readonly body: Buffer | null;
  readonly headers: Record<string, string>;
  readonly transport = "kafka";
  readonly origin: KafkaOrigin;
  readonly lane: KafkaPartition;
  readonly #offset: number;

  constructor(lane: KafkaPartition, topic: string, m: KafkaMessage, offset: number) {
    this.body = m.value;
    this.headers = headersToRecord(m.headers);
    this.origin = { topic, partition: lane.partition, offset: m.offset, key: m.key, timestamp: m.timestamp };
    this.lane = lane;
    this.#offset = offset;
  }

  ack(): void {
    const lane = this.lane;
    if (!lane.offsets.fenced) {
      lane.offsets.settle(this.#offset);
      return;
    }
    lane.log.debug(
      { partition: lane.partition, offset: this.#offset },
      "result for a revoked partition not committed",
    );
  }

  release(error?: unknown): void {
    // Nothing to do for an abandoned message: its offset stays unsettled. A failure is a bug: the
    // offset stays unsettled too, so the partition commits nothing past it until the message comes back.
    if (error === undefined) return;
    const lane = this.lane;
    lane.log.error(
      { err: error, partition: lane.partition, offset: this.#offset, alert: true },
      "pipeline failed on a message; its partition will not commit past it until a restart",
    );
  }

  fenced(): boolean {
    return this.lane.offsets.fenced;
  }
}
