// The SQLite ledger with its connection on a worker thread. node:sqlite is synchronous, and a commit
// with synchronous=FULL waits for the disk; on the worker that wait no longer stalls Kafka fetches,
// Dojo calls and publishing on the main thread. Same store, same group commit, same guarantees as
// SqliteLedger: a promise resolves only after its transaction committed.
//
// A worker that dies (a crash in the thread, the file gone) fails the operations it held; the next
// operation starts a new worker on the same file, at most once a second. Every committed write is in
// the file, so nothing is lost but the answers to the failed operations, and the pipeline treats
// those as an outage of the ledger: it pauses and tries again.
import { Worker } from "node:worker_threads";
import { StoreLedger } from "./sqlite.ts";
import type { SqliteOptions, StoreLookup, StoreOp } from "./sqlite-store.ts";
import type { WorkerReply, WorkerRequest } from "./sqlite-worker.ts";
import { LedgerError } from "./types.ts";

/** The ledger could not be reached (worker gone, file cannot be opened): an outage, not a refusal. */
export class LedgerUnavailableError extends Error {
  override readonly name = "LedgerUnavailableError";
}

const RESPAWN_INTERVAL_MS = 1_000;

type Waiter = { resolve: (value: unknown) => void; reject: (error: unknown) => void };

/**
 * The worker's V8 young generation in MiB (two semi-spaces of a third each, and a third for large
 * objects). Left alone, a worker sizes its heap as the main thread does, from the machine's memory: on
 * a host with 16 GiB or more V8 lets its young generation grow to 2 x 64 MiB, resident once used, for a
 * thread that holds one group commit's rows at a time. The old generation keeps its default limit:
 * reaching it would stop the ledger. Heap flags given to the process (--max-semi-space-size in
 * NODE_OPTIONS, say) take precedence over this.
 */
const WORKER_YOUNG_GENERATION_MB = 12;

async function startWorker(options: SqliteOptions): Promise<Worker> {
  const worker = new Worker(new URL("./sqlite-worker.ts", import.meta.url), {
    workerData: { ...options },
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
  });
  const ready = await new Promise<{ ready: boolean; error?: { message: string } }>((resolve) => {
    worker.once("message", resolve);
    worker.once("error", (error) => resolve({ ready: false, error }));
    worker.once("exit", (code) =>
      resolve({ ready: false, error: { message: `worker exited with code ${code}` } }),
    );
  });
  if (!ready.ready) {
    await worker.terminate();
    throw new LedgerError(`cannot open the ledger: ${ready.error?.message ?? "unknown error"}`);
  }
  return worker;
}

export class ThreadedSqliteLedger extends StoreLedger {
  readonly #options: SqliteOptions;
  #worker: Worker | undefined;
  readonly #waiting = new Map<number, Waiter>();
  #nextId = 1;
  #outbox: WorkerRequest[] = [];
  #scheduled = false;
  #closed: Promise<void> | undefined;
  #failure: Error | undefined;
  #respawning: Promise<void> | undefined;
  #lastRespawnAt = 0;

  private constructor(options: SqliteOptions, worker: Worker) {
    super();
    this.#options = options;
    this.#attach(worker);
  }

  /** Starts the worker and waits until the database is open and migrated. */
  static async open(options: SqliteOptions): Promise<ThreadedSqliteLedger> {
    return new ThreadedSqliteLedger(options, await startWorker(options));
  }

  /** The worker thread, for tests that need to kill it. */
  get worker(): Worker | undefined {
    return this.#worker;
  }

  #attach(worker: Worker): void {
    this.#worker = worker;
    this.#failure = undefined;
    worker.on("message", (message: readonly WorkerReply[] | "closed") => {
      if (message === "closed") return;
      for (const reply of message) {
        const waiter = this.#waiting.get(reply.id);
        if (waiter === undefined) continue;
        this.#waiting.delete(reply.id);
        if (reply.ok) waiter.resolve(reply.value);
        else {
          waiter.reject(
            reply.error.name === "LedgerError"
              ? new LedgerError(reply.error.message)
              : new Error(reply.error.message),
          );
        }
      }
    });
    worker.on("error", (error) => this.#fail(worker, error));
    worker.on("exit", (code) =>
      this.#fail(worker, new LedgerUnavailableError(`the ledger worker exited (code ${code})`)),
    );
  }

  protected async execute(op: StoreOp): Promise<unknown> {
    if (this.#closed !== undefined) throw new LedgerError("the ledger is closed");
    if (this.#failure !== undefined) await this.#respawn();
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      this.#waiting.set(id, { resolve, reject });
      this.#outbox.push({ id, op });
      // Operations issued in the same turn travel in one message.
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#send());
      }
    });
  }

  /** A lookup travels like an operation; the worker answers it at once, outside the group commit. */
  protected async read(lookup: StoreLookup): Promise<unknown> {
    if (this.#closed !== undefined) throw new LedgerError("the ledger is closed");
    if (this.#failure !== undefined) await this.#respawn();
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      this.#waiting.set(id, { resolve, reject });
      this.#outbox.push({ id, lookup });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#send());
      }
    });
  }

  /** Starts a new worker after the last one died; fails fast while the last try is recent. */
  async #respawn(): Promise<void> {
    const failure = this.#failure;
    if (failure === undefined) return;
    if (this.#respawning !== undefined) return this.#respawning;
    if (Date.now() - this.#lastRespawnAt < RESPAWN_INTERVAL_MS) throw failure;
    this.#lastRespawnAt = Date.now();
    this.#respawning = (async () => {
      try {
        this.#attach(await startWorker(this.#options));
      } catch (error) {
        this.#failure = new LedgerUnavailableError(
          `the ledger worker died and cannot be restarted: ${(error as Error).message}`,
        );
        throw this.#failure;
      } finally {
        this.#respawning = undefined;
      }
    })();
    return this.#respawning;
  }

  #send(): void {
    this.#scheduled = false;
    const batch = this.#outbox;
    this.#outbox = [];
    if (batch.length === 0) return;
    const worker = this.#worker;
    if (worker === undefined || this.#failure !== undefined) {
      const error = this.#failure ?? new LedgerUnavailableError("the ledger worker is not running");
      for (const { id } of batch) {
        this.#waiting.get(id)?.reject(error);
        this.#waiting.delete(id);
      }
      return;
    }
    worker.postMessage(batch);
  }

  #fail(worker: Worker, error: Error): void {
    if (worker !== this.#worker) return;
    if (this.#closed !== undefined && this.#waiting.size === 0) return;
    this.#failure =
      error instanceof LedgerUnavailableError ? error : new LedgerUnavailableError(error.message);
    for (const waiter of this.#waiting.values()) waiter.reject(this.#failure);
    this.#waiting.clear();
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#respawning?.catch(() => undefined);
      const worker = this.#worker;
      if (worker === undefined) return;
      if (this.#failure !== undefined) {
        // The worker is gone: nothing to flush, nobody to answer "closed".
        await worker.terminate();
        return;
      }
      this.#send();
      const closed = new Promise<void>((resolve) => {
        const onMessage = (message: unknown) => {
          if (message === "closed") {
            worker.off("message", onMessage);
            resolve();
          }
        };
        worker.on("message", onMessage);
        // A worker that dies while closing ends the wait too.
        worker.once("exit", () => resolve());
      });
      worker.postMessage("close");
      await closed;
      await worker.terminate();
    })();
    return this.#closed;
  }
}
