// What this process holds of each SQS message it received: the newest receipt handle, how long the
// message stays invisible, and whether the lease on it was lost. One lease per message id, shared by
// every delivery of that message held at once: a message whose visibility ran out (no heartbeat, or
// a heartbeat that came too late) can be received again while its first delivery is still at work,
// and then only the newest receipt handle still names it (SQS may refuse or ignore an older one). Acks,
// releases and heartbeats therefore read the handle from the lease when they send, never from the
// delivery.
import type { Message } from "@aws-sdk/client-sqs";

export type LeaseLoss = "receipt_invalid" | "expired" | "processing_cap";

export class MessageLease {
  readonly messageId: string;
  /** The newest receipt handle of the message. */
  handle: string;
  receiveCount: number;
  /** When the newest receipt was made (ms since the epoch): the processing cap counts from it. */
  receivedAt: number;
  /** When the message becomes visible again unless extended (ms since the epoch). */
  visibleUntil: number;
  /** Deliveries of this message held now (handed to the intake or waiting for it). */
  holders = 0;
  /** Set once a delete was asked for: nothing more is extended, released or deleted for it. */
  settled = false;
  /** Why the lease was lost; its deliveries are fenced from then on. */
  lost: LeaseLoss | undefined;
  /** A visibility change (heartbeat) is on its way. */
  extending = false;
  /** Failed attempts of the current delete or visibility change, for their backoff. */
  failures = 0;
  /** The visibility (seconds from when it is sent) of the change queued or on its way. */
  changeS = 0;
  /** When the visibility change on its way was sent (ms since the epoch). */
  changeSentAt = 0;
  /** A release asked for while an extension was on its way: sent once the extension is answered. */
  releaseS: number | undefined;

  constructor(messageId: string, handle: string, receiveCount: number, now: number, visibilityS: number) {
    this.messageId = messageId;
    this.handle = handle;
    this.receiveCount = receiveCount;
    this.receivedAt = now;
    this.visibleUntil = now + visibilityS * 1000;
  }

  /** Still ours to act on: not settled, not lost. */
  get live(): boolean {
    return !this.settled && this.lost === undefined;
  }
}

/**
 * Error codes saying a receipt handle no longer names an in-flight message: it was received again
 * (here or by another consumer), deleted, or its visibility ran out.
 */
export function receiptLost(code: string): boolean {
  return /ReceiptHandleIsInvalid|InvalidReceiptHandle|MessageNotInflight|InvalidParameterValue/.test(code);
}

/** The leases held now, by message id. */
export class MessageLeases {
  readonly #byId = new Map<string, MessageLease>();
  readonly #visibilityS: number;

  constructor(visibilityS: number) {
    this.#visibilityS = visibilityS;
  }

  get size(): number {
    return this.#byId.size;
  }

  values(): IterableIterator<MessageLease> {
    return this.#byId.values();
  }

  /**
   * A receipt of `message` at `now`: a new lease, or the message's lease held already with its handle
   * renewed (received again while a delivery of it is still held). A lost or settled lease is not
   * renewed: the new receipt starts a lease of its own, so the old deliveries stay fenced.
   */
  received(message: Message, receiveCount: number, now: number): MessageLease {
    const id = message.MessageId ?? "";
    const handle = message.ReceiptHandle ?? "";
    const held = this.#byId.get(id);
    if (held?.live) {
      held.handle = handle;
      held.receiveCount = receiveCount;
      held.receivedAt = now;
      held.visibleUntil = now + this.#visibilityS * 1000;
      held.failures = 0;
      held.holders += 1;
      return held;
    }
    const lease = new MessageLease(id, handle, receiveCount, now, this.#visibilityS);
    lease.holders = 1;
    this.#byId.set(id, lease);
    return lease;
  }

  /** A delivery of the lease was answered; the lease is forgotten once none is held. */
  letGo(lease: MessageLease): void {
    lease.holders -= 1;
    if (lease.holders <= 0 && this.#byId.get(lease.messageId) === lease) this.#byId.delete(lease.messageId);
  }
}
