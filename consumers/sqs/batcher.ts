// Collects items for SQS's batch calls (DeleteMessageBatch, ChangeMessageVisibilityBatch,
// SendMessageBatch): up to ten per call, or what arrived within a few milliseconds of the first, or
// less when a byte limit is reached. Every item gets its own result, since SQS answers per entry: a
// batch call can succeed for some entries and fail for others. What a failure means (retry, give up,
// fence) is the owner's decision, made in `settled`.
import type { BatchResultErrorEntry } from "@aws-sdk/client-sqs";

/** Why one entry (or the whole call) failed. */
export interface EntryFailure {
  /** SQS's error code for the entry (ReceiptHandleIsInvalid, ...), or the call's error name. */
  readonly code: string;
  readonly message: string;
  /** SQS says the request was at fault: sending the same entry again fails the same way. */
  readonly senderFault: boolean;
}

/** The failed entries of one call, by their index in the batch. */
export type BatchFailures = ReadonlyArray<{ readonly index: number; readonly failure: EntryFailure }>;

export interface BatchCall<T> {
  /** One API call for `items` (at most ten). Throws when the call failed as a whole. */
  send(items: readonly T[]): Promise<BatchFailures>;
  /** Each item's result: `failure` undefined when its entry succeeded. Must not throw. */
  settled(item: T, failure: EntryFailure | undefined): void;
}

export interface BatcherOptions<T> {
  /** How long the first item waits for others before its batch is sent. */
  readonly lingerMs: number;
  readonly maxEntries?: number;
  /** The most a batch may weigh in total (SendMessageBatch: 256 KiB of bodies and attributes). */
  readonly maxBytes?: number;
  readonly sizeOf?: (item: T) => number;
}

/** Entry ids for batch requests: the item's index in its batch. */
export const ENTRY_IDS: readonly string[] = Array.from({ length: 10 }, (_, i) => String(i));

/** Reads the per-entry failures of an SQS batch response into indices. */
export function failuresOf(
  size: number,
  failed: readonly BatchResultErrorEntry[] | undefined,
  succeeded: ReadonlyArray<{ readonly Id?: string | undefined }> | undefined,
): BatchFailures {
  const out: Array<{ index: number; failure: EntryFailure }> = [];
  if (failed !== undefined) {
    for (const f of failed) {
      out.push({
        index: Number(f.Id),
        failure: { code: f.Code ?? "Unknown", message: f.Message ?? "", senderFault: f.SenderFault === true },
      });
    }
  }
  // An entry SQS neither confirmed nor refused is treated as failed, so it is tried again.
  if ((succeeded?.length ?? 0) + out.length < size) {
    const answered = new Set<number>(out.map((f) => f.index));
    for (const s of succeeded ?? []) answered.add(Number(s.Id));
    for (let index = 0; index < size; index++) {
      if (!answered.has(index)) {
        out.push({
          index,
          failure: { code: "NoAnswer", message: "no result for the entry", senderFault: false },
        });
      }
    }
  }
  return out;
}

export class Batcher<T> {
  readonly #call: BatchCall<T>;
  readonly #lingerMs: number;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #sizeOf: ((item: T) => number) | undefined;
  #queue: T[] = [];
  #queuedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = 0;
  readonly #idle = new Set<() => void>();
  /** Items to be tried again after a delay. */
  readonly #later = new Map<T, NodeJS.Timeout>();

  constructor(call: BatchCall<T>, options: BatcherOptions<T>) {
    this.#call = call;
    this.#lingerMs = options.lingerMs;
    this.#maxEntries = Math.min(options.maxEntries ?? 10, 10);
    this.#maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.#sizeOf = options.sizeOf;
  }

  /** Items queued, in a call not yet answered, or waiting to be tried again. */
  get pending(): number {
    return this.#queue.length + this.#inFlight + this.#later.size;
  }

  add(item: T): void {
    if (this.#sizeOf !== undefined) {
      const size = this.#sizeOf(item);
      if (this.#queue.length > 0 && this.#queuedBytes + size > this.#maxBytes) this.#send();
      this.#queuedBytes += size;
    }
    this.#queue.push(item);
    if (this.#queue.length >= this.#maxEntries) this.#send();
    else this.#timer ??= setTimeout(() => this.#send(), this.#lingerMs);
  }

  /** Adds the item again after `delayMs` (a failed entry, from `settled`). */
  later(item: T, delayMs: number): void {
    const timer = setTimeout(() => {
      this.#later.delete(item);
      this.add(item);
    }, delayMs);
    this.#later.set(item, timer);
  }

  /**
   * Sends everything now, items waiting to be tried again included, until nothing is left (the
   * owner stops adding items back when it gives up on them).
   */
  async drain(): Promise<void> {
    for (;;) {
      for (const [item, timer] of this.#later) {
        clearTimeout(timer);
        this.add(item);
      }
      this.#later.clear();
      await this.flush();
      if (this.#later.size === 0 && this.#queue.length === 0) return;
    }
  }

  /** Sends what is queued now; resolves once nothing is queued or in flight. */
  flush(): Promise<void> {
    if (this.#queue.length > 0) this.#send();
    if (this.#inFlight === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  #send(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const items = this.#queue;
    if (items.length === 0) return;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#inFlight += items.length;
    void this.#run(items);
  }

  async #run(items: T[]): Promise<void> {
    let failures: BatchFailures;
    try {
      failures = await this.#call.send(items);
    } catch (error) {
      const failure: EntryFailure = {
        code: (error as { name?: string }).name ?? "RequestFailed",
        message: (error as Error).message ?? String(error),
        senderFault: (error as { $fault?: string }).$fault === "client" && !isThrottling(error),
      };
      failures = items.map((_, index) => ({ index, failure }));
    }
    this.#inFlight -= items.length;
    let next = 0;
    const sorted = failures.length > 1 ? [...failures].sort((a, b) => a.index - b.index) : failures;
    for (let index = 0; index < items.length; index++) {
      const failed = sorted[next]?.index === index ? sorted[next++]?.failure : undefined;
      this.#call.settled(items[index] as T, failed);
    }
    if (this.#inFlight === 0 && this.#queue.length === 0 && this.#idle.size > 0) {
      for (const wake of this.#idle) wake();
      this.#idle.clear();
    }
  }
}

/** Throttling and request-limit errors are worth retrying even though SQS calls them client faults. */
export function isThrottling(error: unknown): boolean {
  const name = (error as { name?: string }).name ?? "";
  return /Throttl|RequestThrottled|OverLimit|TooManyRequests|KmsThrottled/i.test(name);
}
