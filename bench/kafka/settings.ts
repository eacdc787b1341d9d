// Settings of the Kafka benchmark, read once from the environment (see BENCHMARKS.md).
export type Impl = "relay" | "baseline";
export type LedgerKind = "sqlite" | "postgres";

const list = (name: string, fallback: string): string[] =>
  (process.env[name] ?? fallback)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

function oneOf<T extends string>(name: string, values: string[], allowed: readonly T[]): T[] {
  for (const v of values)
    if (!(allowed as readonly string[]).includes(v))
      throw new Error(`${name}: "${v}" is not one of ${allowed.join(", ")}`);
  return values as T[];
}

function positiveInts(name: string, values: string[]): number[] {
  return values.map((v) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}: "${v}" is not a positive integer`);
    return n;
  });
}

export const EVENTS = Number(process.env.BENCH_EVENTS ?? "20000");
export const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? "12");
export const INTENTS = Number(process.env.BENCH_INTENTS ?? "5000");
export const LATENCIES = list("BENCH_LATENCIES", "0,50").map(Number);
export const IMPLS = oneOf("BENCH_IMPLS", list("BENCH_IMPLS", "relay,baseline"), [
  "relay",
  "baseline",
] as const);
/** Ledgers the relay runs with; the baseline has none and runs once per latency, round and instance count. */
export const LEDGERS = oneOf("BENCH_LEDGERS", list("BENCH_LEDGERS", "sqlite"), [
  "sqlite",
  "postgres",
] as const);
/** Processes in the consumer group under test (relay: sharing one ledger). */
export const INSTANCES = positiveInts("BENCH_INSTANCES", list("BENCH_INSTANCES", "1"));
/** MAX_IN_FLIGHT of each relay process; undefined leaves the relay's default. */
export const MAX_IN_FLIGHT =
  process.env.BENCH_MAX_IN_FLIGHT === undefined || process.env.BENCH_MAX_IN_FLIGHT === ""
    ? undefined
    : positiveInts("BENCH_MAX_IN_FLIGHT", [process.env.BENCH_MAX_IN_FLIGHT])[0];
/** Server on which each PostgreSQL run creates (and afterwards drops) a database of its own. */
export const DATABASE_URL = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
export const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? "600000");
/** Share of Dojo calls that fail (0 to 1, default 0); see the fault set-up in run-one.ts. */
export const FAULT_RATE = Number(process.env.BENCH_FAULT_RATE ?? "0");
/** Rounds per latency (default 1), each running every implementation once; ratios compare medians. */
export const REPEAT = Number(process.env.BENCH_REPEAT ?? "1");
/** SIGKILLs during a run (default 0), one every BENCH_KILL_INTERVAL_MS, of the instances in turn. */
export const KILLS = Number(process.env.BENCH_KILLS ?? "0");
export const KILL_INTERVAL_MS = Number(process.env.BENCH_KILL_INTERVAL_MS ?? "2000");
/** Events per second to produce at; 0 (the default) produces everything up front as a backlog. */
export const RATE = Number(process.env.BENCH_RATE ?? "0");
/**
 * With BENCH_RATE: the first seconds of sending (default 5) left out of the steady-state latency, so
 * connections are open and code is compiled; the overall percentiles still count every event.
 */
export const WARMUP_MS = Number(process.env.BENCH_WARMUP_S ?? "5") * 1000;
/** Extra node flags for the processes under test, e.g. --cpu-prof. */
export const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
export const KEY = "sk_sandbox_bench";
