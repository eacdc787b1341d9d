// Wraps the pipeline as the transports call it (the intake runner's MessageProcessor), so every
// transport is watched alike without knowing it: each message gets its processing span (continuing
// the trace it arrived with), and the watch keeps what readiness and metrics ask about the work in
// hand: how much is in flight, since when the oldest, and when something was last taken and settled.
import type { Attributes } from "@opentelemetry/api";
import type { MessageProcessor } from "../intake/index.ts";
import type { DeliveryContext, InboundMessage, MessageResult } from "../pipeline/index.ts";
import { NEEDS_A_PERSON } from "../pipeline/outcome-writer.ts";
import type { RelayMetrics } from "./metrics.ts";
import { type MessageSpan, startMessageSpan } from "./tracing.ts";

export interface MessageWatchOptions {
  /** `messaging.destination.name`: the input topic or queue; spans are named `process <it>`. */
  readonly destination: string;
  /**
   * A delivery's messaging attributes (OpenTelemetry semantic conventions); the transport's wiring
   * knows what its messages carry. Asked only for spans an SDK records.
   */
  readonly describe: (message: InboundMessage) => Attributes;
  readonly metrics?: RelayMetrics | undefined;
  readonly now?: () => number;
}

/** The context the pipeline gets: the runner's, plus the message's trace. */
function traced(ctx: DeliveryContext, trace: MessageSpan): DeliveryContext {
  return {
    ...(ctx.stop === undefined ? {} : { stop: ctx.stop }),
    ...(ctx.abort === undefined ? {} : { abort: ctx.abort }),
    fenced: () => ctx.fenced?.() === true,
    trace,
  };
}

export class MessageWatch implements MessageProcessor {
  readonly #inner: MessageProcessor;
  readonly #o: MessageWatchOptions;
  readonly #now: () => number;
  /** Messages in the pipeline and when each was taken; a Map keeps them in the order taken. */
  readonly #inFlight = new Map<InboundMessage, number>();
  #taken = 0;
  #settled = 0;
  #deadLettered = 0;
  #parked = 0;
  #lastTakenAt: number | undefined;
  #lastSettledAt: number | undefined;

  constructor(inner: MessageProcessor, options: MessageWatchOptions) {
    this.#inner = inner;
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  process(message: InboundMessage, ctx: DeliveryContext): Promise<MessageResult> {
    const now = this.#now();
    this.#taken += 1;
    this.#lastTakenAt = now;
    this.#inFlight.set(message, now);
    const span = startMessageSpan(message.headers, this.#o.destination, () => this.#o.describe(message));
    let result: Promise<MessageResult>;
    try {
      result = this.#inner.process(message, span === undefined ? ctx : traced(ctx, span));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (r) => this.#answered(message, r, span),
      (error: unknown) => this.#failed(message, error, span),
    );
    return result;
  }

  /** Messages in the pipeline now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** When the oldest message in the pipeline was taken, if any. */
  get oldestTakenAt(): number | undefined {
    for (const takenAt of this.#inFlight.values()) return takenAt;
    return undefined;
  }

  get taken(): number {
    return this.#taken;
  }

  /** Messages that settled: published or dead-lettered. */
  get settled(): number {
    return this.#settled;
  }

  /** Messages that settled on the dead-letter destination. */
  get deadLettered(): number {
    return this.#deadLettered;
  }

  /** The dead letters that wait for a person (all but unreadable input). */
  get parked(): number {
    return this.#parked;
  }

  get lastTakenAt(): number | undefined {
    return this.#lastTakenAt;
  }

  get lastSettledAt(): number | undefined {
    return this.#lastSettledAt;
  }

  #answered(message: InboundMessage, result: MessageResult, span: MessageSpan | undefined): void {
    this.#inFlight.delete(message);
    if (result.status !== "abandoned") {
      this.#settled += 1;
      this.#lastSettledAt = this.#now();
    }
    if (result.status === "dead-lettered") {
      this.#deadLettered += 1;
      if (NEEDS_A_PERSON.has(result.reason.code)) this.#parked += 1;
    }
    this.#o.metrics?.result(result);
    if (span === undefined) return;
    switch (result.status) {
      case "published":
        span.end({
          "refund_relay.result": "published",
          "refund_relay.outcome.type": result.outcome.type,
          "refund_relay.outcome.id": result.outcome.id,
          "refund_relay.replayed": result.replayed,
          ...(result.outcome.type === "refund.failed"
            ? { "refund_relay.code": result.outcome.data.code }
            : {}),
        });
        return;
      case "dead-lettered":
        span.end({ "refund_relay.result": "dead-lettered", "refund_relay.code": result.reason.code });
        return;
      case "abandoned":
        span.end({ "refund_relay.result": "abandoned" });
        return;
    }
  }

  #failed(message: InboundMessage, error: unknown, span: MessageSpan | undefined): void {
    this.#inFlight.delete(message);
    this.#o.metrics?.failed();
    span?.end({ "refund_relay.result": "error" }, error instanceof Error ? error.message : String(error));
  }
}
