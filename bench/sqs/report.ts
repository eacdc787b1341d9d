// The results table (Markdown), the relay/baseline ratios (of medians), and the JSON file under
// bench/results/.
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { printLatencyTable } from "../kafka/latency.ts";
import type { Result } from "./run-one.ts";
import {
  EVENTS,
  FAULT_RATE,
  INTENTS,
  LATENCIES,
  MAX_IN_FLIGHT,
  RATE,
  RECEIVE_CONCURRENCY,
  REPEAT,
} from "./settings.ts";

function median(results: Result[], match: (r: Result) => boolean): number | undefined {
  const rates = results
    .filter(match)
    .map((r) => r.perSecond)
    .sort((a, b) => a - b);
  return rates.length === 0 ? undefined : rates[Math.floor((rates.length - 1) / 2)];
}

export function printReport(results: Result[]): void {
  const input = RATE > 0 ? `sent at ${RATE}/s` : "sent up front";
  const extras = [
    FAULT_RATE > 0 ? `Dojo fault rate ${FAULT_RATE}` : "",
    MAX_IN_FLIGHT === undefined ? "" : `MAX_IN_FLIGHT=${MAX_IN_FLIGHT}`,
    RECEIVE_CONCURRENCY === undefined ? "" : `SQS_RECEIVE_CONCURRENCY=${RECEIVE_CONCURRENCY}`,
  ].filter((s) => s !== "");
  console.log(
    `\nSQS benchmark (ElasticMQ): ${EVENTS} events, ${INTENTS} payment intents, ${input}` +
      `${extras.map((s) => `, ${s}`).join("")}, node ${process.version}`,
  );
  console.log(
    "| impl | ledger | Dojo latency | events/s | p50 ms | p99 ms | peak RSS MiB | CPU s | CPU ms/event | seconds | refunds at Dojo | refund.failed | repeated outcomes | left in input |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    console.log(
      `| ${r.impl} | ${r.ledger === "none" ? "-" : r.ledger} | ${r.latencyMs} ms | ${r.perSecond} | ${r.p50} | ${r.p99} | ${r.peakRssMiB} | ${r.cpuSeconds} | ${r.cpuMsPerEvent} | ${r.seconds} | ${r.refundsAtDojo} | ${r.failed} | ${r.duplicateOutcomes} | ${r.leftInInput} |`,
    );
  }

  // Where the machine's CPU went during each run (the other servers and this process share the cores).
  const cores = availableParallelism();
  console.log(
    `\nCPU seconds during each run (${cores} cores): the process under test, ElasticMQ, the simulator, this benchmark`,
  );
  console.log("| impl | Dojo latency | under test | ElasticMQ | simulator | benchmark | of the cores |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    const o = r.otherCpuSeconds;
    const total = r.cpuSeconds + o.elasticmq + o.sim + o.bench + (Number.isNaN(o.postgres) ? 0 : o.postgres);
    console.log(
      `| ${r.impl} | ${r.latencyMs} ms | ${r.cpuSeconds} | ${o.elasticmq} | ${o.sim} | ${o.bench} | ${Math.round((100 * total) / (r.seconds * cores))}% |`,
    );
  }

  printLatencyTable(
    results.map((r) => ({
      label: `${r.impl}${r.ledger === "none" ? "" : ` ${r.ledger}`} at ${r.latencyMs} ms`,
      perSecond: r.perSecond,
      latency: r.latency,
    })),
  );
  if (RATE > 0) {
    console.log(
      "\np99 ms per second of sending (by each event's send time); worst sender lag behind schedule",
    );
    for (const r of results)
      console.log(
        `${r.impl}${r.ledger === "none" ? "" : ` ${r.ledger}`} at ${r.latencyMs} ms: ` +
          `${r.latency.perSecond.map((s) => s.p99).join(" ")}; lag ${r.maxSendLagMs} ms`,
      );
  }

  const which = REPEAT > 1 ? "median events/s" : "events/s";
  const ledgers = [...new Set(results.filter((r) => r.impl === "relay").map((r) => r.ledger))];
  for (const latency of LATENCIES) {
    const base = median(results, (r) => r.impl === "baseline" && r.latencyMs === latency);
    for (const ledger of ledgers) {
      const relay = median(
        results,
        (r) => r.impl === "relay" && r.ledger === ledger && r.latencyMs === latency,
      );
      if (relay !== undefined && base !== undefined)
        console.log(
          `relay (${ledger}) at ${latency} ms / baseline: ${relay} / ${base} ${which} = ${(relay / base).toFixed(1)}x throughput`,
        );
    }
  }

  const failures = results.filter((r) => r.problems.length > 0);
  for (const r of failures)
    console.log(`CHECK FAILED: ${r.impl} (${r.ledger}) at ${r.latencyMs} ms: ${r.problems.join("; ")}`);
  if (failures.length === 0)
    console.log(
      "checks: every run created one refund per event at Dojo, answered none refund.failed, deleted every input message and had none redriven",
    );
}

export function writeResults(root: string, results: Result[]): string {
  const out = join(root, "bench/results");
  mkdirSync(out, { recursive: true });
  const file = join(out, `sqs-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  return file;
}
