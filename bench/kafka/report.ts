// The results table (Markdown), the ratios that compare medians, and the JSON file under bench/results/.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { printLatencyTable } from "./latency.ts";
import type { Result } from "./run-one.ts";
import {
  EVENTS,
  FAULT_RATE,
  INTENTS,
  KILL_INTERVAL_MS,
  KILLS,
  LATENCIES,
  MAX_IN_FLIGHT,
  PARTITIONS,
  RATE,
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
  const input = RATE > 0 ? `produced at ${RATE}/s` : "produced up front";
  const extras = [
    FAULT_RATE > 0 ? `Dojo fault rate ${FAULT_RATE}` : "",
    KILLS > 0 ? `${KILLS} SIGKILLs ${KILL_INTERVAL_MS} ms apart` : "",
    MAX_IN_FLIGHT === undefined ? "" : `MAX_IN_FLIGHT=${MAX_IN_FLIGHT} per relay`,
  ].filter((s) => s !== "");
  console.log(
    `\nKafka benchmark: ${EVENTS} events, ${PARTITIONS} partitions, ${INTENTS} payment intents, ${input}` +
      `${extras.map((s) => `, ${s}`).join("")}, node ${process.version}`,
  );
  console.log(
    "| impl | ledger | instances | Dojo latency | events/s | p50 ms | p99 ms | peak RSS MiB | CPU s | seconds | refunds at Dojo | refund.failed | repeated outcomes |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    console.log(
      `| ${r.impl} | ${r.ledger === "none" ? "-" : r.ledger} | ${r.instances} | ${r.latencyMs} ms | ${r.perSecond} | ${r.p50} | ${r.p99} | ${r.peakRssMiB} | ${r.cpuSeconds} | ${r.seconds} | ${r.refundsAtDojo} | ${r.failed} | ${r.duplicateOutcomes} |`,
    );
  }

  printLatencyTable(
    results.map((r) => ({
      label: `${r.impl}${r.ledger === "none" ? "" : ` ${r.ledger}`} x${r.instances} at ${r.latencyMs} ms`,
      perSecond: r.perSecond,
      latency: r.latency,
    })),
  );
  if (RATE > 0) {
    console.log(
      "\np99 ms per second of sending (by each event's send time); worst producer lag behind schedule",
    );
    for (const r of results)
      console.log(
        `${r.impl}${r.ledger === "none" ? "" : ` ${r.ledger}`} x${r.instances} at ${r.latencyMs} ms: ` +
          `${r.latency.perSecond.map((s) => s.p99).join(" ")}; lag ${r.maxSendLagMs} ms`,
      );
  }

  const which = REPEAT > 1 ? "median events/s" : "events/s";
  const relayCases = [
    ...new Set(results.filter((r) => r.impl === "relay").map((r) => `${r.ledger}|${r.instances}`)),
  ];
  for (const latency of LATENCIES) {
    for (const key of relayCases) {
      const [ledger, n] = key.split("|") as [string, string];
      const instances = Number(n);
      const relay = median(
        results,
        (r) =>
          r.impl === "relay" && r.ledger === ledger && r.instances === instances && r.latencyMs === latency,
      );
      const base = median(
        results,
        (r) => r.impl === "baseline" && r.instances === instances && r.latencyMs === latency,
      );
      const one = median(
        results,
        (r) => r.impl === "relay" && r.ledger === ledger && r.instances === 1 && r.latencyMs === latency,
      );
      const label = `relay (${ledger}, ${instances} instance${instances === 1 ? "" : "s"}) at ${latency} ms`;
      if (relay !== undefined && base !== undefined)
        console.log(
          `${label} / baseline: ${relay} / ${base} ${which} = ${(relay / base).toFixed(1)}x throughput`,
        );
      if (relay !== undefined && one !== undefined && instances > 1)
        console.log(
          `${label} / 1 instance: ${relay} / ${one} ${which} = ${(relay / one).toFixed(2)}x throughput`,
        );
    }
  }

  const failures = results.filter((r) => r.problems.length > 0);
  for (const r of failures)
    console.log(
      `CHECK FAILED: ${r.impl} (${r.ledger}, ${r.instances} instances) at ${r.latencyMs} ms: ${r.problems.join("; ")}`,
    );
  if (failures.length === 0)
    console.log("checks: every run created one refund per event at Dojo and answered none refund.failed");
}

export function writeResults(root: string, results: Result[]): string {
  const out = join(root, "bench/results");
  mkdirSync(out, { recursive: true });
  const file = join(out, `kafka-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  return file;
}
