// The demo's workload: payment intents and a mix of return.approved messages as a shop would publish
// them, drawn from a seeded generator so a seed gives the same run every time. Each message says what
// the relay must answer, so the summary can check every answer against what was meant.
import { type Rng, seededRng } from "../sim/rng.ts";

/** What a message tests, and so what its answer must be. */
export type MessageKind =
  /** One refund of the whole captured amount: refund.succeeded. */
  | "full"
  /** One of several partial refunds of one payment: refund.succeeded each. */
  | "partial"
  /** The same event again, while its first delivery may still be in flight: the same answer, one refund. */
  | "duplicate"
  /** More than the payment can still refund: refund.failed amount_exceeds_refundable, nothing sent to Dojo. */
  | "over_refund"
  /** A payment that was authorized but never captured: refund.failed payment_not_captured. */
  | "uncaptured"
  /** A well-formed CloudEvent whose data breaks the contract: refund.failed invalid_event. */
  | "invalid"
  /** Not JSON at all: dead-lettered with its body, never answered on an outcome topic. */
  | "unparseable";

export interface PlannedIntent {
  /** The demo's own name for the intent; the simulator gives the real id when it is created. */
  readonly ref: string;
  readonly amount: number;
  readonly status: "Captured" | "Authorized";
}

export interface PlannedMessage {
  readonly kind: MessageKind;
  /** The event id; for unparseable messages a marker found in the body. */
  readonly eventId: string;
  readonly intentRef?: string;
  readonly amount?: number;
  /** For duplicates: the event id of the message repeated. */
  readonly repeats?: string;
  /** Which of the two waves sends it: re-deliveries of settled events come in the second. */
  readonly wave: 1 | 2;
}

export interface DemoPlan {
  readonly intents: readonly PlannedIntent[];
  readonly messages: readonly PlannedMessage[];
}

/** How a plan's messages are shared out. */
export interface PlanMix {
  /** Shares of the special kinds (the rest are refunds, full and partial). */
  readonly duplicate: number;
  readonly over_refund: number;
  readonly uncaptured: number;
  readonly invalid: number;
  readonly unparseable: number;
  /** Share of payments refunded in one go; the others in `partsMin` to `partsMax` partial refunds. */
  readonly fullShare: number;
  readonly partsMin: number;
  readonly partsMax: number;
}

/** The demo's mix: every kind often enough to show up in a run of a few hundred messages. */
export const DEMO_MIX: PlanMix = {
  duplicate: 0.1,
  over_refund: 0.04,
  uncaptured: 0.04,
  invalid: 0.04,
  unparseable: 0.03,
  fullShare: 0.35,
  partsMin: 2,
  partsMax: 4,
};

const between = (rng: Rng, min: number, max: number) => min + Math.floor(rng() * (max - min + 1));

/** Splits `total` into `parts` positive amounts. */
function split(rng: Rng, total: number, parts: number): number[] {
  const cuts = new Set<number>();
  while (cuts.size < parts - 1) cuts.add(between(rng, 1, total - 1));
  const points = [0, ...[...cuts].sort((a, b) => a - b), total];
  return points.slice(1).map((p, i) => p - (points[i] as number));
}

/** An id shaped like a UUID (version 4), drawn from the seeded generator. */
function idFrom(rng: Rng): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rng() * 16).toString(16));
  hex[12] = "4";
  hex[16] = "89ab"[Math.floor(rng() * 4)] as string;
  const h = hex.join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Plans `events` messages (at least 20); the same seed and mix give the same plan, event ids included. */
export function planDemo(events: number, seed: number, mix: PlanMix = DEMO_MIX): DemoPlan {
  if (!Number.isSafeInteger(events) || events < 20) throw new RangeError("a demo needs at least 20 events");
  const rng = seededRng(seed);
  const randomUUID = () => idFrom(rng);
  const count = (share: number) => Math.max(1, Math.round(events * share));
  const special = {
    duplicate: count(mix.duplicate),
    over_refund: count(mix.over_refund),
    uncaptured: count(mix.uncaptured),
    invalid: count(mix.invalid),
    unparseable: count(mix.unparseable),
  };
  let refunds = events - Object.values(special).reduce((a, b) => a + b, 0);
  const intents: PlannedIntent[] = [];
  const refundMessages: PlannedMessage[] = [];
  const newIntent = (amount: number, status: PlannedIntent["status"] = "Captured") => {
    const intent = { ref: `intent-${intents.length + 1}`, amount, status };
    intents.push(intent);
    return intent;
  };
  // Refunds: some payments refunded in full, the rest in several parts.
  while (refunds > 0) {
    const amount = between(rng, 5, 400) * 100 + between(rng, 0, 99);
    const parts =
      refunds === 1 || rng() < mix.fullShare
        ? 1
        : Math.min(refunds, between(rng, mix.partsMin, mix.partsMax));
    const intent = newIntent(amount);
    // A partial refund series leaves some of the payment unrefunded now and then, as shops do.
    const refunded =
      parts === 1 ? amount : rng() < 0.5 ? amount : Math.max(parts, amount - between(rng, 1, parts * 50));
    for (const value of split(rng, refunded, parts)) {
      refundMessages.push({
        kind: parts === 1 ? "full" : "partial",
        eventId: randomUUID(),
        intentRef: intent.ref,
        amount: value,
        wave: 1,
      });
    }
    refunds -= parts;
  }
  const messages: PlannedMessage[] = [...refundMessages];
  // Over-refunds: a return worth more than the whole payment.
  for (let i = 0; i < special.over_refund; i++) {
    const intent = newIntent(between(rng, 10, 100) * 100);
    messages.push({
      kind: "over_refund",
      eventId: randomUUID(),
      intentRef: intent.ref,
      amount: intent.amount + between(rng, 1, 5000),
      wave: 1,
    });
  }
  for (let i = 0; i < special.uncaptured; i++) {
    const intent = newIntent(between(rng, 10, 100) * 100, "Authorized");
    messages.push({
      kind: "uncaptured",
      eventId: randomUUID(),
      intentRef: intent.ref,
      amount: between(rng, 1, intent.amount),
      wave: 1,
    });
  }
  for (let i = 0; i < special.invalid; i++)
    messages.push({ kind: "invalid", eventId: randomUUID(), wave: 1 });
  for (let i = 0; i < special.unparseable; i++) {
    messages.push({ kind: "unparseable", eventId: `unparseable-${randomUUID()}`, wave: 1 });
  }
  // Shuffle the first wave, keeping each payment's partial refunds in the order planned (a shop
  // approves returns one after another); duplicates are placed after their original.
  const shuffled = shuffleKeepingIntentOrder(rng, messages);
  // Half of the duplicates arrive in the first wave right after the original (a producer retry),
  // half in a second wave once everything is settled (a redelivery): both must be answered from
  // the ledger with the first answer.
  const duplicates: PlannedMessage[] = [];
  const secondWave: PlannedMessage[] = [];
  for (let i = 0; i < special.duplicate; i++) {
    const original = refundMessages[between(rng, 0, refundMessages.length - 1)] as PlannedMessage;
    const wave = i % 2 === 0 ? 2 : 1;
    const copy: PlannedMessage = { ...original, kind: "duplicate", repeats: original.eventId, wave };
    (wave === 1 ? duplicates : secondWave).push(copy);
  }
  for (const copy of duplicates) {
    const at = shuffled.findIndex((m) => m.eventId === copy.repeats);
    shuffled.splice(at + 1 + between(rng, 0, 3), 0, copy);
  }
  return { intents, messages: [...shuffled, ...secondWave] };
}

function shuffleKeepingIntentOrder(rng: Rng, messages: readonly PlannedMessage[]): PlannedMessage[] {
  const order = messages.map((m) => ({ m, key: rng() }));
  order.sort((a, b) => a.key - b.key);
  // Put each intent's messages back in their planned order, in the slots the shuffle gave them.
  const byIntent = new Map<string, PlannedMessage[]>();
  for (const m of messages) {
    if (m.intentRef === undefined) continue;
    const list = byIntent.get(m.intentRef) ?? [];
    list.push(m);
    byIntent.set(m.intentRef, list);
  }
  const taken = new Map<string, number>();
  return order.map(({ m }) => {
    if (m.intentRef === undefined) return m;
    const i = taken.get(m.intentRef) ?? 0;
    taken.set(m.intentRef, i + 1);
    return (byIntent.get(m.intentRef) as PlannedMessage[])[i] as PlannedMessage;
  });
}

/** The seed for a run: the one given, else one drawn now (printed, so a run can be repeated). */
export function demoSeed(given: number | undefined): number {
  return given ?? Math.floor(Math.random() * 2 ** 31);
}
