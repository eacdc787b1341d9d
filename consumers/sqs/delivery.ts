// An SQS delivery and the queue it came from. The queue is the intake lane: its pending count
// (received, not yet answered) decides backpressure. A delivery's ack and release go to the source,
// which deletes the message or changes its visibility with the newest receipt handle of its lease.
// A delivery is fenced once its lease was lost: its result is then neither published nor acknowledged.
import type { SourceDelivery } from "../../src/intake/index.ts";
import { isFifoQueue } from "./fifo-ids.ts";
import type { MessageLease } from "./leases.ts";

/** Where a received message came from; dead letters carry it so they can be traced and replayed. */
export interface SqsOrigin {
  readonly queueUrl: string;
  readonly messageId: string;
  /** The receipt handle of this delivery (the lease may hold a newer one). */
  readonly receiptHandle: string;
  /** ApproximateReceiveCount: 1 on the first receive. */
  readonly receiveCount: number;
  /** FIFO queues (and fair queues): the message group. */
  readonly messageGroupId: string | undefined;
  /** SentTimestamp, ms since the epoch, as SQS gives it. */
  readonly sentTimestamp: string | undefined;
}

/** What the source does with an answered delivery. */
export interface DeliveryAnswers {
  acked(delivery: SqsDelivery): void;
  released(delivery: SqsDelivery, error: unknown): void;
}

/** The input queue as an intake lane. */
export class SqsQueue {
  readonly url: string;
  readonly fifo: boolean;
  /** Deliveries received and not yet acked or released (in the pipeline, or waiting to be taken). */
  pending = 0;
  readonly answers: DeliveryAnswers;

  constructor(url: string, answers: DeliveryAnswers) {
    this.url = url;
    this.fifo = isFifoQueue(url);
    this.answers = answers;
  }
}

export class SqsDelivery implements SourceDelivery<SqsQueue, SqsOrigin> {
  readonly body: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly transport = "sqs" as const;
  readonly origin: SqsOrigin;
  readonly lane: SqsQueue;
  readonly lease: MessageLease;
  /** The next delivery in the queue this one waits in (DeliveryQueue), if any. */
  next: SqsDelivery | undefined;

  constructor(
    lane: SqsQueue,
    lease: MessageLease,
    body: string | undefined,
    headers: Readonly<Record<string, string>>,
    origin: SqsOrigin,
  ) {
    this.body = body ?? null;
    this.headers = headers;
    this.origin = origin;
    this.lane = lane;
    this.lease = lease;
  }

  /** The message group whose order this delivery keeps (FIFO queues only). */
  get group(): string | undefined {
    return this.lane.fifo ? this.origin.messageGroupId : undefined;
  }

  ack(): void {
    this.lane.answers.acked(this);
  }

  release(error?: unknown): void {
    this.lane.answers.released(this, error);
  }

  fenced(): boolean {
    return this.lease.lost !== undefined;
  }
}

/** Deliveries waiting, oldest first, linked through the deliveries themselves (nothing allocated). */
export class DeliveryQueue {
  #head: SqsDelivery | undefined;
  #tail: SqsDelivery | undefined;
  length = 0;

  push(delivery: SqsDelivery): void {
    delivery.next = undefined;
    if (this.#tail === undefined) this.#head = delivery;
    else this.#tail.next = delivery;
    this.#tail = delivery;
    this.length += 1;
  }

  shift(): SqsDelivery | undefined {
    const head = this.#head;
    if (head === undefined) return undefined;
    this.#head = head.next;
    if (this.#head === undefined) this.#tail = undefined;
    head.next = undefined;
    this.length -= 1;
    return head;
  }
}
