// Settings of the SQS benchmark, read once from the environment (see BENCHMARKS.md). The workload's
// settings are the Kafka benchmark's (same names, same defaults); the rest are SQS's own.
export {
  DATABASE_URL,
  EVENTS,
  FAULT_RATE,
  IMPLS,
  type Impl,
  INTENTS,
  KEY,
  LATENCIES,
  LEDGERS,
  type LedgerKind,
  MAX_IN_FLIGHT,
  NODE_ARGS,
  RATE,
  REPEAT,
  TIMEOUT_MS,
  WARMUP_MS,
} from "../kafka/settings.ts";

function optionalInt(name: string, min: number, max: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new Error(`${name}: "${raw}" is not an integer from ${min} to ${max}`);
  return n;
}

/** SQS_RECEIVE_CONCURRENCY of the relay; undefined leaves the relay's default. */
export const RECEIVE_CONCURRENCY = optionalInt("BENCH_RECEIVE_CONCURRENCY", 1, 64);
/** SendMessageBatch calls the benchmark keeps on their way while it sends the input. */
export const SEND_CONCURRENCY = optionalInt("BENCH_SEND_CONCURRENCY", 1, 64) ?? 8;
/** Long polls the benchmark keeps on each outcome queue. */
export const COLLECT_CONCURRENCY = optionalInt("BENCH_COLLECT_CONCURRENCY", 1, 64) ?? 4;
