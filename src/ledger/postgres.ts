// The ledger on PostgreSQL, for relay instances on several hosts sharing one ledger. Same rules as the
// SQLite ledger (the operations run server-side in refund_relay_apply, see the migrations), same
// group commit: a caller's promise resolves only after the transaction holding its operation
// committed. A query that fails because the server is unreachable, restarting or too slow rejects
// every operation of its batch with a plain Error, which the pipeline treats as an outage: it pauses
// and tries again, and the pool reconnects by itself once the server is back.
import type pg from "pg";
import type { Logger } from "../logger.ts";
import { BatchQueue, type BatchResult } from "./postgres-batch.ts";
import * as lookups from "./postgres-lookup.ts";
import { prepareSchema } from "./postgres-migrations.ts";
import * as ops from "./postgres-ops.ts";
import { type ConnectionTarget, connectionTarget, createPool } from "./postgres-pool.ts";
import * as results from "./postgres-results.ts";
import { RetentionSweeper, type SweepResult } from "./postgres-retention.ts";
import type { PostgresLedgerSettings } from "./postgres-settings.ts";
import { lookupLimit } from "./sqlite.ts";
import { LedgerUnavailableError } from "./sqlite-threaded.ts";
import type {
  AuditRecord,
  BeginResult,
  EventRef,
  Expected,
  IntentLease,
  LeaseClaim,
  Ledger,
  LedgerEntry,
  LedgerLookup,
  ManualSettlement,
  NewLedgerEntry,
  ParkCode,
  RefundMethod,
  SettleInput,
  SettleResult,
  Transition,
} from "./types.ts";
import { LedgerError } from "./types.ts";

export interface PostgresLedgerOptions extends PostgresLedgerSettings {
  readonly url: string;
  /** Hears of connections lost while idle and of failed retention sweeps; silent without one. */
  readonly logger?: Logger | undefined;
}

const APPLY = "SELECT r FROM refund_relay_apply($1::jsonb) AS r";
const MAX_BATCHES_IN_FLIGHT = 4;
/** Batches that lost a deadlock (two instances locking the same rows in different orders) run again. */
const RETRIES_ON_CONFLICT = 3;
const CONFLICT_CODES = new Set(["40P01", "40001"]);

export class PostgresLedger implements Ledger, LedgerLookup {
  readonly #pool: pg.Pool;
  readonly #target: ConnectionTarget;
  readonly #queue: BatchQueue<ops.PgOp>;
  readonly #sweeper: RetentionSweeper;
  #closed: Promise<void> | undefined;

  private constructor(target: ConnectionTarget, options: PostgresLedgerOptions) {
    this.#target = target;
    const log = options.logger;
    this.#pool = createPool(target, options, (error) =>
      log?.warn(
        { err: error, ledger: target.display },
        "a ledger connection failed while idle; it is replaced",
      ),
    );
    const poolSize = options.poolSize ?? 10;
    // A few batches in flight keep the server busy while one commits; more only add contention (on
    // two cores: four did best). At least one connection is left for the retention sweep.
    this.#queue = new BatchQueue((batch) => this.#apply(batch), {
      maxBatches: Math.max(1, Math.min(MAX_BATCHES_IN_FLIGHT, poolSize - 1)),
      maxOps: 500,
      delayMs: 1,
    });
    this.#sweeper = new RetentionSweeper(this.#pool, {
      retentionDays: options.retentionDays ?? 0,
      intervalMs: options.sweepIntervalMs ?? 0,
      ...(log === undefined ? {} : { logger: log }),
    });
  }

  /**
   * Connects, brings the schema up to date (or, with migrate "off", checks that it is) and starts the
   * retention sweep when asked to. Fails with the URL (never its password) and the reason.
   */
  static async open(options: PostgresLedgerOptions): Promise<PostgresLedger> {
    let target: ConnectionTarget;
    try {
      target = connectionTarget(options.url, options);
    } catch (error) {
      throw new Error(`LEDGER_URL: ${(error as Error).message}`);
    }
    await prepareSchema(target, options.migrate ?? "auto", options.logger);
    const ledger = new PostgresLedger(target, options);
    ledger.#sweeper.start();
    return ledger;
  }

  /** The pool, for tests and the command line. */
  get pool(): pg.Pool {
    return this.#pool;
  }

  /**
   * Deletes settled events (and leases) older than the retention, in small batches, unless another
   * instance is sweeping right now. Not part of the Ledger interface: only this ledger keeps rows
   * that long on a server shared by instances.
   */
  sweep(now: Date = new Date()): Promise<SweepResult> {
    return this.#sweeper.sweep(now);
  }

  async #apply(batch: ops.PgOp[]): Promise<BatchResult[]> {
    const text = JSON.stringify(batch);
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.#pool.query<{ r: { v?: unknown; e?: string } }>({
          name: "refund_relay_apply",
          text: APPLY,
          values: [text],
        });
        if (result.rows.length !== batch.length) {
          throw new Error(`the ledger answered ${result.rows.length} results for ${batch.length} operations`);
        }
        return result.rows.map(({ r }) =>
          r.e === undefined ? { ok: true, value: r.v } : { ok: false, error: new LedgerError(r.e) },
        );
      } catch (error) {
        const code = String((error as { code?: unknown }).code ?? "");
        if (CONFLICT_CODES.has(code) && attempt < RETRIES_ON_CONFLICT) continue;
        // A value the server rejects (SQLSTATE classes 22 and 23: data and constraints) fails only its
        // own operation: the batch runs again one by one, so one bad write cannot hold back every other
        // event's writes on every retry.
        if (code.startsWith("22") || code.startsWith("23")) {
          if (batch.length > 1) return this.#applyOneByOne(batch);
          const message = `the ledger refused the operation: ${(error as Error).message}`;
          return [{ ok: false, error: new LedgerError(message) }];
        }
        const message = `the ledger at ${this.#target.display} failed: ${(error as Error).message}`;
        throw new LedgerUnavailableError(message, { cause: error });
      }
    }
  }

  async #applyOneByOne(batch: ops.PgOp[]): Promise<BatchResult[]> {
    const answers: BatchResult[] = [];
    for (const op of batch) {
      try {
        answers.push(...(await this.#apply([op])));
      } catch (error) {
        answers.push({ ok: false, error });
      }
    }
    return answers;
  }

  /** Encodes (checking the values) and queues one operation; a value that cannot be stored rejects. */
  #call<T>(encode: () => ops.Encoded, decode: (value: unknown) => T): Promise<T> {
    if (this.#closed !== undefined) return Promise.reject(new LedgerError("the ledger is closed"));
    let encoded: ops.Encoded;
    try {
      encoded = encode();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#queue.push(encoded.op, encoded.keys).then(decode);
  }

  begin(entry: NewLedgerEntry, now: Date): Promise<BeginResult> {
    return this.#call(() => ops.begin(entry, now), results.toBegin);
  }

  markSubmitting(ref: EventRef, method: RefundMethod, expected: Expected, now: Date): Promise<Transition> {
    return this.#call(() => ops.markSubmitting(ref, method, expected, now), results.toTransition);
  }

  markUnknown(
    ref: EventRef,
    error: string,
    expected: Expected,
    now: Date,
    requests = 1,
  ): Promise<Transition> {
    return this.#call(() => ops.markUnknown(ref, error, expected, now, requests), results.toTransition);
  }

  settle(ref: EventRef, input: SettleInput, now: Date): Promise<SettleResult> {
    return this.#call(() => ops.settle(ref, input, now), results.toSettle);
  }

  markPublished(ref: EventRef, now: Date): Promise<LedgerEntry> {
    return this.#call(() => ops.markPublished(ref, now), results.toRowEntry);
  }

  markParked(ref: EventRef, code: ParkCode, reason: string, now: Date, event?: unknown): Promise<void> {
    return this.#call(
      () => ops.markParked(ref, code, reason, now, event),
      () => undefined,
    );
  }

  get(ref: EventRef): Promise<LedgerEntry | undefined> {
    return this.#call(() => ops.get(ref), results.toEntryOrUndefined);
  }

  listParked(limit: number): Promise<LedgerEntry[]> {
    return this.#call(() => ops.listParked(limit), results.toEntries);
  }

  settleByHand(ref: EventRef, input: ManualSettlement, now: Date): Promise<Transition> {
    return this.#call(() => ops.settleByHand(ref, input, now), results.toTransition);
  }

  audit(ref: EventRef): Promise<AuditRecord[]> {
    return this.#call(() => ops.audit(ref), results.toAudit);
  }

  claimIntent(paymentIntentId: string, owner: string, ttlMs: number, now: Date): Promise<LeaseClaim> {
    return this.#call(() => ops.claimIntent(paymentIntentId, owner, ttlMs, now), results.toClaim);
  }

  renewIntents(leases: readonly IntentLease[], ttlMs: number, now: Date): Promise<IntentLease[]> {
    if (leases.length === 0) return Promise.resolve([]);
    return this.#call(() => ops.renewIntents(leases, ttlMs, now), results.toLeases);
  }

  releaseIntent(lease: IntentLease): Promise<void> {
    return this.#call(
      () => ops.releaseIntent(lease),
      () => undefined,
    );
  }

  findByEventId(eventId: string, limit: number): Promise<LedgerEntry[]> {
    return this.#lookup(() => lookups.findByEventId(this.#pool, eventId, lookupLimit(limit)));
  }

  findByReturnId(returnId: string, limit: number): Promise<LedgerEntry[]> {
    return this.#lookup(() => lookups.findByReturnId(this.#pool, returnId, lookupLimit(limit)));
  }

  findByPaymentIntent(paymentIntentId: string, limit: number): Promise<LedgerEntry[]> {
    return this.#lookup(() => lookups.findByPaymentIntent(this.#pool, paymentIntentId, lookupLimit(limit)));
  }

  intentLease(paymentIntentId: string): Promise<IntentLease | undefined> {
    return this.#lookup(() => lookups.intentLease(this.#pool, paymentIntentId));
  }

  /** A lookup on the pool, beside the batches; a failed query is an outage, as for a batch. */
  async #lookup<T>(query: () => Promise<T>): Promise<T> {
    if (this.#closed !== undefined) throw new LedgerError("the ledger is closed");
    try {
      return await query();
    } catch (error) {
      if (error instanceof LedgerError) throw error;
      const message = `the ledger at ${this.#target.display} failed: ${(error as Error).message}`;
      throw new LedgerUnavailableError(message, { cause: error });
    }
  }

  /** Writes already requested commit first; then the sweep stops and the connections close. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#sweeper.stop();
      await this.#queue.drain();
      await this.#pool.end();
    })();
    return this.#closed;
  }
}
