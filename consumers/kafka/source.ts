// The Kafka consumer as an intake source: a consumer group whose batches become deliveries, one per
// message, handed to the intake runner without waiting for the one before. Offsets are resolved by
// hand, up to the last message handed over: messages left in a batch (intake closed) are fetched
// again instead of being skipped. Pausing maps to kafkajs' partition pauses; acknowledging to offset
// commits (commits.ts), which stop when the input offsets can no longer be trusted (recreation.ts,
// crash.ts).
import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { heapShortfall } from "../../src/heap-limits.ts";
import type { Intake, IntakeSource } from "../../src/intake/index.ts";
import { OffsetCommits } from "./commits.ts";
import { CrashWatch } from "./crash.ts";
import { KafkaDelivery, type KafkaPartition } from "./delivery.ts";
import type { InputState } from "./input-state.ts";
import type { KafkaOutputs } from "./outputs.ts";
import { TopicWatch } from "./recreation.ts";

/**
 * Bytes a fetch may return per partition (kafkajs defaults to 1 MiB, with 10 MiB per fetch), sized to
 * the partition's in-flight limit: 256 bytes per message of the limit, about what a resumed partition
 * has room for (half the limit) with events of up to 512 bytes. Messages a full partition does not take
 * are fetched again, so a larger fetch is read and decoded for nothing, and held in memory meanwhile.
 * Kafka still returns a record batch larger than this (one per fetch), so large events still flow.
 */
export function fetchBytesPerPartition(maxInFlightPerPartition: number): number {
  return Math.min(1_048_576, Math.max(16_384, maxInFlightPerPartition * 256));
}

export interface KafkaSourceOptions {
  readonly kafka: Kafka;
  /** A partition's fetched and unsettled messages at which it is paused; also sizes its fetches. */
  readonly maxInFlightPerPartition: number;
  readonly sessionTimeoutMs?: number;
  readonly fetchMaxWaitMs?: number;
  readonly fromBeginning?: boolean;
  readonly commitIntervalMs?: number;
  readonly topicCheckIntervalMs?: number;
}

export class KafkaSource implements IntakeSource<KafkaPartition> {
  readonly #o: KafkaSourceOptions;
  readonly #s: InputState;
  readonly #outputs: KafkaOutputs;
  readonly #consumer: Consumer;
  readonly #commits: OffsetCommits;
  readonly #topic: TopicWatch;
  readonly #crash: CrashWatch;
  /** The most events an assignment let this instance hold that the heap check has looked at. */
  #heapCheckedFor = 0;

  constructor(options: KafkaSourceOptions, state: InputState, outputs: KafkaOutputs) {
    this.#o = options;
    this.#s = state;
    this.#outputs = outputs;
    const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
    this.#consumer = options.kafka.consumer({
      groupId: state.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout,
      heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
      maxWaitTimeInMs: options.fetchMaxWaitMs ?? 100,
      maxBytesPerPartition: fetchBytesPerPartition(options.maxInFlightPerPartition),
    });
    this.#commits = new OffsetCommits(state, this.#consumer, outputs.txn);
    this.#topic = new TopicWatch(state, this.#commits);
    this.#crash = new CrashWatch(state, this.#topic);
  }

  get pending(): number {
    return this.#s.partitions.pending;
  }

  async open(intake: Intake<KafkaPartition>): Promise<void> {
    const s = this.#s;
    s.intake = intake;
    await this.#consumer.connect();
    // Few retries: a check that fails is simply made again at the next tick or commit.
    const admin = this.#o.kafka.admin({ retry: { retries: 1 } });
    await admin.connect();
    s.admin = admin;
    const consumer = this.#consumer;
    const { GROUP_JOIN, REBALANCING, CRASH, STOP, COMMIT_OFFSETS, HEARTBEAT } = consumer.events;
    consumer.on(REBALANCING, () => {
      s.partitions.rebalancing = true;
      // Kafka told a heartbeat that the group rebalances: the coordinator answered.
      s.health.answered();
    });
    consumer.on(GROUP_JOIN, (event) => {
      s.health.joined();
      this.#onAssignment(intake, event.payload.memberAssignment);
    });
    consumer.on(HEARTBEAT, () => s.health.answered());
    consumer.on(CRASH, (event) => {
      s.health.crashed(event.payload.error);
      this.#crash.crashed(event.payload.error, event.payload.restart);
    });
    consumer.on(STOP, () => this.#crash.stopped());
    consumer.on(COMMIT_OFFSETS, (event) => {
      s.health.answered();
      this.#commits.acknowledged(event.payload);
    });
    await consumer.subscribe({ topic: s.topic, fromBeginning: this.#o.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => this.#onBatch(intake, payload),
    });
    this.#commits.start(this.#o.commitIntervalMs ?? 100);
    this.#topic.start(this.#o.topicCheckIntervalMs ?? 5_000);
  }

  pause(): void {
    try {
      this.#consumer.pause([{ topic: this.#s.topic }]);
    } catch (error) {
      this.#notRunning(error);
    }
  }

  resume(heldBack: ReadonlySet<KafkaPartition>): void {
    const topic = this.#s.topic;
    try {
      this.#consumer.resume([{ topic }]);
      if (heldBack.size > 0) {
        this.#consumer.pause([{ topic, partitions: [...heldBack].map((lane) => lane.partition) }]);
      }
    } catch (error) {
      this.#notRunning(error);
    }
  }

  quiesce(): void {
    this.#topic.stopTimer();
    this.#crash.quiesce();
  }

  /** Commits what settled, then leaves the group. Unsettled messages will be delivered again. */
  async close(): Promise<void> {
    this.#commits.stopTimer();
    await this.#topic.running;
    await this.#commits.running;
    await this.#commits.commit();
    await this.#outputs.flush();
    await this.#consumer.disconnect();
    await this.#s.admin?.disconnect().catch(() => undefined);
    await this.#outputs.close();
  }

  /** Between a crash and its restart kafkajs has no group to pause; the next join applies the state. */
  #notRunning(error: unknown): void {
    this.#s.log.debug({ err: error }, "consumer not running; pauses are applied when it joins again");
  }

  #onAssignment(intake: Intake<KafkaPartition>, assignment: Record<string, number[]>): void {
    const partitions = this.#s.partitions;
    for (const lane of partitions.assign(assignment[this.#s.topic] ?? [])) {
      intake.forget(lane);
      this.#s.log.info(
        { partition: lane.partition },
        "partition revoked; its unsettled messages will be redelivered to the new owner",
      );
    }
    // kafkajs keeps a partition's pause across rebalances (a partition assigned back to us would stay
    // paused with no tracker to resume it) and forgets every pause when it restarts after a crash.
    intake.repause();
    this.#s.log.info({ partitions: [...(partitions.owned ?? [])] }, "partitions assigned");
    this.#checkHeap(partitions.owned?.size ?? 0);
  }

  /** Warns, once per larger assignment, when this instance may hold more than its heap is sized for. */
  #checkHeap(owned: number): void {
    const held = owned * this.#o.maxInFlightPerPartition;
    if (held <= this.#heapCheckedFor) return;
    this.#heapCheckedFor = held;
    const short = heapShortfall(
      held,
      `${owned} partitions x KAFKA_MAX_IN_FLIGHT_PER_PARTITION ${this.#o.maxInFlightPerPartition}`,
      "lower KAFKA_MAX_IN_FLIGHT_PER_PARTITION",
    );
    if (short !== undefined) this.#s.log.warn({ partitions: owned, ...short.fields }, short.message);
  }

  async #onBatch(intake: Intake<KafkaPartition>, { batch, resolveOffset }: EachBatchPayload): Promise<void> {
    const s = this.#s;
    const { partition, topic } = batch;
    // Nothing is handed over and nothing resolved: kafkajs fetches these messages again once the
    // partition is resumed (or a restart reads them from the committed offset).
    if (intake.stopping || s.offsetsUntrusted) return;
    if (!intake.accepting) {
      intake.repause();
      return;
    }
    // A batch for a partition outside the current assignment must not start work: its results would
    // be committed against offsets another member is working on. kafkajs should never deliver one;
    // if it does, say so loudly.
    if (!s.partitions.owns(partition)) {
      s.log.error({ partition, alert: true }, "batch for a partition this member does not own ignored");
      return;
    }
    const lane = s.partitions.lane(partition);
    s.health.end(partition, Number(batch.highWatermark));
    const first = batch.messages[0];
    if (first === undefined) return;
    const regression = lane.offsets.checkBatch(Number(first.offset), Number(batch.highWatermark));
    if (regression !== undefined) {
      s.offsetsWentBack(partition, regression);
      return;
    }
    let handedOver: string | undefined;
    try {
      for (const m of batch.messages) {
        // Once stopping, with the gate closed, or with the partition at its in-flight limit, nothing new
        // starts; what is not taken is not resolved and comes back with a later fetch (for a full
        // partition, once it drained to half the limit and was resumed).
        if (!intake.accepting || intake.full(lane)) break;
        handedOver = m.offset;
        const offset = Number(m.offset);
        if (!lane.offsets.add(offset)) continue;
        intake.take(new KafkaDelivery(lane, topic, m, offset));
      }
    } finally {
      if (handedOver !== undefined) resolveOffset(handedOver);
    }
    intake.taken(lane);
  }
}
