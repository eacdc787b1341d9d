// Helpers for tests that run several relays as child processes in one consumer group and judge the
// result only from what left the relays: the outcome and dead-letter topics and the simulator's refunds.
import type { ChildProcess } from "node:child_process";
import { AssignerProtocol, Kafka, logLevel } from "kafkajs";
import { idempotencyKeyFor } from "../../schemas/index.ts";
import type { SimControl } from "../../src/sim/index.ts";
import { returnApproved, structuredRecord } from "./events.ts";
import { type CollectedRecord, type KafkaHarness, sourceEventIdOf } from "./kafka-harness.ts";

export type ReturnApproved = ReturnType<typeof returnApproved>;

/** A small seeded generator (mulberry32), so a failing run can be repeated with the same events. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

export interface GroupMember {
  readonly clientId: string;
  readonly partitions: readonly number[];
}

export interface GroupState {
  readonly state: string;
  readonly members: readonly GroupMember[];
}

/** Reads the consumer group's membership and assignment as the broker sees them. */
export class GroupWatcher {
  readonly #kafka: Kafka;
  readonly #groupId: string;
  readonly #topic: string;

  constructor(brokers: readonly string[], groupId: string, topic: string) {
    this.#kafka = new Kafka({
      clientId: `watch-${groupId}`,
      brokers: [...brokers],
      logLevel: logLevel.NOTHING,
    });
    this.#groupId = groupId;
    this.#topic = topic;
  }

  async state(): Promise<GroupState> {
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups([this.#groupId]);
      const group = groups[0];
      if (group === undefined) return { state: "Unknown", members: [] };
      return {
        state: group.state,
        members: group.members.map((m) => {
          const decoded =
            m.memberAssignment.length > 0
              ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment)
              : null;
          return {
            clientId: m.clientId,
            partitions: [...(decoded?.assignment[this.#topic] ?? [])].sort((x, y) => x - y),
          };
        }),
      };
    } finally {
      await admin.disconnect();
    }
  }

  /** Polls until the group is Stable and `predicate` holds; rejects with the last state seen. */
  async waitFor(
    predicate: (s: GroupState) => boolean,
    what: string,
    timeoutMs = 30_000,
  ): Promise<GroupState> {
    const deadline = Date.now() + timeoutMs;
    let last: GroupState | undefined;
    while (Date.now() < deadline) {
      try {
        last = await this.state();
        if (last.state === "Stable" && predicate(last)) return last;
      } catch {
        // A coordinator moving or loading answers with a retriable error for a moment.
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`consumer group never reached: ${what}; last seen ${JSON.stringify(last)}`);
  }
}

/** Members of a group state by client id, each with its partitions. */
export function assignmentOf(state: GroupState): Record<string, readonly number[]> {
  return Object.fromEntries(state.members.map((m) => [m.clientId, m.partitions]));
}

/** Resolves with the exit code (or the signal's name), or "still running" when `timeoutMs` passes first. */
export function exitWithin(child: ChildProcess, timeoutMs: number): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off("exit", onExit);
      resolve("still running");
    }, timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolve(code ?? signal ?? "unknown");
    };
    child.once("exit", onExit);
  });
}

/** Like the harness's waitFor, but resolves false on timeout so the test can report what it found. */
export async function waitUntil(
  h: KafkaHarness,
  predicate: () => boolean,
  what: string,
  timeoutMs: number,
): Promise<boolean> {
  try {
    await h.waitFor(predicate, what, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

/** The source event a dead letter or an outcome is about. */
export function eventIdOf(record: CollectedRecord): string | undefined {
  return sourceEventIdOf(record) ?? record.headers["rr-event-id"];
}

/** Counts records by a label (a failure code, a dead-letter code), for readable assertion diffs. */
export function countBy<T>(items: readonly T[], label: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const key = label(item);
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** Every event has an outcome or a dead letter (so waiting longer would change nothing). */
export function allSettled(h: KafkaHarness, events: readonly ReturnApproved[]): boolean {
  const seen = new Set<string | undefined>();
  for (const r of h.records) seen.add(eventIdOf(r));
  return events.every((e) => seen.has(e.id));
}

/** Waits until the collector has read every record on the outcome and dead-letter topics so far. */
export async function catchUpCollector(h: KafkaHarness, brokers: readonly string[], timeoutMs = 15_000) {
  const kafka = new Kafka({ clientId: "catch-up", brokers: [...brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, number>();
  try {
    for (const topic of [h.topics.succeeded, h.topics.failed, h.topics.dlq]) {
      const offsets = await admin.fetchTopicOffsets(topic);
      ends.set(
        topic,
        offsets.reduce((sum, p) => sum + Number(p.high), 0),
      );
    }
  } finally {
    await admin.disconnect();
  }
  await h.waitFor(
    () => [...ends].every(([topic, end]) => h.records.filter((r) => r.topic === topic).length >= end),
    "the collector to read every outcome and dead letter published",
    timeoutMs,
  );
}

export interface RefundAudit {
  /** Events with no refund.succeeded. */
  readonly withoutSucceeded: number;
  /** refund.failed records about these events (every one is false: every refund fits its payment). */
  readonly failedOutcomes: number;
  /** Dead letters about these events. */
  readonly deadLetters: number;
  /** Events answered with more than one distinct outcome id (for example succeeded and failed). */
  readonly eventsWithSeveralOutcomeIds: number;
  /** Events without a refund at the simulator for their idempotency key. */
  readonly withoutRefund: number;
  /** Refunds beyond the first for one idempotency key: money paid twice. */
  readonly secondRefunds: number;
  /** Refunds at the simulator whose key belongs to none of the events. */
  readonly strayRefunds: number;
}

export const CLEAN_AUDIT: RefundAudit = {
  withoutSucceeded: 0,
  failedOutcomes: 0,
  deadLetters: 0,
  eventsWithSeveralOutcomeIds: 0,
  withoutRefund: 0,
  secondRefunds: 0,
  strayRefunds: 0,
};

export interface AuditReport {
  readonly audit: RefundAudit;
  /** refund.failed codes and dead-letter codes seen, with counts, to say why an audit is not clean. */
  readonly failureCodes: Record<string, number>;
  readonly deadLetterCodes: Record<string, number>;
  /** Most outcome records published for one event (redeliveries re-publish; any number is allowed). */
  readonly maxOutcomeRecordsPerEvent: number;
}

/**
 * Judges a run from the outcome topics and the simulator's refunds only: for every event exactly one
 * refund at Dojo for its idempotency key, a refund.succeeded, one outcome id, and nothing failed or
 * dead-lettered. `events` are the distinct events (an exact duplicate delivery is the same event).
 */
export async function auditRefunds(
  h: KafkaHarness,
  dojo: SimControl,
  events: readonly ReturnApproved[],
): Promise<AuditReport> {
  const byId = new Map(events.map((e) => [e.id, e]));
  const ours = (r: CollectedRecord) => byId.has(eventIdOf(r) ?? "");
  const outcomeIds = new Map<string, Set<string>>();
  const records = new Map<string, number>();
  const succeeded = new Set<string>();
  for (const o of h.outcomes().filter(ours)) {
    const id = eventIdOf(o) as string;
    outcomeIds.set(id, (outcomeIds.get(id) ?? new Set()).add(o.json?.id ?? "<no id>"));
    records.set(id, (records.get(id) ?? 0) + 1);
    if (o.json?.type === "refund.succeeded") succeeded.add(id);
  }
  const failed = h.outcomes("refund.failed").filter(ours);
  const deadLetters = h.deadLetters().filter(ours);

  const keyOf = new Map(events.map((e) => [idempotencyKeyFor(e), e.id]));
  const refundsPerKey = new Map<string, number>();
  let strayRefunds = 0;
  for (const pi of new Set(events.map((e) => e.data.paymentIntentId))) {
    for (const refund of (await dojo.refundsOf(pi)).refunds) {
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
    audit: {
      withoutSucceeded: events.filter((e) => !succeeded.has(e.id)).length,
      failedOutcomes: failed.length,
      deadLetters: deadLetters.length,
      eventsWithSeveralOutcomeIds: [...outcomeIds.values()].filter((ids) => ids.size > 1).length,
      withoutRefund,
      secondRefunds,
      strayRefunds,
    },
    failureCodes: countBy(failed, (o) => String(o.json?.data.code ?? "<no code>")),
    deadLetterCodes: countBy(deadLetters, (d) => d.headers["rr-error-code"] ?? "<no code>"),
    maxOutcomeRecordsPerEvent: Math.max(0, ...records.values()),
  };
}

/** Outcome records about each event, for tests that expect exactly one per event. */
export function outcomeRecordsPerEvent(
  h: KafkaHarness,
  events: readonly ReturnApproved[],
): { readonly exactlyOne: number; readonly none: number; readonly several: number } {
  const counts = new Map<string, number>();
  for (const o of h.outcomes()) {
    const id = sourceEventIdOf(o);
    if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  let exactlyOne = 0;
  let none = 0;
  let several = 0;
  for (const e of events) {
    const n = counts.get(e.id) ?? 0;
    if (n === 0) none += 1;
    else if (n === 1) exactlyOne += 1;
    else several += 1;
  }
  return { exactlyOne, none, several };
}

/** Half the intents return 10 items in a shuffled order (5,800 in all). */
export const SHUFFLED_AMOUNTS = [150, 275, 320, 480, 510, 640, 700, 815, 900, 1010];
/**
 * The other half return them most expensive first, each item worth more than all later ones
 * together: a refund delivered again after it went through can then never fit what is left.
 */
export const HALVING_AMOUNTS = [2560, 1280, 640, 320, 160, 80, 40, 20, 10, 5];
/** Intents whose returns one wave carries, interleaved. */
export const INTENTS_PER_WAVE = 10;
/** Every DUPLICATE_EVERY-th event is delivered a second time, byte for byte, one wave later. */
export const DUPLICATE_EVERY = 20;

export interface Plan {
  readonly events: ReturnApproved[];
  readonly waves: ReturnType<typeof structuredRecord>[][];
  readonly duplicates: number;
}

/** `intents` alternate between the shuffled and the halving kind. */
export function plan(intents: readonly string[], seed: number): Plan {
  const random = seededRandom(seed);
  const perIntent = intents.map((pi, i) =>
    (i % 2 === 0 ? shuffled(SHUFFLED_AMOUNTS, random) : HALVING_AMOUNTS).map((amount) =>
      returnApproved({ paymentIntentId: pi, amount }),
    ),
  );
  const events: ReturnApproved[] = [];
  const waves: ReturnType<typeof structuredRecord>[][] = [];
  let carried: ReturnType<typeof structuredRecord>[] = [];
  let duplicates = 0;
  for (let start = 0; start < intents.length; start += INTENTS_PER_WAVE) {
    const group = perIntent.slice(start, start + INTENTS_PER_WAVE);
    // The returns of one intent arrive interleaved with the other intents of the wave, in order.
    const wave: ReturnType<typeof structuredRecord>[] = [...carried];
    carried = [];
    for (let k = 0; k < SHUFFLED_AMOUNTS.length; k++) {
      for (const returns of group) {
        const event = returns[k] as ReturnApproved;
        events.push(event);
        wave.push(structuredRecord(event));
        if (events.length % DUPLICATE_EVERY === 0) {
          carried.push(structuredRecord(event));
          duplicates += 1;
        }
      }
    }
    waves.push(wave);
  }
  waves[waves.length - 1]?.push(...carried);
  return { events, waves, duplicates };
}
