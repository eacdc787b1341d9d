// One event reaching two relay instances at the same moment, with one PostgreSQL ledger between them.
// The identical record is written to two input partitions in one produce request, and each instance
// owns one of the partitions, so both take the event up within a fetch of each other; Dojo takes
// 300 ms per refund, so without coordination both calls would be at Dojo together. The intent's lease
// lets one instance call Dojo; the other finds the row settled and re-publishes the stored outcome.
// Judged from the simulator's per-key request counters and the outcome topics: exactly one refund
// request per event's key, and both answers the same outcome.
//
// Numbers: 20 rounds of one event each (the two copies race alone), then one round of 10 events at
// once (ten races overlapping); each event on its own payment intent, captured for its amount.
import { randomBytes } from "node:crypto";
import { Kafka, logLevel, type Producer } from "kafkajs";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { idempotencyKeyFor } from "../../../schemas/index.ts";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { countBy, GroupWatcher, type ReturnApproved } from "../../support/fleet.ts";
import { type CollectedRecord, KafkaHarness, sourceEventIdOf } from "../../support/kafka-harness.ts";

const { kafkaBrokers, databaseUrl } = inject("servers");

const ROUNDS = 20;
const BURST = 10;
const AMOUNT = 2_500;
const DOJO_LATENCY_MS = 300;

/** A database of this file's own on the shared server, dropped afterwards. */
const database = `rr_${randomBytes(6).toString("hex")}`;
const ledgerUrl = (() => {
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
})();

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await admin((c) => c.query(`CREATE DATABASE ${database}`));
});

afterAll(async () => {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
});

let h: KafkaHarness | undefined;
let kafka: Kafka | undefined;
let producer: Producer | undefined;
afterEach(async () => {
  await producer?.disconnect();
  await h?.tearDown();
  h = undefined;
  producer = undefined;
  kafka = undefined;
});

interface Verdict {
  readonly eventId: string;
  /** Create-refund requests at the simulator that carried the event's key. */
  readonly requests: number;
  readonly refundsCreated: number;
  /** Refunds on the event's payment intent. */
  readonly refundsOnIntent: number;
  /** Outcome records answering the event (one per instance that handled a copy). */
  readonly outcomeRecords: number;
  /** Distinct outcomes among them, compared as JSON (key order aside). */
  readonly distinctOutcomes: number;
  /** Distinct byte strings among them. */
  readonly distinctBytes: number;
  readonly types: readonly string[];
}

/** Canonical JSON: object keys sorted, so a stored outcome read back with its keys reordered compares equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

async function verdictOf(harness: KafkaHarness, event: ReturnApproved): Promise<Verdict> {
  const counters = await harness.dojo.idempotency(idempotencyKeyFor(event));
  const refunds = await harness.dojo.refundsOf(event.data.paymentIntentId);
  const outcomes: CollectedRecord[] = harness.outcomesOf(event.id);
  return {
    eventId: event.id,
    requests: counters.requests,
    refundsCreated: counters.refundsCreated,
    refundsOnIntent: refunds.refunds.length,
    outcomeRecords: outcomes.length,
    distinctOutcomes: new Set(outcomes.map((o) => canonical(o.json))).size,
    distinctBytes: new Set(outcomes.map((o) => o.value)).size,
    types: [...new Set(outcomes.map((o) => o.json?.type ?? "<none>"))],
  };
}

describe("one event at two relay instances sharing a PostgreSQL ledger", () => {
  it("calls Dojo once per event and both instances answer with the same outcome", async () => {
    const harness = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 2 }).setUp();
    h = harness;
    await harness.dojo.setFaults({
      routes: { createRefund: { latencyMs: { min: DOJO_LATENCY_MS, max: DOJO_LATENCY_MS } } },
    });
    const intents = await harness.dojo.createIntents({ amount: AMOUNT, status: "Captured" }, ROUNDS + BURST);
    const events = intents.map((pi) => returnApproved({ paymentIntentId: pi, amount: AMOUNT }));

    // Two in-process relays in one group, one partition each, sharing the ledger database.
    const watcher = new GroupWatcher(kafkaBrokers, harness.groupId, harness.topics.input);
    await harness.startRelay({ KAFKA_CLIENT_ID: "relay-a", LEDGER_URL: ledgerUrl });
    await harness.startRelay({ KAFKA_CLIENT_ID: "relay-b", LEDGER_URL: ledgerUrl });
    const assignment = await watcher.waitFor(
      (s) => s.members.length === 2 && s.members.every((m) => m.partitions.length === 1),
      "each relay owning one input partition",
      60_000,
    );

    kafka = new Kafka({
      clientId: `${harness.groupId}-twins`,
      brokers: [...kafkaBrokers],
      logLevel: logLevel.NOTHING,
    });
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sendTwice = async (batch: readonly ReturnApproved[]) => {
      // One request, so both copies become readable at the same moment.
      await producer?.send({
        topic: harness.topics.input,
        messages: batch.flatMap((e) => [0, 1].map((partition) => ({ ...structuredRecord(e), partition }))),
      });
    };
    const answeredTwice = (batch: readonly ReturnApproved[]) => () =>
      batch.every((e) => harness.outcomesOf(e.id).length >= 2);

    const started = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      const event = events[round] as ReturnApproved;
      await sendTwice([event]);
      await harness.waitFor(answeredTwice([event]), `both answers to round ${round + 1}`, 20_000);
    }
    const burst = events.slice(ROUNDS);
    await sendTwice(burst);
    await harness.waitFor(answeredTwice(burst), "both answers to every event of the burst", 30_000);
    const elapsedMs = Date.now() - started;

    const verdicts: Verdict[] = [];
    for (const event of events) verdicts.push(await verdictOf(harness, event));
    const summary = {
      events: events.length,
      elapsedMs,
      assignment: assignment.members.map((m) => `${m.clientId}:${m.partitions.join(",")}`),
      requestsPerKey: countBy(verdicts, (v) => String(v.requests)),
      refundsPerKey: countBy(verdicts, (v) => String(v.refundsCreated)),
      outcomeRecordsPerEvent: countBy(verdicts, (v) => String(v.outcomeRecords)),
      distinctOutcomesPerEvent: countBy(verdicts, (v) => String(v.distinctOutcomes)),
      distinctBytesPerEvent: countBy(verdicts, (v) => String(v.distinctBytes)),
      failed: harness.outcomes("refund.failed").length,
      deadLetters: harness.deadLetters().length,
    };
    console.info(`same event at two instances: ${JSON.stringify(summary)}`);

    const offending = verdicts.filter(
      (v) =>
        v.requests !== 1 ||
        v.refundsCreated !== 1 ||
        v.refundsOnIntent !== 1 ||
        v.outcomeRecords < 2 ||
        v.distinctOutcomes !== 1 ||
        v.types.join() !== "refund.succeeded",
    );
    expect(offending).toEqual([]);
    expect(summary.failed).toBe(0);
    expect(summary.deadLetters).toBe(0);
    // Every outcome answers one of our events: nothing else reached the topics.
    expect(harness.outcomes().every((o) => events.some((e) => e.id === sourceEventIdOf(o)))).toBe(true);
  }, 110_000);
});
