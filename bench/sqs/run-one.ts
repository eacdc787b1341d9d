// One run: fresh simulator state and queues, the process under test started and ready, the input sent
// to the input queue, and every outcome collected from the outcome queues.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { createSimControl } from "../../src/sim/index.ts";
import { returnApproved } from "../../test/support/events.ts";
import { decidedAt, type EventTimes, type LatencySummary, summarize } from "../kafka/latency.ts";
import { createRunLedger, type RunLedger } from "../kafka/ledgers.ts";
import { cpuSeconds, peakRssMiB, postgresCpu } from "../kafka/measure.ts";
import { prepareSimulator } from "../kafka/run-one.ts";
import {
  CREDENTIALS,
  createRunQueues,
  deleteRunQueues,
  queueDepth,
  REGION,
  type RunQueues,
} from "./queues.ts";
import {
  COLLECT_CONCURRENCY,
  DATABASE_URL,
  EVENTS,
  type Impl,
  KEY,
  type LedgerKind,
  MAX_IN_FLIGHT,
  NODE_ARGS,
  RATE,
  RECEIVE_CONCURRENCY,
  SEND_CONCURRENCY,
  TIMEOUT_MS,
  WARMUP_MS,
} from "./settings.ts";

/** CPU seconds used during a run by the servers around the process under test, and by this process. */
export interface OtherCpu {
  sim: number;
  elasticmq: number;
  /** Every local `postgres` process, including backends that exited. */
  postgres: number;
  /** This process: sender and collector. */
  bench: number;
}

export interface Result {
  impl: Impl;
  /** The relay's ledger; the baseline has none. */
  ledger: LedgerKind | "none";
  /** MAX_IN_FLIGHT and SQS_RECEIVE_CONCURRENCY given to the relay; null: the relay's default. */
  maxInFlight: number | null;
  receiveConcurrency: number | null;
  latencyMs: number;
  events: number;
  seconds: number;
  perSecond: number;
  /** End-to-end latency (send to outcome arrival) of every event. */
  p50: number;
  p99: number;
  /** The same in detail: steady-state percentiles (with BENCH_RATE), stages, per second of sending. */
  latency: LatencySummary;
  peakRssMiB: number;
  /**
   * CPU seconds of the process under test (all its threads) from the first send to the last outcome,
   * and per event in ms; start-up (module loading, ledger, queue checks) is counted apart.
   */
  cpuSeconds: number;
  cpuMsPerEvent: number;
  startupCpuSeconds: number;
  otherCpuSeconds: OtherCpu;
  refundsAtDojo: number;
  /** Events answered refund.failed (none expected), and outcomes that arrived more than once. */
  failed: number;
  duplicateOutcomes: number;
  /** Messages still in the input queue (visible or in flight) a few seconds after the last outcome. */
  leftInInput: number;
  /** Messages SQS moved to the input queue's redrive queue (received 5 times without a delete). */
  redriven: number;
  /** How long sending the input took, and when the first outcome arrived (ms after the first send). */
  producedInMs: number;
  /** With BENCH_RATE: how far the sender fell behind its schedule at worst (ms). */
  maxSendLagMs: number;
  firstOutcomeMs: number;
  /** What the run's checks found wrong (empty when it passed). */
  problems: string[];
}

export interface Setup {
  readonly root: string;
  readonly sqs: SQSClient;
  readonly endpoint: string;
  readonly simUrl: string;
  readonly simPid: number | undefined;
}

export interface RunSpec {
  readonly impl: Impl;
  readonly ledger: LedgerKind | "none";
  readonly latencyMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round2 = (n: number) => Math.round(n * 100) / 100;

function elasticmqCpu(root: string): number {
  try {
    return cpuSeconds(Number(readFileSync(join(root, ".brokers/elasticmq.pid"), "utf8").trim()));
  } catch {
    // ElasticMQ not started by scripts/brokers.sh: not measured.
    return Number.NaN;
  }
}

function otherCpu(root: string, simPid: number | undefined): OtherCpu {
  const own = process.cpuUsage();
  return {
    sim: simPid === undefined ? Number.NaN : cpuSeconds(simPid),
    elasticmq: elasticmqCpu(root),
    postgres: postgresCpu(),
    bench: round2((own.user + own.system) / 1e6),
  };
}

function cpuBetween(before: OtherCpu, after: OtherCpu): OtherCpu {
  return {
    sim: round2(after.sim - before.sim),
    elasticmq: round2(after.elasticmq - before.elasticmq),
    postgres: round2(after.postgres - before.postgres),
    bench: round2(after.bench - before.bench),
  };
}

/** Rejects when the child exits before `ready` settles; the listener is removed either way. */
async function unlessExited<T>(child: ChildProcess, ready: Promise<T>, what: string): Promise<T> {
  let onExit: ((code: number | null, signal: string | null) => void) | undefined;
  const exited = new Promise<never>((_, reject) => {
    onExit = (code, signal) => reject(new Error(`${what} exited (${signal ?? code}) before it was ready`));
    child.once("exit", onExit);
  });
  try {
    return await Promise.race([ready, exited]);
  } finally {
    if (onExit !== undefined) child.off("exit", onExit);
  }
}

/** The baseline says "ready" on its stdout once its consumer polls. */
function baselineReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    let seen = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      seen += chunk.toString("utf8");
      if (seen.includes("ready\n")) resolve();
    });
  });
}

/**
 * The relay logs nothing per event below info, so readiness is asked of the relay itself: a message
 * that is not an event goes to the input queue, and the relay is ready once it has parked it on the
 * dead-letter queue (its queues checked, its long polls running, its ledger open).
 */
async function relayReady(sqs: SQSClient, queues: RunQueues): Promise<void> {
  await sqs.send(new SendMessageCommand({ QueueUrl: queues.input, MessageBody: "bench readiness probe" }));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.dlq, WaitTimeSeconds: 1, VisibilityTimeout: 3600 }),
    );
    if ((out.Messages?.length ?? 0) > 0) return;
  }
  throw new Error("the relay did not dead-letter the readiness probe within 60 s");
}

/** Receives outcomes until stopped; they are kept invisible (never deleted): the queues are dropped. */
async function collect(
  sqs: SQSClient,
  url: string,
  signal: AbortSignal,
  arrived: (messages: Message[], now: number) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 3600,
          // When the queue stored the outcome: where the relay's part of the latency ends.
          MessageSystemAttributeNames: ["SentTimestamp"],
        }),
        { abortSignal: signal },
      );
      if (out.Messages !== undefined) arrived(out.Messages, Date.now());
    } catch (error) {
      if (signal.aborted) return;
      console.error(`collector: ${(error as Error).message}`);
      await sleep(100);
    }
  }
}

/** Sends the input events in batches of ten, SEND_CONCURRENCY calls at a time (or paced, with RATE). */
async function sendInput(
  sqs: SQSClient,
  url: string,
  intents: readonly string[],
  started: number,
  sentAt: Map<string, number>,
): Promise<number> {
  let next = 0;
  let maxLag = 0;
  const sender = async () => {
    for (;;) {
      const from = next;
      if (from >= EVENTS) return;
      // This sender's own range: `next` moves on while it waits for its turn.
      const to = Math.min(EVENTS, from + 10);
      next = to;
      if (RATE > 0) {
        const due = started + (from / RATE) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
        maxLag = Math.max(maxLag, Date.now() - due);
      }
      // Each event's latency counts from its own send, not from the start of the run.
      const entries = [];
      const now = Date.now();
      for (let j = from; j < to; j++) {
        const event = returnApproved({ paymentIntentId: intents[j % intents.length] as string, amount: 100 });
        sentAt.set(event.id, now);
        entries.push({
          Id: String(j - from),
          MessageBody: JSON.stringify(event),
          MessageAttributes: {
            "content-type": { DataType: "String", StringValue: "application/cloudevents+json" },
          },
        });
      }
      for (;;) {
        const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
        if ((out.Failed?.length ?? 0) === 0) break;
        const failed = new Set(out.Failed?.map((f) => f.Id));
        entries.splice(0, entries.length, ...entries.filter((e) => failed.has(e.Id)));
      }
    }
  };
  await Promise.all(Array.from({ length: SEND_CONCURRENCY }, sender));
  return maxLag;
}

export async function runOne(spec: RunSpec, setup: Setup): Promise<Result> {
  const { impl, latencyMs } = spec;
  const { root, sqs, endpoint, simUrl, simPid } = setup;
  const intents = await prepareSimulator(simUrl, latencyMs);
  const id = randomUUID().slice(0, 8);
  const queues = await createRunQueues(sqs, id);

  const sentAt = new Map<string, number>();
  const times: EventTimes[] = [];
  const seen = new Set<string>();
  const failedIds = new Set<string>();
  let duplicates = 0;
  let firstArrival = 0;
  let lastArrival = 0;
  let done: () => void = () => {};
  const allArrived = new Promise<void>((resolve) => {
    done = resolve;
  });
  const arrived = (failed: boolean) => (messages: Message[], now: number) => {
    for (const m of messages) {
      const outcome = JSON.parse(m.Body ?? "{}");
      const eventId = outcome.data?.sourceEvent?.id as string | undefined;
      if (eventId === undefined) continue;
      if (failed) failedIds.add(eventId);
      if (seen.has(eventId)) {
        duplicates += 1;
        continue;
      }
      seen.add(eventId);
      const stored = Number(m.Attributes?.SentTimestamp);
      times.push({
        sent: sentAt.get(eventId) ?? now,
        arrived: now,
        decided: decidedAt(outcome),
        published: Number.isFinite(stored) ? stored : undefined,
      });
      lastArrival = now;
      firstArrival ||= now;
    }
    if (seen.size >= EVENTS) done();
  };
  const collecting = new AbortController();
  const collectors = [
    ...Array.from({ length: COLLECT_CONCURRENCY }, () =>
      collect(sqs, queues.succeeded, collecting.signal, arrived(false)),
    ),
    collect(sqs, queues.failed, collecting.signal, arrived(true)),
  ];

  let ledger: RunLedger | undefined;
  let child: ChildProcess | undefined;
  try {
    ledger = spec.ledger === "none" ? undefined : await createRunLedger(spec.ledger, DATABASE_URL);
    const env = {
      ...process.env,
      RELAY_SOURCE: "sqs",
      SQS_ENDPOINT: endpoint,
      SQS_INPUT_QUEUE_URL: queues.input,
      SQS_SUCCEEDED_QUEUE_URL: queues.succeeded,
      SQS_FAILED_QUEUE_URL: queues.failed,
      SQS_DLQ_URL: queues.dlq,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      DOJO_BASE_URL: simUrl,
      DOJO_API_KEY: KEY,
      ...(ledger === undefined ? {} : { LEDGER_URL: ledger.url }),
      ...(MAX_IN_FLIGHT === undefined ? {} : { MAX_IN_FLIGHT: String(MAX_IN_FLIGHT) }),
      ...(RECEIVE_CONCURRENCY === undefined ? {} : { SQS_RECEIVE_CONCURRENCY: String(RECEIVE_CONCURRENCY) }),
      // Nothing is logged per event at warn or error; error also leaves out the expected start-up
      // warnings (an SQLite ledger on SQS) and the readiness probe's dead letter.
      LOG_LEVEL: "error",
    };
    const args =
      impl === "relay" ? [join(root, "bin/refund-relay.js"), "start"] : [join(root, "bench/sqs/baseline.ts")];
    const stdout = impl === "relay" ? "inherit" : "pipe";
    child = spawn(process.execPath, [...NODE_ARGS, ...args], { env, stdio: ["ignore", stdout, "inherit"] });
    // Timing starts once the process under test is ready, so start-up is not measured.
    await unlessExited(
      child,
      impl === "relay" ? relayReady(sqs, queues) : baselineReady(child),
      `the ${impl} process`,
    );

    const cpuBefore = otherCpu(root, simPid);
    const startupCpu = child.pid === undefined ? Number.NaN : cpuSeconds(child.pid);
    const started = Date.now();
    console.error(`${impl} ready; timing starts ${new Date(started).toISOString()}`);
    const maxSendLag = await sendInput(sqs, queues.input, intents, started, sentAt);
    const producedIn = Date.now() - started;
    const timeout = setTimeout(done, TIMEOUT_MS);
    await Promise.race([allArrived, unlessExited(child, new Promise<void>(() => {}), `the ${impl} process`)]);
    clearTimeout(timeout);
    const rss = child.pid === undefined ? Number.NaN : peakRssMiB(child.pid);
    const cpu = (child.pid === undefined ? Number.NaN : cpuSeconds(child.pid)) - startupCpu;
    const cpuAfter = otherCpu(root, simPid);

    // Every message answered must be deleted: wait a few seconds for the last deletes.
    let left = await queueDepth(sqs, queues.input);
    for (let i = 0; i < 50 && left.visible + left.inFlight > 0; i++) {
      await sleep(100);
      left = await queueDepth(sqs, queues.input);
    }
    const redrive = await queueDepth(sqs, queues.redrive);
    const redriven = redrive.visible + redrive.inFlight;
    const stats = await createSimControl(simUrl).stats();

    const seconds = (lastArrival - started) / 1000;
    const latency = summarize(times, started, RATE > 0, WARMUP_MS);
    const leftInInput = left.visible + left.inFlight;
    const problems: string[] = [];
    if (seen.size < EVENTS) problems.push(`only ${seen.size}/${EVENTS} outcomes before the timeout`);
    if (stats.refundsCreated !== EVENTS)
      problems.push(`${stats.refundsCreated} refunds at Dojo for ${EVENTS} events`);
    if (failedIds.size > 0) problems.push(`${failedIds.size} events answered refund.failed`);
    if (leftInInput > 0) problems.push(`${leftInInput} messages left in the input queue (not deleted)`);
    if (redriven > 0) problems.push(`${redriven} messages moved to the input queue's redrive queue`);
    return {
      ...spec,
      maxInFlight: impl === "relay" ? (MAX_IN_FLIGHT ?? null) : null,
      receiveConcurrency: impl === "relay" ? (RECEIVE_CONCURRENCY ?? null) : null,
      events: seen.size,
      seconds: round2(seconds),
      perSecond: Math.round(seen.size / seconds),
      p50: latency.p50,
      p99: latency.p99,
      latency,
      peakRssMiB: rss,
      cpuSeconds: round2(cpu),
      cpuMsPerEvent: round2((cpu * 1000) / Math.max(1, seen.size)),
      startupCpuSeconds: startupCpu,
      otherCpuSeconds: cpuBetween(cpuBefore, cpuAfter),
      refundsAtDojo: stats.refundsCreated,
      failed: failedIds.size,
      duplicateOutcomes: duplicates,
      leftInInput,
      redriven,
      producedInMs: producedIn,
      maxSendLagMs: maxSendLag,
      firstOutcomeMs: firstArrival - started,
      problems,
    };
  } finally {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const killer = setTimeout(() => child?.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(killer);
    }
    collecting.abort();
    await Promise.allSettled(collectors);
    await deleteRunQueues(sqs, queues);
    await ledger?.drop();
  }
}
