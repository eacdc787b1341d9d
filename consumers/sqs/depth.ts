// The input queue's approximate depth, for metrics and readiness: GetQueueAttributes every
// `intervalMs` (SQS updates these counts about once a minute and they are approximate, so polling
// faster buys nothing). Whether the last poll worked is also the relay's view of whether SQS answers:
// SQS has no connection to watch, and the long polls do not say when they fail.
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";

export interface QueueDepthSnapshot {
  /** ApproximateNumberOfMessages: visible, waiting to be received. */
  readonly visible: number;
  /** ApproximateNumberOfMessagesNotVisible: received (here or elsewhere) and not yet deleted. */
  readonly notVisible: number;
  /** ApproximateNumberOfMessagesDelayed: sent with a delay that has not passed. */
  readonly delayed: number;
  /** When these counts were read. */
  readonly at: Date;
}

export interface QueueDepthOptions {
  readonly client: Pick<SQSClient, "send">;
  readonly queueUrl: string;
  /** Default 15 s. */
  readonly intervalMs?: number;
  /** Deadline of one poll (default 5 s): a poll that hangs counts as failed. */
  readonly timeoutMs?: number;
}

export class QueueDepth {
  readonly queueUrl: string;
  readonly #client: Pick<SQSClient, "send">;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #last: QueueDepthSnapshot | undefined;
  #error: { readonly message: string; readonly at: Date } | undefined;

  constructor(options: QueueDepthOptions) {
    this.queueUrl = options.queueUrl;
    this.#client = options.client;
    this.#intervalMs = options.intervalMs ?? 15_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  /** The counts of the last poll that worked, if any. */
  get depth(): QueueDepthSnapshot | undefined {
    return this.#last;
  }

  /** Set while the last poll failed: why, and when. */
  get error(): { readonly message: string; readonly at: Date } | undefined {
    return this.#error;
  }

  /** Polls now, then every intervalMs until stop(). */
  start(): void {
    if (this.#timer !== undefined) return;
    void this.poll();
    this.#timer = setInterval(() => void this.poll(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops polling and waits for a poll in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#polling;
  }

  /** One poll (joins the one in progress); never rejects. */
  poll(): Promise<void> {
    this.#polling ??= this.#read().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  async #read(): Promise<void> {
    try {
      const out = await this.#client.send(
        new GetQueueAttributesCommand({
          QueueUrl: this.queueUrl,
          AttributeNames: [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
          ],
        }),
        { abortSignal: AbortSignal.timeout(this.#timeoutMs) },
      );
      const count = (name: string) => Number(out.Attributes?.[name as keyof typeof out.Attributes] ?? 0) || 0;
      this.#last = {
        visible: count("ApproximateNumberOfMessages"),
        notVisible: count("ApproximateNumberOfMessagesNotVisible"),
        delayed: count("ApproximateNumberOfMessagesDelayed"),
        at: new Date(),
      };
      this.#error = undefined;
    } catch (error) {
      this.#error = { message: error instanceof Error ? error.message : String(error), at: new Date() };
    }
  }
}
