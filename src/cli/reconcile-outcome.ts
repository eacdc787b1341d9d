// The parts of `refund-relay reconcile` that do not deal with arguments or output streams: building
// the outcome a person decided on from the event the ledger kept, publishing it as the relay does,
// reading the payment intent afresh, and the plain views of a ledger row that both the table and the
// JSON output are made from.
import {
  buildRefundFailed,
  buildRefundSucceeded,
  type FailureCode,
  type OutcomeEvent,
  ReturnApprovedDataV1,
} from "../../schemas/index.ts";
import type { RelayConfig } from "../config.ts";
import { type DojoClient, refundableAmount } from "../dojo/index.ts";
import type { AuditRecord, LedgerEntry } from "../ledger/index.ts";
import type { Logger } from "../logger.ts";
import { reportWarningsExceptTimeoutNegative } from "../process-warnings.ts";

export type ManualDecision =
  | { readonly as: "succeeded"; readonly refundId: string }
  | { readonly as: "failed"; readonly code: FailureCode; readonly message: string };

/** The decision cannot be turned into an outcome for this row; the message says why. */
export class ManualOutcomeError extends Error {
  override readonly name = "ManualOutcomeError";
}

/**
 * The outcome event for a decision, built exactly as the relay builds its own (same ids, same fields),
 * from the copy of the event the ledger kept. A consumer cannot tell it from one the relay decided,
 * except by its message and the ledger's audit record.
 */
export function manualOutcome(
  entry: LedgerEntry,
  decision: ManualDecision,
  eventSource: string,
  now: Date,
): OutcomeEvent {
  const stored = entry.event as { id?: unknown; source?: unknown; data?: unknown } | undefined;
  if (stored === undefined || stored === null || typeof stored !== "object") {
    throw new ManualOutcomeError(
      "the ledger holds no copy of this event (it was recorded by an older refund-relay), so no complete outcome can be built from it",
    );
  }
  const parsed = ReturnApprovedDataV1.safeParse(stored.data);
  if (!parsed.success) {
    throw new ManualOutcomeError("the copy of the event in the ledger is not a valid return.approved");
  }
  const data = parsed.data;
  // The row's reference, not the copy's, names the event: it is what the relay answered for.
  const common = {
    source: eventSource,
    sourceEvent: { id: entry.eventId, source: entry.source },
    returnId: data.returnId,
    orderId: data.orderId,
    paymentIntentId: data.paymentIntentId,
    amount: data.amount,
    attempts: entry.attempts,
    processedAt: now,
    ...(data.merchantId === undefined ? {} : { merchantId: data.merchantId }),
    ...(data.metadata === undefined ? {} : { metadata: data.metadata }),
  };
  // Only an event that reached Dojo has a key and a method Dojo saw.
  const sent =
    entry.attempts > 0 ? { idempotencyKey: entry.idempotencyKey, method: entry.method ?? "refund" } : {};
  if (decision.as === "succeeded") {
    if (entry.attempts === 0) {
      throw new ManualOutcomeError(
        "the relay never sent this event to Dojo (attempts 0), and refund.succeeded must name the idempotency key and method Dojo saw; a refund made outside the relay cannot be reported as this event's refund.succeeded",
      );
    }
    return buildRefundSucceeded({
      ...common,
      idempotencyKey: entry.idempotencyKey,
      method: entry.method ?? "refund",
      refundId: decision.refundId,
    });
  }
  return buildRefundFailed({ ...common, ...sent, code: decision.code, message: decision.message });
}

export function topicOf(config: RelayConfig, outcome: OutcomeEvent): string {
  const kafka = config.kafka!;
  return outcome.type === "refund.succeeded" ? kafka.succeededTopic : kafka.failedTopic;
}

export interface OutcomePublisher {
  /** Resolves once the brokers acknowledged the record. */
  publish(outcome: OutcomeEvent): Promise<void>;
  close(): Promise<void>;
}

/** Kafka cannot take the outcome: unreachable, or the topic is missing. Nothing was sent. */
export class KafkaSetupError extends Error {
  override readonly name = "KafkaSetupError";
  readonly missingTopic: boolean;
  constructor(message: string, missingTopic: boolean) {
    super(message);
    this.missingTopic = missingTopic;
  }
}

/**
 * Connects to Kafka and checks the topic, so the caller can stop before writing anything when Kafka
 * cannot take the outcome. Records are keyed and encoded by the relay's own sink (OUTCOME_MODE).
 */
export async function connectOutcomePublisher(
  config: RelayConfig,
  logger: Logger,
  topic: string,
): Promise<OutcomePublisher> {
  // Loaded here: listing and showing need no Kafka client.
  const { Partitioners } = await import("kafkajs");
  const { BatchingProducer, createKafka, KafkaOutcomeSink } = await import("../../consumers/kafka/index.ts");
  reportWarningsExceptTimeoutNegative((warning) => logger.warn({ err: warning }, "process warning"));
  const settings = config.kafka!;
  const kafka = createKafka(settings, logger);
  // Never the relay's transactional id: using it would fence the running relay's producer.
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const admin = kafka.admin();
  let exists: boolean;
  try {
    await admin.connect();
    exists = (await admin.listTopics()).includes(topic);
    if (exists) await producer.connect();
  } catch (error) {
    await producer.disconnect().catch(() => {});
    const brokers = settings.brokers.join(",");
    throw new KafkaSetupError(`cannot reach Kafka (${brokers}): ${(error as Error).message}`, false);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  if (!exists) throw new KafkaSetupError(`Kafka topic ${topic} does not exist`, true);
  const sink = new KafkaOutcomeSink(
    new BatchingProducer(producer, { lingerMs: 0 }),
    { succeeded: settings.succeededTopic, failed: settings.failedTopic, deadLetter: settings.dlqTopic },
    config.outcomeMode,
  );
  return { publish: (outcome) => sink.publish(outcome), close: () => producer.disconnect() };
}

/** What a fresh read of the payment intent says, or why it could not be read. */
export type DojoView =
  | {
      readonly status: string;
      readonly refundedAmount: number;
      readonly captured: number;
      readonly currencyCode: string | null;
    }
  | { readonly unreadable: string; readonly message: string };

export async function readDojo(
  dojo: Pick<DojoClient, "getPaymentIntent">,
  entry: Pick<LedgerEntry, "paymentIntentId" | "merchantId">,
): Promise<DojoView> {
  try {
    const result = await dojo.getPaymentIntent({
      paymentIntentId: entry.paymentIntentId,
      ...(entry.merchantId === null ? {} : { merchantId: entry.merchantId }),
    });
    if (!result.ok) return { unreadable: result.error.code, message: result.error.message };
    const amounts = refundableAmount(result.value);
    return {
      status: result.value.status,
      refundedAmount: result.value.refundedAmount ?? 0,
      captured: amounts.captured,
      currencyCode: amounts.currencyCode,
    };
  } catch (error) {
    return { unreadable: "error", message: error instanceof Error ? error.message : String(error) };
  }
}

/** Runs `work` over `items` with at most `limit` at once, keeping the order of the results. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Minor units as a decimal amount with the currency's usual digits: 4598 GBP -> "45.98 GBP". */
export function formatMoney(value: number, currencyCode: string | null): string {
  if (currencyCode === null) return String(value);
  let digits = 2;
  try {
    digits =
      new Intl.NumberFormat("en", { style: "currency", currency: currencyCode }).resolvedOptions()
        .maximumFractionDigits ?? 2;
  } catch {
    // Not an ISO 4217 code Intl knows: two digits, the common case.
  }
  const sign = value < 0 ? "-" : "";
  const abs = Math.abs(value);
  const text = digits === 0 ? String(abs) : (abs / 10 ** digits).toFixed(digits);
  return `${sign}${text} ${currencyCode}`;
}

export function describeDojo(view: DojoView, currencyCode: string): string {
  if ("unreadable" in view) return `unreadable: ${view.unreadable}`;
  const currency = view.currencyCode ?? currencyCode;
  return `${view.status}, captured ${formatMoney(view.captured, currency)}, refunded ${formatMoney(view.refundedAmount, currency)}`;
}

/** The row as plain JSON (dates as ISO strings); the stored event and outcome are left to the caller. */
export function entryView(entry: LedgerEntry) {
  return {
    source: entry.source,
    eventId: entry.eventId,
    paymentIntentId: entry.paymentIntentId,
    merchantId: entry.merchantId,
    amount: { value: entry.amount, currencyCode: entry.currencyCode },
    state: entry.state,
    attempts: entry.attempts,
    method: entry.method,
    idempotencyKey: entry.idempotencyKey,
    refundId: entry.refundId,
    firstSeenAt: entry.firstSeenAt.toISOString(),
    updatedAt: entry.updatedAt.toISOString(),
    lastError: entry.lastError,
    parked:
      entry.parked === null
        ? null
        : { code: entry.parked.code, reason: entry.parked.reason, at: entry.parked.at.toISOString() },
  };
}

export function auditView(record: AuditRecord) {
  return {
    at: record.at.toISOString(),
    actor: record.actor,
    action: record.action,
    reason: record.reason,
    previousState: record.previousState,
    newState: record.newState,
  };
}

/** One line about a stored outcome, for messages that say what the ledger holds. */
export function describeStored(entry: LedgerEntry): string {
  const outcome = entry.outcome as { type?: string; id?: string; data?: { code?: string } } | null;
  const parts = [`state ${entry.state}`];
  if (outcome?.type !== undefined) parts.push(outcome.type);
  if (outcome?.data?.code !== undefined) parts.push(`code ${outcome.data.code}`);
  if (entry.refundId !== null) parts.push(`refund ${entry.refundId}`);
  if (outcome?.id !== undefined) parts.push(`outcome id ${outcome.id}`);
  parts.push(`updated ${entry.updatedAt.toISOString()}`);
  return parts.join(", ");
}

/** Lines of left-aligned columns, two spaces apart, the header first; the last column is not padded. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [header, ...rows].map(line);
}
