// SQLite ledger on node:sqlite: one file under a data directory, WAL journal. Good for one relay
// instance; deployments with several instances share a PostgreSQL ledger instead.
//
// Writes are group-committed: every write requested during one turn of the event loop runs in one
// transaction, and each caller's promise resolves only after that transaction committed (and, with
// synchronous=FULL, reached the disk). Callers keep "durable before Dojo is called"; the disk sees one
// sync per batch instead of one per write.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.ts";
import {
  type BeginResult,
  type EventRef,
  type Ledger,
  type LedgerEntry,
  LedgerError,
  type LedgerState,
  type NewLedgerEntry,
  type RefundMethod,
  SETTLED_STATES,
  type SettleInput,
} from "./types.ts";

export interface SqliteLedgerOptions {
  /** File path, or ":memory:" for tests. */
  readonly path: string;
  /**
   * "full" syncs the WAL on every commit (survives power loss); "normal" syncs at checkpoints (survives
   * a killed process, may lose the last commits on power loss). Dojo's idempotency key still guards
   * against a second refund either way.
   */
  readonly synchronous?: "full" | "normal";
}

type Row = {
  source: string;
  event_id: string;
  idempotency_key: string;
  request_hash: string;
  payment_intent_id: string;
  merchant_id: string | null;
  amount: number;
  currency_code: string;
  state: LedgerState;
  attempts: number;
  first_seen_at: number;
  updated_at: number;
  refund_id: string | null;
  method: RefundMethod | null;
  outcome: string | null;
  last_error: string | null;
};

function toEntry(row: Row): LedgerEntry {
  const text = row.outcome;
  let outcome: unknown;
  let parsed = false;
  return {
    source: row.source,
    eventId: row.event_id,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    paymentIntentId: row.payment_intent_id,
    merchantId: row.merchant_id,
    amount: Number(row.amount),
    currencyCode: row.currency_code,
    state: row.state,
    attempts: Number(row.attempts),
    firstSeenAt: new Date(Number(row.first_seen_at)),
    updatedAt: new Date(Number(row.updated_at)),
    refundId: row.refund_id,
    method: row.method,
    // Parsed on first use: most transitions never look at the stored outcome.
    get outcome(): unknown {
      if (!parsed) {
        outcome = text === null ? null : (JSON.parse(text) as unknown);
        parsed = true;
      }
      return outcome;
    },
    lastError: row.last_error,
  };
}

function migrate(db: DatabaseSync): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
  );
  const current = db.prepare("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").get() as {
    v: number;
  };
  for (const [index, sql] of SQLITE_MIGRATIONS.entries()) {
    const version = index + 1;
    if (version <= Number(current.v)) continue;
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(sql);
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(
        version,
        Date.now(),
      );
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
}

export class SqliteLedger implements Ledger {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #byRef: StatementSync;
  readonly #byKey: StatementSync;
  readonly #submitting: StatementSync;
  readonly #unknown: StatementSync;
  readonly #settle: StatementSync;
  readonly #published: StatementSync;
  #queue: Array<{ run: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }> =
    [];
  #flushScheduled = false;

  constructor(options: SqliteLedgerOptions) {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new DatabaseSync(options.path);
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec(`PRAGMA synchronous = ${options.synchronous === "normal" ? "NORMAL" : "FULL"}`);
    this.#db.exec("PRAGMA busy_timeout = 5000");
    this.#db.exec("PRAGMA temp_store = MEMORY");
    this.#db.exec("PRAGMA cache_size = -65536");
    migrate(this.#db);
    this.#insert = this.#db.prepare(
      `INSERT INTO refund_events (source, event_id, idempotency_key, request_hash, payment_intent_id,
         merchant_id, amount, currency_code, state, attempts, first_seen_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'received', 0, ?, ?)
       ON CONFLICT DO NOTHING RETURNING *`,
    );
    this.#byRef = this.#db.prepare("SELECT * FROM refund_events WHERE source = ? AND event_id = ?");
    this.#byKey = this.#db.prepare("SELECT * FROM refund_events WHERE idempotency_key = ?");
    this.#submitting = this.#db.prepare(
      `UPDATE refund_events SET state = 'submitting', attempts = attempts + 1, method = ?, updated_at = ?
       WHERE source = ? AND event_id = ? AND state IN ('received', 'submitting', 'unknown')
         AND (method IS NULL OR method = ?) RETURNING *`,
    );
    this.#unknown = this.#db.prepare(
      `UPDATE refund_events SET state = 'unknown', last_error = ?, updated_at = ?
       WHERE source = ? AND event_id = ? AND state IN ('received', 'submitting', 'unknown') RETURNING *`,
    );
    this.#settle = this.#db.prepare(
      `UPDATE refund_events SET state = ?, outcome = ?, refund_id = ?, updated_at = ?
       WHERE source = ? AND event_id = ? AND state IN ('received', 'submitting', 'unknown') RETURNING *`,
    );
    this.#published = this.#db.prepare(
      `UPDATE refund_events SET state = 'published', updated_at = ?
       WHERE source = ? AND event_id = ? AND state IN ('succeeded', 'failed', 'published') RETURNING *`,
    );
  }

  #get(ref: EventRef): LedgerEntry | undefined {
    const row = this.#byRef.get(ref.source, ref.eventId) as Row | undefined;
    return row === undefined ? undefined : toEntry(row);
  }

  #require(ref: EventRef): LedgerEntry {
    const entry = this.#get(ref);
    if (entry === undefined) throw new LedgerError(`no ledger entry for event ${ref.source} ${ref.eventId}`);
    return entry;
  }

  /** Runs `run` inside the next group commit; resolves with its result once committed. */
  #write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setTimeout(() => this.#flush(), 1);
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0 || !this.#db.isOpen) {
      for (const op of batch) op.reject(new LedgerError("the ledger is closed"));
      return;
    }
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      for (const op of batch) {
        try {
          outcomes.push({ ok: true, value: op.run() });
        } catch (error) {
          // A refused transition changes nothing (its UPDATE matched no row); the others still commit.
          outcomes.push({ ok: false, error });
        }
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      for (const op of batch) op.reject(error);
      return;
    }
    for (const [i, op] of batch.entries()) {
      const outcome = outcomes[i];
      if (outcome?.ok === true) op.resolve(outcome.value);
      else op.reject(outcome?.error);
    }
  }

  begin(entry: NewLedgerEntry, now: Date): Promise<BeginResult> {
    return this.#write(() => {
      const at = now.getTime();
      const inserted = this.#insert.get(
        entry.source,
        entry.eventId,
        entry.idempotencyKey,
        entry.requestHash,
        entry.paymentIntentId,
        entry.merchantId,
        entry.amount,
        entry.currencyCode,
        at,
        at,
      ) as Row | undefined;
      if (inserted !== undefined) return { kind: "new", entry: toEntry(inserted) } as const;
      const existing = this.#get(entry);
      if (existing !== undefined) {
        return existing.requestHash === entry.requestHash
          ? ({ kind: "existing", entry: existing } as const)
          : ({ kind: "conflict", entry: existing, reason: "content" } as const);
      }
      const owner = this.#byKey.get(entry.idempotencyKey) as Row | undefined;
      if (owner === undefined) throw new LedgerError("ledger insert was refused for an unknown reason");
      return { kind: "conflict", entry: toEntry(owner), reason: "key" } as const;
    });
  }

  markSubmitting(ref: EventRef, method: RefundMethod, now: Date): Promise<LedgerEntry> {
    return this.#write(() => this.#markSubmitting(ref, method, now));
  }

  #markSubmitting(ref: EventRef, method: RefundMethod, now: Date): LedgerEntry {
    const row = this.#submitting.get(method, now.getTime(), ref.source, ref.eventId, method) as
      | Row
      | undefined;
    if (row !== undefined) return toEntry(row);
    const entry = this.#require(ref);
    if (entry.method !== null && entry.method !== method) {
      throw new LedgerError(`cannot submit a ${method} for an event already submitted as a ${entry.method}`);
    }
    throw new LedgerError(`cannot submit a refund for an event in state ${entry.state}`);
  }

  markUnknown(ref: EventRef, error: string, now: Date): Promise<LedgerEntry> {
    return this.#write(() => this.#markUnknown(ref, error, now));
  }

  #markUnknown(ref: EventRef, error: string, now: Date): LedgerEntry {
    const row = this.#unknown.get(error.slice(0, 2000), now.getTime(), ref.source, ref.eventId) as
      | Row
      | undefined;
    if (row !== undefined) return toEntry(row);
    const entry = this.#require(ref);
    throw new LedgerError(`cannot mark an event in state ${entry.state} as unknown`);
  }

  settle(ref: EventRef, input: SettleInput, now: Date): Promise<LedgerEntry> {
    return this.#write(() => this.#settleNow(ref, input, now));
  }

  #settleNow(ref: EventRef, input: SettleInput, now: Date): LedgerEntry {
    const row = this.#settle.get(
      input.state,
      JSON.stringify(input.outcome),
      input.refundId ?? null,
      now.getTime(),
      ref.source,
      ref.eventId,
    ) as Row | undefined;
    if (row !== undefined) return toEntry(row);
    // Already settled: the first stored outcome wins and is returned for publication.
    const entry = this.#require(ref);
    if (SETTLED_STATES.has(entry.state)) return entry;
    throw new LedgerError(`cannot settle an event in state ${entry.state}`);
  }

  markPublished(ref: EventRef, now: Date): Promise<LedgerEntry> {
    return this.#write(() => this.#markPublished(ref, now));
  }

  #markPublished(ref: EventRef, now: Date): LedgerEntry {
    const row = this.#published.get(now.getTime(), ref.source, ref.eventId) as Row | undefined;
    if (row !== undefined) return toEntry(row);
    const entry = this.#require(ref);
    throw new LedgerError(`cannot mark an event in state ${entry.state} as published`);
  }

  async get(ref: EventRef): Promise<LedgerEntry | undefined> {
    return this.#get(ref);
  }

  async close(): Promise<void> {
    // Let writes already requested commit before the file is closed.
    while (this.#queue.length > 0 || this.#flushScheduled) await new Promise((r) => setImmediate(r));
    if (this.#db.isOpen) this.#db.close();
  }
}
