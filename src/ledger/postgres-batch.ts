// Group commit for the PostgreSQL ledger. Operations are collected for about a millisecond, or for as
// long as every allowed batch is in flight, then sent together: one round trip, one transaction, one
// WAL flush for all of them. Several batches may be in flight at once on different connections.
//
// Operations on one row keep the order they were issued in, as on the single SQLite connection: an
// operation whose row (or lease) is in a batch still in flight waits for the next batch, so a write
// nobody awaited (the published mark, a lease release) cannot be overtaken by a later one.
import { LedgerError } from "./types.ts";

export type BatchResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

export interface BatchSettings {
  /** Batches in flight at once (each on its own connection). */
  readonly maxBatches: number;
  /** Operations per batch, so one statement stays well within the statement timeout. */
  readonly maxOps: number;
  /** How long the first operation of a batch waits for company while connections are free. */
  readonly delayMs: number;
}

interface Pending<Op> {
  readonly op: Op;
  readonly keys: readonly string[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export class BatchQueue<Op> {
  readonly #run: (ops: Op[]) => Promise<BatchResult[]>;
  readonly #settings: BatchSettings;
  #queue: Pending<Op>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight = 0;
  /** Keys of rows in batches in flight, with the number of such batches. */
  readonly #busy = new Map<string, number>();
  readonly #idle: Array<() => void> = [];

  constructor(run: (ops: Op[]) => Promise<BatchResult[]>, settings: BatchSettings) {
    this.#run = run;
    this.#settings = settings;
  }

  /** `keys` name the rows the operation reads or writes (none for a query over many rows). */
  push(op: Op, keys: readonly string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ op, keys, resolve, reject });
      if (this.#timer === undefined && this.#inFlight < this.#settings.maxBatches) {
        this.#timer = setTimeout(() => this.#flush(), this.#settings.delayMs);
      }
    });
  }

  /** Sends everything queued (as batches allow) and resolves once nothing is queued or in flight. */
  drain(): Promise<void> {
    this.#flush();
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Rejects everything still queued (nothing was sent for it). */
  abandon(error: Error): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const pending of this.#queue.splice(0)) pending.reject(error);
    this.#notifyIdle();
  }

  #flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#inFlight < this.#settings.maxBatches && this.#queue.length > 0) {
      const batch = this.#take();
      if (batch.length === 0) break;
      void this.#send(batch);
    }
    this.#notifyIdle();
  }

  /** The next batch: queued operations in order, skipping (and keeping the order of) those that must wait. */
  #take(): Pending<Op>[] {
    const batch: Pending<Op>[] = [];
    const rest: Pending<Op>[] = [];
    const held = new Set<string>();
    for (const pending of this.#queue) {
      const waits =
        batch.length >= this.#settings.maxOps || pending.keys.some((k) => this.#busy.has(k) || held.has(k));
      if (waits) {
        rest.push(pending);
        for (const k of pending.keys) held.add(k);
      } else {
        batch.push(pending);
      }
    }
    this.#queue = rest;
    return batch;
  }

  async #send(batch: Pending<Op>[]): Promise<void> {
    this.#inFlight++;
    for (const { keys } of batch) for (const k of keys) this.#busy.set(k, (this.#busy.get(k) ?? 0) + 1);
    let results: BatchResult[];
    try {
      results = await this.#run(batch.map((p) => p.op));
    } catch (error) {
      results = batch.map(() => ({ ok: false, error }));
    }
    for (const { keys } of batch) {
      for (const k of keys) {
        const n = (this.#busy.get(k) ?? 1) - 1;
        if (n === 0) this.#busy.delete(k);
        else this.#busy.set(k, n);
      }
    }
    this.#inFlight--;
    for (const [i, pending] of batch.entries()) {
      const result = results[i];
      if (result?.ok === true) pending.resolve(result.value);
      else pending.reject(result?.error ?? new LedgerError("ledger operation lost"));
    }
    // What queued up meanwhile has waited long enough: send it now.
    this.#flush();
  }

  #notifyIdle(): void {
    if (this.#queue.length > 0 || this.#inFlight > 0) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
