// Worker thread entry of ThreadedSqliteLedger: owns the SQLite connection, group-commits the operations
// it receives within about a millisecond, and answers each batch with one message once it committed.
// Blocking disk syncs happen here, not on the thread that talks to Kafka and Dojo.
import { parentPort, workerData } from "node:worker_threads";
import { type SqliteOptions, SqliteStore, type StoreLookup, type StoreOp } from "./sqlite-store.ts";

/** A write (or read) for the next group commit, or a read-only lookup answered at once, outside it. */
export type WorkerRequest =
  | { readonly id: number; readonly op: StoreOp }
  | { readonly id: number; readonly lookup: StoreLookup };

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | {
      readonly id: number;
      readonly ok: false;
      readonly error: { readonly name: string; readonly message: string };
    };

const port = parentPort;
if (port === null) throw new Error("sqlite-worker.ts must run as a worker thread");

const describe = (error: unknown) => ({
  name: error instanceof Error ? error.name : "Error",
  message: error instanceof Error ? error.message : String(error),
});

let store: SqliteStore;
try {
  store = new SqliteStore(workerData as SqliteOptions);
  port.postMessage({ ready: true });
} catch (error) {
  // The opener reads this and terminates the worker.
  port.postMessage({ ready: false, error: describe(error) });
  throw error;
}

/**
 * SQLite result codes after which this connection may never write again, however the disk recovers:
 * READONLY (a database opened while its file or folder could not be written stays read-only),
 * IOERR and CANTOPEN. The worker then exits after answering, and the ledger starts a new one on the
 * same file for its next operation, which writes again once the disk does.
 */
const REOPEN_AFTER = new Set([8, 10, 14]);
const needsReopen = (error: unknown) => {
  const code = (error as { errcode?: unknown } | undefined)?.errcode;
  return typeof code === "number" && REOPEN_AFTER.has(code & 0xff);
};
let reopening = false;

let pending: Array<Extract<WorkerRequest, { op: StoreOp }>> = [];
let timer: NodeJS.Timeout | undefined;

function flush(): void {
  timer = undefined;
  const batch = pending;
  pending = [];
  if (batch.length === 0) return;
  const results = store.runBatch(batch.map((r) => r.op));
  const replies: WorkerReply[] = batch.map(({ id }, i) => {
    const result = results[i];
    return result?.ok === true
      ? { id, ok: true, value: result.value }
      : { id, ok: false, error: describe(result?.error) };
  });
  port?.postMessage(replies);
  if (!reopening && results.some((r) => r?.ok !== true && needsReopen(r?.error))) {
    reopening = true;
    setImmediate(() => {
      try {
        store.close();
      } finally {
        process.exit(75);
      }
    });
  }
}

port.on("message", (message: readonly WorkerRequest[] | "close") => {
  if (message === "close") {
    if (timer !== undefined) clearTimeout(timer);
    flush();
    store.close();
    port.postMessage("closed");
    return;
  }
  let queued = false;
  const answers: WorkerReply[] = [];
  for (const request of message) {
    if (!("lookup" in request)) {
      pending.push(request);
      queued = true;
      continue;
    }
    // Between group commits, so never inside a write transaction: no write lock is taken.
    try {
      answers.push({ id: request.id, ok: true, value: store.lookup(request.lookup) });
    } catch (error) {
      answers.push({ id: request.id, ok: false, error: describe(error) });
    }
  }
  if (answers.length > 0) port.postMessage(answers);
  if (queued) timer ??= setTimeout(flush, 1);
});
