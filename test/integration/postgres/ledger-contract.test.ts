// The ledger contract against a real PostgreSQL server, in a schema of this file's own (created here,
// named in the URL's search_path, dropped afterwards); every ledger the suite opens starts from empty
// tables. Then what only the PostgreSQL ledger has: the retention sweep, values PostgreSQL cannot
// store, the order of writes nobody awaited, and the `refund-relay ledger` command.
import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { ledgerCommand } from "../../../src/cli/ledger.ts";
import { type Ledger, openLedger, PostgresLedger } from "../../../src/ledger/index.ts";
import { LOCK_CLASS, latestVersion, SCHEMA_LOCK_KEY } from "../../../src/ledger/postgres-migrations.ts";
import { describeLedgerContract, sampleEntry } from "../../support/ledger-contract.ts";

const { databaseUrl } = inject("servers");

const schema = `rr_contract_${randomBytes(5).toString("hex")}`;
const ledgerUrl = (() => {
  const url = new URL(databaseUrl);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return url.toString();
})();

let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
});
afterAll(async () => {
  await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin?.end();
});

/** A ledger on this file's schema, with empty tables. */
async function emptyLedger(): Promise<PostgresLedger> {
  const ledger = (await openLedger(ledgerUrl)) as PostgresLedger;
  await admin.query(`TRUNCATE ${schema}.refund_events, ${schema}.ledger_audit, ${schema}.intent_leases`);
  return ledger;
}

describeLedgerContract("postgresql", {
  open: emptyLedger,
  reopen: async (ledger) => {
    await ledger.close();
    return openLedger(ledgerUrl);
  },
});

describe("PostgreSQL ledger", () => {
  const open: Ledger[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((l) => l.close()));
    vi.unstubAllEnvs();
  });
  const fresh = async () => {
    const ledger = await emptyLedger();
    open.push(ledger);
    return ledger;
  };
  const day = 86_400_000;
  const now = new Date("2026-12-01T12:00:00.000Z");
  const ago = (ms: number) => new Date(now.getTime() - ms);

  it("opens postgresql:// URLs as well as postgres://", async () => {
    const ledger = await openLedger(ledgerUrl.replace(/^postgres:/, "postgresql:"));
    open.push(ledger);
    expect(ledger).toBeInstanceOf(PostgresLedger);
  });

  it("sweeps settled events and leases older than the retention, keeping open and recent ones", async () => {
    await fresh();
    const ledger = (await openLedger(ledgerUrl, { postgres: { retentionDays: 30 } })) as PostgresLedger;
    open.push(ledger);
    const old = [sampleEntry(), sampleEntry(), sampleEntry()];
    const [published, failed, stillOpen] = old as [(typeof old)[0], (typeof old)[0], (typeof old)[0]];
    for (const e of old) await ledger.begin(e, ago(40 * day));
    await ledger.settle(published, { state: "succeeded", outcome: {}, refundId: "r1" }, ago(40 * day));
    await ledger.markPublished(published, ago(39 * day));
    const received = { state: "received", attempts: 0 } as const;
    await ledger.settle(failed, { state: "failed", outcome: {}, expected: received }, ago(35 * day));
    // Settled long ago but corrected yesterday: young enough to keep.
    const corrected = sampleEntry();
    await ledger.begin(corrected, ago(40 * day));
    await ledger.settle(corrected, { state: "failed", outcome: {}, expected: received }, ago(40 * day));
    await ledger.settle(corrected, { state: "succeeded", outcome: {}, refundId: "r2" }, ago(day));
    const recent = sampleEntry();
    await ledger.begin(recent, ago(2 * day));
    await ledger.settle(recent, { state: "succeeded", outcome: {}, refundId: "r3" }, ago(2 * day));
    await ledger.claimIntent("pi_old", "relay-a", 1_000, ago(31 * day));
    await ledger.claimIntent("pi_new", "relay-a", 1_000, ago(day));

    expect(await ledger.sweep(now)).toEqual({ skipped: false, events: 2, leases: 1 });
    expect(await ledger.get(published)).toBeUndefined();
    expect(await ledger.get(failed)).toBeUndefined();
    expect(await ledger.get(stillOpen)).toMatchObject({ state: "received" });
    expect(await ledger.get(corrected)).toMatchObject({ state: "succeeded" });
    expect(await ledger.get(recent)).toMatchObject({ state: "succeeded" });
    const leases = await admin.query(`SELECT payment_intent_id FROM ${schema}.intent_leases`);
    expect(leases.rows.map((r) => r.payment_intent_id)).toEqual(["pi_new"]);
    expect(await ledger.sweep(now)).toEqual({ skipped: false, events: 0, leases: 0 });
  });

  it("sweeps in small batches, and skips while another instance holds the sweep", async () => {
    const ledger = await fresh();
    const events = Array.from({ length: 25 }, () => sampleEntry());
    for (const e of events) {
      await ledger.begin(e, ago(60 * day));
      await ledger.settle(e, { state: "succeeded", outcome: {}, refundId: "r" }, ago(60 * day));
    }
    const sweeper = (await openLedger(ledgerUrl, {
      postgres: { retentionDays: 30 },
    })) as PostgresLedger;
    open.push(sweeper);
    const holder = await ledger.pool.connect();
    try {
      const key = `${LOCK_CLASS.sweep}, ${SCHEMA_LOCK_KEY}`;
      await holder.query(`SELECT pg_advisory_lock(${key})`);
      expect(await sweeper.sweep(now)).toEqual({ skipped: true, events: 0, leases: 0 });
      await holder.query(`SELECT pg_advisory_unlock(${key})`);
    } finally {
      holder.release();
    }
    expect(await sweeper.sweep(now)).toMatchObject({ skipped: false, events: 25 });
  });

  it("keeps everything with a retention of 0 days", async () => {
    const ledger = await fresh();
    const e = sampleEntry();
    await ledger.begin(e, ago(400 * day));
    await ledger.settle(e, { state: "succeeded", outcome: {}, refundId: "r" }, ago(400 * day));
    expect(await ledger.sweep(now)).toEqual({ skipped: false, events: 0, leases: 0 });
    expect(await ledger.get(e)).toBeDefined();
  });

  it("refuses a value PostgreSQL cannot store without failing the other writes of its batch", async () => {
    const ledger = await fresh();
    const good = sampleEntry();
    const bad = sampleEntry({ eventId: "evt-\u0000-nul" });
    const results = await Promise.allSettled([
      ledger.begin(good, now),
      ledger.begin(bad, now),
      ledger.begin(sampleEntry({ amount: 12.5 }), now),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ name: "LedgerError" });
    // Free text is stored with what PostgreSQL cannot hold replaced.
    await ledger.markUnknown(good, "reset\u0000 by peer \ud800", { state: "received", attempts: 0 }, now);
    expect((await ledger.get(good))?.lastError).toBe("reset\ufffd by peer \ufffd");
  });

  it("holds a write back while its row's earlier write is in flight, and lets other rows' writes pass", async () => {
    const ledger = await fresh();
    const [slow, other] = [sampleEntry(), sampleEntry()];
    await Promise.all([ledger.begin(slow, now), ledger.begin(other, now)]);
    const locker = new pg.Client({ connectionString: ledgerUrl });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("SELECT 1 FROM refund_events WHERE event_id = $1 FOR UPDATE", [slow.eventId]);
      const submitted = ledger.markSubmitting(slow, "refund", { state: "received", attempts: 0 }, now);
      await new Promise((resolve) => setTimeout(resolve, 50));
      // Not awaited by its caller: it must wait for the submission, not join the next batch.
      const settled = ledger.settle(
        slow,
        { state: "failed", outcome: {}, expected: { state: "submitting", attempts: 1 } },
        now,
      );
      // A batch without the locked row goes through meanwhile.
      expect(
        await ledger.markSubmitting(other, "refund", { state: "received", attempts: 0 }, now),
      ).toMatchObject({
        ok: true,
      });
      await locker.query("COMMIT");
      expect(await submitted).toMatchObject({ ok: true, entry: { state: "submitting" } });
      expect(await settled).toMatchObject({ kind: "settled", entry: { state: "failed" } });
    } finally {
      await locker.end();
    }
  });

  it("keeps a stored outcome byte for byte", async () => {
    const ledger = await fresh();
    const e = sampleEntry();
    await ledger.begin(e, now);
    const outcome = { zeta: 1, alpha: { b: [3, 2], a: "\u00e9\u0000" }, amount: 1250 };
    await ledger.settle(e, { state: "succeeded", outcome, refundId: "r" }, now);
    const stored = await admin.query(`SELECT outcome FROM ${schema}.refund_events WHERE event_id = $1`, [
      e.eventId,
    ]);
    expect(stored.rows[0]?.outcome).toBe(JSON.stringify(outcome));
    expect((await ledger.get(e))?.outcome).toEqual(outcome);
  });

  it("refuses work after it is closed", async () => {
    const ledger = await emptyLedger();
    await ledger.close();
    await expect(ledger.get(sampleEntry())).rejects.toThrow(/closed/);
  });
});

describe("refund-relay ledger", () => {
  afterEach(() => vi.unstubAllEnvs());

  async function run(args: string[], env: Record<string, string> = {}) {
    vi.unstubAllEnvs();
    vi.stubEnv("LEDGER_URL", ledgerUrl);
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const text = { out: "", err: "" };
    stdout.on("data", (c: Buffer) => (text.out += c.toString()));
    stderr.on("data", (c: Buffer) => (text.err += c.toString()));
    const code = await ledgerCommand.run(args, { stdin: new PassThrough(), stdout, stderr });
    return { code, ...text };
  }

  it("migrates an empty schema, says what it did, and then that nothing is left to do", async () => {
    const other = `${schema}_cli`;
    await admin.query(`CREATE SCHEMA ${other}`);
    try {
      const url = new URL(databaseUrl);
      url.searchParams.set("options", `-c search_path=${other}`);
      const first = await run(["migrate"], { LEDGER_URL: url.toString() });
      expect(first).toMatchObject({ code: 0, err: "" });
      expect(first.out).toMatch(/applied 001_ledger_tables/);
      expect(first.out).toMatch(new RegExp(`schema version ${latestVersion()}`));
      expect(first.out).toMatch(/applied 003_checks_in_code/);
      const again = await run(["migrate"], { LEDGER_URL: url.toString() });
      expect(again.out).toMatch(new RegExp(`already at version ${latestVersion()}; nothing to apply`));
      const status = await run(["status", "--json"], { LEDGER_URL: url.toString() });
      expect(status.code).toBe(0);
      expect(JSON.parse(status.out)).toMatchObject({
        schema: { version: latestVersion(), known: latestVersion() },
        events: { total: 0 },
      });
    } finally {
      await admin.query(`DROP SCHEMA ${other} CASCADE`);
    }
  });

  it("prints the schema version and the events by state", async () => {
    const ledger = await emptyLedger();
    const a = sampleEntry();
    await ledger.begin(a, new Date());
    await ledger.begin(sampleEntry(), new Date());
    await ledger.settle(a, { state: "succeeded", outcome: {}, refundId: "r" }, new Date());
    await ledger.close();
    const status = await run(["status"]);
    expect(status.code).toBe(0);
    const v = latestVersion();
    expect(status.out).toMatch(new RegExp(`schema\\s+version ${v} \\(this refund-relay knows ${v}\\)`));
    expect(status.out).toMatch(/received\s+1/);
    expect(status.out).toMatch(/succeeded\s+1/);
  });

  it("exits 2 on a usage or configuration error and 1 when the ledger cannot be reached", async () => {
    expect((await run(["frobnicate"])).code).toBe(2);
    expect((await run(["status"], { LEDGER_URL: "sqlite:./x.db" })).code).toBe(2);
    expect((await run(["status"], { LEDGER_POOL_SIZE: "zero" })).code).toBe(2);
    const down = await run(["status"], {
      LEDGER_URL: "postgres://relay:hunter2secret@127.0.0.1:1/refunds",
      LEDGER_CONNECT_TIMEOUT_MS: "1000",
    });
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/cannot reach the ledger at postgres:\/\/relay@127\.0\.0\.1:1\/refunds/);
    expect(down.err).not.toContain("hunter2secret");
  });
});
