// The SQLite ledger with its connection on a worker thread. node:sqlite is synchronous, and a commit
// with synchronous=FULL waits for the disk; on the worker that wait no longer stalls Kafka fetches,
// Dojo calls and publishing on the main thread. Same store, same group commit, same guarantees as
// SqliteLedger: a promise resolves only after its transaction committed.
import { Worker } from "node:worker_threads";
import { StoreLedger } from "./sqlite.ts";
import type { SqliteOptions, StoreOp } from "./sqlite-store.ts";
import type { WorkerReply, WorkerRequest } from "./sqlite-worker.ts";
import { LedgerError } from "./types.ts";

export class ThreadedSqliteLedger extends StoreLedger {
  readonly #worker: Worker;
  readonly #waiting = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: unknown) => void }
  >();
  #nextId = 1;
  #outbox: WorkerRequest[] = [];
  #scheduled = false;
  #closed: Promise<void> | undefined;
  #failure: Error | undefined;

  private constructor(worker: Worker) {
    super();
    this.#worker = worker;
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
    worker.on("error", (error) => this.#fail(error));
    worker.on("exit", (code) => this.#fail(new LedgerError(`the ledger worker exited (code ${code})`)));
  }

  /** Starts the worker and waits until the database is open and migrated. */
  static async open(options: SqliteOptions): Promise<ThreadedSqliteLedger> {
    const worker = new Worker(new URL("./sqlite-worker.ts", import.meta.url), { workerData: { ...options } });
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
    return new ThreadedSqliteLedger(worker);
  }

  protected execute(op: StoreOp): Promise<unknown> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closed !== undefined) return Promise.reject(new LedgerError("the ledger is closed"));
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

  #send(): void {
    this.#scheduled = false;
    const batch = this.#outbox;
    this.#outbox = [];
    if (batch.length > 0) this.#worker.postMessage(batch);
  }

  #fail(error: Error): void {
    if (this.#closed !== undefined && this.#waiting.size === 0) return;
    this.#failure = error;
    for (const waiter of this.#waiting.values()) waiter.reject(error);
    this.#waiting.clear();
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#failure !== undefined) {
        // The worker is gone: nothing to flush, nobody to answer "closed".
        await this.#worker.terminate();
        return;
      }
      this.#send();
      const closed = new Promise<void>((resolve) => {
        const onMessage = (message: unknown) => {
          if (message === "closed") {
            this.#worker.off("message", onMessage);
            resolve();
          }
        };
        this.#worker.on("message", onMessage);
        // A worker that dies while closing ends the wait too.
        this.#worker.once("exit", () => resolve());
      });
      this.#worker.postMessage("close");
      await closed;
      await this.#worker.terminate();
    })();
    return this.#closed;
  }
}
