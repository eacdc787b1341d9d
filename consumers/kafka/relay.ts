// The Kafka side of the relay: a consumer group that hands every message to the pipeline without
// waiting for the previous one, commits only offsets below which everything settled, applies
// backpressure per partition, stops committing and publishing for revoked partitions, and drains with
// a deadline on shutdown.
import { type Consumer, type EachBatchPayload, type Kafka, Partitioners, type Producer } from "kafkajs";
import type { InboundMessage } from "../../schemas/index.ts";
import type { Logger } from "../../src/logger.ts";
import type { DeliveryContext, MessageResult } from "../../src/pipeline/index.ts";
import { BatchingProducer } from "./batching-producer.ts";
import { headersToRecord } from "./headers.ts";
import { PartitionOffsets } from "./offset-tracker.ts";
import { KafkaOutcomeSink, type KafkaSinkTopics } from "./sink.ts";
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
  /** Called when the relay can no longer work (its transactional producer was fenced); it should stop. */
  readonly onFatal?: (error: unknown) => void;
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
  readonly #partitions = new Map<number, PartitionOffsets>();
  readonly #paused = new Set<number>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  readonly #abort = new AbortController();
  #commitTimer: NodeJS.Timeout | undefined;
  #committing: Promise<void> | undefined;
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
    const { GROUP_JOIN, REBALANCING, CRASH } = this.#consumer.events;
    this.#consumer.on(REBALANCING, () => {
      this.#rebalancing = true;
    });
    this.#consumer.on(GROUP_JOIN, (event) => this.#onAssignment(event.payload.memberAssignment));
    this.#consumer.on(CRASH, (event) => {
      this.#log.error({ err: event.payload.error, restart: event.payload.restart }, "kafka consumer crashed");
    });
    await this.#consumer.subscribe({
      topic: this.#o.inputTopic,
      fromBeginning: this.#o.fromBeginning ?? true,
    });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async (payload) => this.#onBatch(payload),
    });
    this.#commitTimer = setInterval(() => void this.#commit(), this.#o.commitIntervalMs ?? 100);
  }

  /** After a rebalance: partitions we no longer own are fenced; their results are neither published nor committed. */
  #onAssignment(assignment: Record<string, number[]>): void {
    this.#rebalancing = false;
    this.#groupJoins += 1;
    const owned = new Set(assignment[this.#o.inputTopic] ?? []);
    this.#owned = owned;
    for (const [partition, offsets] of this.#partitions) {
      if (owned.has(partition)) continue;
      offsets.fenced = true;
      this.#partitions.delete(partition);
      if (this.#paused.delete(partition) && !this.#stop.signal.aborted) {
        // kafkajs keeps a partition's pause across rebalances: were it ever assigned back to us, it
        // would otherwise stay paused with no tracker to resume it.
        this.#consumer.resume([{ topic: this.#o.inputTopic, partitions: [partition] }]);
      }
      this.#log.info(
        { partition },
        "partition revoked; its unsettled messages will be redelivered to the new owner",
      );
    }
    this.#log.info({ partitions: [...owned] }, "partitions assigned");
  }

  async #onBatch({ batch }: EachBatchPayload): Promise<void> {
    const processor = this.#processor;
    if (processor === undefined) return;
    const { partition, topic } = batch;
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
    for (const m of batch.messages) {
      // Once stopping, nothing new starts; what is not taken is not committed and comes back later.
      if (this.#stop.signal.aborted) return;
      const offset = Number(m.offset);
      if (!offsets.add(offset)) continue;
      const message: InboundMessage = {
        body: m.value,
        headers: headersToRecord(m.headers),
        transport: "kafka",
      };
      this.sink.remember(message, { topic, partition, offset: m.offset, key: m.key, timestamp: m.timestamp });
      const tracker = offsets;
      const ctx: DeliveryContext = {
        stop: this.#stop.signal,
        abort: this.#abort.signal,
        fenced: () => tracker.fenced,
      };
      const work = processor
        .process(message, ctx)
        .then(
          (result) => this.#onResult(tracker, partition, offset, result),
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
    if (offsets.inFlight >= this.#o.maxInFlightPerPartition && !this.#paused.has(partition)) {
      this.#paused.add(partition);
      this.#consumer.pause([{ topic, partitions: [partition] }]);
    }
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
      this.#consumer.resume([{ topic: this.#o.inputTopic, partitions: [partition] }]);
    }
  }

  /**
   * Commits every partition whose commit point moved; one commit at a time. In transactional mode the
   * commit is a transaction that also carries the outcomes published since the last one.
   */
  #commit(): Promise<void> {
    if (this.#committing !== undefined) return this.#committing;
    if (this.#rebalancing) return Promise.resolve();
    const topic = this.#o.inputTopic;
    const pending: Array<{ topic: string; partition: number; offset: number; tracker: PartitionOffsets }> =
      [];
    for (const [partition, tracker] of this.#partitions) {
      const offset = tracker.takeCommit();
      if (offset !== undefined && !tracker.fenced) pending.push({ topic, partition, offset, tracker });
    }
    const txn = this.#txn;
    if (pending.length === 0 && (txn === undefined || txn.queued === 0)) return Promise.resolve();
    const request =
      txn !== undefined
        ? txn.commit(pending)
        : this.#consumer.commitOffsets(
            pending.map(({ partition, offset }) => ({ topic, partition, offset: String(offset) })),
          );
    this.#committing = request
      .then(() => {
        for (const { offset, tracker } of pending) tracker.committed(offset);
      })
      .catch((error: unknown) => {
        if (txn?.fenced === true) {
          this.#log.fatal(
            { err: error, alert: true },
            "another producer with this transactional id took over",
          );
          this.#o.onFatal?.(error);
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
   * Drains: stops fetching and starting new work, lets work in flight finish until the deadline, then
   * cancels what is left, commits what settled, and leaves the group. Unsettled messages are not
   * committed and will be delivered again.
   */
  async stop(deadlineMs: number): Promise<{ abandoned: number }> {
    if (!this.#stop.signal.aborted) {
      this.#stop.abort();
      this.#consumer.pause([{ topic: this.#o.inputTopic }]);
    }
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
    await this.#committing;
    await this.#commit();
    await this.#batcher?.flush().catch(() => undefined);
    await this.#consumer.disconnect();
    if (this.#txn !== undefined) await this.#txn.close();
    else await this.#producer.disconnect();
    return { abandoned };
  }
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
