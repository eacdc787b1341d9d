// The periodic progress line (LOG_PROGRESS_INTERVAL_MS, every 30 s by default): messages settled since
// start, the rate over the interval, what is in flight, dead letters waiting for a person, and (Kafka)
// the consumer lag. Written only when something settled during the interval or work is pending, so an
// idle relay stays quiet.
import type { Logger } from "./logger.ts";

/** Consumer lag over the partitions this member owns. */
export interface LagReading {
  readonly total: number;
  /** Partitions the total is over. */
  readonly partitions: number;
}

export interface ProgressSources {
  /** Messages settled (published or dead-lettered) since start. */
  readonly settled: () => number;
  /** Messages in the pipeline now. */
  readonly inFlight: () => number;
  /** Dead letters waiting for a person since start. */
  readonly parked: () => number;
  /** Kafka: the consumer lag, when known. */
  readonly lag?: () => LagReading | undefined;
}

export interface ProgressFields {
  readonly processed: number;
  /** Settled per second over the interval. */
  readonly ratePerS: number;
  readonly inFlight: number;
  readonly parked: number;
  readonly lag?: number;
}

/**
 * Whether lag is work waiting. A transactional producer's commit marker sits at the end of a partition
 * and counts in its lag for good, so one per partition is not taken as work (README: "Health and
 * metrics"); more than that is.
 */
function lagPending(lag: LagReading | undefined): boolean {
  return lag !== undefined && lag.total > lag.partitions;
}

export class ProgressLog {
  readonly #log: Logger;
  readonly #sources: ProgressSources;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastAt: number;
  #lastSettled: number;
  #lastParked: number;

  constructor(
    log: Logger,
    sources: ProgressSources,
    options: { readonly intervalMs: number; readonly now?: () => number },
  ) {
    this.#log = log;
    this.#sources = sources;
    this.#intervalMs = options.intervalMs;
    this.#now = options.now ?? Date.now;
    this.#lastAt = this.#now();
    this.#lastSettled = sources.settled();
    this.#lastParked = sources.parked();
  }

  /** Ticks every interval until stop(); an interval of 0 or less does nothing. */
  start(): void {
    if (this.#intervalMs <= 0 || this.#timer !== undefined) return;
    this.#lastAt = this.#now();
    this.#timer = setInterval(() => this.tick(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Writes the progress line when something happened since the last tick or work is pending. */
  tick(): ProgressFields | undefined {
    const now = this.#now();
    const settled = this.#sources.settled();
    const parked = this.#sources.parked();
    const inFlight = this.#sources.inFlight();
    const lag = this.#sources.lag?.();
    const delta = settled - this.#lastSettled;
    const elapsedS = Math.max(0.001, (now - this.#lastAt) / 1000);
    const happened = delta > 0 || parked !== this.#lastParked;
    this.#lastAt = now;
    this.#lastSettled = settled;
    this.#lastParked = parked;
    if (!happened && inFlight === 0 && !lagPending(lag)) return undefined;
    const fields: ProgressFields = {
      processed: settled,
      ratePerS: Math.round((delta / elapsedS) * 10) / 10,
      inFlight,
      parked,
      ...(lag === undefined ? {} : { lag: lag.total }),
    };
    this.#log.info(fields, "progress");
    return fields;
  }
}
