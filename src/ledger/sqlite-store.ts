// The synchronous core of the SQLite ledger: schema, statements and state transitions on one
// node:sqlite connection. It is driven by a group committer, either on the main thread (SqliteLedger)
// or on a worker thread (ThreadedSqliteLedger); its inputs and outputs are plain, cloneable data.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.ts";
import type { EventRef, Expected, LedgerState, NewLedgerEntry, ParkCode, RefundMethod } from "./types.ts";
import { LedgerError } from "./types.ts";

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
  readonly parked_code: string | null;
  readonly parked_reason: string | null;
  readonly parked_at: number | null;
  readonly event: string | null;
}

/** One audit row as stored. */
export interface AuditRow {
  readonly source: string;
  readonly event_id: string;
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly reason: string;
  readonly previous_state: LedgerState;
  readonly new_state: LedgerState;
}

/** A transition's answer: applied (the row after it) or refused (the row as it is, and why). */
export type StoreTransition =
  | { readonly ok: true; readonly row: Row }
  | { readonly ok: false; readonly row: Row; readonly reason: string; readonly leaseLost?: boolean };

export type StoreSettle =
  | { readonly kind: "settled" | "kept" | "stale" | "lease_lost"; readonly row: Row }
  | { readonly kind: "corrected"; readonly row: Row; readonly previous: string | null };

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
      readonly expected: Expected;
      readonly at: number;
    }
  | {
      readonly op: "markUnknown";
      readonly ref: EventRef;
      readonly error: string;
      readonly expected: Expected;
      readonly requests: number;
      readonly at: number;
    }
  | {
      readonly op: "settle";
      readonly ref: EventRef;
      readonly state: "succeeded" | "failed";
      readonly outcome: string;
      readonly refundId: string | null;
      readonly expected: Expected | null;
      readonly requests: number;
      readonly at: number;
    }
  | { readonly op: "markPublished"; readonly ref: EventRef; readonly at: number }
  | {
      readonly op: "markParked";
      readonly ref: EventRef;
      readonly code: ParkCode;
      readonly reason: string;
      readonly event: string | null;
      readonly at: number;
    }
  | { readonly op: "get"; readonly ref: EventRef }
  | { readonly op: "listParked"; readonly limit: number }
  | {
      readonly op: "settleByHand";
      readonly ref: EventRef;
      readonly state: "succeeded" | "failed";
      readonly outcome: string;
      readonly refundId: string | null;
      readonly actor: string;
      readonly reason: string;
      readonly at: number;
    }
  | { readonly op: "audit"; readonly ref: EventRef }
  | {
      readonly op: "claimIntent";
      readonly paymentIntentId: string;
      readonly owner: string;
      readonly ttlMs: number;
      readonly at: number;
    }
  | {
      readonly op: "renewIntents";
      readonly leases: readonly LeaseRow[];
      readonly ttlMs: number;
      readonly at: number;
    }
  | { readonly op: "releaseIntent"; readonly lease: LeaseRow };

/**
 * Read-only lookups (LedgerLookup), by name, with their arguments. They run outside the group commit:
 * no write lock, each statement its own read of what is committed.
 */
export type StoreLookup =
  | { readonly lookup: "byEventId"; readonly eventId: string; readonly limit: number }
  | { readonly lookup: "byReturnId"; readonly returnId: string; readonly limit: number }
  | { readonly lookup: "byPaymentIntent"; readonly paymentIntentId: string; readonly limit: number }
  | { readonly lookup: "intentLease"; readonly paymentIntentId: string };

/** A lease as stored and passed between threads (expiry in epoch milliseconds). */
export interface LeaseRow {
  readonly payment_intent_id: string;
  readonly owner: string;
  readonly token: number;
  readonly expires_at: number;
}

export type StoreClaim =
  | { readonly ok: true; readonly lease: LeaseRow }
  | { readonly ok: false; readonly holder: string; readonly expiresAt: number };

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
  if (Number(current.v) > SQLITE_MIGRATIONS.length) {
    throw new LedgerError(
      `the ledger's schema is version ${current.v}, newer than this refund-relay knows (${SQLITE_MIGRATIONS.length}); run a newer refund-relay or restore a matching ledger`,
    );
  }
  for (const [index, sql] of SQLITE_MIGRATIONS.entries()) {
    const version = index + 1;
    if (version <= Number(current.v)) continue;
    db.exec("BEGIN IMMEDIATE");
    try {
      // Instances starting together on one file: another may have applied this step since the read
      // above, so look again under the write lock.
      const applied = db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?").get(version);
      if (applied !== undefined) {
        db.exec("COMMIT");
        continue;
      }
      db.exec(sql);
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(
        version,
        Date.now(),
      );
      db.exec("COMMIT");
    } catch (error) {
      // SQLite has already rolled back after some errors (disk full, I/O): a ROLLBACK then would throw
      // and hide the error that matters.
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  }
}

/**
 * The lookups' statements. By event id: the unique index on (source, event_id) is walked once per
 * distinct source (a handful) instead of scanning the table. By return id: the stored event and outcome
 * texts are searched for the id as JSON writes it before any is parsed. By payment intent: a scan (no
 * index: it would cost every insert of the relay, for a command a person runs).
 */
const LOOKUP_SQL = {
  byEventId: `WITH RECURSIVE sources(source) AS (
       SELECT MIN(source) FROM refund_events
       UNION ALL
       SELECT (SELECT MIN(e.source) FROM refund_events e WHERE e.source > sources.source)
         FROM sources WHERE sources.source IS NOT NULL)
     SELECT r.* FROM sources JOIN refund_events r ON r.source = sources.source AND r.event_id = $eventId
     ORDER BY r.first_seen_at, r.seq LIMIT $limit`,
  byReturnId: `SELECT * FROM refund_events
     WHERE (instr(event, $needle) > 0
            AND CASE WHEN json_valid(event) THEN json_extract(event, '$.data.returnId') END = $returnId)
        OR (instr(outcome, $needle) > 0
            AND CASE WHEN json_valid(outcome) THEN json_extract(outcome, '$.data.returnId') END = $returnId)
     ORDER BY first_seen_at, seq LIMIT $limit`,
  byPaymentIntent: `SELECT * FROM refund_events WHERE payment_intent_id = $paymentIntentId
     ORDER BY first_seen_at, seq LIMIT $limit`,
  intentLease: "SELECT * FROM intent_leases WHERE payment_intent_id = $paymentIntentId",
} as const satisfies Record<StoreLookup["lookup"], string>;

/** How a JSON text spells a string inside its quotes: what to search stored JSON texts for. */
export function jsonSpelling(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

const OPEN_STATES: ReadonlySet<LedgerState> = new Set(["received", "submitting", "unknown"]);
const OPEN = "('received', 'submitting', 'unknown')";

export class SqliteStore {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #byRef: StatementSync;
  readonly #byKey: StatementSync;
  readonly #submitting: StatementSync;
  readonly #unknown: StatementSync;
  readonly #settle: StatementSync;
  readonly #settleExpected: StatementSync;
  readonly #settleOpen: StatementSync;
  readonly #published: StatementSync;
  readonly #parked: StatementSync;
  readonly #listParked: StatementSync;
  readonly #insertAudit: StatementSync;
  readonly #audit: StatementSync;
  readonly #leaseOf: StatementSync;
  readonly #claim: StatementSync;
  readonly #renew: StatementSync;
  readonly #release: StatementSync;
  /** Prepared on first use: only the command line looks rows up this way. */
  readonly #lookups = new Map<StoreLookup["lookup"], StatementSync>();

  constructor(options: SqliteOptions) {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new DatabaseSync(options.path);
    // First, so that every statement below waits for an instance opening the same file at this moment
    // (switching a new file to WAL and migrating it take its write lock) instead of failing at once.
    this.#db.exec("PRAGMA busy_timeout = 5000");
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec(`PRAGMA synchronous = ${options.synchronous === "normal" ? "NORMAL" : "FULL"}`);
    this.#db.exec("PRAGMA temp_store = MEMORY");
    // SQLite's page cache (8 MiB), on the heap of the thread running the store. A larger one keeps
    // filling with the ledger and stays resident for good: 64 MiB read about 7% faster in bench/ledger,
    // and 16 MiB added about 9 MiB to the relay's peak resident memory under a 200,000-event backlog
    // without a measurable gain; pages it drops are read back from the OS's file cache.
    this.#db.exec("PRAGMA cache_size = -8192");
    migrate(this.#db);
    this.#insert = this.#db.prepare(
      `INSERT INTO refund_events (source, event_id, idempotency_key, request_hash, payment_intent_id,
         merchant_id, amount, currency_code, state, attempts, first_seen_at, updated_at, event)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'received', 0, ?, ?, ?)
       ON CONFLICT DO NOTHING RETURNING *`,
    );
    this.#byRef = this.#db.prepare("SELECT * FROM refund_events WHERE source = ? AND event_id = ?");
    this.#byKey = this.#db.prepare("SELECT * FROM refund_events WHERE idempotency_key = ?");
    // Every update names the row by its key and is only run after the row was read and checked in
    // the same transaction, so the checks and the write see one state.
    // The common case is one conditional update; only a refused one reads the row to say why.
    this.#submitting = this.#db.prepare(
      `UPDATE refund_events SET state = 'submitting', attempts = attempts + 1, method = ?, updated_at = ?
       WHERE source = ? AND event_id = ? AND state = ? AND attempts = ? AND state IN ${OPEN}
         AND (method IS NULL OR method = ?) RETURNING *`,
    );
    this.#unknown = this.#db.prepare(
      `UPDATE refund_events SET state = 'unknown', attempts = attempts + ?, last_error = ?, updated_at = ?
       WHERE source = ? AND event_id = ? AND state = ? AND attempts = ? AND state IN ${OPEN} RETURNING *`,
    );
    this.#settleExpected = this.#db.prepare(
      `UPDATE refund_events SET state = ?, outcome = ?, refund_id = ?, attempts = attempts + ?,
         updated_at = ?, parked_code = NULL, parked_reason = NULL, parked_at = NULL
       WHERE source = ? AND event_id = ? AND state = ? AND attempts = ? AND state IN ${OPEN} RETURNING *`,
    );
    this.#settleOpen = this.#db.prepare(
      `UPDATE refund_events SET state = ?, outcome = ?, refund_id = ?, attempts = attempts + ?,
         updated_at = ?, parked_code = NULL, parked_reason = NULL, parked_at = NULL
       WHERE source = ? AND event_id = ? AND state IN ${OPEN} RETURNING *`,
    );
    this.#settle = this.#db.prepare(
      `UPDATE refund_events SET state = ?, outcome = ?, refund_id = ?, attempts = attempts + ?,
         updated_at = ?, parked_code = NULL, parked_reason = NULL, parked_at = NULL
       WHERE source = ? AND event_id = ? RETURNING *`,
    );
    this.#published = this.#db.prepare(
      `UPDATE refund_events SET state = 'published', updated_at = ?
       WHERE source = ? AND event_id = ? AND state IN ('succeeded', 'failed', 'published') RETURNING *`,
    );
    this.#parked = this.#db.prepare(
      `UPDATE refund_events SET parked_code = ?, parked_reason = ?, parked_at = ?, event = COALESCE(?, event)
       WHERE source = ? AND event_id = ? AND state IN ('received', 'submitting', 'unknown')`,
    );
    this.#listParked = this.#db.prepare(
      `SELECT * FROM refund_events WHERE parked_code IS NOT NULL
         AND state IN ('received', 'submitting', 'unknown') ORDER BY parked_at LIMIT ?`,
    );
    this.#insertAudit = this.#db.prepare(
      `INSERT INTO ledger_audit (source, event_id, at, actor, action, reason, previous_state, new_state)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#leaseOf = this.#db.prepare("SELECT * FROM intent_leases WHERE payment_intent_id = ?");
    // Free, expired or already ours: take it; the token grows only when the holder changes.
    this.#claim = this.#db.prepare(
      `INSERT INTO intent_leases (payment_intent_id, owner, token, expires_at) VALUES (?, ?, 1, ?)
       ON CONFLICT (payment_intent_id) DO UPDATE SET
         token = CASE WHEN intent_leases.owner = excluded.owner THEN intent_leases.token ELSE intent_leases.token + 1 END,
         owner = excluded.owner, expires_at = excluded.expires_at
       WHERE intent_leases.owner = excluded.owner OR intent_leases.expires_at <= ?
       RETURNING *`,
    );
    this.#renew = this.#db.prepare(
      `UPDATE intent_leases SET expires_at = ? WHERE payment_intent_id = ? AND owner = ? AND token = ? RETURNING *`,
    );
    // Released leases stay as expired rows, so the next holder's token is still higher.
    this.#release = this.#db.prepare(
      "UPDATE intent_leases SET expires_at = 0 WHERE payment_intent_id = ? AND owner = ? AND token = ?",
    );
    this.#audit = this.#db.prepare(
      "SELECT * FROM ledger_audit WHERE source = ? AND event_id = ? ORDER BY seq",
    );
  }

  /**
   * Runs a read-only lookup outside any transaction; only between batches (never from inside
   * runBatch), which both drivers guarantee by running each on one thread, synchronously.
   */
  lookup(q: StoreLookup): unknown {
    if (this.#db.isTransaction) throw new LedgerError("a lookup cannot run inside a write transaction");
    let statement = this.#lookups.get(q.lookup);
    if (statement === undefined) {
      statement = this.#db.prepare(LOOKUP_SQL[q.lookup]);
      this.#lookups.set(q.lookup, statement);
    }
    switch (q.lookup) {
      case "byEventId":
        return statement.all({ eventId: q.eventId, limit: q.limit }) as unknown as Row[];
      case "byReturnId":
        return statement.all({
          needle: jsonSpelling(q.returnId),
          returnId: q.returnId,
          limit: q.limit,
        }) as unknown as Row[];
      case "byPaymentIntent":
        return statement.all({ paymentIntentId: q.paymentIntentId, limit: q.limit }) as unknown as Row[];
      case "intentLease":
        return statement.get({ paymentIntentId: q.paymentIntentId }) as LeaseRow | undefined;
    }
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
      case "markSubmitting": {
        const { ref, expected } = op;
        const lost = this.#leaseLost(ref, expected);
        if (lost !== undefined) return lost;
        const done = this.#submitting.get(
          op.method,
          op.at,
          ref.source,
          ref.eventId,
          expected.state,
          expected.attempts,
          op.method,
        );
        if (done !== undefined) return applied(done);
        const row = this.#require(ref);
        if (row.method !== null && row.method !== op.method) {
          throw new LedgerError(
            `cannot submit a ${op.method} for an event already submitted as a ${row.method}`,
          );
        }
        if (!OPEN_STATES.has(row.state)) {
          return refused(row, `cannot submit a refund for an event in state ${row.state}`);
        }
        return refused(row, movedOn(row, expected));
      }
      case "markUnknown": {
        const { ref, expected } = op;
        const lost = this.#leaseLost(ref, expected);
        if (lost !== undefined) return lost;
        const error = op.error.slice(0, 2000);
        const params = [
          op.requests - 1,
          error,
          op.at,
          ref.source,
          ref.eventId,
          expected.state,
          expected.attempts,
        ];
        const done = this.#unknown.get(...params);
        if (done !== undefined) return applied(done);
        const row = this.#require(ref);
        if (!OPEN_STATES.has(row.state)) {
          return refused(row, `cannot mark an event in state ${row.state} as unknown`);
        }
        return refused(row, movedOn(row, expected));
      }
      case "settle":
        return this.#settleOp(op);
      case "markPublished": {
        const row = this.#published.get(op.at, op.ref.source, op.ref.eventId) as Row | undefined;
        if (row !== undefined) return row;
        throw new LedgerError(`cannot mark an event in state ${this.#require(op.ref).state} as published`);
      }
      case "markParked":
        this.#parked.run(op.code, op.reason.slice(0, 2000), op.at, op.event, op.ref.source, op.ref.eventId);
        return undefined;
      case "get":
        return this.#byRef.get(op.ref.source, op.ref.eventId) as Row | undefined;
      case "listParked":
        return this.#listParked.all(op.limit) as unknown as Row[];
      case "settleByHand": {
        const row = this.#require(op.ref);
        if (!OPEN_STATES.has(row.state)) {
          return refused(row, `the event is already settled (state ${row.state}); nothing was changed`);
        }
        const updated = this.#settle.get(
          op.state,
          op.outcome,
          op.refundId,
          0,
          op.at,
          op.ref.source,
          op.ref.eventId,
        ) as unknown as Row;
        this.#insertAudit.run(
          op.ref.source,
          op.ref.eventId,
          op.at,
          op.actor,
          `settle-as-${op.state}`,
          op.reason,
          row.state,
          updated.state,
        );
        return { ok: true, row: updated } satisfies StoreTransition;
      }
      case "audit":
        return this.#audit.all(op.ref.source, op.ref.eventId) as unknown as AuditRow[];
      case "claimIntent": {
        const expires = op.at + op.ttlMs;
        const lease = this.#claim.get(op.paymentIntentId, op.owner, expires, op.at) as LeaseRow | undefined;
        if (lease !== undefined) return { ok: true, lease } satisfies StoreClaim;
        const held = this.#leaseOf.get(op.paymentIntentId) as unknown as LeaseRow;
        return { ok: false, holder: held.owner, expiresAt: Number(held.expires_at) } satisfies StoreClaim;
      }
      case "renewIntents": {
        const renewed: LeaseRow[] = [];
        for (const l of op.leases) {
          const row = this.#renew.get(op.at + op.ttlMs, l.payment_intent_id, l.owner, l.token) as
            | LeaseRow
            | undefined;
          if (row !== undefined) renewed.push(row);
        }
        return renewed;
      }
      case "releaseIntent":
        this.#release.run(op.lease.payment_intent_id, op.lease.owner, op.lease.token);
        return undefined;
    }
  }

  /** A refusal when the expected row names a lease that is no longer the writer's; else undefined. */
  #leaseLost(ref: EventRef, expected: Expected): Extract<StoreTransition, { ok: false }> | undefined {
    const lease = expected.lease;
    if (lease === undefined) return undefined;
    const held = this.#leaseOf.get(lease.paymentIntentId) as LeaseRow | undefined;
    if (held !== undefined && held.owner === lease.owner && Number(held.token) === lease.token)
      return undefined;
    return {
      ok: false,
      row: this.#require(ref),
      reason: `the lease on payment intent ${lease.paymentIntentId} is no longer this writer's (now ${held === undefined ? "free" : `held by ${held.owner}`})`,
      leaseLost: true,
    };
  }

  #settleOp(op: Extract<StoreOp, { op: "settle" }>): StoreSettle {
    const { ref } = op;
    const values = [
      op.state,
      op.outcome,
      op.refundId,
      op.requests - 1,
      op.at,
      ref.source,
      ref.eventId,
    ] as const;
    if (op.state === "succeeded") {
      // Dojo confirmed a refund: that is true whatever the row says. A stored failure (no refund id)
      // was a wrong answer and is replaced; a stored success stays (same key, same refund).
      const done = this.#settleOpen.get(...values) as Row | undefined;
      if (done !== undefined) return { kind: "settled", row: done };
      const row = this.#require(ref);
      if (row.refund_id !== null) return { kind: "kept", row };
      return { kind: "corrected", row: this.#settle.get(...values) as unknown as Row, previous: row.outcome };
    }
    if (op.expected === null) throw new LedgerError("a failure can only be stored for an expected row");
    const lost = this.#leaseLost(ref, op.expected);
    if (lost !== undefined) return { kind: "lease_lost", row: lost.row };
    const done = this.#settleExpected.get(...values, op.expected.state, op.expected.attempts) as
      | Row
      | undefined;
    if (done !== undefined) return { kind: "settled", row: done };
    const row = this.#require(ref);
    return { kind: OPEN_STATES.has(row.state) ? "stale" : "kept", row };
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
      entry.event === undefined ? null : JSON.stringify(entry.event),
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

  #require(ref: EventRef): Row {
    const row = this.#byRef.get(ref.source, ref.eventId) as Row | undefined;
    if (row === undefined) throw new LedgerError(`no ledger entry for event ${ref.source} ${ref.eventId}`);
    return row;
  }
}

function applied(row: unknown): StoreTransition {
  return { ok: true, row: row as Row };
}

function refused(row: Row, reason: string): StoreTransition {
  return { ok: false, row, reason };
}

function movedOn(row: Row, expected: Expected): string {
  return `the event moved on (expected ${expected.state} after ${expected.attempts} attempts, found ${row.state} after ${row.attempts})`;
}
