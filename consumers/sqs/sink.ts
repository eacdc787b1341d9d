// Publishes outcome events to SQS queues, batched with SendMessageBatch (up to ten per call, a few
// milliseconds of collection, 256 KiB per call), and dead letters one by one (they can be large).
// Structured mode sends the CloudEvent as the body with a content-type attribute; binary mode sends
// the data as the body and the CloudEvents attributes as message attributes (eight, within SQS's ten).
// On FIFO queues an outcome's group is its payment intent, so one payment's outcomes stay in order,
// and its deduplication id is the outcome's own id, so a re-published outcome within SQS's five-minute
// window is dropped by SQS.
import {
  type MessageAttributeValue,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { encodeOutcome, type InboundMessage } from "../../schemas/index.ts";
import type { Logger } from "../../src/logger.ts";
import type { DeadLetterReason, OutcomeEvent, OutcomeSink } from "../../src/pipeline/index.ts";
import { attributesOf } from "./attributes.ts";
import { Batcher, type BatchFailures, ENTRY_IDS, type EntryFailure, failuresOf } from "./batcher.ts";
import { deadLetterOf, MAX_SQS_MESSAGE_BYTES } from "./dead-letter.ts";
import { fifoId, isFifoQueue } from "./fifo-ids.ts";

export interface SqsSinkQueues {
  readonly succeeded: string;
  readonly failed: string;
  readonly deadLetter: string;
}

export interface SqsSinkOptions {
  readonly client: SQSClient;
  readonly queues: SqsSinkQueues;
  readonly outcomeMode: "structured" | "binary";
  readonly logger: Logger;
  /** How long an outcome waits for others to share its call (default 10 ms). */
  readonly lingerMs?: number;
}

/** One outcome on its way: its entry, and the publish() waiting for it. */
class PendingSend {
  readonly entry: SendMessageBatchRequestEntry;
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;

  constructor(
    entry: SendMessageBatchRequestEntry,
    bytes: number,
    resolve: () => void,
    reject: (error: Error) => void,
  ) {
    this.entry = entry;
    this.bytes = bytes;
    this.resolve = resolve;
    this.reject = reject;
  }
}

/** Sends to one queue in batches. */
class QueueSender {
  readonly url: string;
  readonly fifo: boolean;
  readonly #client: SQSClient;
  readonly batcher: Batcher<PendingSend>;

  constructor(client: SQSClient, url: string, lingerMs: number) {
    this.url = url;
    this.fifo = isFifoQueue(url);
    this.#client = client;
    this.batcher = new Batcher<PendingSend>(
      { send: (items) => this.#send(items), settled: (item, failure) => QueueSender.#settled(item, failure) },
      // Bodies and attributes count toward the limit; a margin covers the request's own framing.
      { lingerMs, maxBytes: MAX_SQS_MESSAGE_BYTES - 4096, sizeOf: (item) => item.bytes },
    );
  }

  async #send(items: readonly PendingSend[]): Promise<BatchFailures> {
    const entries = items.map((item, i) => {
      item.entry.Id = ENTRY_IDS[i];
      return item.entry;
    });
    const out = await this.#client.send(
      new SendMessageBatchCommand({ QueueUrl: this.url, Entries: entries }),
    );
    return failuresOf(items.length, out.Failed, out.Successful);
  }

  static #settled(item: PendingSend, failure: EntryFailure | undefined): void {
    if (failure === undefined) item.resolve();
    // The pipeline retries the publication (the outcome is stored) and pauses intake meanwhile.
    else item.reject(new Error(`SQS did not take the message (${failure.code}: ${failure.message})`));
  }
}

function bytesOf(body: string, attributes: Record<string, MessageAttributeValue>): number {
  let bytes = Buffer.byteLength(body, "utf8");
  for (const name in attributes) bytes += name.length + (attributes[name]?.StringValue?.length ?? 0) + 6;
  return bytes;
}

export class SqsOutcomeSink implements OutcomeSink {
  readonly #client: SQSClient;
  readonly #mode: "structured" | "binary";
  readonly #succeeded: QueueSender;
  readonly #failed: QueueSender;
  readonly #deadLetterUrl: string;
  readonly #log: Logger;

  constructor(o: SqsSinkOptions) {
    this.#client = o.client;
    this.#mode = o.outcomeMode;
    const lingerMs = o.lingerMs ?? 10;
    this.#succeeded = new QueueSender(o.client, o.queues.succeeded, lingerMs);
    this.#failed = new QueueSender(o.client, o.queues.failed, lingerMs);
    this.#deadLetterUrl = o.queues.deadLetter;
    this.#log = o.logger;
  }

  publish(outcome: OutcomeEvent): Promise<void> {
    const encoded = encodeOutcome(outcome as Parameters<typeof encodeOutcome>[0], this.#mode);
    const sender = outcome.type === "refund.succeeded" ? this.#succeeded : this.#failed;
    const attributes = attributesOf(encoded.headers);
    const entry: SendMessageBatchRequestEntry = {
      Id: undefined,
      MessageBody: encoded.value,
      MessageAttributes: attributes,
    };
    if (sender.fifo) {
      entry.MessageGroupId = fifoId(encoded.key ?? outcome.data.sourceEvent.id);
      entry.MessageDeduplicationId = fifoId(outcome.id);
    }
    const bytes = bytesOf(encoded.value, attributes);
    return new Promise((resolve, reject) =>
      sender.batcher.add(new PendingSend(entry, bytes, resolve, reject)),
    );
  }

  async deadLetter(message: InboundMessage, reason: DeadLetterReason): Promise<void> {
    const letter = deadLetterOf(message, reason);
    if (letter.truncated) {
      this.#log.error(
        { code: reason.code, eventId: reason.eventId, alert: true },
        "dead letter too large for SQS with its envelope: its original body was cut",
      );
    }
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#deadLetterUrl,
        MessageBody: letter.body,
        MessageAttributes: letter.attributes,
        ...(isFifoQueue(this.#deadLetterUrl)
          ? { MessageGroupId: letter.groupId, MessageDeduplicationId: letter.deduplicationId }
          : {}),
      }),
    );
  }

  /** Sends every outcome queued now; resolves when all are answered. */
  async flush(): Promise<void> {
    await Promise.all([this.#succeeded.batcher.flush(), this.#failed.batcher.flush()]);
  }
}
