// Kafka benchmark: 20,000 return.approved events over 12 partitions and 5,000 payment intents, with the
// Dojo simulator answering at 0 ms and at 50 ms. The relay (`refund-relay start`, with an SQLite or a
// PostgreSQL ledger, as one or several instances of one consumer group sharing it) and a baseline
// consumer written the kafkajs-documentation way (baseline.ts) each run as their own processes against
// the same broker and simulator, in the same run. Prints throughput, p50/p99 end-to-end latency (from
// produce to the outcome arriving on its topic), peak RSS and CPU, checks that every event was refunded
// exactly once and none failed, and prints the relay/baseline and N-instance/1-instance ratios.
//
//   npm run bench:kafka                         (starts local brokers if KAFKA_BROKERS is unset)
//   BENCH_EVENTS=5000 BENCH_LATENCIES=50 npm run bench:kafka
//   BENCH_LEDGERS=sqlite,postgres BENCH_INSTANCES=1,3 BENCH_IMPLS=relay npm run bench:kafka
//
// Files: settings.ts (environment), run-one.ts (one run), ledgers.ts (a fresh ledger per run),
// measure.ts (/proc measurements), report.ts (table, ratios, JSON).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import "../../test/support/quiet-warnings.ts";
import { startTestServers } from "../../test/support/servers.ts";
import { freePort } from "./measure.ts";
import { printReport, writeResults } from "./report.ts";
import { type Result, type RunSpec, runOne } from "./run-one.ts";
import {
  EVENTS,
  IMPLS,
  INSTANCES,
  INTENTS,
  KEY,
  LATENCIES,
  LEDGERS,
  MAX_IN_FLIGHT,
  PARTITIONS,
  REPEAT,
} from "./settings.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The runs of one round at one latency: per instance count, the relay with each ledger, then the baseline. */
function roundSpecs(latencyMs: number): RunSpec[] {
  const specs: RunSpec[] = [];
  for (const instances of INSTANCES) {
    for (const impl of IMPLS) {
      if (impl === "relay") for (const ledger of LEDGERS) specs.push({ impl, ledger, instances, latencyMs });
      else specs.push({ impl, ledger: "none", instances, latencyMs });
    }
  }
  return specs;
}

async function startSimulator(): Promise<{ url: string; pid: number | undefined; stop: () => void }> {
  const port = await freePort();
  const sim = spawn(
    process.execPath,
    [join(root, "bin/refund-relay.js"), "dojo-sim", "--port", String(port), "--api-key", KEY],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${url}/_sim/stats`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, pid: sim.pid, stop: () => sim.kill("SIGTERM") };
}

async function main(): Promise<void> {
  // PostgreSQL is not taken from the test servers: each PostgreSQL run creates a database of its own.
  const servers = await startTestServers({ ...process.env, SQS_ENDPOINT: "unused", DATABASE_URL: "unused" });
  const sim = await startSimulator();
  const setup = { root, brokers: servers.servers.kafkaBrokers, simUrl: sim.url, simPid: sim.pid };
  const results: Result[] = [];
  try {
    for (const latency of LATENCIES) {
      // Rounds alternate the implementations, so a slow patch of the shared machine hits each.
      for (let round = 1; round <= REPEAT; round++) {
        for (const spec of roundSpecs(latency)) {
          const ledger = spec.ledger === "none" ? "" : `, ${spec.ledger} ledger`;
          const inFlight =
            spec.impl === "relay" && MAX_IN_FLIGHT !== undefined ? `, MAX_IN_FLIGHT=${MAX_IN_FLIGHT}` : "";
          console.error(
            `running ${spec.impl} x${spec.instances}${ledger}${inFlight} with Dojo latency ${latency} ms ` +
              `(round ${round}/${REPEAT}): ${EVENTS} events, ${PARTITIONS} partitions, ${INTENTS} intents`,
          );
          const r = await runOne(spec, setup);
          results.push(r);
          console.error(JSON.stringify(r));
        }
      }
    }
  } finally {
    sim.stop();
    await servers.stop();
  }
  printReport(results);
  writeResults(root, results);
  if (results.some((r) => r.problems.length > 0)) process.exitCode = 1;
}

await main();
