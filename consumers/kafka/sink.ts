// Publishes outcome events and dead letters to Kafka topics. Outcomes are keyed by payment intent id,
// so every outcome of one payment lands on one partition in order.
import { encodeOutcome, type InboundMessage } from "../../schemas/index.ts";
import type { DeadLetterReason, OutcomeEvent, OutcomeSink } from "../../src/pipeline/index.ts";
import type { RecordSender } from "./batching-producer.ts";
import { KafkaDelivery } from "./delivery.ts";

export type { KafkaOrigin } from "./delivery.ts";

export interface KafkaSinkTopics {
  readonly succeeded: string;
  readonly failed: string;
  readonly deadLetter: string;
}

/** Header names on dead letters; the original headers are kept as they were. */
export const DEAD_LETTER_HEADERS = {
  code: "rr-error-code",
  message: "rr-error-message",
  attempts: "rr-attempts",
  firstSeenAt: "rr-first-seen-at",
  topic: "rr-original-topic",
  partition: "rr-original-partition",
  offset: "rr-original-offset",
  timestamp: "rr-original-timestamp",
  eventId: "rr-event-id",
  eventSource: "rr-event-source",
} as const;

export class KafkaOutcomeSink implements OutcomeSink {
  readonly #producer: RecordSender;
  readonly #topics: KafkaSinkTopics;
  readonly #mode: "structured" | "binary";

  constructor(producer: RecordSender, topics: KafkaSinkTopics, mode: "structured" | "binary") {
    this.#producer = producer;
    this.#topics = topics;
    this.#mode = mode;
  }

  async publish(outcome: OutcomeEvent): Promise<void> {
    const encoded = encodeOutcome(outcome as Parameters<typeof encodeOutcome>[0], this.#mode);
    await this.#producer.send({
      topic: outcome.type === "refund.succeeded" ? this.#topics.succeeded : this.#topics.failed,
      message: { key: encoded.key, value: encoded.value, headers: encoded.headers },
    });
  }

  async deadLetter(message: InboundMessage, reason: DeadLetterReason): Promise<void> {
    // The pipeline hands back the message it was given: for a consumed message, the delivery itself.
    const origin = message instanceof KafkaDelivery ? message.origin : undefined;
    const headers: Record<string, string> = { ...(message.headers as Record<string, string> | undefined) };
    for (const [name, value] of Object.entries(headers)) if (value === undefined) delete headers[name];
    headers[DEAD_LETTER_HEADERS.code] = reason.code;
    headers[DEAD_LETTER_HEADERS.message] = reason.message.slice(0, 4000);
    headers[DEAD_LETTER_HEADERS.attempts] = String(reason.attempts);
    headers[DEAD_LETTER_HEADERS.firstSeenAt] = reason.firstSeenAt.toISOString();
    if (reason.eventId !== undefined) headers[DEAD_LETTER_HEADERS.eventId] = reason.eventId;
    if (reason.source !== undefined) headers[DEAD_LETTER_HEADERS.eventSource] = reason.source;
    if (origin !== undefined) {
      headers[DEAD_LETTER_HEADERS.topic] = origin.topic;
      headers[DEAD_LETTER_HEADERS.partition] = String(origin.partition);
      headers[DEAD_LETTER_HEADERS.offset] = origin.offset;
      headers[DEAD_LETTER_HEADERS.timestamp] = origin.timestamp;
    }
    const body = message.body;
    await this.#producer.send({
      topic: this.#topics.deadLetter,
      message: {
        key: origin?.key ?? null,
        value: body === null ? null : typeof body === "string" ? body : Buffer.from(body),
        headers,
      },
    });
  }
}
