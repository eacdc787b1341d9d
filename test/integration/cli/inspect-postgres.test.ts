// `refund-relay inspect` and the ledger's read-only lookups on a PostgreSQL ledger, in a schema of this
// file's own (created here, named in the URL's search_path, dropped afterwards).
import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { idempotencyKeyFor } from "../../../schemas/index.ts";
import { inspectCommand } from "../../../src/cli/inspect.ts";
import { openLedger, type PostgresLedger } from "../../../src/ledger/index.ts";
import { returnApproved } from "../../support/events.ts";
import { describeLedgerLookupContract } from "../../support/ledger-contract.ts";

const { databaseUrl } = inject("servers");

const schema = `rr_inspect_${randomBytes(5).toString("hex")}`;
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

async function emptyLedger(): Promise<PostgresLedger> {
  const ledger = (await openLedger(ledgerUrl)) as PostgresLedger;
  await admin.query(`TRUNCATE ${schema}.refund_events, ${schema}.ledger_audit, ${schema}.intent_leases`);
  return ledger;
}

describeLedgerLookupContract("postgresql", { open: emptyLedger });

describe("PostgreSQL ledger lookups", () => {
  it("finds a payment intent's events through the index of migration 004, not by reading the table", async () => {
    const ledger = await emptyLedger();
    await ledger.close();
    const indexes = await admin.query(
      "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'refund_events_payment_intent'",
      [schema],
    );
    expect(indexes.rows[0]?.indexdef).toMatch(/ON .*refund_events USING btree \(payment_intent_id\)/);
    const client = new pg.Client({ connectionString: ledgerUrl });
    await client.connect();
    try {
      await client.query("SET enable_seqscan = off");
      const plan = await client.query(
        "EXPLAIN SELECT * FROM refund_events WHERE payment_intent_id = 'pi_x' ORDER BY first_seen_at LIMIT 5",
      );
      const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(text).toMatch(/refund_events_payment_intent/);
    } finally {
      await client.end();
    }
  });

  it("finds an event id by walking the sources, without a scan of the table", async () => {
    const ledger = await emptyLedger();
    await ledger.close();
    const client = new pg.Client({ connectionString: ledgerUrl });
    await client.connect();
    try {
      await client.query("SET enable_seqscan = off");
      const plan = await client.query(
        `EXPLAIN WITH RECURSIVE sources(source) AS (
           SELECT min(source) FROM refund_events
           UNION ALL
           SELECT (SELECT min(e.source) FROM refund_events e WHERE e.source > s.source)
             FROM sources s WHERE s.source IS NOT NULL)
         SELECT r.* FROM sources JOIN refund_events r ON r.source = sources.source AND r.event_id = 'e'`,
      );
      const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(text).not.toMatch(/Seq Scan on refund_events/);
    } finally {
      await client.end();
    }
  });
});

describe("refund-relay inspect (PostgreSQL)", () => {
  const pi = `pi_pg_${randomBytes(4).toString("hex")}`;
  const settled = returnApproved({ paymentIntentId: pi, amount: 1999, returnId: "RMA-pg-1" });
  const failed = returnApproved({ paymentIntentId: pi, amount: 50_000, returnId: "RMA-pg-2" });

  beforeAll(async () => {
    const ledger = await emptyLedger();
    const now = new Date("2026-11-26T12:00:00Z");
    for (const [i, e] of [settled, failed].entries()) {
      await ledger.begin(
        {
          source: e.source,
          eventId: e.id,
          idempotencyKey: idempotencyKeyFor(e),
          requestHash: `h-${i}`,
          paymentIntentId: pi,
          merchantId: "merchant-7",
          amount: e.data.amount.value,
          currencyCode: "GBP",
        },
        new Date(now.getTime() + i),
      );
    }
    const ref = { source: settled.source, eventId: settled.id };
    await ledger.markSubmitting(ref, "refund", { state: "received", attempts: 0 }, now);
    await ledger.settle(
      ref,
      {
        state: "succeeded",
        outcome: {
          type: "refund.succeeded",
          id: "out-pg-1",
          data: { returnId: "RMA-pg-1", refundId: "rfnd_pg" },
        },
        refundId: "rfnd_pg",
      },
      now,
    );
    await ledger.settle(
      { source: failed.source, eventId: failed.id },
      {
        state: "failed",
        outcome: {
          type: "refund.failed",
          id: "out-pg-2",
          data: { returnId: "RMA-pg-2", code: "amount_exceeds_refundable", message: "only 19.99 GBP left" },
        },
        expected: { state: "received", attempts: 0 },
      },
      now,
    );
    const claim = await ledger.claimIntent(pi, "relay-pg", 1_000, now);
    if (claim.ok) await ledger.releaseIntent(claim.lease);
    await ledger.close();
  });
  afterEach(() => vi.unstubAllEnvs());

  async function inspect(...args: string[]) {
    return inspectWith({}, ...args);
  }

  async function inspectWith(env: Record<string, string>, ...args: string[]) {
    vi.stubEnv("LEDGER_URL", ledgerUrl);
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const text = { out: "", err: "" };
    stdout.on("data", (c: Buffer) => (text.out += c.toString()));
    stderr.on("data", (c: Buffer) => (text.err += c.toString()));
    const code = await inspectCommand.run(args, { stdin: new PassThrough(), stdout, stderr });
    return { code, ...text };
  }

  it("shows an event by its event id", async () => {
    const r = await inspect(settled.id, "--event");
    expect(r).toMatchObject({ code: 0, err: "" });
    expect(r.out).toContain(`${settled.id} from urn:shop:test (matched as event id)`);
    expect(r.out).toMatch(/state\s+succeeded \(attempts 1, method refund\)/);
    expect(r.out).toMatch(/amount\s+19\.99 GBP/);
    expect(r.out).toMatch(/merchant\s+merchant-7/);
    expect(r.out).toMatch(new RegExp(`idempotency key\\s+${idempotencyKeyFor(settled)}`));
    expect(r.out).toMatch(/refund id\s+rfnd_pg/);
    expect(r.out).toMatch(/intent lease\s+free \(last released by relay-pg, token 1\)/);
  });

  it("shows a failed event by its return id, with the failure", async () => {
    const r = await inspect("RMA-pg-2", "--return");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^1 entry /);
    expect(r.out).toMatch(/state\s+failed \(attempts 0\)/);
    expect(r.out).toMatch(
      /outcome\s+refund\.failed, code amount_exceeds_refundable, outcome id out-pg-2: only 19\.99 GBP left/,
    );
  });

  it("lists a payment intent's events as JSON", async () => {
    const r = await inspect(pi, "--intent", "--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.entries.map((e: { eventId: string }) => e.eventId)).toEqual([settled.id, failed.id]);
    expect(doc.entries[0]).toMatchObject({
      state: "succeeded",
      attempts: 1,
      amount: { value: 1999, currencyCode: "GBP" },
      returnId: "RMA-pg-1",
      lease: { owner: "relay-pg", status: "released" },
    });
    expect(doc.entries[1]).toMatchObject({ outcomeSummary: { code: "amount_exceeds_refundable" } });
  });

  it("exits 1 when nothing matches, and when the ledger cannot be reached", async () => {
    const none = await inspect("evt-absent");
    expect(none.code).toBe(1);
    expect(none.out).toMatch(/^no ledger entry for "evt-absent"/);
    const down = await inspectWith(
      { LEDGER_URL: "postgres://relay:hunter2secret@127.0.0.1:1/refunds", LEDGER_CONNECT_TIMEOUT_MS: "1000" },
      "evt-1",
    );
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/cannot open the ledger: .*postgres:\/\/relay@127\.0\.0\.1:1\/refunds/);
    expect(down.err).not.toContain("hunter2secret");
  });
});
