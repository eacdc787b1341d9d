export { BatchingProducer } from "./batching-producer.ts";
export { createKafka } from "./client.ts";
export { headersToRecord } from "./headers.ts";
export { type OffsetRegression, PartitionOffsets } from "./offset-tracker.ts";
export {
  ConsumerStoppedError,
  InputOffsetsWentBackError,
  KafkaRelay,
  type KafkaRelayOptions,
  type KafkaRelayStats,
  type MessageProcessor,
} from "./relay.ts";
export { DEAD_LETTER_HEADERS, type KafkaOrigin, KafkaOutcomeSink, type KafkaSinkTopics } from "./sink.ts";
export { ensureTopics, MissingTopicsError } from "./topics.ts";
export { type PartitionOffset, TransactionalBatcher } from "./transactional-batcher.ts";
