// The Kafka side of the relay: a consumer group that hands every message to the pipeline without
// waiting for the previous one, commits only offsets below which everything settled, applies
// backpressure per partition, stops committing and publishing for revoked partitions, and drains with
// a deadline on shutdown. It also stops taking work while the intake gate is closed, and stops the
// process (through onFatal) when the consumer is gone for good or the input offsets went backwards.
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
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  Partitioners,
  type Producer,
} from "kafkajs";
import type { InboundMessage } from "../../schemas/index.ts";
import type { Logger } from "../../src/logger.ts";
import type { IntakeGate } from "../../src/pipeline/fault-gate.ts";
import type { DeliveryContext, MessageResult } from "../../src/pipeline/index.ts";
import { BatchingProducer } from "./batching-producer.ts";
import { headersToRecord } from "./headers.ts";
import { type OffsetRegression, PartitionOffsets } from "./offset-tracker.ts";
import { type KafkaOrigin, KafkaOutcomeSink, type KafkaSinkTopics } from "./sink.ts";
import { ensureTopics } from "./topics.ts";
import { TransactionalBatcher } from "./transactional-batcher.ts";

/** What the relay needs from the pipeline. */
export interface MessageProcessor {
  process(message: InboundMessage, ctx: DeliveryContext): Promise<MessageResult>;
}

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

/** The input offsets went backwards: the topic was recreated or a log truncated under the relay. */
export class InputOffsetsWentBackError extends Error {
  override readonly name = "InputOffsetsWentBackError";
}

/** The kafkajs consumer stopped and will not start again on its own. */
export class ConsumerStoppedError extends Error {
  override readonly name = "ConsumerStoppedError";
}

/**
 * kafkajs emits STOP on its way to reporting a crash, and CRASH a moment later (once its connections
 * are closed). A STOP that this relay did not ask for and no CRASH follows within this time means the
 * consumer is gone.
 */
const UNEXPECTED_STOP_GRACE_MS = 10_000;

export interface KafkaRelayStats {
  /** Times this member joined the group (1 when no rebalance happened since start). */
  readonly groupJoins: number;
  readonly inFlight: number;
  readonly settled: number;
  readonly deadLettered: number;
  readonly lastProgressAt: Date | undefined;
}

export class KafkaRelay {
  readonly #o: KafkaRelayOptions;
  readonly #log: Logger;
  readonly #producer: Producer;
  readonly #consumer: Consumer;
  readonly #batcher: BatchingProducer | undefined;
  readonly #txn: TransactionalBatcher | undefined;
  readonly sink: KafkaOutcomeSink;
  #processor: MessageProcessor | undefined;
  #admin: Admin | undefined;
  readonly #partitions = new Map<number, PartitionOffsets>();
  /** Partitions paused for backpressure. */
  readonly #paused = new Set<number>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  readonly #abort = new AbortController();
  #commitTimer: NodeJS.Timeout | undefined;
  #committing: Promise<void> | undefined;
  /** Offsets the coordinator acknowledged during the commit in progress, by partition. */
  readonly #commitAcks = new Map<number, number>();
  #topicTimer: NodeJS.Timeout | undefined;
  #checkingTopic: Promise<void> | undefined;
  /** Set once the input topic was seen missing: nothing is committed, and its return is a recreation. */
  #topicMissing = false;
  /** Set once the input offsets went backwards: nothing more is committed or taken. */
  #offsetsUntrusted = false;
  #unexpectedStopTimer: NodeJS.Timeout | undefined;
  /** Set once the consumer stopped for good: it left the group, so its offsets are no longer ours. */
  #consumerGone = false;
  #unsubscribeGate: (() => void) | undefined;
  #fatal = false;
  #rebalancing = false;
  #groupJoins = 0;
  /** Partitions of the current assignment; undefined until the first join. */
  #owned: ReadonlySet<number> | undefined;
  #settled = 0;
  #deadLettered = 0;
  #lastProgressAt: Date | undefined;

  constructor(options: KafkaRelayOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: "kafka" });
    // Idempotent (one request in flight keeps the broker's sequence numbers gapless); the default
    // partitioner is named to keep kafkajs from warning about its v2 change.
    const makeProducer = () =>
      options.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
      });
    this.#producer = makeProducer();
    const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
    this.#consumer = options.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout,
      heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
      maxWaitTimeInMs: options.fetchMaxWaitMs ?? 100,
    });
    if (options.transactionalId === undefined) {
      this.#batcher = new BatchingProducer(this.#producer);
      this.sink = new KafkaOutcomeSink(this.#batcher, options.topics, options.outcomeMode);
    } else {
      this.#txn = new TransactionalBatcher(this.#producer, options.groupId, async () => {
        const fresh = makeProducer();
        try {
          await fresh.connect();
        } catch (error) {
          await fresh.disconnect().catch(() => undefined);
          throw error;
        }
        return fresh;
      });
      this.sink = new KafkaOutcomeSink(this.#txn, options.topics, options.outcomeMode);
    }
  }

  get stats(): KafkaRelayStats {
    let inFlight = 0;
    for (const p of this.#partitions.values()) inFlight += p.inFlight;
    return {
      groupJoins: this.#groupJoins,
      inFlight,
      settled: this.#settled,
      deadLettered: this.#deadLettered,
      lastProgressAt: this.#lastProgressAt,
    };
  }

  /** Connects, joins the group and starts consuming; resolves once consumption has started. */
  async start(processor: MessageProcessor): Promise<void> {
    this.#processor = processor;
    const { inputTopic, topics } = this.#o;
    const created = await ensureTopics(
      this.#o.kafka,
      [inputTopic, topics.succeeded, topics.failed, topics.deadLetter],
      this.#o.createTopics ?? false,
    );
    if (created.length > 0) this.#log.warn({ topics: created }, "created missing Kafka topics");
    await this.#producer.connect();
    await this.#consumer.connect();
    // Few retries: a check that fails is simply made again at the next tick or commit.
    const admin = this.#o.kafka.admin({ retry: { retries: 1 } });
    await admin.connect();
    this.#admin = admin;
    const { GROUP_JOIN, REBALANCING, CRASH, STOP, COMMIT_OFFSETS } = this.#consumer.events;
    this.#consumer.on(REBALANCING, () => {
      this.#rebalancing = true;
    });
    this.#consumer.on(GROUP_JOIN, (event) => this.#onAssignment(event.payload.memberAssignment));
    this.#consumer.on(CRASH, (event) => this.#onCrash(event.payload.error, event.payload.restart));
    this.#consumer.on(STOP, () => this.#onStopEvent());
    this.#consumer.on(COMMIT_OFFSETS, (event) => {
      for (const { topic, partitions } of event.payload.topics) {
        if (topic !== inputTopic) continue;
        for (const { partition, offset } of partitions)
          this.#commitAcks.set(partition, Number(String(offset)));
      }
    });
    this.#unsubscribeGate = this.#o.gate?.subscribe((paused) => this.#onGate(paused));
    if (this.#gateClosed())
      this.#log.warn({ topic: inputTopic }, "intake paused from the start: a fault is active");
    await this.#consumer.subscribe({
      topic: this.#o.inputTopic,
      fromBeginning: this.#o.fromBeginning ?? true,
    });
    await this.#consumer.run({
      autoCommit: false,
      // Offsets are resolved by hand, up to the last message handed to the pipeline: messages left in
      // a batch (intake gate closed, stopping) are fetched again instead of being skipped.
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => this.#onBatch(payload),
    });
    this.#commitTimer = setInterval(() => void this.#commit(), this.#o.commitIntervalMs ?? 100);
    this.#topicTimer = setInterval(() => void this.#checkTopic(), this.#o.topicCheckIntervalMs ?? 5_000);
  }

  /**
   * After a (re)join: partitions we no longer own are fenced; their results are neither published nor
   * committed. Partitions we keep keep their trackers, since their work in flight continues; kafkajs
   * fetches them again from the group's committed offset, which the trackers expect.
   */
  #onAssignment(assignment: Record<string, number[]>): void {
    this.#rebalancing = false;
    this.#groupJoins += 1;
    const owned = new Set(assignment[this.#o.inputTopic] ?? []);
    this.#owned = owned;
    for (const [partition, offsets] of this.#partitions) {
      if (owned.has(partition)) {
        offsets.reassigned();
        continue;
      }
      offsets.fenced = true;
      this.#partitions.delete(partition);
      this.#paused.delete(partition);
      this.#log.info(
        { partition },
        "partition revoked; its unsettled messages will be redelivered to the new owner",
      );
    }
    // kafkajs keeps a partition's pause across rebalances (a partition assigned back to us would stay
    // paused with no tracker to resume it) and forgets every pause when it restarts after a crash.
    this.#applyPauses();
    this.#log.info({ partitions: [...owned] }, "partitions assigned");
  }

  /**
   * Pauses or resumes fetching to match the relay's state: nothing is fetched while stopping, while
   * the intake gate is closed or once the offsets are untrusted; otherwise only the partitions held
   * back for backpressure stay paused.
   */
  #applyPauses(): void {
    const topic = this.#o.inputTopic;
    try {
      if (this.#stop.signal.aborted || this.#offsetsUntrusted || this.#gateClosed()) {
        this.#consumer.pause([{ topic }]);
        return;
      }
      this.#consumer.resume([{ topic }]);
      if (this.#paused.size > 0) this.#consumer.pause([{ topic, partitions: [...this.#paused] }]);
    } catch (error) {
      // Between a crash and its restart kafkajs has no group to pause; the next join applies the state.
      this.#log.debug({ err: error }, "consumer not running; pauses are applied when it joins again");
    }
  }

  /** A method, not a field read: the gate changes under the relay's feet (even within one batch). */
  #gateClosed(): boolean {
    return this.#o.gate?.paused === true;
  }

  #onGate(paused: boolean): void {
    if (paused) {
      this.#log.warn(
        { topic: this.#o.inputTopic },
        "intake paused: a fault of the relay's own world is active; work in flight continues",
      );
    } else {
      this.#log.warn({ topic: this.#o.inputTopic }, "intake resumed: the fault cleared");
    }
    this.#applyPauses();
  }

  async #onBatch({ batch, resolveOffset }: EachBatchPayload): Promise<void> {
    const processor = this.#processor;
    if (processor === undefined) return;
    const { partition, topic } = batch;
    // Nothing is handed over and nothing resolved: kafkajs fetches these messages again once the
    // partition is resumed (or a restart reads them from the committed offset).
    if (this.#stop.signal.aborted || this.#offsetsUntrusted) return;
    if (this.#gateClosed()) {
      this.#applyPauses();
      return;
    }
    // A batch for a partition outside the current assignment must not start work: its results would
    // be committed against offsets another member is working on. kafkajs should never deliver one;
    // if it does, say so loudly.
    if (this.#owned !== undefined && !this.#owned.has(partition)) {
      this.#log.error({ partition, alert: true }, "batch for a partition this member does not own ignored");
      return;
    }
    let offsets = this.#partitions.get(partition);
    if (offsets === undefined) {
      offsets = new PartitionOffsets();
      this.#partitions.set(partition, offsets);
    }
    const first = batch.messages[0];
    if (first === undefined) return;
    const regression = offsets.checkBatch(Number(first.offset), Number(batch.highWatermark));
    if (regression !== undefined) {
      this.#offsetsWentBack(partition, regression);
      return;
    }
    let handedOver: string | undefined;
    try {
      for (const m of batch.messages) {
        // Once stopping, or with the gate closed, nothing new starts; what is not taken is not resolved
        // and comes back with a later fetch.
        if (this.#stop.signal.aborted || this.#offsetsUntrusted || this.#gateClosed()) break;
        handedOver = m.offset;
        const offset = Number(m.offset);
        if (!offsets.add(offset)) continue;
        this.#startWork(processor, partition, offsets, {
          message: { body: m.value, headers: headersToRecord(m.headers), transport: "kafka" },
          origin: { topic, partition, offset: m.offset, key: m.key, timestamp: m.timestamp },
        });
      }
    } finally {
      if (handedOver !== undefined) resolveOffset(handedOver);
    }
    if (this.#gateClosed()) this.#applyPauses();
    if (offsets.inFlight >= this.#o.maxInFlightPerPartition && !this.#paused.has(partition)) {
      this.#paused.add(partition);
      this.#applyPauses();
    }
  }

  #startWork(
    processor: MessageProcessor,
    partition: number,
    tracker: PartitionOffsets,
    { message, origin }: { message: InboundMessage; origin: KafkaOrigin },
  ): void {
    const offset = Number(origin.offset);
    this.sink.remember(message, origin);
    const ctx: DeliveryContext = {
      stop: this.#stop.signal,
      abort: this.#abort.signal,
      fenced: () => tracker.fenced,
    };
    let result: Promise<MessageResult>;
    try {
      result = processor.process(message, ctx);
    } catch (error) {
      result = Promise.reject(error);
    }
    const work = result
      .then(
        (r) => this.#onResult(tracker, partition, offset, r),
        (error: unknown) =>
          // The pipeline answers every message; getting here is a bug. The offset stays unsettled, so
          // the partition commits nothing past it until the relay restarts and the message comes back.
          this.#log.error(
            { err: error, partition, offset, alert: true },
            "pipeline failed on a message; its partition will not commit past it until a restart",
          ),
      )
      .finally(() => {
        this.#inFlight.delete(work);
        this.#maybeResume(partition, tracker);
      });
    this.#inFlight.add(work);
  }

  #onResult(tracker: PartitionOffsets, partition: number, offset: number, result: MessageResult): void {
    if (result.status === "abandoned") return;
    this.#settled += 1;
    if (result.status === "dead-lettered") this.#deadLettered += 1;
    this.#lastProgressAt = new Date();
    if (!tracker.fenced) tracker.settle(offset);
    else this.#log.debug({ partition, offset }, "result for a revoked partition not committed");
  }

  #maybeResume(partition: number, tracker: PartitionOffsets): void {
    if (!this.#paused.has(partition) || this.#stop.signal.aborted) return;
    if (tracker.inFlight <= this.#o.maxInFlightPerPartition / 2) {
      this.#paused.delete(partition);
      this.#applyPauses();
    }
  }

  /** kafkajs stopped the consumer. If CRASH does not follow, nothing will restart it. */
  #onStopEvent(): void {
    if (this.#stop.signal.aborted || this.#unexpectedStopTimer !== undefined) return;
    this.#unexpectedStopTimer = setTimeout(() => {
      this.#unexpectedStopTimer = undefined;
      if (this.#stop.signal.aborted) return;
      const error = new ConsumerStoppedError("the Kafka consumer stopped without being asked to");
      this.#consumerGone = true;
      this.#log.fatal({ err: error, alert: true }, "kafka consumer stopped on its own; the relay stops");
      this.#fail(error);
    }, UNEXPECTED_STOP_GRACE_MS);
    this.#unexpectedStopTimer.unref();
  }

  #onCrash(error: Error, restart: boolean): void {
    clearTimeout(this.#unexpectedStopTimer);
    this.#unexpectedStopTimer = undefined;
    if (this.#stop.signal.aborted) {
      this.#log.warn({ err: error }, "kafka consumer crashed while stopping");
      return;
    }
    if (!restart) {
      this.#consumerGone = true;
      this.#log.fatal(
        { err: error, alert: true },
        "kafka consumer crashed and will not restart; nothing more would be consumed, so the relay stops",
      );
      this.#fail(error);
      return;
    }
    this.#log.error({ err: error, restart }, "kafka consumer crashed; kafkajs restarts it");
    if (hasErrorType(error, "UNKNOWN_TOPIC_OR_PARTITION") && !this.#topicMissing) {
      this.#topicMissing = true;
      this.#log.warn(
        { topic: this.#o.inputTopic },
        "the consumer found the input topic or a partition unknown; treating the topic as deleted: nothing is committed, and if it exists again the relay stops",
      );
      void this.#checkTopic();
    }
  }

  /** Calls onFatal once. */
  #fail(error: Error): void {
    if (this.#fatal) return;
    this.#fatal = true;
    this.#o.onFatal?.(error);
  }

  /**
   * The input offsets went backwards: stop committing (for every partition: when a topic was
   * recreated, each of them reuses offsets, and the process is stopping anyway), stop taking work,
   * and stop the relay.
   */
  #offsetsWentBack(partition: number | undefined, regression: OffsetRegression | "recreated"): void {
    if (this.#offsetsUntrusted) return;
    this.#offsetsUntrusted = true;
    for (const tracker of this.#partitions.values()) tracker.halt();
    this.#applyPauses();
    const topic = this.#o.inputTopic;
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
    this.#log.error(
      { ...fields, alert: true },
      `${message}; nothing more is committed and the relay stops, to restart from the group's committed offsets`,
    );
    this.#fail(new InputOffsetsWentBackError(message));
  }

  /** The group's committed offsets of the input topic, by partition (negative: none). */
  async #groupOffsets(admin: Admin): Promise<Map<number, number>> {
    const [result] = await admin.fetchOffsets({ groupId: this.#o.groupId, topics: [this.#o.inputTopic] });
    return new Map((result?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  }

  /**
   * Reads the group's committed offsets and compares them with what each tracker knows was committed;
   * returns the partitions whose offsets are confirmed. Undefined when the offsets could not be read.
   */
  async #checkGroupOffsets(
    trackers: ReadonlyMap<number, PartitionOffsets>,
  ): Promise<Set<number> | undefined> {
    const admin = this.#admin;
    if (admin === undefined) return undefined;
    let group: Map<number, number>;
    try {
      group = await this.#groupOffsets(admin);
    } catch (error) {
      this.#log.warn({ err: error }, "could not read the group's committed offsets; commits wait");
      return undefined;
    }
    const now = Date.now();
    const confirmed = new Set<number>();
    let unknown = false;
    for (const [partition, tracker] of trackers) {
      if (this.#partitions.get(partition) !== tracker || tracker.fenced) continue;
      const groupOffset = group.get(partition);
      if (groupOffset === undefined) {
        // A partition the admin client's metadata does not list yet (partitions were added).
        unknown = true;
        continue;
      }
      const regression = tracker.checkGroupOffset(groupOffset, now);
      if (regression !== undefined) {
        this.#offsetsWentBack(partition, regression);
        return undefined;
      }
      if (!tracker.commitWithheld) confirmed.add(partition);
    }
    if (unknown) await admin.fetchTopicMetadata({ topics: [this.#o.inputTopic] }).catch(() => undefined);
    return confirmed;
  }

  /**
   * Commits every partition whose commit point moved; one commit at a time. In transactional mode the
   * commit is a transaction that also carries the outcomes published since the last one. The group's
   * committed offsets are read first: a commit must never write an old position into a log whose
   * offsets started over.
   */
  #commit(): Promise<void> {
    if (this.#committing !== undefined) return this.#committing;
    if (this.#rebalancing) return Promise.resolve();
    const topic = this.#o.inputTopic;
    const pending = new Map<number, { offset: number; tracker: PartitionOffsets }>();
    if (!this.#offsetsUntrusted && !this.#topicMissing && !this.#consumerGone) {
      for (const [partition, tracker] of this.#partitions) {
        const offset = tracker.takeCommit();
        if (offset !== undefined && !tracker.fenced) pending.set(partition, { offset, tracker });
      }
    }
    const txn = this.#txn;
    if (pending.size === 0 && (txn === undefined || txn.queued === 0)) return Promise.resolve();
    this.#committing = (async () => {
      const confirmed =
        pending.size === 0
          ? new Set<number>()
          : await this.#checkGroupOffsets(new Map([...pending].map(([p, { tracker }]) => [p, tracker])));
      const offsets = [...pending]
        .filter(([partition]) => confirmed?.has(partition) === true && !this.#offsetsUntrusted)
        .map(([partition, { offset, tracker }]) => ({ topic, partition, offset, tracker }));
      if (txn !== undefined) {
        await txn.commit(offsets);
        for (const { offset, tracker } of offsets) tracker.committed(offset, "awaited");
        return;
      }
      if (offsets.length === 0) return;
      this.#commitAcks.clear();
      await this.#consumer.commitOffsets(
        offsets.map(({ partition, offset }) => ({ topic, partition, offset: String(offset) })),
      );
      // kafkajs resolves without committing while it restarts after a crash; only what the
      // coordinator acknowledged counts as committed.
      for (const { partition, offset, tracker } of offsets) {
        if (this.#commitAcks.get(partition) === offset) tracker.committed(offset, "seen");
      }
    })()
      .catch((error: unknown) => {
        if (txn?.fenced === true) {
          this.#log.fatal(
            { err: error, alert: true },
            "another producer with this transactional id took over",
          );
          this.#fail(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        // Typically a rebalance in progress; the next tick commits again (or the new owner redelivers).
        this.#log.warn({ err: error }, "offset commit failed; will retry");
      })
      .finally(() => {
        this.#committing = undefined;
      });
    return this.#committing;
  }

  /**
   * The periodic check of the input topic: that it exists (a topic seen missing that exists again was
   * recreated), that no partition ends below what was read or starts above an offset still in
   * progress, and that the group's committed offsets did not go back.
   */
  #checkTopic(): Promise<void> {
    if (this.#checkingTopic !== undefined) return this.#checkingTopic;
    const admin = this.#admin;
    if (admin === undefined || this.#stop.signal.aborted || this.#offsetsUntrusted) return Promise.resolve();
    const topic = this.#o.inputTopic;
    this.#checkingTopic = (async () => {
      if (!(await admin.listTopics()).includes(topic)) {
        if (!this.#topicMissing) {
          this.#topicMissing = true;
          this.#log.error(
            { topic, alert: true },
            "input topic is missing; nothing is committed, and if it exists again the relay stops",
          );
        }
        return;
      }
      if (this.#topicMissing) {
        this.#offsetsWentBack(undefined, "recreated");
        return;
      }
      // Positions are taken before the offsets are asked for, so a message read meanwhile is not
      // mistaken for one beyond the end.
      const read = [...this.#partitions].map(([partition, tracker]) => ({
        partition,
        tracker,
        readUpTo: tracker.highestSeen,
      }));
      const ends = await admin.fetchTopicOffsets(topic);
      for (const { partition, tracker, readUpTo } of read) {
        if (this.#partitions.get(partition) !== tracker || tracker.fenced) continue;
        const end = ends.find((e) => e.partition === partition);
        if (end === undefined) continue;
        const regression =
          tracker.checkEnd(Number(end.high), readUpTo) ?? tracker.checkStart(Number(end.low));
        if (regression !== undefined) {
          this.#offsetsWentBack(partition, regression);
          return;
        }
      }
      // The group's offsets are read between commits: one acknowledged while they are being read
      // would look like a step back.
      while (this.#committing !== undefined) await this.#committing;
      if (this.#offsetsUntrusted) return;
      const group = this.#checkGroupOffsets(new Map(this.#partitions)).then(() => undefined);
      this.#committing = group.finally(() => {
        this.#committing = undefined;
      });
      await this.#committing;
    })()
      .catch((error: unknown) => {
        this.#log.warn({ err: error, topic }, "input topic check failed; trying again at the next tick");
      })
      .finally(() => {
        this.#checkingTopic = undefined;
      });
    return this.#checkingTopic;
  }

  /**
   * Drains: stops fetching and starting new work, lets work in flight finish until the deadline, then
   * cancels what is left, commits what settled, and leaves the group. Unsettled messages are not
   * committed and will be delivered again.
   */
  async stop(deadlineMs: number): Promise<{ abandoned: number }> {
    if (!this.#stop.signal.aborted) {
      this.#stop.abort();
      this.#applyPauses();
    }
    this.#unsubscribeGate?.();
    clearInterval(this.#topicTimer);
    clearTimeout(this.#unexpectedStopTimer);
    const drained = await waitAll(this.#inFlight, deadlineMs);
    if (!drained) {
      this.#log.warn(
        { inFlight: this.#inFlight.size },
        "drain deadline reached; cancelling Dojo calls in flight",
      );
      this.#abort.abort();
      await waitAll(this.#inFlight, 5_000);
    }
    const abandoned = this.stats.inFlight;
    if (this.#commitTimer !== undefined) clearInterval(this.#commitTimer);
    await this.#checkingTopic;
    await this.#committing;
    await this.#commit();
    await this.#batcher?.flush().catch(() => undefined);
    await this.#consumer.disconnect();
    await this.#admin?.disconnect().catch(() => undefined);
    if (this.#txn !== undefined) await this.#txn.close();
    else await this.#producer.disconnect();
    return { abandoned };
  }
}

function describeRegression(topic: string, partition: number | undefined, r: OffsetRegression): string {
  const where = `input topic ${topic} partition ${partition}`;
  switch (r.kind) {
    case "batch_before_position":
      return `${where}: fetched offset ${r.reported} lies below offset ${r.known}, where reading had reached`;
    case "end_below_position":
      return `${where}: the log ends at offset ${r.reported}, below offset ${r.known}, where reading had reached`;
    case "start_above_pending":
      return `${where}: the log now starts at offset ${r.reported}, above offset ${r.known}, still in progress`;
    case "group_offset_reset":
      return `${where}: the group's committed offset is ${r.reported}, below offset ${r.known}, committed before`;
  }
}

/** Whether a kafkajs error, or one of its causes, has this protocol error type. */
function hasErrorType(error: unknown, type: string): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 10; depth++) {
    if ((e as { type?: unknown }).type === type) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

async function waitAll(set: ReadonlySet<Promise<void>>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (set.size > 0) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, left);
    });
    await Promise.race([Promise.allSettled([...set]), timeout]);
    clearTimeout(timer);
  }
  return true;
}
