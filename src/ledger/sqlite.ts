// SQLite ledger on node:sqlite: one file under a data directory, WAL journal. Good for one relay host;
// deployments with relay instances on several hosts share a PostgreSQL ledger instead.
//
// Writes are group-committed: every write requested within about a millisecond runs in one
// transaction, and each caller's promise resolves only after that transaction committed (and, with
// synchronous=FULL, reached the disk). Callers keep "durable before Dojo is called"; the disk sees one
// sync per batch instead of one per write. ThreadedSqliteLedger runs the same store on a worker thread.
import {
  type OpResult,
  type Row,
  type SqliteOptions,
  SqliteStore,
  type StoreBegin,
  type StoreOp,
} from "./sqlite-store.ts";
import type {
  BeginResult,
  EventRef,
  Ledger,
  LedgerEntry,
  NewLedgerEntry,
  RefundMethod,
  SettleInput,
} from "./types.ts";
import { LedgerError } from "./types.ts";

export type { SqliteOptions as SqliteLedgerOptions } from "./sqlite-store.ts";

export function toEntry(row: Row): LedgerEntry {
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

function toBegin(value: StoreBegin): BeginResult {
  return value.kind === "conflict"
    ? { kind: "conflict", entry: toEntry(value.row), reason: value.reason }
    : { kind: value.kind, entry: toEntry(value.row) };
}

/** The Ledger methods, expressed as store operations; subclasses decide where the store runs. */
export abstract class StoreLedger implements Ledger {
  protected abstract execute(op: StoreOp): Promise<unknown>;
  abstract close(): Promise<void>;

  async begin(entry: NewLedgerEntry, now: Date): Promise<BeginResult> {
    return toBegin((await this.execute({ op: "begin", entry, at: now.getTime() })) as StoreBegin);
  }

  async markSubmitting(ref: EventRef, method: RefundMethod, now: Date): Promise<LedgerEntry> {
    return toEntry(
      (await this.execute({ op: "markSubmitting", ref: plainRef(ref), method, at: now.getTime() })) as Row,
    );
  }

  async markUnknown(ref: EventRef, error: string, now: Date): Promise<LedgerEntry> {
    return toEntry(
      (await this.execute({ op: "markUnknown", ref: plainRef(ref), error, at: now.getTime() })) as Row,
    );
  }

  async settle(ref: EventRef, input: SettleInput, now: Date): Promise<LedgerEntry> {
    const op: StoreOp = {
      op: "settle",
      ref: plainRef(ref),
      state: input.state,
      outcome: JSON.stringify(input.outcome),
      refundId: input.refundId ?? null,
      at: now.getTime(),
    };
    return toEntry((await this.execute(op)) as Row);
  }

  async markPublished(ref: EventRef, now: Date): Promise<LedgerEntry> {
    return toEntry(
      (await this.execute({ op: "markPublished", ref: plainRef(ref), at: now.getTime() })) as Row,
    );
  }

  async get(ref: EventRef): Promise<LedgerEntry | undefined> {
    const row = (await this.execute({ op: "get", ref: plainRef(ref) })) as Row | undefined;
    return row === undefined ? undefined : toEntry(row);
  }
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

  async close(): Promise<void> {
    // Writes already requested commit before the file is closed.
    this.#queue.flush();
    this.#store.close();
  }
}
