// The relay over Kafka: the transport-free intake runner (src/intake/) fed by a Kafka consumer group,
// with outcomes and dead letters published to Kafka. The runner holds what every transport needs (the
// in-flight limit, pausing while the intake gate is closed, the drain with a deadline, progress
// stats); this side holds what is Kafka's:
//   - source.ts: batches to deliveries, partition pauses, offsets resolved by hand;
//   - partitions.ts, delivery.ts: the assignment, each partition's offsets tracker as an intake lane;
//   - commits.ts, group-offsets.ts: commits only offsets below which everything settled, one at a
//     time, in transactions with the outcomes in transactional mode (outputs.ts);
//   - recreation.ts, input-state.ts: offsets that go backwards (below);
//   - crash.ts: a consumer kafkajs gave up on stops the process (through onFatal).
//
// Offsets that go backwards (the input topic deleted and recreated, a log truncated under the
// position already read) would otherwise skip events silently: kafkajs either keeps reading the new
// log from the old position, or resets to the earliest offset, where the tracker would take the reused
// offsets for messages seen before; and a commit of an old position into the new log would make every
// later start skip what lies below it. The relay looks for it in four places:
//   - every batch: its first offset must not lie below the position reading had reached (after a
//     (re)assignment, below the group's committed offset), and the partition's high watermark must not
//     lie below what was read;
//   - before every commit: the group's committed offsets must not lie below what was committed before
//     (Kafka deletes a deleted topic's committed offsets), so an old position is never written into a
//     recreated topic;
//   - every topicCheckIntervalMs: the topic must exist, no partition may end below what was read or
//     start above an offset still in progress, and the group's offsets are checked as above; a topic
//     once seen missing (or reported unknown by a consumer crash) that exists again was recreated;
//   - consumer crashes that name an unknown topic or partition count as seeing the topic missing.
// When one fires, nothing more is committed, intake stops, and onFatal is called: the process drains
// and exits, and the next start resumes from the group's committed offsets (for a recreated topic,
// none, so from the KAFKA_FROM_BEGINNING position); the ledger answers events it already knows.
//
// Limits: only the group's offsets cannot be outrun, and they only help for a partition whose
// committed offset this relay has read or had acknowledged. A topic recreated within a commit interval
// of a partition's first message (nothing committed for it yet), whose new log already reaches past
// the old position, is read on from there. Kafka removes a deleted topic's group offsets a moment
// after the deletion; a recreation and a commit inside that moment go unseen. A transaction's offsets
// show in the group only once its markers are written, so in transactional mode a reset is declared
// GROUP_OFFSET_GRACE_MS later (the partition's commits wait meanwhile). Forward jumps (kafkajs resetting
// to the earliest offset after retention removed unread events) are not reported: compaction and
// transaction markers make gaps normal. A high watermark briefly reported low by a new partition
// leader, or (transactional mode) a commit from a member already dropped from the group, can stop the
// relay needlessly: that costs a restart, never a refund.
import type { Kafka } from "kafkajs";
import { IntakeRunner, type MessageProcessor } from "../../src/intake/index.ts";
import type { Logger } from "../../src/logger.ts";
import type { IntakeGate } from "../../src/pipeline/fault-gate.ts";
import type { KafkaPartition } from "./delivery.ts";
import type { KafkaHealthSnapshot } from "./health.ts";
import { InputState } from "./input-state.ts";
import { KafkaOutputs } from "./outputs.ts";
import type { KafkaOutcomeSink, KafkaSinkTopics } from "./sink.ts";
import { KafkaSource } from "./source.ts";
import { ensureTopics } from "./topics.ts";

export type { MessageProcessor } from "../../src/intake/index.ts";
export { ConsumerStoppedError } from "./crash.ts";
export type { KafkaHealthSnapshot } from "./health.ts";
export { InputOffsetsWentBackError } from "./regression.ts";

export interface KafkaRelayOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly inputTopic: string;
  readonly topics: KafkaSinkTopics;
  readonly outcomeMode: "structured" | "binary";
  /** Messages per partition fetched and not yet settled before the partition is paused. */
  readonly maxInFlightPerPartition: number;
  readonly sessionTimeoutMs?: number;
  /**
   * Longest wait of one fetch for new data (default 100 ms). kafkajs also sleeps this long whenever none
   * of a broker's assigned partitions can be fetched (all paused for backpressure), so a long wait would
   * stall a resumed partition for that time.
   */
  readonly fetchMaxWaitMs?: number;
  /**
   * Called when the relay can no longer work: its transactional producer was fenced, the consumer
   * stopped for good, or the input offsets went backwards. The process should drain and exit non-zero.
   */
  readonly onFatal?: (error: unknown) => void;
  /**
   * While `paused`, no new work is taken: every input partition is paused and fetched messages are
   * left for a later fetch. Work already in flight continues.
   */
  readonly gate?: IntakeGate;
  /** How often the input topic and its offsets are checked for deletion or truncation (default 5000). */
  readonly topicCheckIntervalMs?: number;
  /** Create missing topics at start instead of refusing to start (default false). */
  readonly createTopics?: boolean;
  /** When set, outcomes and offset commits go to Kafka together in transactions with this id. */
  readonly transactionalId?: string;
  readonly logger: Logger;
  readonly commitIntervalMs?: number;
  /** Start from the earliest offset when the group has no committed offset (default true). */
  readonly fromBeginning?: boolean;
}

export interface KafkaRelayStats {
  /** Times this member joined the group (1 when no rebalance happened since start). */
  readonly groupJoins: number;
  /** Messages fetched and not yet committable (settled behind a message still in progress count). */
  readonly inFlight: number;
  readonly settled: number;
  readonly deadLettered: number;
  readonly lastProgressAt: Date | undefined;
}

export class KafkaRelay {
  readonly #o: KafkaRelayOptions;
  readonly #log: Logger;
  readonly #state: InputState;
  readonly #outputs: KafkaOutputs;
  readonly #source: KafkaSource;
  readonly #runner: IntakeRunner<KafkaPartition>;
  readonly sink: KafkaOutcomeSink;

  constructor(options: KafkaRelayOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: "kafka" });
    this.#state = new InputState({
      topic: options.inputTopic,
      groupId: options.groupId,
      log: this.#log,
      onFatal: options.onFatal,
    });
    this.#outputs = new KafkaOutputs(options);
    this.sink = this.#outputs.sink;
    this.#source = new KafkaSource(options, this.#state, this.#outputs);
    this.#runner = new IntakeRunner(this.#source, {
      maxInFlightPerLane: options.maxInFlightPerPartition,
      ...(options.gate === undefined ? {} : { gate: options.gate }),
      logger: this.#log,
      logFields: { topic: options.inputTopic },
    });
  }

  get stats(): KafkaRelayStats {
    const progress = this.#runner.stats;
    return {
      groupJoins: this.#state.partitions.joins,
      inFlight: this.#source.pending,
      settled: progress.settled,
      deadLettered: progress.deadLettered,
      lastProgressAt: progress.lastProgressAt,
    };
  }

  /**
   * Whether the consumer is in its group and the brokers answer, and its crashes; plus why the relay
   * can no longer consume (offsets untrusted, topic missing, consumer gone), for readiness.
   */
  get health(): KafkaHealthSnapshot & {
    readonly gone: boolean;
    readonly offsetsUntrusted: boolean;
    readonly topicMissing: boolean;
  } {
    const s = this.#state;
    return {
      ...s.health.snapshot,
      gone: s.consumerGone,
      offsetsUntrusted: s.offsetsUntrusted,
      topicMissing: s.topicMissing,
    };
  }

  /**
   * Consumer lag per partition this member owns: messages between the group's committed offset and
   * the partition's end, as last seen (by fetches, commits and the topic check every
   * topicCheckIntervalMs). Partitions not seen yet are left out.
   */
  lag(): Map<number, number> {
    return this.#state.health.lag(this.#state.partitions.owned ?? []);
  }

  /** Connects, joins the group and starts consuming; resolves once consumption has started. */
  async start(processor: MessageProcessor): Promise<void> {
    const { inputTopic, topics } = this.#o;
    const created = await ensureTopics(
      this.#o.kafka,
      [inputTopic, topics.succeeded, topics.failed, topics.deadLetter],
      this.#o.createTopics ?? false,
    );
    if (created.length > 0) this.#log.warn({ topics: created }, "created missing Kafka topics");
    await this.#outputs.connect();
    await this.#runner.start(processor);
  }

  /**
   * Drains: stops fetching and starting new work, lets work in flight finish until the deadline, then
   * cancels what is left, commits what settled, and leaves the group. Unsettled messages are not
   * committed and will be delivered again.
   */
  stop(deadlineMs: number): Promise<{ abandoned: number }> {
    return this.#runner.stop(deadlineMs);
  }
}
