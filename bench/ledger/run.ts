// Ledger operations per second, the way the relay drives the ledger: BENCH_CONCURRENCY events in
// flight, each through begin, claimIntent, markSubmitting (under the lease), settle, then
// markPublished and releaseIntent without waiting for them (6 operations per event; BENCH_LEASES=false
// leaves the lease out: 4). Against PostgreSQL (BENCH_LEDGER_URL, default DATABASE_URL or the local
// server) in a schema of its own that is dropped afterwards, and the SQLite ledger for comparison
// (BENCH_SQLITE=false skips it). Bounded: BENCH_EVENTS events or BENCH_SECONDS seconds per run.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type Ledger, openLedger } from "../../src/ledger/index.ts";

const positiveInt = (text: string | undefined, fallback: number) => {
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
};
const EVENTS = positiveInt(process.env.BENCH_EVENTS, 40_000);
const SECONDS = positiveInt(process.env.BENCH_SECONDS, 15);
const CONCURRENCY = positiveInt(process.env.BENCH_CONCURRENCY, 512);
const LEASES = process.env.BENCH_LEASES !== "false";
const SQLITE = process.env.BENCH_SQLITE !== "false";
const BASE_URL =
  process.env.BENCH_LEDGER_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

interface Result {
  readonly ledger: string;
  readonly events: number;
  readonly ops: number;
  readonly seconds: number;
  readonly p99Ms: number;
}

async function drive(name: string, ledger: Ledger, events = EVENTS, seconds = SECONDS): Promise<Result> {
  const owner = `bench-${randomUUID()}`;
  const latencies: number[] = [];
  let next = 0;
  let ops = 0;
  const pending = new Set<Promise<unknown>>();
  const deadline = Date.now() + seconds * 1000;
  const oneEvent = async (i: number) => {
    const started = performance.now();
    const now = new Date();
    const id = `${i}-${randomUUID()}`;
    const entry = {
      source: "urn:bench",
      eventId: `evt-${id}`,
      idempotencyKey: `rr-${id}`,
      requestHash: "hash",
      paymentIntentId: `pi_${id}`,
      merchantId: null,
      amount: 1250,
      currencyCode: "GBP",
    };
    const begun = await ledger.begin(entry, now);
    let lease: Awaited<ReturnType<Ledger["claimIntent"]>> | undefined;
    if (LEASES) lease = await ledger.claimIntent(entry.paymentIntentId, owner, 30_000, now);
    const expected = {
      state: begun.entry.state,
      attempts: begun.entry.attempts,
      ...(lease?.ok === true ? { lease: lease.lease } : {}),
    };
    const submitted = await ledger.markSubmitting(entry, "refund", expected, now);
    if (!submitted.ok) throw new Error(submitted.reason);
    const outcome = {
      specversion: "1.0",
      type: "refund.succeeded",
      id: `out-${id}`,
      data: { refundId: `r-${id}` },
    };
    await ledger.settle(entry, { state: "succeeded", outcome, refundId: `r-${id}` }, now);
    latencies.push(performance.now() - started);
    // Neither is awaited by the relay before the message counts as answered.
    const tail: Promise<unknown>[] = [ledger.markPublished(entry, now)];
    if (lease?.ok === true) tail.push(ledger.releaseIntent(lease.lease));
    ops += LEASES ? 6 : 4;
    await Promise.all(tail);
  };
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (pending.size < CONCURRENCY && next < events && Date.now() < deadline) {
        const p: Promise<unknown> = oneEvent(next++).then(() => {
          pending.delete(p);
          pump();
        }, reject);
        pending.add(p);
      }
      if (pending.size === 0) resolve();
    };
    pump();
  });
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const p99Ms = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
  return { ledger: name, events: latencies.length, ops, seconds: elapsed, p99Ms };
}

function report(r: Result): void {
  const perSecond = (n: number) => Math.round(n / r.seconds);
  console.info(
    `${r.ledger.padEnd(22)} ${String(r.events).padStart(7)} events in ${r.seconds.toFixed(1)} s: ` +
      `${perSecond(r.events)} events/s, ${perSecond(r.ops)} ops/s, p99 ${r.p99Ms.toFixed(1)} ms per event`,
  );
}

console.info(
  `concurrency ${CONCURRENCY}, ${LEASES ? "6 ops per event (with leases)" : "4 ops per event"}, ` +
    `at most ${EVENTS} events or ${SECONDS} s per run`,
);

const schema = `rr_bench_${randomBytes(4).toString("hex")}`;
const admin = new pg.Client({ connectionString: BASE_URL });
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
try {
  const url = new URL(BASE_URL);
  url.searchParams.set("options", `-c search_path=${schema}`);
  const ledger = await openLedger(url.toString());
  try {
    await drive("warm-up", ledger, 3_000, 3);
    report(await drive("postgresql", ledger));
  } finally {
    await ledger.close();
  }
} finally {
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
}

if (SQLITE) {
  const dir = mkdtempSync(join(tmpdir(), "rr-bench-ledger-"));
  try {
    const ledger = await openLedger(`sqlite:${join(dir, "ledger.db")}`);
    try {
      report(await drive("sqlite (worker, full)", ledger));
    } finally {
      await ledger.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
