// The ledger is a cache of what Dojo knows; when it cannot write (disk full, I/O errors) that says
// nothing about any refund. The relay's real SQLite file is made to refuse every write mid-run, with
// refunds in flight at Dojo, and then to work again: nothing may be dead-lettered or answered wrongly
// meanwhile, and afterwards every event is answered once and refunded once.
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, inject, it } from "vitest";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import {
  auditRefunds,
  CLEAN_AUDIT,
  catchUpCollector,
  countBy,
  exitWithin,
  outcomeRecordsPerEvent,
  waitUntil,
} from "../../support/fleet.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
const FAULT = "simulated disk I/O error";

let h: KafkaHarness | undefined;
afterEach(async () => {
  await h?.tearDown();
  h = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Breaks and repairs the ledger file from outside the relay: triggers that abort every insert and
 * update of the ledger's table, as a failing disk would. The relay's own connection sees them at once.
 */
class LedgerSabotage {
  readonly #db: DatabaseSync;

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    // The relay holds write transactions for its group commits; wait for them instead of failing.
    this.#db.exec("PRAGMA busy_timeout = 10000");
  }

  breakWrites(): void {
    this.#db.exec(`
      CREATE TRIGGER rr_test_fail_insert BEFORE INSERT ON refund_events
        BEGIN SELECT RAISE(ABORT, '${FAULT}'); END;
      CREATE TRIGGER rr_test_fail_update BEFORE UPDATE ON refund_events
        BEGIN SELECT RAISE(ABORT, '${FAULT}'); END;
    `);
  }

  repair(): void {
    this.#db.exec("DROP TRIGGER IF EXISTS rr_test_fail_insert; DROP TRIGGER IF EXISTS rr_test_fail_update;");
  }

  /** Ledger rows of these events (the ledger's own table, read without the relay). */
  rowsOf(eventIds: readonly string[]): number {
    const placeholders = eventIds.map(() => "?").join(",");
    const row = this.#db
      .prepare(`SELECT count(*) AS n FROM refund_events WHERE event_id IN (${placeholders})`)
      .get(...eventIds) as { n: number };
    return Number(row.n);
  }

  close(): void {
    this.#db.close();
  }
}

describe("ledger writes fail mid-run", () => {
  it("dead-letters and fails nothing while the SQLite ledger refuses writes, and answers every event once after it recovers", async () => {
    h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 4 }).setUp();
    const harness = h;
    const ledgerPath = join(harness.dataDir, "ledger.db");
    const returnsOf = async (intents: number) =>
      (await harness.dojo.createIntents({ amount: 6000, status: "Captured" }, intents)).flatMap((pi) =>
        [1000, 2000, 3000].map((amount) => returnApproved({ paymentIntentId: pi, amount })),
      );
    const before = await returnsOf(20);
    const during = await returnsOf(10);
    const events = [...before, ...during];
    // Slow refunds and few at a time, so some are at Dojo when the ledger breaks: their refund exists
    // but the ledger cannot record it.
    await harness.dojo.setFaults({ routes: { createRefund: { latencyMs: { min: 50, max: 100 } } } });
    const relay = harness.spawnRelay({
      MAX_IN_FLIGHT: "4",
      LOG_LEVEL: "warn",
      LEDGER_URL: `sqlite:${ledgerPath}`,
    });

    await harness.produce(before.map(structuredRecord));
    await harness.waitFor(() => harness.outcomes().length >= 5, "the first outcomes", 40_000);
    const sabotage = new LedgerSabotage(ledgerPath);
    try {
      sabotage.breakWrites();
      const answeredAtFault = harness.outcomes().length;
      await harness.produce(during.map(structuredRecord));
      // The relay met the fault, then had several seconds to misbehave.
      await expect.poll(() => relay.output().includes(FAULT), { timeout: 20_000 }).toBe(true);
      await sleep(5_000);
      const whileBroken = {
        failed: countBy(harness.outcomes("refund.failed"), (o) => String(o.json?.data.code)),
        deadLetters: countBy(harness.deadLetters(), (d) => d.headers["rr-error-code"] ?? "?"),
        ledgerRowsOfLaterEvents: sabotage.rowsOf(during.map((e) => e.id)),
      };
      expect(answeredAtFault).toBeLessThan(before.length);
      expect(whileBroken).toEqual({ failed: {}, deadLetters: {}, ledgerRowsOfLaterEvents: 0 });
    } finally {
      sabotage.repair();
      sabotage.close();
    }

    const done = await waitUntil(
      harness,
      () => events.every((e) => harness.outcomesOf(e.id).some((o) => o.json?.type === "refund.succeeded")),
      "a refund.succeeded for every event after the ledger recovered",
      40_000,
    );
    relay.kill("SIGTERM");
    await exitWithin(relay, 15_000);
    await catchUpCollector(harness, kafkaBrokers);
    const report = await auditRefunds(harness, harness.dojo, events);
    expect(done).toBe(true);
    expect(report.audit).toEqual(CLEAN_AUDIT);
    // One relay that never restarted: one refund.succeeded record per event, not merely one id.
    expect(outcomeRecordsPerEvent(harness, events)).toEqual({
      exactlyOne: events.length,
      none: 0,
      several: 0,
    });
  }, 90_000);
});
