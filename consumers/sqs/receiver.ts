// One long-poll loop on the input queue. Several run at once, so the intake is fed faster than one
// receive of ten messages per round trip allows. A loop polls only while the source lets it (not
// paused, not held back for backpressure, intake open) and stops at shutdown: its idle long poll is
// aborted then. Receive failures are retried with a capped backoff.
import { randomUUID } from "node:crypto";
import { type Message, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { sleep } from "../../src/backoff.ts";
import type { Logger } from "../../src/logger.ts";

export interface ReceiverOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly fifo: boolean;
  readonly waitTimeSeconds: number;
  readonly visibilityTimeoutS: number;
  readonly logger: Logger;
}

export interface ReceiverControl {
  /** Resolves true once a poll may be made, false when the loop must end. */
  mayPoll(): Promise<boolean> | boolean;
  /** Messages received at `at` (ms since the epoch). */
  received(messages: Message[], at: number): void;
  /** Aborts the poll on its way at shutdown. */
  readonly signal: AbortSignal;
  /** A receive failed (not an abort at shutdown): for readiness, until a receive works again. */
  receiveFailed?(error: unknown): void;
  /** A receive worked, with or without messages. */
  receiveWorked?(): void;
}

const RETRY_BASE_MS = 200;
const RETRY_MAX_MS = 5_000;

/** Runs one receive loop until `control` ends it. */
export async function receiveLoop(o: ReceiverOptions, control: ReceiverControl): Promise<void> {
  const { client, logger } = o;
  const signal = control.signal;
  let failures = 0;
  while (await control.mayPoll()) {
    let messages: Message[] | undefined;
    try {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: o.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: o.waitTimeSeconds,
          // Asked for on every receive, so the heartbeat knows when each message becomes visible
          // whatever the queue's own default is.
          VisibilityTimeout: o.visibilityTimeoutS,
          MessageAttributeNames: ["All"],
          MessageSystemAttributeNames: ["All"],
          // FIFO: an SDK retry of this receive gets the same messages instead of locking their
          // groups until the visibility runs out.
          ...(o.fifo ? { ReceiveRequestAttemptId: randomUUID() } : {}),
        }),
        { abortSignal: signal },
      );
      messages = out.Messages;
      failures = 0;
      control.receiveWorked?.();
    } catch (error) {
      if (signal.aborted) return;
      failures += 1;
      control.receiveFailed?.(error);
      const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(failures - 1, 10));
      logger[failures >= 5 ? "error" : "warn"](
        { err: error, queueUrl: o.queueUrl, failures, retryInMs: delay },
        "receiving from SQS failed; retrying",
      );
      if (!(await sleep(delay, signal))) return;
      continue;
    }
    if (messages !== undefined && messages.length > 0) control.received(messages, Date.now());
  }
}
