// The relay over Amazon SQS: the transport-free intake runner (src/intake/) fed by the input queue,
// with outcomes and dead letters sent to SQS queues. The runner holds what every transport needs (the
// in-flight limit, pausing while the intake gate is closed, the drain with a deadline, progress
// stats); this side holds what is SQS's:
//   - source.ts, receiver.ts: concurrent long polls feeding the runner, paused with it;
//   - leases.ts, heartbeat.ts, visibility.ts: each message held stays invisible until it settles,
//     up to a cap; a lease lost on the way fences the message's late result;
//   - acks.ts: settled messages deleted in batches with their newest receipt handle;
//   - groups.ts: FIFO groups processed one message at a time, in order;
//   - sink.ts, dead-letter.ts: outcomes in batches, dead letters in a JSON envelope;
//   - queues.ts: the queues checked (or created) at start-up.
//
// SQS delivers at least once and has no partitions to own: any consumer of the queue may receive any
// message, and a message whose visibility runs out is delivered again, here or elsewhere. What keeps
// that from paying twice is the ledger and Dojo's idempotency key; what keeps it rare is the
// heartbeat. Several relays on one queue therefore need one ledger they all see (PostgreSQL, or one
// SQLite file on one host).
import type { SQSClient } from "@aws-sdk/client-sqs";
import { IntakeRunner, type MessageProcessor } from "../../src/intake/index.ts";
import type { Logger } from "../../src/logger.ts";
import type { IntakeGate } from "../../src/pipeline/index.ts";
import type { SqsQueue } from "./delivery.ts";
import { ensureQueues } from "./queues.ts";
import { SqsOutcomeSink, type SqsSinkQueues } from "./sink.ts";
import { SqsSource } from "./source.ts";
import type { ReleaseBackoff } from "./visibility.ts";

export interface SqsRelayOptions {
  /** The relay owns the client: it is destroyed when the relay stops. */
  readonly client: SQSClient;
  readonly inputQueueUrl: string;
  readonly queues: SqsSinkQueues;
  readonly outcomeMode: "structured" | "binary";
  /**
   * Messages received and not yet answered at which receiving pauses (it resumes at half). The
   * pipeline's own limit (MAX_IN_FLIGHT) decides how many run at once; this keeps it fed.
   */
  readonly maxPending: number;
  readonly receiveConcurrency: number;
  readonly waitTimeSeconds: number;
  readonly visibilityTimeoutS: number;
  readonly heartbeat: boolean;
  readonly maxProcessingS: number;
  /** Create missing queues at start instead of refusing to start (default false). */
  readonly createQueues?: boolean;
  readonly releaseBackoff?: ReleaseBackoff;
  /** While `paused`, no new work is taken; messages received meanwhile wait, kept invisible. */
  readonly gate?: IntakeGate;
  readonly logger: Logger;
}

export interface SqsRelayStats {
  /** Messages received and not yet answered. */
  readonly inFlight: number;
  readonly settled: number;
  readonly deadLettered: number;
  readonly lastProgressAt: Date | undefined;
  readonly received: number;
  readonly deleted: number;
  readonly released: number;
  readonly leasesLost: number;
}

export class SqsRelay {
  readonly #o: SqsRelayOptions;
  readonly #log: Logger;
  readonly #source: SqsSource;
  readonly #runner: IntakeRunner<SqsQueue>;
  readonly sink: SqsOutcomeSink;

  constructor(options: SqsRelayOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: "sqs" });
    this.sink = new SqsOutcomeSink({
      client: options.client,
      queues: options.queues,
      outcomeMode: options.outcomeMode,
      logger: this.#log,
    });
    this.#source = new SqsSource({
      client: options.client,
      queueUrl: options.inputQueueUrl,
      receiveConcurrency: options.receiveConcurrency,
      waitTimeSeconds: options.waitTimeSeconds,
      visibilityTimeoutS: options.visibilityTimeoutS,
      heartbeat: options.heartbeat,
      maxProcessingS: options.maxProcessingS,
      ...(options.releaseBackoff === undefined ? {} : { releaseBackoff: options.releaseBackoff }),
      logger: this.#log,
    });
    this.#runner = new IntakeRunner(this.#source, {
      maxInFlightPerLane: options.maxPending,
      ...(options.gate === undefined ? {} : { gate: options.gate }),
      logger: this.#log,
      logFields: { queueUrl: options.inputQueueUrl },
    });
  }

  /** Set while receiving from the input queue fails: why, and since when (for readiness). */
  get receiveError(): { readonly message: string; readonly since: Date } | undefined {
    return this.#source.receiveError;
  }

  get stats(): SqsRelayStats {
    const progress = this.#runner.stats;
    const source = this.#source.stats;
    return {
      inFlight: this.#source.lane.pending,
      settled: progress.settled,
      deadLettered: progress.deadLettered,
      lastProgressAt: progress.lastProgressAt,
      ...source,
    };
  }

  /** Checks (or creates) the queues and starts receiving; resolves once the long polls run. */
  async start(processor: MessageProcessor): Promise<void> {
    const { inputQueueUrl, queues } = this.#o;
    try {
      const found = await ensureQueues(
        this.#o.client,
        inputQueueUrl,
        [queues.succeeded, queues.failed, queues.deadLetter],
        this.#o.createQueues ?? false,
      );
      if (found.created.length > 0) this.#log.warn({ queues: found.created }, "created missing SQS queues");
      if (found.inputMaxReceiveCount === undefined && found.created.length === 0) {
        this.#log.warn(
          { queueUrl: inputQueueUrl },
          "the input queue has no redrive policy: a message the relay keeps failing on is delivered again and again (with a growing delay) instead of moving to a dead-letter queue",
        );
      }
      await this.#runner.start(processor);
    } catch (error) {
      this.#o.client.destroy();
      throw error;
    }
  }

  /**
   * Drains: stops receiving (idle long polls are aborted) and starting new work, lets work in flight
   * finish until the deadline, then cancels what is left; deletes what settled and releases the rest
   * at once, so it is delivered again.
   */
  async stop(deadlineMs: number): Promise<{ abandoned: number }> {
    const result = await this.#runner.stop(deadlineMs);
    await this.sink.flush();
    this.#o.client.destroy();
    return result;
  }
}
