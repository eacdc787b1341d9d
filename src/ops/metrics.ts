// The relay's Prometheus metrics, in a registry of its own (never prom-client's global one): several
// relays may run in one process (tests do), and each must count only its own work. The pipeline, the
// Dojo client and the ledger report through small observer interfaces; gauges that mirror live state
// (in flight, faults, lag, queue depth) are read when scraped.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { DojoObserver } from "../dojo/index.ts";
import type {
  ActiveFault,
  FaultKind,
  MessageResult,
  PipelineObserver,
  RetryReason,
} from "../pipeline/index.ts";

/** Dead-letter codes that wait for a person (the others are unreadable input). */
const PARKED_CODES: ReadonlySet<string> = new Set([
  "retry_budget_exhausted",
  "needs_reconciliation",
  "idempotency_conflict",
  "internal_error",
  "unknown_merchant",
]);

const FAULT_KINDS: readonly FaultKind[] = ["dojo_credentials", "ledger", "publish"];

/** What the scrape reads from the running relay. */
export interface MetricSources {
  /** Messages in the pipeline now. */
  inFlight(): number;
  /** Age of the oldest of them, in seconds (0 when none). */
  oldestUnsettledSeconds(): number;
  faults(): readonly ActiveFault[];
  ready(): boolean;
  /** Kafka: the input topic and consumer lag per owned partition. */
  kafkaLag?(): { readonly topic: string; readonly lag: ReadonlyMap<number, number> } | undefined;
  /** SQS: the input queue's approximate counts, once read. */
  sqsDepth?():
    | {
        readonly queue: string;
        readonly visible: number;
        readonly notVisible: number;
        readonly delayed: number;
      }
    | undefined;
  /** Kafka: consumer crashes since start. */
  kafkaCrashes?(): number;
}

export class RelayMetrics implements PipelineObserver, DojoObserver {
  readonly registry = new Registry();
  readonly #events: Counter<"outcome" | "code">;
  readonly #replayed: Counter;
  readonly #refunded: Counter<"currency">;
  readonly #deadLetters: Counter<"code">;
  readonly #parked: Counter<"code">;
  readonly #retries: Counter<"reason">;
  readonly #dojo: Histogram<"operation" | "status_class">;
  readonly #ledger: Histogram<"operation" | "result">;

  constructor(sources: MetricSources, options: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.#events = new Counter({
      name: "refund_relay_events_total",
      help: "return.approved messages settled or given up, by outcome (succeeded, failed, dead_lettered, abandoned, error) and code (refund.failed code or dead-letter code; empty otherwise)",
      labelNames: ["outcome", "code"],
      registers,
    });
    this.#replayed = new Counter({
      name: "refund_relay_events_replayed_total",
      help: "Outcomes answered from the ledger (a redelivery, or another instance's work) without a Dojo call",
      registers,
    });
    this.#refunded = new Counter({
      name: "refund_relay_refunded_minor_units_total",
      help: "Money refunded or reversed (refund.succeeded not answered from the ledger), in minor units of the currency",
      labelNames: ["currency"],
      registers,
    });
    this.#deadLetters = new Counter({
      name: "refund_relay_dead_letters_total",
      help: "Messages sent to the dead-letter destination, by code",
      labelNames: ["code"],
      registers,
    });
    this.#parked = new Counter({
      name: "refund_relay_parked_total",
      help: "Dead letters that wait for a person (every code but unparseable and invalid_envelope), by code",
      labelNames: ["code"],
      registers,
    });
    this.#retries = new Counter({
      name: "refund_relay_retries_total",
      help: "Work tried again, by reason: dojo (no definitive answer, same key), dojo_request (the client resent a request within a call), internal_error, publish, ledger, dojo_credentials (a fault waited out)",
      labelNames: ["reason"],
      registers,
    });
    this.#dojo = new Histogram({
      name: "refund_relay_dojo_request_duration_seconds",
      help: "Duration of each HTTP request to Dojo, by operation and status class (2xx, 4xx, 5xx; none when no response came)",
      labelNames: ["operation", "status_class"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#ledger = new Histogram({
      name: "refund_relay_ledger_operation_duration_seconds",
      help: "Duration of ledger operations, by operation and result (ok, error)",
      labelNames: ["operation", "result"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    new Gauge({
      name: "refund_relay_in_flight_messages",
      help: "Messages in the pipeline now (taken from the transport, not yet settled)",
      registers,
      collect() {
        this.set(sources.inFlight());
      },
    });
    new Gauge({
      name: "refund_relay_oldest_unsettled_message_age_seconds",
      help: "Age of the oldest message in the pipeline (0 when none)",
      registers,
      collect() {
        this.set(sources.oldestUnsettledSeconds());
      },
    });
    new Gauge({
      name: "refund_relay_fault_active",
      help: "1 while a fault of the relay's own world pauses intake, by kind (dojo_credentials, ledger, publish)",
      labelNames: ["kind"],
      registers,
      collect() {
        const active = new Set(sources.faults().map((f) => f.kind));
        for (const kind of FAULT_KINDS) this.set({ kind }, active.has(kind) ? 1 : 0);
      },
    });
    new Gauge({
      name: "refund_relay_ready",
      help: "1 when /readyz would answer 200",
      registers,
      collect() {
        this.set(sources.ready() ? 1 : 0);
      },
    });
    const kafkaLag = sources.kafkaLag;
    if (kafkaLag !== undefined) {
      new Gauge({
        name: "refund_relay_kafka_consumer_lag_messages",
        help: "Messages between the group's committed offset and the end of each input partition this member owns",
        labelNames: ["topic", "partition"],
        registers,
        collect() {
          this.reset();
          const known = kafkaLag();
          if (known === undefined) return;
          for (const [partition, messages] of known.lag) {
            this.set({ topic: known.topic, partition: String(partition) }, messages);
          }
        },
      });
    }
    const kafkaCrashes = sources.kafkaCrashes;
    if (kafkaCrashes !== undefined) {
      new Counter({
        name: "refund_relay_kafka_consumer_crashes_total",
        help: "Times the Kafka consumer crashed (kafkajs restarts it unless it gives up)",
        registers,
        collect() {
          this.reset();
          this.inc(kafkaCrashes());
        },
      });
    }
    const sqsDepth = sources.sqsDepth;
    if (sqsDepth !== undefined) {
      new Gauge({
        name: "refund_relay_sqs_approximate_messages",
        help: "The input queue's approximate message counts (GetQueueAttributes), by state: visible (ApproximateNumberOfMessages, the queue depth), not_visible, delayed",
        labelNames: ["queue", "state"],
        registers,
        collect() {
          this.reset();
          const depth = sqsDepth();
          if (depth === undefined) return;
          const queue = depth.queue;
          this.set({ queue, state: "visible" }, depth.visible);
          this.set({ queue, state: "not_visible" }, depth.notVisible);
          this.set({ queue, state: "delayed" }, depth.delayed);
        },
      });
    }
    if (options.processMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  /** A message settled (or was given up) with this result. */
  result(result: MessageResult): void {
    switch (result.status) {
      case "published": {
        const outcome = result.outcome;
        if (outcome.type === "refund.failed") {
          this.#events.inc({ outcome: "failed", code: outcome.data.code });
        } else {
          this.#events.inc({ outcome: "succeeded", code: "" });
          if (!result.replayed) {
            this.#refunded.inc({ currency: outcome.data.amount.currencyCode }, outcome.data.amount.value);
          }
        }
        if (result.replayed) this.#replayed.inc();
        return;
      }
      case "dead-lettered": {
        const code = result.reason.code;
        this.#events.inc({ outcome: "dead_lettered", code });
        this.#deadLetters.inc({ code });
        if (PARKED_CODES.has(code)) this.#parked.inc({ code });
        return;
      }
      case "abandoned":
        this.#events.inc({ outcome: "abandoned", code: "" });
        return;
    }
  }

  /** The pipeline failed on a message (a bug): the transport delivers it again. */
  failed(): void {
    this.#events.inc({ outcome: "error", code: "" });
  }

  retried(reason: RetryReason): void {
    this.#retries.inc({ reason });
  }

  requestEnded(operation: string, status: number | undefined, seconds: number, attempt: number): void {
    const statusClass = status === undefined ? "none" : `${Math.floor(status / 100)}xx`;
    this.#dojo.observe({ operation, status_class: statusClass }, seconds);
    if (attempt > 1) this.#retries.inc({ reason: "dojo_request" });
  }

  ledgerOperation(operation: string, seconds: number, ok: boolean): void {
    this.#ledger.observe({ operation, result: ok ? "ok" : "error" }, seconds);
  }

  /** The registry in Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
