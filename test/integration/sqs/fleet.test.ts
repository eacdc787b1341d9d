// Two relay instances consuming one standard SQS queue and sharing one PostgreSQL ledger (a schema of
// this file's own on the shared server, named in the ledger URL's search_path). SQS hands any message
// to any consumer and delivers at least once, so only the ledger, the intents' leases and Dojo's
// idempotency key keep a payment from being refunded twice. Judged from what left the relays (the
// outcome and dead-letter queues) and the simulator: one refund per event at Dojo, a refund.succeeded
// for every event, never a refund.failed (every return fits its payment), one outcome id per event
// however often it is answered.
//
// Numbers: 30 payment intents, each captured for exactly the sum of its 10 partial returns (300
// events); half return their items in a shuffled order, half most expensive first, each item worth
// more than all later ones together. Every 10th event is sent a second time, byte for byte: one in
// two of those right beside the first copy, the others one wave later. Three waves of 10 intents.
// Then the same event at both instances at the same moment: rounds of 8 events, each sent as two
// copies in two concurrent batches while Dojo takes 300 ms per refund. Each instance runs one long
// poll and stops receiving once it holds 8 messages, so the instance that takes one batch leaves the
// other, or most of it, to the other instance. (Without that limit, on fauxqs one instance takes both
// batches nearly every time: a new message wakes every waiting long poll there, and those that find
// nothing left return empty at once instead of waiting on, so the instance that got the first batch
// often polls again first.) Rounds go on until at least 8 events were held by both instances at once
// (seen in their logs: the second waits for the intent's lease the first holds), 6 rounds at most.
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { SqsRelay } from "../../../consumers/sqs/index.ts";
import { idempotencyKeyFor } from "../../../schemas/index.ts";
import type { RunningRelay } from "../../../src/cli/relay-app.ts";
import { createLogger } from "../../../src/logger.ts";
import { returnApproved } from "../../support/events.ts";
import { sqsServers } from "../../support/fauxqs.ts";
import {
  countBy,
  HALVING_AMOUNTS,
  type ReturnApproved,
  SHUFFLED_AMOUNTS,
  seededRandom,
  shuffled,
} from "../../support/fleet.ts";
import {
  type InputMessage,
  SqsHarness,
  type SqsRecord,
  sourceEventIdOf,
  structuredMessage,
} from "../../support/sqs-harness.ts";

const servers = await sqsServers();
const { databaseUrl } = inject("servers");

const INTENTS = 30;
const INTENTS_PER_WAVE = 10;
const DUPLICATE_EVERY = 10;
const WAVE_INTERVAL_MS = 300;
const sum = (amounts: readonly number[]) => amounts.reduce((a, b) => a + b, 0);

/** Same-moment rounds: events per round, rounds at most, and events that must have raced. */
const RACE_ROUND = 8;
const RACE_MAX_ROUNDS = 6;
const RACES_WANTED = 8;
const RACE_AMOUNT = 2_500;
const RACE_DOJO_LATENCY_MS = 300;

const prefix = `rr_sqs_fleet_${randomBytes(4).toString("hex")}`;
const schemas: string[] = [];
let admin: pg.Client;

/** A new schema on the shared server, and a ledger URL whose sessions use it. */
async function ledgerSchema(): Promise<string> {
  const schema = `${prefix}_${schemas.length}`;
  schemas.push(schema);
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(databaseUrl);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return url.toString();
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
});
afterAll(async () => {
  for (const schema of schemas) await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin?.end();
});

/** Canonical JSON (object keys sorted): a stored outcome read back with its keys reordered compares equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Outcome records per source event id. */
function outcomesByEvent(records: readonly SqsRecord[]): Map<string, SqsRecord[]> {
  const out = new Map<string, SqsRecord[]>();
  for (const r of records) {
    const id = sourceEventIdOf(r);
    if (id === undefined) continue;
    const list = out.get(id) ?? [];
    list.push(r);
    out.set(id, list);
  }
  return out;
}

/** Log lines of one in-process relay, parsed, for reading what it said while it ran. */
function capturingLogger() {
  const lines: Array<{ msg?: string; paymentIntentId?: string }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) {
        if (line.trim() === "") continue;
        try {
          lines.push(JSON.parse(line) as { msg?: string; paymentIntentId?: string });
        } catch {
          // Not a log line.
        }
      }
      done();
    },
  });
  return { logger: createLogger({ level: "info", destination }), lines };
}

describe.each(servers)(
  "two relays on one standard SQS queue sharing a PostgreSQL ledger ($name)",
  ({ endpoint }) => {
    let h: SqsHarness | undefined;
    afterEach(async () => {
      await h?.tearDown();
      h = undefined;
    });

    it("refunds every one of a few hundred partial returns once, duplicates included", async () => {
      const harness = await new SqsHarness({ endpoint }).setUp();
      h = harness;
      const shuffledKind = await harness.dojo.createIntents(
        { amount: sum(SHUFFLED_AMOUNTS), status: "Captured" },
        INTENTS / 2,
      );
      const halvingKind = await harness.dojo.createIntents(
        { amount: sum(HALVING_AMOUNTS), status: "Captured" },
        INTENTS / 2,
      );
      const intents = shuffledKind.flatMap((pi, i) => [pi, halvingKind[i] as string]);
      const random = seededRandom(11);
      const perIntent = intents.map((pi, i) =>
        (i % 2 === 0 ? shuffled(SHUFFLED_AMOUNTS, random) : HALVING_AMOUNTS).map((amount) =>
          returnApproved({ paymentIntentId: pi, amount }),
        ),
      );
      const events: ReturnApproved[] = [];
      const copies = new Map<string, number>();
      const waves: InputMessage[][] = [];
      let carried: InputMessage[] = [];
      for (let start = 0; start < intents.length; start += INTENTS_PER_WAVE) {
        const group = perIntent.slice(start, start + INTENTS_PER_WAVE);
        const wave: InputMessage[] = [...carried];
        carried = [];
        for (let k = 0; k < SHUFFLED_AMOUNTS.length; k++) {
          for (const returns of group) {
            const event = returns[k] as ReturnApproved;
            events.push(event);
            wave.push(structuredMessage(event));
            copies.set(event.id, 1);
            if (events.length % DUPLICATE_EVERY === 0) {
              copies.set(event.id, 2);
              if (events.length % (2 * DUPLICATE_EVERY) === 0) wave.push(structuredMessage(event));
              else carried.push(structuredMessage(event));
            }
          }
        }
        waves.push(wave);
      }
      waves[waves.length - 1]?.push(...carried);
      const messages = waves.reduce((n, w) => n + w.length, 0);
      const duplicated = events.filter((e) => copies.get(e.id) === 2);
      expect(events).toHaveLength(300);
      expect(duplicated).toHaveLength(30);
      expect(messages).toBe(330);

      await harness.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 5, max: 20 } } } });
      const ledgerUrl = await ledgerSchema();
      const settings = { LEDGER_URL: ledgerUrl, LEDGER_LEASE_MS: "5000", MAX_IN_FLIGHT: "64" };
      const relays: RunningRelay<SqsRelay>[] = [
        await harness.startRelay(settings),
        await harness.startRelay(settings),
      ];

      const started = Date.now();
      for (const [i, wave] of waves.entries()) {
        await harness.send(wave);
        if (i < waves.length - 1) await new Promise((resolve) => setTimeout(resolve, WAVE_INTERVAL_MS));
      }
      // Every message answered: an outcome record per copy sent (a redelivery may add more).
      await harness.waitFor(
        () => {
          const byEvent = outcomesByEvent(harness.outcomes());
          return events.every((e) => (byEvent.get(e.id)?.length ?? 0) >= (copies.get(e.id) ?? 1));
        },
        "an outcome for every message",
        45_000,
      );
      const settledMs = Date.now() - started;
      await expect.poll(() => harness.depth(), { timeout: 10_000 }).toEqual({ visible: 0, inFlight: 0 });

      const keyOf = new Map(events.map((e) => [idempotencyKeyFor(e), e.id]));
      const refundsPerKey = new Map<string, number>();
      let strayRefunds = 0;
      const intentsNotFullyRefunded: string[] = [];
      for (const [i, pi] of intents.entries()) {
        const refunds = await harness.dojo.refundsOf(pi);
        if (refunds.refundedAmount !== sum(i % 2 === 0 ? SHUFFLED_AMOUNTS : HALVING_AMOUNTS))
          intentsNotFullyRefunded.push(pi);
        for (const refund of refunds.refunds) {
          if (!keyOf.has(refund.idempotencyKey)) strayRefunds += 1;
          refundsPerKey.set(refund.idempotencyKey, (refundsPerKey.get(refund.idempotencyKey) ?? 0) + 1);
        }
      }
      const byEvent = outcomesByEvent(harness.outcomes());
      const stats = await harness.dojo.stats();
      const perInstance = relays.map((r) => ({
        received: r.relay.stats.received,
        settled: r.relay.stats.settled,
      }));
      const report = {
        refundsPerKey: countBy([...keyOf.keys()], (key) => String(refundsPerKey.get(key) ?? 0)),
        strayRefunds,
        intentsNotFullyRefunded: intentsNotFullyRefunded.length,
        outcomeRecordsPerEvent: countBy(events, (e) => String(byEvent.get(e.id)?.length ?? 0)),
        eventsWithSeveralOutcomeIds: events.filter(
          (e) => new Set((byEvent.get(e.id) ?? []).map((o) => o.json?.id)).size !== 1,
        ).length,
        eventsWithDifferingRepublications: events.filter(
          (e) => new Set((byEvent.get(e.id) ?? []).map((o) => canonical(o.json))).size !== 1,
        ).length,
        duplicatesAnsweredOnce: duplicated.filter((e) => (byEvent.get(e.id)?.length ?? 0) < 2).length,
        types: countBy(harness.outcomes(), (o) => String(o.json?.type)),
        failureCodes: countBy(harness.outcomes("refund.failed"), (o) => String(o.json?.data.code)),
        deadLetters: harness.deadLetters().length,
      };
      console.info(
        `sqs fleet (${endpoint}): ${events.length} events + ${duplicated.length} duplicates over ${INTENTS} intents, ` +
          `settled in ${settledMs} ms; instances ${JSON.stringify(perInstance)}; ` +
          `Dojo refunds created ${stats.refundsCreated}; ${JSON.stringify(report)}`,
      );

      const { outcomeRecordsPerEvent: _perEvent, types, ...verdict } = report;
      expect(verdict).toEqual({
        refundsPerKey: { "1": events.length },
        strayRefunds: 0,
        intentsNotFullyRefunded: 0,
        eventsWithSeveralOutcomeIds: 0,
        eventsWithDifferingRepublications: 0,
        duplicatesAnsweredOnce: 0,
        failureCodes: {},
        deadLetters: 0,
      });
      expect(Object.keys(types)).toEqual(["refund.succeeded"]);
      expect(types["refund.succeeded"]).toBeGreaterThanOrEqual(messages);
      expect(stats.refundsCreated).toBe(events.length);
      // Both instances took part.
      for (const instance of perInstance) expect(instance.settled).toBeGreaterThan(0);
      expect(perInstance.reduce((n, i) => n + i.received, 0)).toBeGreaterThanOrEqual(messages);
    }, 90_000);

    it("calls Dojo once for an event both instances hold at the same moment, and both answer it alike", async () => {
      const harness = await new SqsHarness({ endpoint }).setUp();
      h = harness;
      await harness.dojo.setFaults({
        routes: { createRefund: { latencyMs: { min: RACE_DOJO_LATENCY_MS, max: RACE_DOJO_LATENCY_MS } } },
      });
      const ledgerUrl = await ledgerSchema();
      const logs = [capturingLogger(), capturingLogger()];
      // One long poll per instance, and an instance stops receiving once it holds as many messages as
      // a round has events: whichever instance takes one batch of copies leaves the other batch, or
      // most of it, to the other instance.
      const settings = {
        LEDGER_URL: ledgerUrl,
        SQS_RECEIVE_CONCURRENCY: "1",
        MAX_IN_FLIGHT: String(RACE_ROUND),
      };
      for (const { logger } of logs) await harness.startRelay(settings, {}, logger);
      // An instance that receives a copy while the other holds the intent's lease waits for it: both
      // hold the event at once.
      const raced = () =>
        new Set(
          logs.flatMap(({ lines }) =>
            lines
              .filter((l) => l.msg?.startsWith("another relay instance is working on this payment intent"))
              .map((l) => l.paymentIntentId),
          ),
        );

      const events: ReturnApproved[] = [];
      let rounds = 0;
      while (rounds < RACE_MAX_ROUNDS && raced().size < RACES_WANTED) {
        rounds += 1;
        const intents = await harness.dojo.createIntents(
          { amount: RACE_AMOUNT, status: "Captured" },
          RACE_ROUND,
        );
        const round = intents.map((pi) => returnApproved({ paymentIntentId: pi, amount: RACE_AMOUNT }));
        events.push(...round);
        // Two batches sent at once, one copy of each event in each.
        await Promise.all([
          harness.send(round.map((e) => structuredMessage(e))),
          harness.send(round.map((e) => structuredMessage(e))),
        ]);
        await harness.waitFor(
          () => round.every((e) => harness.outcomesOf(e.id).length >= 2),
          `both answers to every event of round ${rounds}`,
          30_000,
        );
      }
      const racedIntents = raced();
      const verdicts = [];
      for (const event of events) {
        const counters = await harness.dojo.idempotency(idempotencyKeyFor(event));
        const outcomes = harness.outcomesOf(event.id);
        verdicts.push({
          raced: racedIntents.has(event.data.paymentIntentId),
          requests: counters.requests,
          refundsCreated: counters.refundsCreated,
          refundsOnIntent: (await harness.dojo.refundsOf(event.data.paymentIntentId)).refunds.length,
          outcomeRecords: outcomes.length,
          outcomeIds: new Set(outcomes.map((o) => o.json?.id)).size,
          distinctOutcomes: new Set(outcomes.map((o) => canonical(o.json))).size,
          types: [...new Set(outcomes.map((o) => o.json?.type))].join(),
        });
      }
      console.info(
        `same event at two sqs instances (${endpoint}): ${JSON.stringify({
          rounds,
          events: events.length,
          raced: verdicts.filter((v) => v.raced).length,
          requestsPerKey: countBy(verdicts, (v) => String(v.requests)),
          outcomeRecordsPerEvent: countBy(verdicts, (v) => String(v.outcomeRecords)),
        })}`,
      );

      expect(verdicts.filter((v) => v.raced).length).toBeGreaterThanOrEqual(RACES_WANTED);
      const offending = verdicts.filter(
        (v) =>
          v.requests !== 1 ||
          v.refundsCreated !== 1 ||
          v.refundsOnIntent !== 1 ||
          v.outcomeRecords < 2 ||
          v.outcomeIds !== 1 ||
          v.distinctOutcomes !== 1 ||
          v.types !== "refund.succeeded",
      );
      expect(offending).toEqual([]);
      expect(harness.outcomes("refund.failed")).toHaveLength(0);
      expect(harness.deadLetters()).toHaveLength(0);
      await expect.poll(() => harness.depth(), { timeout: 10_000 }).toEqual({ visible: 0, inFlight: 0 });
    }, 60_000);
  },
);
