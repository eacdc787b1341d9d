// Acknowledging SQS messages: DeleteMessageBatch, up to ten per call, collected for a few
// milliseconds. Called only once the pipeline's result is out (outcome published and recorded, or
// dead-lettered). Each delete uses the newest receipt handle of the message's lease, read when the
// batch is sent. An entry whose receipt is no longer valid is not retried: the message was received
// again (or its visibility ran out) and its redelivery is answered from the ledger. Other failures
// are retried with backoff until they succeed, or, while closing, a few times.
import { DeleteMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "../../src/logger.ts";
import { Batcher, type BatchFailures, ENTRY_IDS, type EntryFailure, failuresOf } from "./batcher.ts";
import { type MessageLease, receiptLost } from "./leases.ts";

export interface DeletionsOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly logger: Logger;
  /** How long a delete waits for others to share its call (default 20 ms). */
  readonly lingerMs?: number;
}

/** Tries of one delete once closing has begun, before it is given up (the message then comes back). */
const CLOSING_TRIES = 4;
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;

export class Deletions {
  readonly #client: SQSClient;
  readonly #queueUrl: string;
  readonly #log: Logger;
  readonly #batcher: Batcher<MessageLease>;
  #closing = false;
  /** Messages deleted so far. */
  deleted = 0;

  constructor(o: DeletionsOptions) {
    this.#client = o.client;
    this.#queueUrl = o.queueUrl;
    this.#log = o.logger;
    this.#batcher = new Batcher(
      { send: (items) => this.#send(items), settled: (lease, failure) => this.#settled(lease, failure) },
      { lingerMs: o.lingerMs ?? 20 },
    );
  }

  /** Deletes queued, on their way, or waiting to be retried. */
  get pending(): number {
    return this.#batcher.pending;
  }

  delete(lease: MessageLease): void {
    lease.settled = true;
    lease.failures = 0;
    this.#batcher.add(lease);
  }

  /** Sends every delete now, retrying failures a few times; resolves when none is left. */
  close(): Promise<void> {
    this.#closing = true;
    return this.#batcher.drain();
  }

  async #send(leases: readonly MessageLease[]): Promise<BatchFailures> {
    const out = await this.#client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: this.#queueUrl,
        Entries: leases.map((lease, i) => ({ Id: ENTRY_IDS[i], ReceiptHandle: lease.handle })),
      }),
    );
    return failuresOf(leases.length, out.Failed, out.Successful);
  }

  #settled(lease: MessageLease, failure: EntryFailure | undefined): void {
    if (failure === undefined) {
      this.deleted += 1;
      return;
    }
    if (receiptLost(failure.code)) {
      lease.lost ??= "receipt_invalid";
      this.#log.warn(
        { messageId: lease.messageId, code: failure.code, problem: failure.message },
        "SQS refused the delete of a settled message (its receipt is no longer valid); it will be delivered again and answered from the ledger",
      );
      return;
    }
    lease.failures += 1;
    if (failure.senderFault || (this.#closing && lease.failures >= CLOSING_TRIES)) {
      this.#log.error(
        { messageId: lease.messageId, code: failure.code, problem: failure.message, tries: lease.failures },
        "could not delete a settled SQS message; it will be delivered again and answered from the ledger",
      );
      return;
    }
    this.#log.warn(
      { messageId: lease.messageId, code: failure.code, problem: failure.message, tries: lease.failures },
      "deleting a settled SQS message failed; retrying",
    );
    const delay = this.#closing
      ? RETRY_BASE_MS
      : Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(lease.failures - 1, 10));
    this.#batcher.later(lease, delay);
  }
}
