// One run: fresh simulator state and topics, the processes under test started and joined to their
// group, the input produced, and every outcome collected from the outcome topics.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { createSimControl } from "../../src/sim/index.ts";
import { returnApproved } from "../../test/support/events.ts";
import { createTopicsAndWait } from "../../test/support/kafka-topics.ts";
import { decidedAt, type EventTimes, type LatencySummary, summarize } from "./latency.ts";
import { createRunLedger, type RunLedger } from "./ledgers.ts";
import { cpuBetween, cpuSeconds, type OtherCpu, otherCpu, peakRssMiB } from "./measure.ts";
import {
  DATABASE_URL,
  EVENTS,
  FAULT_RATE,
  type Impl,
  INTENTS,
  KEY,
  KILL_INTERVAL_MS,
  KILLS,
  type LedgerKind,
  MAX_IN_FLIGHT,
  NODE_ARGS,
  PARTITIONS,
  RATE,
  TIMEOUT_MS,
  WARMUP_MS,
} from "./settings.ts";

export interface Result {
  impl: Impl;
  /** The relay's ledger; the baseline has none. */
  ledger: LedgerKind | "none";
  /** Processes in the group under test. */
  instances: number;
  /** MAX_IN_FLIGHT given to each relay process; null: the relay's default. */
  maxInFlight: number | null;
  latencyMs: number;
  events: number;
  seconds: number;
  perSecond: number;
  /** End-to-end latency (send to outcome arrival) of every event. */
  p50: number;
  p99: number;
  /** The same in detail: steady-state percentiles (with BENCH_RATE), stages, per second of sending. */
  latency: LatencySummary;
  /** Peak RSS of the largest instance, and of each. */
  peakRssMiB: number;
  peakRssPerInstanceMiB: number[];
  /** CPU seconds of all instances together. */
  cpuSeconds: number;
  /** CPU used during the run by the simulator, the broker, PostgreSQL and this process. */
  otherCpuSeconds: OtherCpu;
  refundsAtDojo: number;
  /** Events answered refund.failed (none expected), and outcomes that arrived more than once. */
  failed: number;
  duplicateOutcomes: number;
  /** How long producing the input took, and when the first outcome arrived (ms after the first produce). */
  producedInMs: number;
  /** With BENCH_RATE: how far the producer fell behind its schedule at worst (ms). */
  maxSendLagMs: number;
  firstOutcomeMs: number;
  /** What the run's checks found wrong (empty when it passed). */
  problems: string[];
}

export interface Setup {
  readonly root: string;
  readonly brokers: readonly string[];
  readonly simUrl: string;
  readonly simPid: number | undefined;
}

export interface RunSpec {
  readonly impl: Impl;
  readonly ledger: LedgerKind | "none";
  readonly instances: number;
  readonly latencyMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the group is stable with `members` members, i.e. every instance has joined. */
async function waitForGroup(kafka: Kafka, groupId: string, members: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const { groups } = await admin.describeGroups([groupId]);
      const group = groups[0];
      if (group?.state === "Stable" && group.members.length === members) return;
      await sleep(100);
    }
    throw new Error(`group ${groupId} did not become stable with ${members} members within 60 s`);
  } finally {
    await admin.disconnect();
  }
}

/** Resets the simulator, sets its latency and faults, and creates the captured payment intents. */
export async function prepareSimulator(simUrl: string, latencyMs: number): Promise<string[]> {
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
  return sim.createIntents({ amount: 1_000_000, status: "Captured" }, INTENTS);
}

export async function runOne(spec: RunSpec, setup: Setup): Promise<Result> {
  const { impl, instances, latencyMs } = spec;
  const { root, brokers, simUrl, simPid } = setup;
  const intents = await prepareSimulator(simUrl, latencyMs);

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
  const times: EventTimes[] = [];
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
  // No offset commits: the group is new and used once. kafkajs' auto-commit would commit after every
  // batch and hold the next fetch until that commit is answered, which added about 45 ms to every
  // latency measured at a steady rate (p50 of a plain produce-to-consume probe: 40 to 55 ms with it,
  // 5 to 9 ms without).
  await collector.run({
    autoCommit: false,
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      for (const m of batch.messages) {
        const outcome = JSON.parse(m.value?.toString() ?? "{}");
        const eventId = outcome.data?.sourceEvent?.id as string | undefined;
        if (eventId === undefined) continue;
        if (batch.topic === topics.failed) failedIds.add(eventId);
        if (seen.has(eventId)) {
          duplicates += 1;
          continue;
        }
        seen.add(eventId);
        times.push({
          sent: producedAt.get(eventId) ?? now,
          arrived: now,
          decided: decidedAt(outcome),
          published: Number(m.timestamp),
        });
        lastArrival = now;
        firstArrival ||= now;
      }
      if (seen.size >= EVENTS) done();
    },
  });

  let ledger: RunLedger | undefined;
  try {
    ledger = spec.ledger === "none" ? undefined : await createRunLedger(spec.ledger, DATABASE_URL);
  } catch (error) {
    await collector.disconnect();
    throw error;
  }
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
    ...(ledger === undefined ? {} : { LEDGER_URL: ledger.url }),
    ...(MAX_IN_FLIGHT === undefined ? {} : { MAX_IN_FLIGHT: String(MAX_IN_FLIGHT) }),
    LOG_LEVEL: "warn",
    BENCH_PARTITIONS: String(PARTITIONS),
  };
  const args =
    impl === "relay" ? [join(root, "bin/refund-relay.js"), "start"] : [join(root, "bench/kafka/baseline.ts")];
  const start = () =>
    spawn(process.execPath, [...NODE_ARGS, ...args], { env, stdio: ["ignore", "inherit", "inherit"] });
  const children: ChildProcess[] = Array.from({ length: instances }, start);
  const stopAll = (signal: NodeJS.Signals) =>
    Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill(signal);
        await once(child, "exit");
      }),
    );

  try {
    // Timing starts once every instance has joined the group, so start-up is not measured.
    await waitForGroup(kafka, env.KAFKA_GROUP_ID, instances);
    const producer = kafka.producer();
    await producer.connect();
    const cpuBefore = otherCpu(root, simPid);
    const started = Date.now();
    console.error(
      `${instances} ${impl} process(es) joined group ${env.KAFKA_GROUP_ID}; timing starts ${new Date(started).toISOString()}`,
    );
    // All at once (a backlog) by default; with BENCH_RATE, a steady stream of that many events per
    // second in 20 ms steps, so the latencies are end-to-end rather than time spent in a backlog.
    // Each event's latency counts from its own send, not from the start of the run.
    const chunk = RATE > 0 ? Math.max(1, Math.round(RATE / 50)) : 1000;
    let maxSendLag = 0;
    for (let i = 0; i < EVENTS; i += chunk) {
      if (RATE > 0) {
        const due = started + (i / RATE) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
        maxSendLag = Math.max(maxSendLag, Date.now() - due);
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

    // Crash test: every KILL_INTERVAL_MS, SIGKILL one instance (in turn) and start it again.
    let arrived = false;
    void allArrived.then(() => {
      arrived = true;
    });
    for (let kill = 0; kill < KILLS && !arrived; kill++) {
      await Promise.race([allArrived, sleep(KILL_INTERVAL_MS)]);
      if (arrived) break;
      const which = kill % instances;
      const victim = children[which] as ChildProcess;
      victim.kill("SIGKILL");
      await once(victim, "exit");
      console.error(
        `killed ${impl} #${which + 1} with SIGKILL (${kill + 1}/${KILLS}) after ${seen.size} outcomes`,
      );
      children[which] = start();
    }
    const timeout = setTimeout(done, TIMEOUT_MS);
    await allArrived;
    clearTimeout(timeout);
    const rss = children.map((c) => (c.pid === undefined ? Number.NaN : peakRssMiB(c.pid)));
    const cpu = children.reduce((sum, c) => sum + (c.pid === undefined ? Number.NaN : cpuSeconds(c.pid)), 0);
    const cpuAfter = otherCpu(root, simPid);
    await stopAll("SIGTERM");
    const stats = await createSimControl(simUrl).stats();

    const seconds = (lastArrival - started) / 1000;
    const latency = summarize(times, started, RATE > 0, WARMUP_MS);
    const problems: string[] = [];
    if (seen.size < EVENTS) problems.push(`only ${seen.size}/${EVENTS} outcomes before the timeout`);
    if (stats.refundsCreated !== EVENTS)
      problems.push(`${stats.refundsCreated} refunds at Dojo for ${EVENTS} events`);
    if (failedIds.size > 0) problems.push(`${failedIds.size} events answered refund.failed`);
    return {
      ...spec,
      maxInFlight: impl === "relay" ? (MAX_IN_FLIGHT ?? null) : null,
      events: seen.size,
      seconds: Math.round(seconds * 100) / 100,
      perSecond: Math.round(seen.size / seconds),
      p50: latency.p50,
      p99: latency.p99,
      latency,
      peakRssMiB: Math.max(...rss),
      peakRssPerInstanceMiB: rss,
      cpuSeconds: Math.round(cpu * 100) / 100,
      otherCpuSeconds: cpuBetween(cpuBefore, cpuAfter),
      refundsAtDojo: stats.refundsCreated,
      failed: failedIds.size,
      duplicateOutcomes: duplicates,
      producedInMs: producedIn,
      maxSendLagMs: maxSendLag,
      firstOutcomeMs: firstArrival - started,
      problems,
    };
  } finally {
    await stopAll("SIGKILL");
    await collector.disconnect();
    await ledger?.drop();
  }
}
