// What a demo run shows at the end: the answers by code, what the simulator recorded, and whether each
// invariant held. The invariants are checked against the simulator's own records (the money that moved),
// not against what the relay says about itself.
import { idempotencyKeyFor } from "../../schemas/identity.ts";
import { DEMO_EVENT_SOURCE } from "./messages.ts";
import type { DemoPlan, MessageKind, PlannedMessage } from "./plan.ts";

/** One answer the relay published, decoded. */
export interface ReadAnswer {
  readonly destination: "succeeded" | "failed" | "dead-letter";
  /** The source event the answer is for (for unparseable messages: the marker in the body). */
  readonly eventId: string | undefined;
  /** The outcome event's id (absent for dead letters). */
  readonly outcomeId: string | undefined;
  /** refund.failed's code, or the dead letter's. */
  readonly code: string | undefined;
  readonly refundId: string | undefined;
}

export interface SimRefund {
  readonly refundId: string;
  readonly amount: number;
  readonly idempotencyKey: string;
}

export interface SimIntentRecord {
  readonly intentId: string;
  readonly captured: number;
  readonly refundedAmount: number;
  readonly refunds: readonly SimRefund[];
}

export interface DemoFacts {
  readonly plan: DemoPlan;
  readonly intentIds: ReadonlyMap<string, string>;
  readonly answers: readonly ReadAnswer[];
  readonly intents: readonly SimIntentRecord[];
  readonly faults: Readonly<Record<string, number>>;
  /** Dojo requests made while the second wave (redeliveries of settled events) was processed. */
  readonly dojoRequestsDuringRedelivery: number;
  readonly seconds: number;
  /** Set when the run stopped waiting for answers. */
  readonly timedOut: boolean;
}

export interface Invariant {
  readonly name: string;
  readonly held: boolean;
  readonly detail: string;
}

export interface DemoSummary {
  readonly outcomes: ReadonlyArray<{
    readonly outcome: string;
    readonly code: string;
    readonly count: number;
  }>;
  readonly refundsAtSimulator: number;
  readonly refundedMinor: number;
  readonly duplicatesSent: number;
  readonly redeliveriesSent: number;
  readonly dojoRequestsDuringRedelivery: number;
  readonly faultsSurvived: Readonly<Record<string, number>>;
  readonly messagesSent: number;
  readonly answers: number;
  readonly seconds: number;
  readonly invariants: readonly Invariant[];
  readonly allHeld: boolean;
}

const EXPECTED: Readonly<Record<MessageKind, { destination: ReadAnswer["destination"]; code?: string }>> = {
  full: { destination: "succeeded" },
  partial: { destination: "succeeded" },
  duplicate: { destination: "succeeded" },
  over_refund: { destination: "failed", code: "amount_exceeds_refundable" },
  uncaptured: { destination: "failed", code: "payment_not_captured" },
  invalid: { destination: "failed", code: "invalid_event" },
  unparseable: { destination: "dead-letter", code: "unparseable" },
};

const isRefund = (m: PlannedMessage) => m.kind === "full" || m.kind === "partial";

export function summarize(facts: DemoFacts): DemoSummary {
  const { plan, answers } = facts;
  const byEvent = new Map<string, ReadAnswer[]>();
  for (const a of answers) {
    if (a.eventId === undefined) continue;
    const list = byEvent.get(a.eventId) ?? [];
    list.push(a);
    byEvent.set(a.eventId, list);
  }
  const counts = new Map<string, number>();
  for (const a of answers) {
    const outcome =
      a.destination === "succeeded"
        ? "refund.succeeded"
        : a.destination === "failed"
          ? "refund.failed"
          : "dead-lettered";
    const k = `${outcome}\u0000${a.code ?? "-"}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const outcomes = [...counts]
    .map(([k, count]) => {
      const [outcome, code] = k.split("\u0000") as [string, string];
      return { outcome, code, count };
    })
    .sort((a, b) => a.outcome.localeCompare(b.outcome) || b.count - a.count);

  const refunds = facts.intents.flatMap((i) => i.refunds);
  const refundById = new Map(refunds.map((r) => [r.refundId, r]));
  const refundEvents = plan.messages.filter(isRefund);
  const invariants: Invariant[] = [];

  // One refund per return: every refund event has exactly one refund at Dojo, of its amount, and the
  // simulator holds no refund that no event asked for.
  {
    const problems: string[] = [];
    const claimed = new Set<string>();
    for (const m of refundEvents) {
      const ids = new Set(
        (byEvent.get(m.eventId) ?? []).filter((a) => a.destination === "succeeded").map((a) => a.refundId),
      );
      if (ids.size !== 1) {
        problems.push(`event ${m.eventId} was answered with ${ids.size} different refunds`);
        continue;
      }
      const refundId = [...ids][0] as string;
      const refund = refundById.get(refundId);
      if (refund === undefined) problems.push(`event ${m.eventId}: refund ${refundId} is unknown to Dojo`);
      else if (refund.amount !== m.amount)
        problems.push(`event ${m.eventId}: refunded ${refund.amount}, not ${m.amount}`);
      if (claimed.has(refundId)) problems.push(`refund ${refundId} answers two events`);
      claimed.add(refundId);
    }
    const extra = refunds.length - claimed.size;
    if (extra > 0) problems.push(`${extra} refund(s) at Dojo that no event's answer names`);
    invariants.push({
      name: "one refund per return",
      held: problems.length === 0,
      detail:
        problems.length === 0
          ? `${refundEvents.length} returns, ${refunds.length} refunds at Dojo, none twice`
          : problems.slice(0, 3).join("; "),
    });
  }

  // Nothing refunded over what was captured.
  {
    const over = facts.intents.filter((i) => i.refundedAmount > i.captured);
    invariants.push({
      name: "nothing refunded over captured",
      held: over.length === 0,
      detail:
        over.length === 0
          ? `${facts.intents.length} payments, each refunded at most what was captured`
          : `${over.length} payment(s) refunded more than captured, e.g. ${over[0]?.intentId}`,
    });
  }

  // Every message answered, with the answer its kind calls for; duplicates with their original's.
  {
    const unanswered: string[] = [];
    const wrong: string[] = [];
    for (const m of plan.messages) {
      const got = byEvent.get(m.eventId) ?? [];
      if (got.length === 0) {
        unanswered.push(m.eventId);
        continue;
      }
      const expected = EXPECTED[m.kind];
      const bad = got.find(
        (a) =>
          a.destination !== expected.destination || (expected.code !== undefined && a.code !== expected.code),
      );
      if (bad !== undefined)
        wrong.push(`${m.kind} ${m.eventId} got ${bad.destination} ${bad.code ?? ""}`.trim());
      const outcomeIds = new Set(got.map((a) => a.outcomeId));
      if (outcomeIds.size > 1)
        wrong.push(`${m.eventId} was answered with ${outcomeIds.size} different outcome ids`);
    }
    invariants.push({
      name: "every event answered",
      held: unanswered.length === 0 && !facts.timedOut,
      detail:
        unanswered.length === 0
          ? `${plan.messages.length} messages sent, ${answers.length} answers read`
          : `${unanswered.length} message(s) never answered, e.g. ${unanswered[0]}`,
    });
    invariants.push({
      name: "each answer as expected",
      held: wrong.length === 0,
      detail:
        wrong.length === 0
          ? "refunds succeeded; over-refund, uncaptured and invalid events failed with their codes; unparseable ones dead-lettered; duplicates repeated the first answer"
          : wrong.slice(0, 3).join("; "),
    });
  }

  // No refund.failed for a refund that happened: a failed answer's event has no refund at Dojo.
  {
    const keysWithRefund = new Set(refunds.map((r) => r.idempotencyKey));
    const failedRefundEvents = answers.filter(
      (a) =>
        a.destination === "failed" &&
        a.eventId !== undefined &&
        keysWithRefund.has(idempotencyKeyFor({ source: DEMO_EVENT_SOURCE, id: a.eventId })),
    );
    invariants.push({
      name: "no failure reported for a refund that happened",
      held: failedRefundEvents.length === 0,
      detail:
        failedRefundEvents.length === 0
          ? "no refund.failed names an event Dojo refunded"
          : `${failedRefundEvents.length} refund.failed for events Dojo refunded`,
    });
  }

  const redeliveries = plan.messages.filter((m) => m.wave === 2);
  invariants.push({
    name: "redeliveries answered from the ledger",
    held: facts.dojoRequestsDuringRedelivery === 0,
    detail: `${redeliveries.length} redelivered events, ${facts.dojoRequestsDuringRedelivery} Dojo requests for them`,
  });

  return {
    outcomes,
    refundsAtSimulator: refunds.length,
    refundedMinor: refunds.reduce((sum, r) => sum + r.amount, 0),
    duplicatesSent: plan.messages.filter((m) => m.kind === "duplicate").length,
    redeliveriesSent: redeliveries.length,
    dojoRequestsDuringRedelivery: facts.dojoRequestsDuringRedelivery,
    faultsSurvived: facts.faults,
    messagesSent: plan.messages.length,
    answers: answers.length,
    seconds: facts.seconds,
    invariants,
    allHeld: invariants.every((i) => i.held),
  };
}

const FAULT_LABELS: Readonly<Record<string, string>> = {
  "500": "HTTP 500",
  "502": "HTTP 502",
  "503": "HTTP 503",
  "429": "HTTP 429",
  hang: "no answer (timed out)",
  drop_after_apply: "applied, then the connection dropped",
};

function money(minor: number): string {
  return `GBP ${(minor / 100).toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** The summary as the table the demo prints; `color` adds ANSI colors for a terminal. */
export function renderSummary(s: DemoSummary, header: string, color: boolean): string {
  const paint = (code: number, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const lines: string[] = [header, ""];
  const w1 = Math.max(16, ...s.outcomes.map((o) => o.outcome.length));
  const w2 = Math.max(4, ...s.outcomes.map((o) => o.code.length));
  lines.push(`  ${"outcome".padEnd(w1)}  ${"code".padEnd(w2)}  count`);
  for (const o of s.outcomes)
    lines.push(`  ${o.outcome.padEnd(w1)}  ${o.code.padEnd(w2)}  ${String(o.count).padStart(5)}`);
  const faults = Object.entries(s.faultsSurvived).filter(([name, n]) => name !== "ok" && n > 0);
  const faultTotal = faults.reduce((sum, [, n]) => sum + n, 0);
  const rows: Array<[string, string]> = [
    ["refunds at the simulator", String(s.refundsAtSimulator)],
    ["money refunded", money(s.refundedMinor)],
    ["duplicates sent", `${s.duplicatesSent} (${s.redeliveriesSent} after their first answer)`],
    ["Dojo calls for those", `${s.dojoRequestsDuringRedelivery} (answered from the ledger)`],
    [
      "Dojo faults survived",
      faultTotal === 0
        ? "0"
        : `${faultTotal}: ${faults.map(([name, n]) => `${FAULT_LABELS[name] ?? name} ${n}`).join(", ")}`,
    ],
    ["messages / answers", `${s.messagesSent} sent, ${s.answers} answers read`],
    ["time", `${s.seconds.toFixed(1)} s`],
  ];
  lines.push("");
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) lines.push(`  ${k.padEnd(w)}  ${v}`);
  lines.push("", "  invariants");
  for (const inv of s.invariants) {
    const mark = inv.held ? paint(32, "ok  ") : paint(31, "FAIL");
    lines.push(`  ${mark} ${inv.name}: ${inv.detail}`);
  }
  lines.push(
    "",
    s.allHeld ? paint(32, "every invariant held") : paint(31, "an invariant did not hold (see above)"),
    "",
  );
  return lines.join("\n");
}
