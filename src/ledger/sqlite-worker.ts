// Worker thread entry of ThreadedSqliteLedger: owns the SQLite connection, group-commits the operations
// it receives within about a millisecond, and answers each batch with one message once it committed.
// Blocking disk syncs happen here, not on the thread that talks to Kafka and Dojo.
import { parentPort, workerData } from "node:worker_threads";
import { type SqliteOptions, SqliteStore, type StoreOp } from "./sqlite-store.ts";

export interface WorkerRequest {
  readonly id: number;
  readonly op: StoreOp;
}

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

let pending: WorkerRequest[] = [];
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
}

port.on("message", (message: readonly WorkerRequest[] | "close") => {
  if (message === "close") {
    if (timer !== undefined) clearTimeout(timer);
    flush();
    store.close();
    port.postMessage("closed");
    return;
  }
  pending.push(...message);
  timer ??= setTimeout(flush, 1);
});
