// SQLite ledger on node:sqlite: one file under a data directory, WAL journal. Good for one relay host;
// deployments with relay instances on several hosts share a PostgreSQL ledger instead.
//
// Writes are group-committed: every write requested within about a millisecond runs in one
// transaction, and each caller's promise resolves only after that transaction committed (and, with
// synchronous=FULL, reached the disk). Callers keep "durable before Dojo is called"; the disk sees one
// sync per batch instead of one per write. ThreadedSqliteLedger runs the same store on a worker thread.
import {
  type AuditRow,
  type LeaseRow,
  type OpResult,
  type Row,
  type SqliteOptions,
  SqliteStore,
  type StoreBegin,
  type StoreClaim,
  type StoreLookup,
  type StoreOp,
  type StoreSettle,
  type StoreTransition,
} from "./sqlite-store.ts";
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

export type { SqliteOptions as SqliteLedgerOptions } from "./sqlite-store.ts";

/**
 * A ledger row as the pipeline sees it. A class rather than an object literal with getters: entries
 * are made several times per event, and prototype getters cost no closures. The stored outcome and
 * event are parsed on first use (most transitions never look at them).
 */
class StoredEntry implements LedgerEntry {
  readonly source: string;
  readonly eventId: string;
  readonly idempotencyKey: string;
  readonly requestHash: string;
  readonly paymentIntentId: string;
  readonly merchantId: string | null;
  readonly amount: number;
  readonly currencyCode: string;
  readonly state: LedgerEntry["state"];
  readonly attempts: number;
  readonly firstSeenAt: Date;
  readonly updatedAt: Date;
  readonly refundId: string | null;
  readonly method: LedgerEntry["method"];
  readonly lastError: string | null;
  readonly parked: LedgerEntry["parked"];
  readonly #outcomeText: string | null;
  readonly #eventText: string | null;
  #outcome: unknown;
  #outcomeParsed = false;

  constructor(row: Row) {
    this.source = row.source;
    this.eventId = row.event_id;
    this.idempotencyKey = row.idempotency_key;
    this.requestHash = row.request_hash;
    this.paymentIntentId = row.payment_intent_id;
    this.merchantId = row.merchant_id;
    this.amount = Number(row.amount);
    this.currencyCode = row.currency_code;
    this.state = row.state;
    this.attempts = Number(row.attempts);
    this.firstSeenAt = new Date(Number(row.first_seen_at));
    this.updatedAt = new Date(Number(row.updated_at));
    this.refundId = row.refund_id;
    this.method = row.method;
    this.lastError = row.last_error;
    this.parked =
      row.parked_code === null || row.parked_code === undefined
        ? null
        : {
            code: row.parked_code as ParkCode,
            reason: row.parked_reason ?? "",
            at: new Date(Number(row.parked_at)),
          };
    this.#outcomeText = row.outcome;
    this.#eventText = row.event ?? null;
  }

  get outcome(): unknown {
    if (!this.#outcomeParsed) {
      this.#outcome = this.#outcomeText === null ? null : (JSON.parse(this.#outcomeText) as unknown);
      this.#outcomeParsed = true;
    }
    return this.#outcome;
  }

  get event(): unknown {
    return this.#eventText === null ? undefined : (JSON.parse(this.#eventText) as unknown);
  }
}

export function toEntry(row: Row): LedgerEntry {
  return new StoredEntry(row);
}

function toTransition(value: StoreTransition): Transition {
  if (value.ok) return { ok: true, entry: toEntry(value.row) };
  const refused = { ok: false as const, entry: toEntry(value.row), reason: value.reason };
  return value.leaseLost === true ? { ...refused, leaseLost: true } : refused;
}

function toSettle(value: StoreSettle): SettleResult {
  if (value.kind === "corrected") {
    const previous = value.previous === null ? null : (JSON.parse(value.previous) as unknown);
    return { kind: "corrected", entry: toEntry(value.row), previous };
  }
  return { kind: value.kind, entry: toEntry(value.row) };
}

function toBegin(value: StoreBegin): BeginResult {
  return value.kind === "conflict"
    ? { kind: "conflict", entry: toEntry(value.row), reason: value.reason }
    : { kind: value.kind, entry: toEntry(value.row) };
}

/** The Ledger methods, expressed as store operations; subclasses decide where the store runs. */
export abstract class StoreLedger implements Ledger, LedgerLookup {
  protected abstract execute(op: StoreOp): Promise<unknown>;
  /** Runs a read-only lookup outside the group commit (no write lock). */
  protected abstract read(q: StoreLookup): Promise<unknown>;
  abstract close(): Promise<void>;

  async begin(entry: NewLedgerEntry, now: Date): Promise<BeginResult> {
    return toBegin((await this.execute({ op: "begin", entry, at: now.getTime() })) as StoreBegin);
  }

  async markSubmitting(
    ref: EventRef,
    method: RefundMethod,
    expected: Expected,
    now: Date,
  ): Promise<Transition> {
    const op: StoreOp = {
      op: "markSubmitting",
      ref: plainRef(ref),
      method,
      expected: plainExpected(expected),
      at: now.getTime(),
    };
    return toTransition((await this.execute(op)) as StoreTransition);
  }

  async markUnknown(
    ref: EventRef,
    error: string,
    expected: Expected,
    now: Date,
    requests = 1,
  ): Promise<Transition> {
    const op: StoreOp = {
      op: "markUnknown",
      ref: plainRef(ref),
      error,
      expected: plainExpected(expected),
      requests,
      at: now.getTime(),
    };
    return toTransition((await this.execute(op)) as StoreTransition);
  }

  async settle(ref: EventRef, input: SettleInput, now: Date): Promise<SettleResult> {
    const op: StoreOp = {
      op: "settle",
      ref: plainRef(ref),
      state: input.state,
      outcome: JSON.stringify(input.outcome),
      refundId: input.refundId ?? null,
      expected: input.expected === undefined ? null : plainExpected(input.expected),
      requests: input.requests ?? 1,
      at: now.getTime(),
    };
    return toSettle((await this.execute(op)) as StoreSettle);
  }

  async markPublished(ref: EventRef, now: Date): Promise<LedgerEntry> {
    return toEntry(
      (await this.execute({ op: "markPublished", ref: plainRef(ref), at: now.getTime() })) as Row,
    );
  }

  async markParked(ref: EventRef, code: ParkCode, reason: string, now: Date, event?: unknown): Promise<void> {
    const stored = event === undefined ? null : JSON.stringify(event);
    await this.execute({
      op: "markParked",
      ref: plainRef(ref),
      code,
      reason,
      event: stored,
      at: now.getTime(),
    });
  }

  async get(ref: EventRef): Promise<LedgerEntry | undefined> {
    const row = (await this.execute({ op: "get", ref: plainRef(ref) })) as Row | undefined;
    return row === undefined ? undefined : toEntry(row);
  }

  async listParked(limit: number): Promise<LedgerEntry[]> {
    return ((await this.execute({ op: "listParked", limit })) as Row[]).map(toEntry);
  }

  async settleByHand(ref: EventRef, input: ManualSettlement, now: Date): Promise<Transition> {
    const op: StoreOp = {
      op: "settleByHand",
      ref: plainRef(ref),
      state: input.state,
      outcome: JSON.stringify(input.outcome),
      refundId: input.refundId,
      actor: input.actor,
      reason: input.reason,
      at: now.getTime(),
    };
    return toTransition((await this.execute(op)) as StoreTransition);
  }

  async claimIntent(paymentIntentId: string, owner: string, ttlMs: number, now: Date): Promise<LeaseClaim> {
    const op: StoreOp = { op: "claimIntent", paymentIntentId, owner, ttlMs, at: now.getTime() };
    const claim = (await this.execute(op)) as StoreClaim;
    return claim.ok
      ? { ok: true, lease: toLease(claim.lease) }
      : { ok: false, holder: claim.holder, expiresAt: new Date(claim.expiresAt) };
  }

  async renewIntents(leases: readonly IntentLease[], ttlMs: number, now: Date): Promise<IntentLease[]> {
    if (leases.length === 0) return [];
    const op: StoreOp = { op: "renewIntents", leases: leases.map(leaseRow), ttlMs, at: now.getTime() };
    return ((await this.execute(op)) as LeaseRow[]).map(toLease);
  }

  async releaseIntent(lease: IntentLease): Promise<void> {
    await this.execute({ op: "releaseIntent", lease: leaseRow(lease) });
  }

  async findByEventId(eventId: string, limit: number): Promise<LedgerEntry[]> {
    const q: StoreLookup = { lookup: "byEventId", eventId, limit: lookupLimit(limit) };
    return ((await this.read(q)) as Row[]).map(toEntry);
  }

  async findByReturnId(returnId: string, limit: number): Promise<LedgerEntry[]> {
    const q: StoreLookup = { lookup: "byReturnId", returnId, limit: lookupLimit(limit) };
    return ((await this.read(q)) as Row[]).map(toEntry);
  }

  async findByPaymentIntent(paymentIntentId: string, limit: number): Promise<LedgerEntry[]> {
    const q: StoreLookup = { lookup: "byPaymentIntent", paymentIntentId, limit: lookupLimit(limit) };
    return ((await this.read(q)) as Row[]).map(toEntry);
  }

  async intentLease(paymentIntentId: string): Promise<IntentLease | undefined> {
    const row = (await this.read({ lookup: "intentLease", paymentIntentId })) as LeaseRow | undefined;
    return row === undefined ? undefined : toLease(row);
  }

  async audit(ref: EventRef): Promise<AuditRecord[]> {
    const rows = (await this.execute({ op: "audit", ref: plainRef(ref) })) as AuditRow[];
    return rows.map((r) => ({
      source: r.source,
      eventId: r.event_id,
      at: new Date(Number(r.at)),
      actor: r.actor,
      action: r.action,
      reason: r.reason,
      previousState: r.previous_state,
      newState: r.new_state,
    }));
  }
}

/** A lookup's limit: a positive integer (refused before anything is read). */
export function lookupLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new LedgerError(`a lookup's limit must be a positive integer, got ${limit}`);
  }
  return limit;
}

function plainExpected(expected: Expected): Expected {
  const { lease } = expected;
  if (lease === undefined) return { state: expected.state, attempts: expected.attempts };
  return {
    state: expected.state,
    attempts: expected.attempts,
    lease: {
      paymentIntentId: lease.paymentIntentId,
      owner: lease.owner,
      token: lease.token,
      expiresAt: lease.expiresAt,
    },
  };
}

function toLease(row: LeaseRow): IntentLease {
  return {
    paymentIntentId: row.payment_intent_id,
    owner: row.owner,
    token: Number(row.token),
    expiresAt: new Date(Number(row.expires_at)),
  };
}

function leaseRow(lease: IntentLease): LeaseRow {
  return {
    payment_intent_id: lease.paymentIntentId,
    owner: lease.owner,
    token: lease.token,
    expires_at: lease.expiresAt.getTime(),
  };
}

/** Only the two fields of a reference, so a larger object (a whole entry) is not copied around. */
function plainRef(ref: EventRef): EventRef {
  return { source: ref.source, eventId: ref.eventId };
}

/** Collects operations for about a millisecond, then runs them as one batch. */
export class GroupCommitQueue {
  readonly #run: (ops: StoreOp[]) => OpResult[];
  #ops: StoreOp[] = [];
  #waiters: Array<{ resolve: (value: unknown) => void; reject: (error: unknown) => void }> = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(run: (ops: StoreOp[]) => OpResult[]) {
    this.#run = run;
  }

  get pending(): boolean {
    return this.#ops.length > 0;
  }

  push(op: StoreOp): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#ops.push(op);
      this.#waiters.push({ resolve, reject });
      this.#timer ??= setTimeout(() => this.flush(), 1);
    });
  }

  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const ops = this.#ops;
    const waiters = this.#waiters;
    this.#ops = [];
    this.#waiters = [];
    if (ops.length === 0) return;
    const results = this.#run(ops);
    for (const [i, waiter] of waiters.entries()) {
      const result = results[i];
      if (result?.ok === true) waiter.resolve(result.value);
      else waiter.reject(result?.error ?? new LedgerError("ledger operation lost"));
    }
  }
}

/** The SQLite ledger on the calling thread. */
export class SqliteLedger extends StoreLedger {
  readonly #store: SqliteStore;
  readonly #queue: GroupCommitQueue;

  constructor(options: SqliteOptions) {
    super();
    this.#store = new SqliteStore(options);
    this.#queue = new GroupCommitQueue((ops) =>
      this.#store.isOpen
        ? this.#store.runBatch(ops)
        : ops.map(() => ({ ok: false, error: new LedgerError("the ledger is closed") })),
    );
  }

  protected execute(op: StoreOp): Promise<unknown> {
    return this.#queue.push(op);
  }

  protected async read(q: StoreLookup): Promise<unknown> {
    if (!this.#store.isOpen) throw new LedgerError("the ledger is closed");
    return this.#store.lookup(q);
  }

  async close(): Promise<void> {
    // Writes already requested commit before the file is closed.
    this.#queue.flush();
    this.#store.close();
  }
}
