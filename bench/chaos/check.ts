// The judge of a chaos scenario. It reads only what left the relays (the outcomes and dead letters read
// back from the broker), what the Dojo simulator recorded (refunds per payment, requests per
// idempotency key) and the relays' log lines; never the relays' own counters or ledgers. Each invariant
// is a count of violations: 0 means it held.
import { idempotencyKeyFor } from "../../schemas/identity.ts";
import { DEMO_EVENT_SOURCE } from "../../src/demo/messages.ts";
import type { DemoPlan, MessageKind } from "../../src/demo/plan.ts";
import type { Answer } from "./transport.ts";

export interface SimRefund {
  readonly refundId: string;
  readonly amount: number;
  readonly idempotencyKey: string;
}

export interface IntentRecord {
  readonly intentId: string;
  readonly captured: number;
  readonly refundedAmount: number;
  readonly refunds: readonly SimRefund[];
}

export interface Evidence {
  readonly plan: DemoPlan;
  readonly answers: readonly Answer[];
  readonly intents: readonly IntentRecord[];
  /** Create-refund requests the simulator saw for each invalid event's idempotency key. */
  readonly invalidKeyRequests: ReadonlyMap<string, number>;
  /** Every log line the relays wrote. */
  readonly logLines: Iterable<string>;
  /** Every secret the relays were given (API keys, passwords, AWS secret key). */
  readonly secrets: readonly string[];
}

export const INVARIANTS = [
  "paid twice",
  "refunded over captured",
  "failed but refunded",
  "unanswered",
  "several answers",
  "invalid reached Dojo",
  "secret in logs",
  "unexpected answer",
] as const;
export type InvariantName = (typeof INVARIANTS)[number];

export interface Verdict {
  readonly violations: Record<InvariantName, number>;
  /** A few examples per violated invariant, to start an investigation from. */
  readonly examples: Record<InvariantName, string[]>;
  readonly refundsAtDojo: number;
  readonly answers: { readonly succeeded: number; readonly failed: number; readonly deadLettered: number };
  /** The longest time between two answers published, in ms: how long the fault held the relays up. */
  readonly longestGapMs: number;
}

/** What each kind of message must be answered with once every fault has passed. */
const EXPECTED: Readonly<Record<MessageKind, { destination: Answer["destination"]; code?: string }>> = {
  full: { destination: "succeeded" },
  partial: { destination: "succeeded" },
  duplicate: { destination: "succeeded" },
  over_refund: { destination: "failed", code: "amount_exceeds_refundable" },
  uncaptured: { destination: "failed", code: "payment_not_captured" },
  invalid: { destination: "failed", code: "invalid_event" },
  unparseable: { destination: "dead-letter", code: "unparseable" },
};

export const keyOf = (eventId: string) => idempotencyKeyFor({ source: DEMO_EVENT_SOURCE, id: eventId });

export function judge(evidence: Evidence): Verdict {
  const violations = Object.fromEntries(INVARIANTS.map((name) => [name, 0])) as Record<InvariantName, number>;
  const examples = Object.fromEntries(INVARIANTS.map((name) => [name, [] as string[]])) as Record<
    InvariantName,
    string[]
  >;
  const violate = (name: InvariantName, example: string, count = 1) => {
    violations[name] += count;
    if (examples[name].length < 3) examples[name].push(example);
  };

  // The distinct events: a duplicate is its original's event.
  const kindOf = new Map<string, MessageKind>();
  for (const m of evidence.plan.messages) if (m.kind !== "duplicate") kindOf.set(m.eventId, m.kind);
  const byEvent = new Map<string, Answer[]>();
  for (const a of evidence.answers) {
    if (a.eventId === undefined) continue;
    const list = byEvent.get(a.eventId) ?? [];
    list.push(a);
    byEvent.set(a.eventId, list);
  }

  // Money: refunds per idempotency key, and per payment against what was captured.
  const refunds = evidence.intents.flatMap((i) => i.refunds);
  const refundsPerKey = new Map<string, number>();
  for (const r of refunds)
    refundsPerKey.set(r.idempotencyKey, (refundsPerKey.get(r.idempotencyKey) ?? 0) + 1);
  const refundEventOfKey = new Map<string, string>();
  for (const [id, kind] of kindOf)
    if (kind === "full" || kind === "partial") refundEventOfKey.set(keyOf(id), id);
  for (const [key, n] of refundsPerKey) {
    const event = refundEventOfKey.get(key);
    if (event === undefined) violate("paid twice", `${n} refund(s) at Dojo for a key no refund event has`, n);
    else if (n > 1) violate("paid twice", `event ${event} refunded ${n} times`, n - 1);
  }
  for (const i of evidence.intents) {
    if (i.refundedAmount > i.captured)
      violate("refunded over captured", `${i.intentId}: ${i.refundedAmount} refunded of ${i.captured}`);
  }

  // Answers.
  for (const [id, kind] of kindOf) {
    const got = byEvent.get(id) ?? [];
    const reasoned = got.filter((a) => a.destination !== "dead-letter" || a.code !== undefined);
    if (reasoned.length === 0) {
      violate("unanswered", `${kind} ${id}${got.length > 0 ? " (dead letter without a reason)" : ""}`);
      continue;
    }
    const kinds = new Set(got.map((a) => a.destination));
    const outcomeIds = new Set(got.filter((a) => a.destination !== "dead-letter").map((a) => a.outcomeId));
    if (kinds.size > 1 || outcomeIds.size > 1)
      violate("several answers", `${id}: ${[...kinds].join("+")}, ${outcomeIds.size} outcome id(s)`);
    if (got.some((a) => a.destination === "failed") && (refundsPerKey.get(keyOf(id)) ?? 0) > 0)
      violate("failed but refunded", `${kind} ${id}: refund.failed ${got.find((a) => a.code)?.code ?? ""}`);
    const expected = EXPECTED[kind];
    const wrong = got.find(
      (a) =>
        a.destination !== expected.destination || (expected.code !== undefined && a.code !== expected.code),
    );
    if (wrong !== undefined)
      violate("unexpected answer", `${kind} ${id}: ${wrong.destination} ${wrong.code ?? ""}`.trim());
  }
  for (const [key, n] of evidence.invalidKeyRequests)
    if (n > 0) violate("invalid reached Dojo", `${n} refund request(s) with invalid event key ${key}`);

  const secrets = evidence.secrets.filter((s) => s.length >= 8);
  for (const line of evidence.logLines) {
    const leaked = secrets.find((s) => line.includes(s));
    if (leaked !== undefined)
      violate("secret in logs", `a log line holds a secret ending ...${leaked.slice(-3)}`);
  }

  const count = (d: Answer["destination"]) => evidence.answers.filter((a) => a.destination === d).length;
  const times = evidence.answers.map((a) => a.publishedAt).sort((a, b) => a - b);
  let longestGapMs = 0;
  for (let i = 1; i < times.length; i++)
    longestGapMs = Math.max(longestGapMs, (times[i] as number) - (times[i - 1] as number));
  return {
    longestGapMs,
    violations,
    examples,
    refundsAtDojo: refunds.length,
    answers: { succeeded: count("succeeded"), failed: count("failed"), deadLettered: count("dead-letter") },
  };
}
