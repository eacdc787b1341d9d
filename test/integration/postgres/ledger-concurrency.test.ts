// Two relays sharing one PostgreSQL ledger: two PostgresLedger instances (two pools, as two processes
// would have) on one schema of this file's own. What one server must decide for both: who records an
// event first, who holds an intent's lease, whose late writes are fenced; plus start-up migrations
// racing, a schema from a newer relay, and connections cut under running batches.
import { randomBytes, randomUUID } from "node:crypto";
import { PassThrough } from "node:stream";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { type Ledger, LedgerError, openLedger, type PostgresLedger } from "../../../src/ledger/index.ts";
import { latestVersion, loadMigrations, migrate } from "../../../src/ledger/postgres-migrations.ts";
import { createLogger } from "../../../src/logger.ts";
import { sampleEntry } from "../../support/ledger-contract.ts";

const { databaseUrl } = inject("servers");

const prefix = `rr_conc_${randomBytes(4).toString("hex")}`;
const schemas: string[] = [];
let admin: pg.Client;

/** A new schema and a ledger URL whose sessions use it. */
async function newSchema(params: Record<string, string> = {}): Promise<{ schema: string; url: string }> {
  const schema = `${prefix}_${schemas.length}`;
  schemas.push(schema);
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(databaseUrl);
  url.searchParams.set("options", `-c search_path=${schema}`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return { schema, url: url.toString() };
}

let shared: { schema: string; url: string };
beforeAll(async () => {
  admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  shared = await newSchema();
});
afterAll(async () => {
  for (const schema of schemas) await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin?.end();
});

const opened: Ledger[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
});
async function relay(
  url = shared.url,
  options: Parameters<typeof openLedger>[1] = {},
): Promise<PostgresLedger> {
  const ledger = (await openLedger(url, options)) as PostgresLedger;
  opened.push(ledger);
  return ledger;
}

const t0 = new Date("2026-12-01T10:00:00.000Z");
const at = (ms: number) => new Date(t0.getTime() + ms);
const received = { state: "received", attempts: 0 } as const;

describe("two relays sharing a PostgreSQL ledger", () => {
  it("records an event begun by both at once exactly once", async () => {
    const [a, b] = [await relay(), await relay()];
    const events = Array.from({ length: 50 }, () => sampleEntry());
    const results = await Promise.all(events.flatMap((e) => [a.begin(e, t0), b.begin(e, t0)]));
    for (let i = 0; i < events.length; i++) {
      const kinds = [results[2 * i]?.kind, results[2 * i + 1]?.kind].sort();
      expect(kinds).toEqual(["existing", "new"]);
    }
  });

  it("gives a lease claimed by both at once to exactly one", async () => {
    const [a, b] = [await relay(), await relay()];
    const intents = Array.from({ length: 50 }, () => `pi_${randomUUID()}`);
    const claims = await Promise.all(
      intents.flatMap((pi) => [
        a.claimIntent(pi, "relay-a", 30_000, t0),
        b.claimIntent(pi, "relay-b", 30_000, t0),
      ]),
    );
    for (let i = 0; i < intents.length; i++) {
      const pair = [claims[2 * i], claims[2 * i + 1]];
      expect(pair.filter((c) => c?.ok).length).toBe(1);
      const loser = pair.find((c) => c?.ok === false);
      const winner = pair.find((c) => c?.ok === true);
      if (loser?.ok !== false || winner?.ok !== true) throw new Error("unreachable");
      expect(loser.holder).toBe(winner.lease.owner);
      expect(winner.lease.token).toBe(1);
    }
  });

  it("fences a dead holder's late writes once its expired lease is taken over, but keeps its success", async () => {
    const [dead, alive] = [await relay(), await relay()];
    const pi = `pi_${randomUUID()}`;
    const first = sampleEntry({ paymentIntentId: pi });
    const second = sampleEntry({ paymentIntentId: pi });
    await dead.begin(first, t0);
    await dead.begin(second, t0);
    const old = await dead.claimIntent(pi, "relay-dead", 1_000, t0);
    if (!old.ok) throw new Error("the first claim must succeed");
    expect(await alive.claimIntent(pi, "relay-alive", 1_000, at(500))).toMatchObject({ ok: false });
    const taken = await alive.claimIntent(pi, "relay-alive", 1_000, at(1_000));
    if (!taken.ok) throw new Error("an expired lease must be taken over");
    expect(taken.lease.token).toBeGreaterThan(old.lease.token);

    const lateSubmit = await dead.markSubmitting(
      first,
      "refund",
      { ...received, lease: old.lease },
      at(1_100),
    );
    expect(lateSubmit).toMatchObject({ ok: false, leaseLost: true, entry: { state: "received" } });
    const lateFailure = await dead.settle(
      second,
      { state: "failed", outcome: { late: true }, expected: { ...received, lease: old.lease } },
      at(1_100),
    );
    expect(lateFailure).toMatchObject({ kind: "lease_lost", entry: { state: "received", outcome: null } });
    // What Dojo confirmed is true whoever reports it.
    const lateSuccess = await dead.settle(
      first,
      { state: "succeeded", outcome: { ok: 1 }, refundId: "r" },
      at(1_200),
    );
    expect(lateSuccess).toMatchObject({ kind: "settled", entry: { state: "succeeded", refundId: "r" } });
    // The new holder works on.
    expect(
      await alive.markSubmitting(second, "refund", { ...received, lease: taken.lease }, at(1_300)),
    ).toMatchObject({
      ok: true,
    });
    expect(await dead.renewIntents([old.lease], 1_000, at(1_400))).toEqual([]);
  });

  it("serialises writers on one intent through its lease", async () => {
    const relays = [await relay(), await relay()];
    const pi = `pi_${randomUUID()}`;
    const entry = sampleEntry({ paymentIntentId: pi });
    await relays[0]?.begin(entry, t0);
    const writers = 8;
    const refusals: string[] = [];
    const writer = async (n: number) => {
      const ledger = relays[n % 2] as Ledger;
      const owner = `writer-${n}`;
      for (;;) {
        const claim = await ledger.claimIntent(pi, owner, 30_000, t0);
        if (claim.ok) {
          const row = await ledger.get(entry);
          if (row === undefined) throw new Error("the row is gone");
          const expected = { state: row.state, attempts: row.attempts, lease: claim.lease };
          const submitted = await ledger.markSubmitting(entry, "refund", expected, t0);
          if (!submitted.ok) refusals.push(submitted.reason);
          else {
            const next = {
              state: "submitting" as const,
              attempts: submitted.entry.attempts,
              lease: claim.lease,
            };
            const unknown = await ledger.markUnknown(entry, `writer ${n}`, next, t0);
            if (!unknown.ok) refusals.push(unknown.reason);
          }
          await ledger.releaseIntent(claim.lease);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };
    await Promise.all(Array.from({ length: writers }, (_, n) => writer(n)));
    expect(refusals).toEqual([]);
    expect(await relays[1]?.get(entry)).toMatchObject({ state: "unknown", attempts: writers });
    const lease = await admin.query(
      `SELECT token FROM ${shared.schema}.intent_leases WHERE payment_intent_id = $1`,
      [pi],
    );
    // Every change of holder raised the token.
    expect(Number(lease.rows[0]?.token)).toBe(writers);
  });
});

describe("PostgreSQL ledger start-up", () => {
  it("migrates once when ten relays open a new ledger at the same moment", async () => {
    const { schema, url } = await newSchema();
    const ledgers = await Promise.all(Array.from({ length: 10 }, () => relay(url)));
    const versions = await admin.query<{ version: number; n: number }>(
      `SELECT version, count(*)::integer AS n FROM ${schema}.schema_migrations GROUP BY version ORDER BY version`,
    );
    expect(versions.rows).toEqual(loadMigrations().map((m) => ({ version: m.version, n: 1 })));
    expect(versions.rows.length).toBeGreaterThanOrEqual(3);
    const results = await Promise.all(ledgers.map((l) => l.begin(sampleEntry(), t0)));
    expect(results.every((r) => r.kind === "new")).toBe(true);
  });

  it("refuses a schema newer than it knows, naming both versions", async () => {
    const { schema, url } = await newSchema();
    await (await openLedger(url)).close();
    await admin.query(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES (999, '999_future')`);
    await expect(openLedger(url)).rejects.toThrow(
      new RegExp(`schema is version 999, newer than this refund-relay knows \\(${latestVersion()}\\)`),
    );
    await expect(openLedger(url, { postgres: { migrate: "off" } })).rejects.toThrow(/version 999/);
  });

  it("with migrations off, refuses a missing or older schema and says how to migrate", async () => {
    const { url } = await newSchema();
    const off = { postgres: { migrate: "off" as const } };
    await expect(openLedger(url, off)).rejects.toThrow(/no refund-relay schema.*refund-relay ledger migrate/);
    // A ledger migrated by an older relay, that knew only the first migration.
    const older = new pg.Client({ connectionString: url });
    await older.connect();
    await migrate(older, loadMigrations().slice(0, 1));
    await older.end();
    await expect(openLedger(url, off)).rejects.toThrow(
      new RegExp(`version 1, older than this refund-relay needs \\(${latestVersion()}\\)`),
    );
    await (await openLedger(url)).close();
    const ledger = await relay(url, off);
    expect((await ledger.begin(sampleEntry(), t0)).kind).toBe("new");
  });
});

describe("PostgreSQL ledger connection loss", () => {
  it("fails the operations of a cut connection as an outage and works again right after", async () => {
    const application = `rr-cut-${randomBytes(4).toString("hex")}`;
    const { url } = await newSchema({ application_name: application });
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on("data", (chunk: Buffer) => lines.push(chunk.toString()));
    const ledger = await relay(url, { logger: createLogger({ level: "warn", destination: sink }) });
    const [blocked, other] = [sampleEntry(), sampleEntry()];
    await ledger.begin(blocked, t0);
    await ledger.begin(other, t0);
    // Two connections open, so one is idle while the other runs the batch below.
    const idle = await Promise.all([ledger.pool.connect(), ledger.pool.connect()]);
    for (const client of idle) client.release();

    // A batch held up by a row lock is in flight when its connection is cut; other connections idle.
    const locker = new pg.Client({ connectionString: url.replace(application, `${application}-locker`) });
    await locker.connect();
    await locker.query("BEGIN");
    await locker.query("SELECT 1 FROM refund_events WHERE event_id = $1 FOR UPDATE", [blocked.eventId]);
    // The outcome is caught at once: the cut may reject it before the test gets to look at it.
    const inFlight = ledger.markSubmitting(blocked, "refund", received, at(1)).then(
      () => undefined,
      (e: unknown) => e,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const cut = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
      [application],
    );
    expect(cut.rowCount).toBeGreaterThan(0);
    const error = await inFlight;
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(LedgerError);
    await locker.query("ROLLBACK");
    await locker.end();

    // The pool drops the connections that were cut while idle and opens new ones.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await ledger.markSubmitting(blocked, "refund", received, at(2))).toMatchObject({ ok: true });
    expect(await ledger.get(other)).toMatchObject({ state: "received" });
    expect(lines.join("")).toMatch(/a ledger connection failed while idle/);
  });

  it("fails operations as an outage while the server cannot be reached", async () => {
    const ledger = await openLedger("postgres://relay:s3cret-pw@127.0.0.1:1/refunds", {
      postgres: { migrate: "off", connectTimeoutMs: 500 },
    }).catch((e: unknown) => e);
    expect(ledger).toBeInstanceOf(Error);
    expect(String((ledger as Error).message)).toMatch(
      /cannot reach the ledger at postgres:\/\/relay@127\.0\.0\.1:1/,
    );
    expect(String((ledger as Error).message)).not.toContain("s3cret-pw");
  });
});
