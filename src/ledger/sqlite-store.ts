// The synchronous core of the SQLite ledger: schema, statements and state transitions on one
// node:sqlite connection. It is driven by a group committer, either on the main thread (SqliteLedger)
// or on a worker thread (ThreadedSqliteLedger); its inputs and outputs are plain, cloneable data.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.ts";
import type { EventRef, LedgerState, NewLedgerEntry, RefundMethod } from "./types.ts";
import { LedgerError, SETTLED_STATES } from "./types.ts";

export interface SqliteOptions {
  /** File path, or ":memory:" for tests. */
  readonly path: string;
  /**
   * "full" syncs the WAL on every commit (survives power loss); "normal" syncs at checkpoints (survives
   * a killed process, may lose the last commits on power loss). Dojo's idempotency key still guards
   * against a second refund either way.
   */
  readonly synchronous?: "full" | "normal";
}

/** One ledger row as stored; times are epoch milliseconds and the outcome is JSON text. */
export interface Row {
  readonly source: string;
  readonly event_id: string;
  readonly idempotency_key: string;
  readonly request_hash: string;
  readonly payment_intent_id: string;
  readonly merchant_id: string | null;
  readonly amount: number;
  readonly currency_code: string;
  readonly state: LedgerState;
  readonly attempts: number;
  readonly first_seen_at: number;
  readonly updated_at: number;
  readonly refund_id: string | null;
  readonly method: RefundMethod | null;
  readonly outcome: string | null;
  readonly last_error: string | null;
}

export type StoreBegin =
  | { readonly kind: "new" | "existing"; readonly row: Row }
  | { readonly kind: "conflict"; readonly row: Row; readonly reason: "content" | "key" };

/** The operations a group commit can carry, by name, with their arguments. */
export type StoreOp =
  | { readonly op: "begin"; readonly entry: NewLedgerEntry; readonly at: number }
  | {
      readonly op: "markSubmitting";
      readonly ref: EventRef;
      readonly method: RefundMethod;
      readonly at: number;
    }
  | { readonly op: "markUnknown"; readonly ref: EventRef; readonly error: string; readonly at: number }
  | {
      readonly op: "settle";
      readonly ref: EventRef;
      readonly state: "succeeded" | "failed";
      readonly outcome: string;
      readonly refundId: string | null;
      readonly at: number;
    }
  | { readonly op: "markPublished"; readonly ref: EventRef; readonly at: number }
  | { readonly op: "get"; readonly ref: EventRef };

export type OpResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

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

const OPEN = "('received', 'submitting', 'unknown')";

export class SqliteStore {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #byRef: StatementSync;
  readonly #byKey: StatementSync;
  readonly #submitting: StatementSync;
  readonly #unknown: StatementSync;
  readonly #settle: StatementSync;
  readonly #published: StatementSync;

  constructor(options: SqliteOptions) {
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
       WHERE source = ? AND event_id = ? AND state IN ${OPEN} AND (method IS NULL OR method = ?) RETURNING *`,
    );
    this.#unknown = this.#db.prepare(
      `UPDATE refund_events SET state = 'unknown', last_error = ?, updated_at = ?
       WHERE source = ? AND event_id = ? AND state IN ${OPEN} RETURNING *`,
    );
    this.#settle = this.#db.prepare(
      `UPDATE refund_events SET state = ?, outcome = ?, refund_id = ?, updated_at = ?
       WHERE source = ? AND event_id = ? AND state IN ${OPEN} RETURNING *`,
    );
    this.#published = this.#db.prepare(
      `UPDATE refund_events SET state = 'published', updated_at = ?
       WHERE source = ? AND event_id = ? AND state IN ('succeeded', 'failed', 'published') RETURNING *`,
    );
  }

  get isOpen(): boolean {
    return this.#db.isOpen;
  }

  /**
   * Runs the operations in one transaction and commits once. An operation that is refused (a
   * transition from the wrong state) changes nothing and reports its error; the others still commit.
   * If the commit itself fails, every operation fails.
   */
  runBatch(ops: readonly StoreOp[]): OpResult[] {
    const results: OpResult[] = [];
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      for (const op of ops) {
        try {
          results.push({ ok: true, value: this.#run(op) });
        } catch (error) {
          results.push({ ok: false, error });
        }
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      return ops.map(() => ({ ok: false, error }));
    }
    return results;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #run(op: StoreOp): unknown {
    switch (op.op) {
      case "begin":
        return this.#begin(op.entry, op.at);
      case "markSubmitting":
        return this.#transition(
          op.ref,
          this.#submitting,
          [op.method, op.at, op.ref.source, op.ref.eventId, op.method],
          (row) =>
            row.method !== null && row.method !== op.method
              ? `cannot submit a ${op.method} for an event already submitted as a ${row.method}`
              : `cannot submit a refund for an event in state ${row.state}`,
        );
      case "markUnknown":
        return this.#transition(
          op.ref,
          this.#unknown,
          [op.error.slice(0, 2000), op.at, op.ref.source, op.ref.eventId],
          (row) => `cannot mark an event in state ${row.state} as unknown`,
        );
      case "settle": {
        const row = this.#settle.get(
          op.state,
          op.outcome,
          op.refundId,
          op.at,
          op.ref.source,
          op.ref.eventId,
        ) as Row | undefined;
        if (row !== undefined) return row;
        // Already settled: the first stored outcome wins and is returned for publication.
        const current = this.#require(op.ref);
        if (SETTLED_STATES.has(current.state)) return current;
        throw new LedgerError(`cannot settle an event in state ${current.state}`);
      }
      case "markPublished":
        return this.#transition(
          op.ref,
          this.#published,
          [op.at, op.ref.source, op.ref.eventId],
          (row) => `cannot mark an event in state ${row.state} as published`,
        );
      case "get":
        return this.#byRef.get(op.ref.source, op.ref.eventId) as Row | undefined;
    }
  }

  #begin(entry: NewLedgerEntry, at: number): StoreBegin {
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
    if (inserted !== undefined) return { kind: "new", row: inserted };
    const existing = this.#byRef.get(entry.source, entry.eventId) as Row | undefined;
    if (existing !== undefined) {
      return existing.request_hash === entry.requestHash
        ? { kind: "existing", row: existing }
        : { kind: "conflict", row: existing, reason: "content" };
    }
    const owner = this.#byKey.get(entry.idempotencyKey) as Row | undefined;
    if (owner === undefined) throw new LedgerError("ledger insert was refused for an unknown reason");
    return { kind: "conflict", row: owner, reason: "key" };
  }

  #transition(
    ref: EventRef,
    statement: StatementSync,
    params: Array<string | number | null>,
    refusal: (row: Row) => string,
  ): Row {
    const row = statement.get(...params) as Row | undefined;
    if (row !== undefined) return row;
    throw new LedgerError(refusal(this.#require(ref)));
  }

  #require(ref: EventRef): Row {
    const row = this.#byRef.get(ref.source, ref.eventId) as Row | undefined;
    if (row === undefined) throw new LedgerError(`no ledger entry for event ${ref.source} ${ref.eventId}`);
    return row;
  }
}
