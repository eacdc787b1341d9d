// SQS benchmark: 20,000 return.approved events over 5,000 payment intents on a standard queue of
// ElasticMQ, with the Dojo simulator answering at 0 ms and at 50 ms. The relay (`refund-relay start`
// with RELAY_SOURCE=sqs and its ledger) and a baseline consumer written the sqs-consumer-documentation
// way (baseline.ts) each run as their own process against the same ElasticMQ and simulator, in the same
// run, each with fresh queues. Prints throughput, p50/p99 end-to-end latency (from the send to the
// outcome's arrival on its queue), peak RSS and CPU, checks that every event was refunded exactly once,
// none failed and every input message was deleted, and prints the relay/baseline ratios.
//
//   npm run bench:sqs                  (starts local brokers if SQS_ENDPOINT is unset)
//   BENCH_EVENTS=5000 BENCH_LATENCIES=0 BENCH_IMPLS=relay npm run bench:sqs
//
// The workload settings are the Kafka benchmark's (bench/kafka/settings.ts); files: settings.ts,
// run-one.ts (one run), queues.ts (fresh queues, the benchmark's client), report.ts, baseline.ts.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestServers } from "../../test/support/servers.ts";
import { freePort } from "../kafka/measure.ts";
import { benchClient } from "./queues.ts";
import { printReport, writeResults } from "./report.ts";
import { type Result, type RunSpec, runOne } from "./run-one.ts";
import { EVENTS, IMPLS, INTENTS, KEY, LATENCIES, LEDGERS, REPEAT } from "./settings.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The runs of one round at one latency: the relay with each ledger, then the baseline. */
function roundSpecs(latencyMs: number): RunSpec[] {
  const specs: RunSpec[] = [];
  for (const impl of IMPLS) {
    if (impl === "relay") for (const ledger of LEDGERS) specs.push({ impl, ledger, latencyMs });
    else specs.push({ impl, ledger: "none", latencyMs });
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
  const servers = await startTestServers({ ...process.env, KAFKA_BROKERS: "unused", DATABASE_URL: "unused" });
  const endpoint = servers.servers.sqsEndpoint;
  const sqs = benchClient(endpoint);
  const sim = await startSimulator();
  const setup = { root, sqs, endpoint, simUrl: sim.url, simPid: sim.pid };
  const results: Result[] = [];
  try {
    for (const latency of LATENCIES) {
      // Rounds alternate the implementations, so a slow patch of the shared machine hits each.
      for (let round = 1; round <= REPEAT; round++) {
        for (const spec of roundSpecs(latency)) {
          const ledger = spec.ledger === "none" ? "" : `, ${spec.ledger} ledger`;
          console.error(
            `running ${spec.impl}${ledger} with Dojo latency ${latency} ms (round ${round}/${REPEAT}): ` +
              `${EVENTS} events, ${INTENTS} intents`,
          );
          const r = await runOne(spec, setup);
          results.push(r);
          console.error(JSON.stringify(r));
        }
      }
    }
  } finally {
    sim.stop();
    sqs.destroy();
    await servers.stop();
  }
  printReport(results);
  console.log(`results: ${writeResults(root, results)}`);
  if (results.some((r) => r.problems.length > 0)) process.exitCode = 1;
}

await main();
