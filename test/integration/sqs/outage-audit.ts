// Judging an SQS relay run from what left it only: the outcome queues, the relay's dead-letter queue
// and the simulator's refunds. Shared by the tests that take one of the relay's dependencies away
// (Dojo key, ledger, SQS endpoint) and give it back.
import { idempotencyKeyFor } from "../../../schemas/index.ts";
import type { returnApproved } from "../../support/events.ts";
import { type SqsHarness, type SqsRecord, sourceEventIdOf } from "../../support/sqs-harness.ts";

export type ReturnApproved = ReturnType<typeof returnApproved>;

/** The source event a record is about: an outcome's sourceEvent, or a dead letter's envelope. */
export function eventIdOfRecord(record: SqsRecord): string | undefined {
  const fromOutcome = sourceEventIdOf(record);
  if (fromOutcome !== undefined) return fromOutcome;
  const letter = (record.json as { deadLetter?: { eventId?: string } } | undefined)?.deadLetter;
  return letter?.eventId ?? record.attributes["rr-event-id"];
}

/** Counts items by a label (a failure code, a dead-letter code), for readable assertion diffs. */
export function countBy<T>(items: readonly T[], label: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const key = label(item);
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** What a relay must never have done to these events: answer one wrongly, or dead-letter it. */
export function falseAnswers(h: SqsHarness): {
  failed: Record<string, number>;
  deadLetters: Record<string, number>;
} {
  return {
    failed: countBy(h.outcomes("refund.failed"), (o) => String(o.json?.data.code ?? "<no code>")),
    deadLetters: countBy(h.deadLetters(), (d) => d.attributes["rr-error-code"] ?? "<no code>"),
  };
}

/** Every event has a refund.succeeded collected. */
export function allSucceeded(h: SqsHarness, events: readonly ReturnApproved[]): boolean {
  const succeeded = new Set(h.outcomes("refund.succeeded").map((o) => sourceEventIdOf(o)));
  return events.every((e) => succeeded.has(e.id));
}

/**
 * Waits until the outcome and dead-letter queues are empty, visible and in flight (the harness's
 * collectors delete what they have recorded): every message the relay sent has been recorded.
 */
export async function outputsCollected(h: SqsHarness, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const urls = [h.urls.succeeded, h.urls.failed, h.urls.dlq];
  for (;;) {
    let left = 0;
    for (const url of urls) {
      const d = await h.depth(url);
      left += d.visible + d.inFlight;
    }
    if (left === 0) return;
    if (Date.now() > deadline) throw new Error(`${left} message(s) left uncollected in the output queues`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface SqsAudit {
  /** Events with no refund.succeeded. */
  readonly withoutSucceeded: number;
  /** refund.failed records (every one is false here: every refund fits its payment). */
  readonly failedOutcomes: number;
  /** Records on the relay's dead-letter queue. */
  readonly deadLetters: number;
  /** Events answered with more than one distinct outcome id. */
  readonly eventsWithSeveralOutcomeIds: number;
  /** Events without a refund at the simulator for their idempotency key. */
  readonly withoutRefund: number;
  /** Refunds beyond the first for one idempotency key: money paid twice. */
  readonly secondRefunds: number;
  /** Refunds at the simulator whose key belongs to none of the events. */
  readonly strayRefunds: number;
}

export const CLEAN: SqsAudit = {
  withoutSucceeded: 0,
  failedOutcomes: 0,
  deadLetters: 0,
  eventsWithSeveralOutcomeIds: 0,
  withoutRefund: 0,
  secondRefunds: 0,
  strayRefunds: 0,
};

/**
 * For every event: a refund.succeeded, one outcome id however often it was published, exactly one
 * refund at the simulator for its idempotency key; nothing failed or dead-lettered.
 */
export async function audit(h: SqsHarness, events: readonly ReturnApproved[]): Promise<SqsAudit> {
  const outcomeIds = new Map<string, Set<string>>();
  const succeeded = new Set<string>();
  for (const o of h.outcomes()) {
    const id = sourceEventIdOf(o) ?? "<unknown>";
    outcomeIds.set(id, (outcomeIds.get(id) ?? new Set()).add(String(o.json?.id ?? "<no id>")));
    if (o.json?.type === "refund.succeeded") succeeded.add(id);
  }
  const keyOf = new Map(events.map((e) => [idempotencyKeyFor(e, { namespace: "rr" }), e.id]));
  const refundsPerKey = new Map<string, number>();
  let strayRefunds = 0;
  for (const pi of new Set(events.map((e) => e.data.paymentIntentId))) {
    for (const refund of (await h.dojo.refundsOf(pi)).refunds) {
      if (!keyOf.has(refund.idempotencyKey)) strayRefunds += 1;
      refundsPerKey.set(refund.idempotencyKey, (refundsPerKey.get(refund.idempotencyKey) ?? 0) + 1);
    }
  }
  let withoutRefund = 0;
  let secondRefunds = 0;
  for (const key of keyOf.keys()) {
    const n = refundsPerKey.get(key) ?? 0;
    if (n === 0) withoutRefund += 1;
    secondRefunds += Math.max(0, n - 1);
  }
  return {
    withoutSucceeded: events.filter((e) => !succeeded.has(e.id)).length,
    failedOutcomes: h.outcomes("refund.failed").length,
    deadLetters: h.deadLetters().length,
    eventsWithSeveralOutcomeIds: [...outcomeIds.values()].filter((ids) => ids.size > 1).length,
    withoutRefund,
    secondRefunds,
    strayRefunds,
  };
}

/** Outcome records per event, for runs in which each event must be published exactly once. */
export function recordsPerEvent(
  h: SqsHarness,
  events: readonly ReturnApproved[],
): { exactlyOne: number; none: number; several: number } {
  const counts = countBy(h.outcomes(), (o) => sourceEventIdOf(o) ?? "<unknown>");
  let exactlyOne = 0;
  let none = 0;
  let several = 0;
  for (const e of events) {
    const n = counts[e.id] ?? 0;
    if (n === 0) none += 1;
    else if (n === 1) exactlyOne += 1;
    else several += 1;
  }
  return { exactlyOne, none, several };
}
