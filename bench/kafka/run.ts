// Kafka benchmark: 20,000 return.approved events over 12 partitions and 5,000 payment intents, with the
// Dojo simulator answering at 0 ms and at 50 ms. The relay (`refund-relay start`) and a baseline
// consumer written the kafkajs-documentation way (baseline.ts) each run as their own process against
// the same broker and simulator, in the same run. Prints throughput, p50/p99 end-to-end latency (from
// produce to the outcome arriving on its topic) and peak RSS, and the relay/baseline ratio.
//
//   npm run bench:kafka                         (starts local brokers if KAFKA_BROKERS is unset)
//   BENCH_EVENTS=5000 BENCH_LATENCIES=50 npm run bench:kafka
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { createSimControl } from "../../src/sim/index.ts";
import { returnApproved } from "../../test/support/events.ts";
import "../../test/support/quiet-warnings.ts";
import { createTopicsAndWait } from "../../test/support/kafka-topics.ts";
import { startTestServers } from "../../test/support/servers.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const EVENTS = Number(process.env.BENCH_EVENTS ?? "20000");
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? "12");
const INTENTS = Number(process.env.BENCH_INTENTS ?? "5000");
const LATENCIES = (process.env.BENCH_LATENCIES ?? "0,50").split(",").map(Number);
const IMPLS = (process.env.BENCH_IMPLS ?? "relay,baseline").split(",") as Array<"relay" | "baseline">;
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? "600000");
/** Share of Dojo calls that fail (0 to 1, default 0); see the fault set-up in runOne. */
const FAULT_RATE = Number(process.env.BENCH_FAULT_RATE ?? "0");
/** Runs per implementation and latency (default 1); the ratio then compares medians. */
const REPEAT = Number(process.env.BENCH_REPEAT ?? "1");
/** SIGKILLs of the process under test during a run (default 0), one every BENCH_KILL_INTERVAL_MS. */
const KILLS = Number(process.env.BENCH_KILLS ?? "0");
const KILL_INTERVAL_MS = Number(process.env.BENCH_KILL_INTERVAL_MS ?? "2000");
/** Events per second to produce at; 0 (the default) produces everything up front as a backlog. */
const RATE = Number(process.env.BENCH_RATE ?? "0");
const KEY = "sk_sandbox_bench";

interface Result {
  impl: "relay" | "baseline";
  latencyMs: number;
  events: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  peakRssMiB: number;
  cpuSeconds: number;
  /** CPU used during the run by the simulator, the broker and this process (producer + collector). */
  otherCpuSeconds: { sim: number; broker: number; bench: number };
  refundsAtDojo: number;
  /** Events answered refund.failed (none expected), and outcomes that arrived more than once. */
  failed: number;
  duplicateOutcomes: number;
  /** How long producing the input took, and when the first outcome arrived (ms after the first produce). */
  producedInMs: number;
  firstOutcomeMs: number;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close();
  return port;
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? "0");
  return Math.round((kb / 1024) * 10) / 10;
}

/** User + system CPU seconds a process has used so far (from /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  return Math.round((ticks / 100) * 100) / 100;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** CPU seconds of the other processes on the machine that serve the run: simulator and local broker. */
function sharedCpu(simPid: number | undefined): { sim: number; broker: number; bench: number } {
  let broker = Number.NaN;
  try {
    broker = cpuSeconds(Number(readFileSync(join(root, ".brokers/kafka.pid"), "utf8").trim()));
  } catch {
    // Brokers not started by scripts/brokers.sh: not measured.
  }
  const own = process.cpuUsage();
  return {
    sim: simPid === undefined ? Number.NaN : cpuSeconds(simPid),
    broker,
    bench: Math.round(((own.user + own.system) / 1e6) * 100) / 100,
  };
}

async function waitForStableGroup(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const { groups } = await admin.describeGroups([groupId]);
      const group = groups[0];
      if (group?.state === "Stable" && group.members.length > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`group ${groupId} did not become stable within 60 s`);
  } finally {
    await admin.disconnect();
  }
}

async function runOne(
  impl: "relay" | "baseline",
  latencyMs: number,
  brokers: readonly string[],
  simUrl: string,
  simPid: number | undefined,
): Promise<Result> {
  const sim = createSimControl(simUrl);
  await sim.reset();
  await sim.clearFaults();
  const latency = latencyMs > 0 ? { latencyMs: { min: latencyMs, max: latencyMs } } : {};
  if (FAULT_RATE > 0) {
    // Refund calls fail in four ways, a quarter of the rate each, including "applied, then the
    // connection dropped"; intent reads fail with 502. Seeded, so runs draw the same faults.
    const each = FAULT_RATE / 4;
    await sim.setFaults({
      seed: 7,
      routes: {
        "*": latency,
        createRefund: {
          ...latency,
          error500Rate: each,
          error503Rate: each,
          rateLimitRate: each,
          retryAfterSeconds: 1,
          dropAfterApplyRate: each,
        },
        getPaymentIntent: { ...latency, error502Rate: FAULT_RATE },
      },
    });
  } else if (latencyMs > 0) await sim.setFaults({ routes: { "*": latency } });
  const intents = await sim.createIntents({ amount: 1_000_000, status: "Captured" }, INTENTS);

  const id = randomUUID().slice(0, 8);
  const topics = {
    input: `bench-in-${id}`,
    ok: `bench-ok-${id}`,
    failed: `bench-failed-${id}`,
    dlq: `bench-dlq-${id}`,
  };
  const kafka = new Kafka({ clientId: `bench-${id}`, brokers: [...brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsAndWait(admin, [
    { topic: topics.input, numPartitions: PARTITIONS },
    { topic: topics.ok, numPartitions: PARTITIONS },
    { topic: topics.failed, numPartitions: PARTITIONS },
    { topic: topics.dlq, numPartitions: 1 },
  ]);
  await admin.disconnect();

  const producedAt = new Map<string, number>();
  const latencies: number[] = [];
  let lastArrival = 0;
  let firstArrival = 0;
  let done: () => void = () => {};
  const allArrived = new Promise<void>((resolve) => {
    done = resolve;
  });
  const seen = new Set<string>();
  const failedIds = new Set<string>();
  let duplicates = 0;
  const collector = kafka.consumer({ groupId: `bench-collector-${id}`, maxWaitTimeInMs: 50 });
  await collector.connect();
  await collector.subscribe({ topics: [topics.ok, topics.failed], fromBeginning: true });
  await collector.run({
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      for (const m of batch.messages) {
        const eventId = JSON.parse(m.value?.toString() ?? "{}").data?.sourceEvent?.id as string | undefined;
        if (eventId === undefined) continue;
        if (batch.topic === topics.failed) failedIds.add(eventId);
        if (seen.has(eventId)) {
          duplicates += 1;
          continue;
        }
        seen.add(eventId);
        latencies.push(now - (producedAt.get(eventId) ?? now));
        lastArrival = now;
        firstArrival ||= now;
      }
      if (seen.size >= EVENTS) done();
    },
  });

  const dataDir = mkdtempSync(join(tmpdir(), "refund-relay-bench-"));
  const env = {
    ...process.env,
    RELAY_SOURCE: "kafka",
    KAFKA_BROKERS: brokers.join(","),
    KAFKA_GROUP_ID: `bench-${impl}-${id}`,
    KAFKA_INPUT_TOPIC: topics.input,
    KAFKA_SUCCEEDED_TOPIC: topics.ok,
    KAFKA_FAILED_TOPIC: topics.failed,
    KAFKA_DLQ_TOPIC: topics.dlq,
    DOJO_BASE_URL: simUrl,
    DOJO_API_KEY: KEY,
    LEDGER_URL: `sqlite:${join(dataDir, "ledger.db")}`,
    LOG_LEVEL: "warn",
    BENCH_PARTITIONS: String(PARTITIONS),
  };
  const args =
    impl === "relay" ? [join(root, "bin/refund-relay.js"), "start"] : [join(root, "bench/kafka/baseline.ts")];
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  const start = () =>
    spawn(process.execPath, [...nodeArgs, ...args], { env, stdio: ["ignore", "inherit", "inherit"] });
  let child: ChildProcess = start();

  // Timing starts once the process under test has joined its group, so start-up is not measured.
  await waitForStableGroup(kafka, env.KAFKA_GROUP_ID);
  const producer = kafka.producer();
  await producer.connect();
  const cpuBefore = sharedCpu(simPid);
  const started = Date.now();
  // All at once (a backlog) by default; with BENCH_RATE, a steady stream of that many events per second
  // in 20 ms steps, so the latencies are end-to-end rather than time spent in a backlog.
  const chunk = RATE > 0 ? Math.max(1, Math.round(RATE / 50)) : 1000;
  for (let i = 0; i < EVENTS; i += chunk) {
    if (RATE > 0) {
      const due = started + (i / RATE) * 1000;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    }
    const messages = [];
    const sentAt = Date.now();
    for (let j = i; j < Math.min(EVENTS, i + chunk); j++) {
      const pi = intents[j % intents.length] as string;
      const event = returnApproved({ paymentIntentId: pi, amount: 100 });
      producedAt.set(event.id, sentAt);
      messages.push({
        key: pi,
        value: JSON.stringify(event),
        headers: { "content-type": "application/cloudevents+json" },
      });
    }
    await producer.send({ topic: topics.input, messages });
  }
  const producedIn = Date.now() - started;
  await producer.disconnect();

  // Crash test: kill the process under test with SIGKILL every KILL_INTERVAL_MS and start it again.
  let arrived = false;
  void allArrived.then(() => {
    arrived = true;
  });
  for (let kill = 0; kill < KILLS && !arrived; kill++) {
    await Promise.race([allArrived, new Promise((resolve) => setTimeout(resolve, KILL_INTERVAL_MS))]);
    if (arrived) break;
    child.kill("SIGKILL");
    await once(child, "exit");
    console.error(`killed the ${impl} with SIGKILL (${kill + 1}/${KILLS}) after ${seen.size} outcomes`);
    child = start();
  }
  const timeout = setTimeout(done, TIMEOUT_MS);
  await allArrived;
  clearTimeout(timeout);
  const rss = child.pid === undefined ? Number.NaN : peakRssMiB(child.pid);
  const cpu = child.pid === undefined ? Number.NaN : cpuSeconds(child.pid);
  const cpuAfter = sharedCpu(simPid);
  const round = (n: number) => Math.round(n * 100) / 100;
  child.kill("SIGTERM");
  await once(child, "exit");
  await collector.disconnect();
  const stats = await sim.stats();
  rmSync(dataDir, { recursive: true, force: true });

  const seconds = (lastArrival - started) / 1000;
  latencies.sort((a, b) => a - b);
  if (seen.size < EVENTS)
    console.error(`${impl} @${latencyMs}ms: only ${seen.size}/${EVENTS} outcomes before the timeout`);
  return {
    impl,
    latencyMs,
    events: seen.size,
    seconds: Math.round(seconds * 100) / 100,
    perSecond: Math.round(seen.size / seconds),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    peakRssMiB: rss,
    cpuSeconds: cpu,
    otherCpuSeconds: {
      sim: round(cpuAfter.sim - cpuBefore.sim),
      broker: round(cpuAfter.broker - cpuBefore.broker),
      bench: round(cpuAfter.bench - cpuBefore.bench),
    },
    refundsAtDojo: stats.refundsCreated,
    failed: failedIds.size,
    duplicateOutcomes: duplicates,
    producedInMs: producedIn,
    firstOutcomeMs: firstArrival - started,
  };
}

async function main(): Promise<void> {
  const servers = await startTestServers({ ...process.env, SQS_ENDPOINT: "unused", DATABASE_URL: "unused" });
  const port = await freePort();
  const sim = spawn(
    process.execPath,
    [join(root, "bin/refund-relay.js"), "dojo-sim", "--port", String(port), "--api-key", KEY],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const simUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${simUrl}/_sim/stats`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const results: Result[] = [];
  try {
    for (const latency of LATENCIES) {
      // Rounds alternate the implementations, so a slow patch of the shared machine hits both.
      for (let round = 1; round <= REPEAT; round++) {
        for (const impl of IMPLS) {
          console.error(
            `running ${impl} with Dojo latency ${latency} ms (round ${round}/${REPEAT}): ${EVENTS} events, ${PARTITIONS} partitions, ${INTENTS} intents`,
          );
          const r = await runOne(impl, latency, servers.servers.kafkaBrokers, simUrl, sim.pid);
          results.push(r);
          console.error(JSON.stringify(r));
        }
      }
    }
  } finally {
    sim.kill("SIGTERM");
    await servers.stop();
  }

  console.log(
    `\nKafka benchmark: ${EVENTS} events, ${PARTITIONS} partitions, ${INTENTS} payment intents, ${RATE > 0 ? `produced at ${RATE}/s` : "produced up front"}${FAULT_RATE > 0 ? `, Dojo fault rate ${FAULT_RATE}` : ""}${KILLS > 0 ? `, ${KILLS} SIGKILLs ${KILL_INTERVAL_MS} ms apart` : ""}, node ${process.version}`,
  );
  console.log(
    "| impl | Dojo latency | events/s | p50 ms | p99 ms | peak RSS MiB | CPU s | seconds | refunds at Dojo | refund.failed | repeated outcomes |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    console.log(
      `| ${r.impl} | ${r.latencyMs} ms | ${r.perSecond} | ${r.p50} | ${r.p99} | ${r.peakRssMiB} | ${r.cpuSeconds} | ${r.seconds} | ${r.refundsAtDojo} | ${r.failed} | ${r.duplicateOutcomes} |`,
    );
  }
  const median = (impl: string, latency: number): number | undefined => {
    const rates = results
      .filter((r) => r.impl === impl && r.latencyMs === latency)
      .map((r) => r.perSecond)
      .sort((a, b) => a - b);
    return rates.length === 0 ? undefined : rates[Math.floor((rates.length - 1) / 2)];
  };
  for (const latency of LATENCIES) {
    const relay = median("relay", latency);
    const base = median("baseline", latency);
    const which = REPEAT > 1 ? "median events/s" : "events/s";
    if (relay !== undefined && base !== undefined)
      console.log(
        `relay / baseline at ${latency} ms: ${relay} / ${base} ${which} = ${(relay / base).toFixed(1)}x throughput`,
      );
  }
  const out = join(root, "bench/results");
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, `kafka-${new Date().toISOString().replace(/[:.]/g, "-")}.json`),
    JSON.stringify(results, null, 2),
  );
}

await main();
