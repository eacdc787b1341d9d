// Several relays in one consumer group while partitions move under them: one is killed with SIGKILL
// mid-run and a fourth joins later, so work in flight changes owner twice. Whether the new owner has
// the old owner's ledger rows (one shared SQLite file) or not (a file per instance, as on separate
// hosts), Dojo's idempotency key must keep every event to exactly one refund and one answer: an
// instance that lacks a ledger row must not mistake the event's own earlier refund for a lack of
// refundable amount.
//
// Numbers: 300 payment intents, each captured for exactly the sum of its 10 partial returns, so once
// a return is refunded the rest of the intent may be smaller than it. Half of them return 10 items in
// a shuffled order (5,800 in all); the other half return them most expensive first, each item worth
// more than all later ones together (5,115 in all), so a redelivered return that was already refunded
// never fits what is left. 3,000 distinct events plus 150 exact duplicate deliveries, produced in 30
// waves of 10 intents every 600 ms (about 18 s); 6 input partitions; Dojo refunds take 20-40 ms.
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import {
  allSettled,
  assignmentOf,
  auditRefunds,
  CLEAN_AUDIT,
  catchUpCollector,
  exitWithin,
  GroupWatcher,
  HALVING_AMOUNTS,
  plan,
  SHUFFLED_AMOUNTS,
  waitUntil,
} from "../../support/fleet.ts";
import { KafkaHarness, sourceEventIdOf } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");

const PARTITIONS = 6;
const INTENTS = 300;
const sum = (amounts: readonly number[]) => amounts.reduce((a, b) => a + b, 0);
const WAVE_INTERVAL_MS = 600;
/** The first instance is killed once this many events are answered. */
const KILL_AFTER_ANSWERED = 200;

let h: KafkaHarness | undefined;
afterEach(async () => {
  await h?.tearDown();
  h = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runFleet(ledgers: "one file per instance" | "one shared file") {
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
  const { events, waves, duplicates } = plan(intents, ledgers === "one shared file" ? 2 : 1);
  expect(events).toHaveLength(3_000);
  expect(duplicates).toBe(150);
  await harness.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 20, max: 40 } } } });

  const watcher = new GroupWatcher(kafkaBrokers, harness.groupId, harness.topics.input);
  const ledgerOf = (name: string) =>
    join(harness.dataDir, ledgers === "one shared file" ? "shared.db" : `${name}.db`);
  const spawn = (name: string) =>
    harness.spawnRelay({
      KAFKA_CLIENT_ID: `relay-${name}`,
      LEDGER_URL: `sqlite:${ledgerOf(name)}`,
      LOG_LEVEL: "warn",
    });

  const relays = { a: spawn("a"), b: spawn("b"), c: spawn("c") };
  await watcher
    .waitFor(
      (s) => s.members.length === 3 && s.members.every((m) => m.partitions.length > 0),
      "three relays sharing the partitions",
      60_000,
    )
    .catch((error: unknown) => {
      // Say which relay is missing and why, when it exited.
      const exited = Object.entries(relays)
        .filter(([, child]) => child.exitCode !== null || child.signalCode !== null)
        .map(
          ([name, child]) =>
            `relay-${name} exited ${child.exitCode ?? child.signalCode}: ${child.output().slice(-2_000)}`,
        );
      throw new Error(`${(error as Error).message}${exited.length > 0 ? `\n${exited.join("\n")}` : ""}`);
    });

  let wavesProduced = 0;
  let productionError: unknown;
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
  const answered = () => new Set(harness.outcomes().map((o) => sourceEventIdOf(o))).size;

  // First move: an instance dies with work in flight; after the session timeout its partitions go to
  // the others, which redeliver everything it had not committed.
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
  const firstMove = { wavesProduced, answered: answered() };

  // Second move: a fourth instance joins and the group hands partitions around again.
  const d = spawn("d");
  const afterJoin = await watcher.waitFor(
    (s) =>
      s.members.length === 3 && s.members.some((m) => m.clientId === "relay-d" && m.partitions.length > 0),
    "the fourth instance owning partitions",
    30_000,
  );
  const secondMove = { wavesProduced, answered: answered() };

  await producing;
  if (productionError !== undefined) throw productionError;
  const settled = await waitUntil(harness, () => allSettled(harness, events), "every event settled", 60_000);
  for (const child of [relays.a, relays.c, d]) child.kill("SIGTERM");
  await Promise.all([relays.a, relays.c, d].map((child) => exitWithin(child, 20_000)));
  await catchUpCollector(harness, kafkaBrokers);
  const report = await auditRefunds(harness, harness.dojo, events);
  const stats = await harness.dojo.stats();
  console.info(
    `multi-instance (${ledgers}): ${events.length} events + ${duplicates} duplicates; ` +
      `assignment before the kill ${JSON.stringify(beforeKill)}, after ${JSON.stringify(assignmentOf(afterKill))}, ` +
      `after the join ${JSON.stringify(assignmentOf(afterJoin))}; moves at ${JSON.stringify([firstMove, secondMove])}; ` +
      `settled ${settled}; refunds created ${stats.refundsCreated}; ${JSON.stringify(report)}`,
  );

  // The run really moved partitions twice while events were still arriving and being answered.
  expect(firstMove.wavesProduced).toBeLessThan(waves.length);
  expect(secondMove.wavesProduced).toBeLessThan(waves.length);
  expect(secondMove.answered).toBeLessThan(events.length);
  // Exactly one refund per event at Dojo, a refund.succeeded for each, never a refund.failed (every
  // refund fits its payment), nothing parked, and one outcome id per event however often re-published.
  expect(report.audit).toEqual(CLEAN_AUDIT);
  expect(stats.refundsCreated).toBe(events.length);
}

describe("relay fleet: partitions move twice while refunds are in flight", () => {
  it("answers every event once with one SQLite ledger per instance (an instance lacks the rows of a moved partition)", async () => {
    await runFleet("one file per instance");
  }, 85_000);

  it("answers every event once with all instances sharing one SQLite ledger file", async () => {
    await runFleet("one shared file");
  }, 85_000);
});
