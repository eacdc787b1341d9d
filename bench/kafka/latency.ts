// End-to-end latency of each event, from the moment its own send began to the moment its outcome arrived,
// with what the outcome itself tells about the stages in between. Shared by the Kafka and SQS benchmarks.
//
// Stages, from timestamps every run has without touching the process under test:
//   - sent: when the benchmark began sending the event (its own clock, just before the send call);
//   - decided: the outcome's `data.processedAt`, set by the relay when Dojo's answer is in and the outcome
//     is about to be stored in the ledger (the baseline's outcomes have none);
//   - published: when the outcome was handed to the broker: Kafka's record timestamp (CreateTime, set by
//     the producer as it builds the produce request) or SQS's SentTimestamp (set by the queue when it
//     stored the message);
//   - arrived: when the benchmark's collector received the outcome.
// All processes run on one machine, so their clocks are one clock.
import { percentile } from "./measure.ts";

export interface EventTimes {
  readonly sent: number;
  readonly arrived: number;
  readonly decided: number | undefined;
  readonly published: number | undefined;
}

export interface Spread {
  readonly p50: number;
  readonly p99: number;
}

export interface LatencySummary {
  /** Every event. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /**
   * With a steady input rate: the events sent after the warm-up (the first `warmupMs` of sending), so
   * the process under test has its connections open and its code compiled. Undefined for a backlog.
   */
  readonly steady:
    | {
        readonly warmupMs: number;
        readonly events: number;
        readonly p50: number;
        readonly p90: number;
        readonly p99: number;
        readonly max: number;
      }
    | undefined;
  /** Per stage over the steady events (every event for a backlog); undefined where a timestamp is missing. */
  readonly stages: {
    /** sent -> decided: fetch or receive, ledger start, lease, Dojo calls. */
    readonly toDecided: Spread | undefined;
    /** decided -> published: the ledger's settle write, then waiting for the outcome's send to start. */
    readonly decidedToPublished: Spread | undefined;
    /** sent -> published, for outcomes without a decision time (the baseline). */
    readonly toPublished: Spread | undefined;
    /** published -> arrived: the outcome's send, and the collector's fetch or receive. */
    readonly publishedToArrived: Spread | undefined;
  };
  /** p50 and p99 per second of sending (by each event's send time), to show drift and stalls. */
  readonly perSecond: ReadonlyArray<{ readonly second: number; readonly events: number } & Spread>;
}

function spread(values: number[]): Spread | undefined {
  if (values.length === 0) return undefined;
  values.sort((a, b) => a - b);
  return { p50: percentile(values, 50), p99: percentile(values, 99) };
}

/** `started`: when sending began; `steadyRate`: whether the input was sent at a steady rate. */
export function summarize(
  times: readonly EventTimes[],
  started: number,
  steadyRate: boolean,
  warmupMs: number,
): LatencySummary {
  const all = times.map((t) => t.arrived - t.sent).sort((a, b) => a - b);
  const steadyTimes = steadyRate ? times.filter((t) => t.sent - started >= warmupMs) : times;
  const steady = steadyTimes.map((t) => t.arrived - t.sent).sort((a, b) => a - b);
  const stage = (pick: (t: EventTimes) => number | undefined) =>
    spread(steadyTimes.map(pick).filter((v): v is number => v !== undefined));
  const bySecond = new Map<number, number[]>();
  for (const t of times) {
    const second = Math.floor((t.sent - started) / 1000);
    const list = bySecond.get(second);
    if (list === undefined) bySecond.set(second, [t.arrived - t.sent]);
    else list.push(t.arrived - t.sent);
  }
  return {
    p50: percentile(all, 50),
    p90: percentile(all, 90),
    p99: percentile(all, 99),
    max: all.at(-1) ?? Number.NaN,
    steady: steadyRate
      ? {
          warmupMs,
          events: steady.length,
          p50: percentile(steady, 50),
          p90: percentile(steady, 90),
          p99: percentile(steady, 99),
          max: steady.at(-1) ?? Number.NaN,
        }
      : undefined,
    stages: {
      toDecided: stage((t) => (t.decided === undefined ? undefined : t.decided - t.sent)),
      decidedToPublished: stage((t) =>
        t.decided === undefined || t.published === undefined ? undefined : t.published - t.decided,
      ),
      toPublished: stage((t) =>
        t.decided !== undefined || t.published === undefined ? undefined : t.published - t.sent,
      ),
      publishedToArrived: stage((t) => (t.published === undefined ? undefined : t.arrived - t.published)),
    },
    perSecond: [...bySecond]
      .sort(([a], [b]) => a - b)
      .map(([second, values]) => ({ second, events: values.length, ...(spread(values) as Spread) })),
  };
}

/** The outcome's decision time (`data.processedAt`), when it has one. */
export function decidedAt(outcome: { data?: { processedAt?: unknown } } | undefined): number | undefined {
  const at = outcome?.data?.processedAt;
  if (typeof at !== "string") return undefined;
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? undefined : ms;
}

const fmt = (s: Spread | undefined) => (s === undefined ? "-" : `${s.p50} / ${s.p99}`);

/** Markdown table of the steady latency and the stages, one row per run. */
export function printLatencyTable(
  rows: ReadonlyArray<{
    readonly label: string;
    readonly perSecond: number;
    readonly latency: LatencySummary;
  }>,
): void {
  const warmup = rows.find((r) => r.latency.steady !== undefined)?.latency.steady?.warmupMs;
  const title =
    warmup === undefined
      ? "\nLatency by stage, p50 / p99 ms (every event)"
      : `\nSteady latency (events sent after the first ${warmup / 1000} s) and by stage, p50 / p99 ms`;
  console.log(title);
  console.log(
    "| run | events/s | p50 ms | p90 ms | p99 ms | max ms | sent -> decided | decided -> published | sent -> published (no decision time) | published -> arrived |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const { label, perSecond, latency } of rows) {
    const l = latency.steady ?? latency;
    const s = latency.stages;
    console.log(
      `| ${label} | ${perSecond} | ${l.p50} | ${l.p90} | ${l.p99} | ${l.max} | ${fmt(s.toDecided)} | ${fmt(s.decidedToPublished)} | ${fmt(s.toPublished)} | ${fmt(s.publishedToArrived)} |`,
    );
  }
}
