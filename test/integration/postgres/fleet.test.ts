// Three relays in one consumer group sharing one PostgreSQL ledger, while their world misbehaves
// under them: the ledger's server is stopped and started again with its data mid-run, one instance is
// killed with SIGKILL (its partitions move to the others after the session timeout, its leases on
// payment intents expire) and a fourth instance joins later (partitions move again). A ledger outage
// is a fault of the relay's own world: intake pauses and resumes by itself, nothing is answered or
// dead-lettered because of it. Judged only from what left the relays (outcome and dead-letter topics)
// and the simulator's refunds: exactly one refund per event at Dojo, a refund.succeeded for each, one
// outcome id per event however often re-published, nothing failed or parked.
//
// The server is a private cluster (test/support/postgres-server.ts), since a shared one cannot be
// restarted without disturbing other tests.
//
// Numbers: 500 payment intents, each captured for exactly the sum of its 10 partial returns. Half
// return 10 items in a shuffled order; the other half most expensive first, each item worth more than
// all later ones together, so a redelivered return that was already refunded never fits what is left.
// 5,000 distinct events plus 250 exact duplicate deliveries, produced in 50 waves of 10 intents every
// 800 ms (about 40 s); 6 input partitions; Dojo refunds take 20-40 ms.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import {
  assignmentOf,
  auditRefunds,
  CLEAN_AUDIT,
  catchUpCollector,
  eventIdOf,
  exitWithin,
  GroupWatcher,
  HALVING_AMOUNTS,
  plan,
  SHUFFLED_AMOUNTS,
  waitUntil,
} from "../../support/fleet.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";
import { PrivatePostgres } from "../../support/postgres-server.ts";

const { kafkaBrokers } = inject("servers");

const PARTITIONS = 6;
const INTENTS = 500;
const sum = (amounts: readonly number[]) => amounts.reduce((a, b) => a + b, 0);
const WAVE_INTERVAL_MS = 800;
/** The ledger's server is stopped once this many events are answered, and started DOWN_MS later. */
const RESTART_AFTER_ANSWERED = 600;
const DOWN_MS = 2_500;
/** One instance is killed once this many events are answered. */
const KILL_AFTER_ANSWERED = 1_600;
/** Short, so a killed instance's leases on payment intents expire soon after its partitions move. */
const LEASE_MS = 5_000;

let server: PrivatePostgres | undefined;
let ledgerUrl = "";
beforeAll(async () => {
  server = await PrivatePostgres.create();
  ledgerUrl = await server.createDatabase("rr_fleet");
});
afterAll(async () => {
  await server?.cleanup();
});

let h: KafkaHarness | undefined;
afterEach(async () => {
  await h?.tearDown();
  h = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("relay fleet on one PostgreSQL ledger: server restart, a killed instance, a joining one", () => {
  it("answers every event once, pausing through the ledger outage and resuming by itself", async () => {
    const pgServer = server as PrivatePostgres;
    const harness = await new KafkaHarness({ brokers: kafkaBrokers, partitions: PARTITIONS }).setUp();
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
    const { events, waves, duplicates } = plan(intents, 7);
    expect(events).toHaveLength(5_000);
    expect(duplicates).toBe(250);
    await harness.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 20, max: 40 } } } });

    const watcher = new GroupWatcher(kafkaBrokers, harness.groupId, harness.topics.input);
    const spawn = (name: string) =>
      harness.spawnRelay({
        KAFKA_CLIENT_ID: `relay-${name}`,
        KAFKA_SESSION_TIMEOUT_MS: "6000",
        LEDGER_URL: ledgerUrl,
        LEDGER_LEASE_MS: String(LEASE_MS),
        LOG_LEVEL: "warn",
      });
    const relays = { a: spawn("a"), b: spawn("b"), c: spawn("c") };
    await watcher.waitFor(
      (s) => s.members.length === 3 && s.members.every((m) => m.partitions.length > 0),
      "three relays sharing the partitions",
      60_000,
    );

    let wavesProduced = 0;
    let productionError: unknown;
    const started = Date.now();
    // Kept from rejecting unobserved: a step below may fail first and tear the harness down under it.
    const producing = (async () => {
      for (const wave of waves) {
        if (h !== harness) return;
        await harness.produce(wave);
        wavesProduced += 1;
        await sleep(WAVE_INTERVAL_MS);
      }
    })().catch((error: unknown) => {
      productionError = error;
    });
    // Distinct events answered (an outcome) and settled (an outcome or a dead letter) so far, counted
    // incrementally: the collector ends up holding thousands of records and is polled on each arrival.
    const answeredIds = new Set<string>();
    const settledIds = new Set<string>();
    let read = 0;
    const catchUp = () => {
      for (; read < harness.records.length; read++) {
        const record = harness.records[read];
        if (record === undefined) continue;
        const id = eventIdOf(record);
        if (id === undefined) continue;
        settledIds.add(id);
        if (record.topic !== harness.topics.dlq) answeredIds.add(id);
      }
    };
    const answered = () => {
      catchUp();
      return answeredIds.size;
    };
    // The topics are this test's own, so every id on them is one of its events.
    const everySettled = () => {
      catchUp();
      return settledIds.size >= events.length;
    };
    const outcomeRecords = () => harness.outcomes().length;
    const stillRunning = () =>
      Object.entries({ ...relays })
        .filter(([, child]) => child.exitCode === null && child.signalCode === null)
        .map(([name]) => name);

    // The ledger goes away for a few seconds with refunds in flight, and comes back with its data.
    await harness.waitFor(
      () => answered() >= RESTART_AFTER_ANSWERED,
      "answers before the ledger restart",
      60_000,
    );
    const atStop = { wavesProduced, answered: answered(), outcomeRecords: outcomeRecords(), ms: 0 };
    await pgServer.stop({ mode: "fast" });
    atStop.ms = Date.now() - started;
    await sleep(DOWN_MS);
    const whileDown = { answered: answered(), outcomeRecords: outcomeRecords() };
    await pgServer.start();
    const restartedAt = Date.now();
    const resumed = await waitUntil(
      harness,
      () => answered() >= whileDown.answered + 300,
      "answers after the ledger came back",
      30_000,
    );
    const outage = {
      atStop,
      whileDown,
      resumed,
      resumedAfterMs: Date.now() - restartedAt,
      runningAfter: stillRunning(),
    };
    expect(outage.resumed).toBe(true);
    expect(outage.runningAfter).toEqual(["a", "b", "c"]);

    // First move: an instance dies with work in flight (and leases held); after the session timeout
    // its partitions go to the others, which redeliver everything it had not committed.
    await harness.waitFor(() => answered() >= KILL_AFTER_ANSWERED, "answers before the kill", 60_000);
    const beforeKill = assignmentOf(await watcher.state());
    relays.b.kill("SIGKILL");
    await exitWithin(relays.b, 5_000);
    const afterKill = await watcher.waitFor(
      (s) =>
        s.members.length === 2 &&
        s.members.every((m) => m.clientId !== "relay-b") &&
        s.members.reduce((n, m) => n + m.partitions.length, 0) === PARTITIONS,
      "the killed instance's partitions moved to the others",
      30_000,
    );
    const firstMove = { wavesProduced, answered: answered(), ms: Date.now() - started };

    // Second move: a fourth instance joins and the group hands partitions around again.
    const d = spawn("d");
    const afterJoin = await watcher.waitFor(
      (s) =>
        s.members.length === 3 && s.members.some((m) => m.clientId === "relay-d" && m.partitions.length > 0),
      "the fourth instance owning partitions",
      30_000,
    );
    const secondMove = { wavesProduced, answered: answered(), ms: Date.now() - started };

    await producing;
    if (productionError !== undefined) throw productionError;
    const settled = await waitUntil(harness, everySettled, "every event settled", 60_000);
    const settledMs = Date.now() - started;
    const survivors = [relays.a, relays.c, d];
    for (const child of survivors) child.kill("SIGTERM");
    const exits = await Promise.all(survivors.map((child) => exitWithin(child, 20_000)));
    await catchUpCollector(harness, kafkaBrokers);
    const report = await auditRefunds(harness, harness.dojo, events);
    // For the printout only (the verdict rests on the topics and the simulator): how each instance's
    // log saw the ledger outage, as pauses and resumptions of intake.
    const ledgerFaults = Object.fromEntries(
      Object.entries({ ...relays, d }).map(([name, child]) => {
        const lines = child
          .output()
          .split("\n")
          .flatMap((line) => {
            try {
              return [JSON.parse(line) as { fault?: string; msg?: string }];
            } catch {
              return [];
            }
          })
          .filter((l) => l.fault === "ledger");
        return [
          name,
          {
            paused: lines.filter((l) => l.msg?.startsWith("the relay cannot work")).length,
            resumed: lines.filter((l) => l.msg?.startsWith("fault cleared")).length,
          },
        ];
      }),
    );
    const stats = await harness.dojo.stats();
    console.info(
      `postgres fleet: ${events.length} events + ${duplicates} duplicates over ${INTENTS} intents; ` +
        `ledger outage ${JSON.stringify(outage)}, in the logs ${JSON.stringify(ledgerFaults)}; ` +
        `assignment before the kill ${JSON.stringify(beforeKill)}, after ${JSON.stringify(assignmentOf(afterKill))}, ` +
        `after the join ${JSON.stringify(assignmentOf(afterJoin))}; moves at ${JSON.stringify([firstMove, secondMove])}; ` +
        `settled ${settled} after ${settledMs} ms; exits ${JSON.stringify(exits)}; ` +
        `refunds created ${stats.refundsCreated}; outcome records ${outcomeRecords()}; ${JSON.stringify(report)}`,
    );
    if (!settled || report.audit.secondRefunds > 0)
      console.info(`ledger server log:\n${pgServer.logTail(30)}`);

    // Every fault happened while events were still arriving and being answered.
    expect(atStop.wavesProduced).toBeLessThan(waves.length);
    expect(firstMove.wavesProduced).toBeLessThan(waves.length);
    expect(secondMove.wavesProduced).toBeLessThan(waves.length);
    expect(secondMove.answered).toBeLessThan(events.length);
    // Exactly one refund per event at Dojo, a refund.succeeded for each, never a refund.failed (every
    // refund fits its payment), nothing parked, and one outcome id per event however often re-published.
    expect(report.audit).toEqual(CLEAN_AUDIT);
    expect(stats.refundsCreated).toBe(events.length);
    // The survivors drained and stopped cleanly: the outage never pushed one to give up (exit 3).
    expect(exits).toEqual([0, 0, 0]);
  }, 150_000);
});
