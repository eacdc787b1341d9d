// Transactional mode: the outcomes and dead letters published since the last commit and the input
// offsets settled since then go to Kafka in one transaction. Readers with isolation read_committed see
// an outcome only together with the offset commits made alongside it, which removes most duplicate
// outcome events after a crash. It does not (and need not) protect against a second refund: the ledger
// and Dojo's idempotency key do that.
import type { Producer, TopicMessages } from "kafkajs";
import type { OutboundRecord, RecordSender } from "./batching-producer.ts";

interface Queued {
  readonly record: OutboundRecord;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export interface PartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/**
 * Another producer with the same transactional id took over: this one must stop, not reconnect (a
 * fresh producer would fence the other one in turn).
 */
export function isFencingError(error: unknown): boolean {
  const type = (error as { type?: unknown } | null)?.type;
  return type === "INVALID_PRODUCER_EPOCH" || type === "PRODUCER_FENCED";
}

export class TransactionalBatcher implements RecordSender {
  #producer: Producer;
  readonly #groupId: string;
  readonly #replace: () => Promise<Producer>;
  #queue: Queued[] = [];
  #closed = false;
  #fenced: unknown;

  /**
   * `replace` makes and connects a fresh transactional producer. It is used after a failed
   * transaction, because a failed commit can leave kafkajs' transaction state where no further
   * transaction can start; the new producer's registration fences the old one at the broker.
   */
  constructor(producer: Producer, consumerGroupId: string, replace: () => Promise<Producer>) {
    this.#producer = producer;
    this.#groupId = consumerGroupId;
    this.#replace = replace;
  }

  /** Resolves once the transaction holding the record committed. */
  send(record: OutboundRecord): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("the transactional producer is closed"));
    if (this.#fenced !== undefined) return Promise.reject(this.#fenced);
    return new Promise((resolve, reject) => this.#queue.push({ record, resolve, reject }));
  }

  /** Set once another producer with the same transactional id fenced this one. */
  get fenced(): boolean {
    return this.#fenced !== undefined;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Commits one transaction with every queued record and the given offsets. On any failure the
   * records' senders are told (the pipeline publishes them again), the offsets stay uncommitted, the
   * producer is replaced, and the error is rethrown.
   */
  async commit(offsets: readonly PartitionOffset[]): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0 && offsets.length === 0) return;
    if (this.#fenced !== undefined) {
      for (const q of batch) q.reject(this.#fenced);
      throw this.#fenced;
    }
    try {
      await this.#run(batch, offsets);
    } catch (error) {
      for (const q of batch) q.reject(error);
      if (isFencingError(error)) this.#fenced = error;
      else if (!this.#closed) await this.#replaceProducer();
      throw error;
    }
    for (const q of batch) q.resolve();
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const q of this.#queue.splice(0)) q.reject(new Error("the producer is closing"));
    await this.#producer.disconnect();
  }

  async #run(batch: readonly Queued[], offsets: readonly PartitionOffset[]): Promise<void> {
    const txn = await this.#producer.transaction();
    try {
      if (batch.length > 0) {
        const byTopic = new Map<string, TopicMessages>();
        for (const { record } of batch) {
          const entry = byTopic.get(record.topic) ?? { topic: record.topic, messages: [] };
          entry.messages.push(record.message);
          byTopic.set(record.topic, entry);
        }
        await txn.sendBatch({ topicMessages: [...byTopic.values()], acks: -1 });
      }
      if (offsets.length > 0) {
        const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
        for (const o of offsets) {
          const list = byTopic.get(o.topic) ?? [];
          list.push({ partition: o.partition, offset: String(o.offset) });
          byTopic.set(o.topic, list);
        }
        await txn.sendOffsets({
          consumerGroupId: this.#groupId,
          topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
        });
      }
      await txn.commit();
    } catch (error) {
      await txn.abort().catch(() => undefined);
      throw error;
    }
  }

  async #replaceProducer(): Promise<void> {
    const old = this.#producer;
    await old.disconnect().catch(() => undefined);
    // If this fails too, the next commit fails on the disconnected producer and tries again; the
    // factory disconnects a producer whose connect failed.
    this.#producer = await this.#replace().catch(() => old);
  }
}
