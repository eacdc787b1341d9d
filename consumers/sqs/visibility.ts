// Changing the visibility of messages in flight, batched (ChangeMessageVisibilityBatch, up to ten per
// call): extending it for the heartbeat, and releasing a message so it is delivered again (at once at
// shutdown, after a backoff on its receive count when the relay failed on it). Every change names
// the newest receipt handle of the message's lease. An extension refused because the receipt is no
// longer valid means the lease is lost: the message's deliveries are fenced.
import { ChangeMessageVisibilityBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "../../src/logger.ts";
import { Batcher, type BatchFailures, ENTRY_IDS, type EntryFailure, failuresOf } from "./batcher.ts";
import { type MessageLease, receiptLost } from "./leases.ts";

export interface VisibilityOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly logger: Logger;
  /** How long a change waits for others to share its call (default 5 ms). */
  readonly lingerMs?: number;
}

export interface ReleaseBackoff {
  /** Visibility after the first failed receive, in seconds. */
  readonly baseS: number;
  /** The longest visibility a release sets, in seconds. */
  readonly maxS: number;
}

export const DEFAULT_RELEASE_BACKOFF: ReleaseBackoff = { baseS: 1, maxS: 900 };

/**
 * How long a message the relay failed on stays invisible: doubling with each receive, capped, so a
 * message that keeps failing does not spin (and reaches the queue's redrive dead-letter queue, when
 * one is configured, after maxReceiveCount receives).
 */
export function releaseDelayS(
  receiveCount: number,
  backoff: ReleaseBackoff = DEFAULT_RELEASE_BACKOFF,
): number {
  const exponent = Math.min(Math.max(receiveCount - 1, 0), 20);
  return Math.min(backoff.maxS, backoff.baseS * 2 ** exponent);
}

/** Tries of one release before it is given up (the message then comes back when its visibility ends). */
const RELEASE_TRIES = 3;
const RETRY_MS = 200;

export class VisibilityChanges {
  readonly #client: SQSClient;
  readonly #queueUrl: string;
  readonly #log: Logger;
  readonly #batcher: Batcher<MessageLease>;
  /** Messages whose lease was lost at an extension. */
  lost = 0;

  constructor(o: VisibilityOptions) {
    this.#client = o.client;
    this.#queueUrl = o.queueUrl;
    this.#log = o.logger;
    this.#batcher = new Batcher(
      { send: (items) => this.#send(items), settled: (lease, failure) => this.#settled(lease, failure) },
      { lingerMs: o.lingerMs ?? 5 },
    );
  }

  get pending(): number {
    return this.#batcher.pending;
  }

  /** Keeps the message invisible for `seconds` from now (heartbeat). */
  extend(lease: MessageLease, seconds: number): void {
    lease.extending = true;
    lease.changeS = seconds;
    this.#batcher.add(lease);
  }

  /**
   * Lets the message be delivered again after `seconds` (0: at once). Nothing more is done for the
   * lease afterwards. A release that meets an extension on its way follows it, so it is not undone.
   */
  release(lease: MessageLease, seconds: number): void {
    lease.settled = true;
    lease.failures = 0;
    if (lease.extending) {
      lease.releaseS = seconds;
      return;
    }
    lease.changeS = seconds;
    this.#batcher.add(lease);
  }

  /** Sends every change now; resolves when none is left. */
  close(): Promise<void> {
    return this.#batcher.drain();
  }

  async #send(leases: readonly MessageLease[]): Promise<BatchFailures> {
    const sentAt = Date.now();
    for (const lease of leases) lease.changeSentAt = sentAt;
    const out = await this.#client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: this.#queueUrl,
        Entries: leases.map((lease, i) => ({
          Id: ENTRY_IDS[i],
          ReceiptHandle: lease.handle,
          VisibilityTimeout: lease.changeS,
        })),
      }),
    );
    return failuresOf(leases.length, out.Failed, out.Successful);
  }

  #settled(lease: MessageLease, failure: EntryFailure | undefined): void {
    if (lease.extending) this.#extended(lease, failure);
    else this.#released(lease, failure);
  }

  #extended(lease: MessageLease, failure: EntryFailure | undefined): void {
    lease.extending = false;
    if (failure === undefined) {
      lease.visibleUntil = lease.changeSentAt + lease.changeS * 1000;
      lease.failures = 0;
    } else if (receiptLost(failure.code)) {
      if (lease.lost === undefined && !lease.settled) {
        lease.lost = "receipt_invalid";
        this.lost += 1;
        this.#log.warn(
          { messageId: lease.messageId, code: failure.code, problem: failure.message },
          "lost the lease on an SQS message (its receipt is no longer valid): its result will not be acknowledged; its redelivery is answered from the ledger",
        );
      }
    } else {
      // Tried again at the next heartbeat tick, while the message is still invisible.
      lease.failures += 1;
      this.#log.warn(
        { messageId: lease.messageId, code: failure.code, problem: failure.message, tries: lease.failures },
        "extending the visibility of an SQS message failed; retrying",
      );
    }
    const releaseS = lease.releaseS;
    if (releaseS === undefined) return;
    lease.releaseS = undefined;
    if (lease.lost !== undefined) return;
    lease.changeS = releaseS;
    this.#batcher.add(lease);
  }

  #released(lease: MessageLease, failure: EntryFailure | undefined): void {
    if (failure === undefined || receiptLost(failure.code)) return;
    lease.failures += 1;
    if (failure.senderFault || lease.failures >= RELEASE_TRIES) {
      this.#log.warn(
        { messageId: lease.messageId, code: failure.code, problem: failure.message },
        "could not release an SQS message; it is delivered again once its visibility runs out",
      );
      return;
    }
    this.#batcher.later(lease, RETRY_MS);
  }
}
