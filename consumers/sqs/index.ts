export { Deletions } from "./acks.ts";
export { attributesOf, headersOf, MAX_MESSAGE_ATTRIBUTES } from "./attributes.ts";
export { type BatchCall, Batcher, type EntryFailure } from "./batcher.ts";
export { createSqsClient } from "./client.ts";
export { regionOfHost, SQS_CONFIG, type SqsSettings } from "./config.ts";
export { DEAD_LETTER_ATTRIBUTES, deadLetterOf, type SqsDeadLetterEnvelope } from "./dead-letter.ts";
export { DeliveryQueue, SqsDelivery, type SqsOrigin, SqsQueue } from "./delivery.ts";
export { fifoId, isFifoQueue } from "./fifo-ids.ts";
export { GroupOrder } from "./groups.ts";
export { Heartbeat } from "./heartbeat.ts";
export { MessageLease, MessageLeases, receiptLost } from "./leases.ts";
export { ensureQueues, MissingQueuesError } from "./queues.ts";
export { SqsRelay, type SqsRelayOptions, type SqsRelayStats } from "./relay.ts";
export { SqsOutcomeSink, type SqsSinkQueues } from "./sink.ts";
export { SqsSource, type SqsSourceOptions } from "./source.ts";
export {
  DEFAULT_RELEASE_BACKOFF,
  type ReleaseBackoff,
  releaseDelayS,
  VisibilityChanges,
} from "./visibility.ts";
