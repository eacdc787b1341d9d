// The relay's Kafka producer and the outcome sink over it: an idempotent producer whose records are
// batched, or, with a transactional id, one whose records go out in the offset commits' transactions.
import type { Kafka, Producer } from "kafkajs";
import { BatchingProducer } from "./batching-producer.ts";
import { KeyHashPartitioner } from "./partitioner.ts";
import { KafkaOutcomeSink, type KafkaSinkTopics } from "./sink.ts";
import { TransactionalBatcher } from "./transactional-batcher.ts";

export interface KafkaOutputsOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topics: KafkaSinkTopics;
  readonly outcomeMode: "structured" | "binary";
  readonly transactionalId?: string;
}

export class KafkaOutputs {
  readonly sink: KafkaOutcomeSink;
  /** Set in transactional mode: offset commits go through it, with the records queued since the last. */
  readonly txn: TransactionalBatcher | undefined;
  readonly #producer: Producer;
  readonly #batcher: BatchingProducer | undefined;

  constructor(o: KafkaOutputsOptions) {
    // Idempotent (one request in flight keeps the broker's sequence numbers gapless). The partitioner
    // places records as kafkajs's DefaultPartitioner does, at less cost (see partitioner.ts).
    const makeProducer = () =>
      o.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: KeyHashPartitioner,
        ...(o.transactionalId === undefined ? {} : { transactionalId: o.transactionalId }),
      });
    this.#producer = makeProducer();
    if (o.transactionalId === undefined) {
      this.#batcher = new BatchingProducer(this.#producer);
      this.sink = new KafkaOutcomeSink(this.#batcher, o.topics, o.outcomeMode);
      this.txn = undefined;
    } else {
      this.txn = new TransactionalBatcher(this.#producer, o.groupId, async () => {
        const fresh = makeProducer();
        try {
          await fresh.connect();
        } catch (error) {
          await fresh.disconnect().catch(() => undefined);
          throw error;
        }
        return fresh;
      });
      this.sink = new KafkaOutcomeSink(this.txn, o.topics, o.outcomeMode);
    }
  }

  connect(): Promise<void> {
    return this.#producer.connect();
  }

  /** Sends what is batched (not in transactional mode: the last commit carried it). */
  async flush(): Promise<void> {
    await this.#batcher?.flush().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.txn !== undefined) await this.txn.close();
    else await this.#producer.disconnect();
  }
}
