// Collects records for a moment and sends them in one request. The idempotent producer allows one
// request in flight per broker connection (it keeps sequence numbers gapless), so sending each outcome
// on its own would cap throughput at one round trip per outcome; batching keeps that guarantee and
// still moves thousands of outcomes per second.
import type { Message, Producer, TopicMessages } from "kafkajs";

export interface OutboundRecord {
  readonly topic: string;
  readonly message: Message;
}

/** Something that gets a record to Kafka and resolves once the broker has it. */
export interface RecordSender {
  send(record: OutboundRecord): Promise<void>;
}

interface Queued {
  readonly record: OutboundRecord;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class BatchingProducer implements RecordSender {
  readonly #producer: Producer;
  readonly #lingerMs: number;
  readonly #maxBatch: number;
  #queue: Queued[] = [];
  #sending: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(producer: Producer, options: { lingerMs?: number; maxBatch?: number } = {}) {
    this.#producer = producer;
    this.#lingerMs = options.lingerMs ?? 2;
    this.#maxBatch = options.maxBatch ?? 1000;
  }

  /** Resolves once the broker acknowledged the record (acks from all in-sync replicas). */
  send(record: OutboundRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      if (this.#queue.length >= this.#maxBatch) this.#kick();
      else this.#timer ??= setTimeout(() => this.#kick(), this.#lingerMs);
    });
  }

  /** Sends everything queued and waits for it. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#sending !== undefined) {
      this.#kick();
      await this.#sending;
    }
  }

  #kick(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#sending !== undefined || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#sending = this.#sendBatch(batch).finally(() => {
      this.#sending = undefined;
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #sendBatch(batch: Queued[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const { record } of batch) {
      const list = byTopic.get(record.topic);
      if (list === undefined) byTopic.set(record.topic, [record.message]);
      else list.push(record.message);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    try {
      await this.#producer.sendBatch({ topicMessages, acks: -1 });
      for (const q of batch) q.resolve();
    } catch (error) {
      for (const q of batch) q.reject(error);
    }
  }
}
