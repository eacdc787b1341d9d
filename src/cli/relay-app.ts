// Wires a running relay from a validated configuration: ledger, Dojo client, pipeline and the transport
// RELAY_SOURCE selects (Kafka or SQS), and with HTTP_PORT its operations endpoints (health, readiness,
// metrics). With config.ts (which composes the transports' settings), the only place under src/ that
// knows about consumers/: what readiness, metrics and spans need of each transport is read here.
import type { Attributes } from "@opentelemetry/api";
import type { ISocketFactory } from "kafkajs";
import {
  CRASH_LOOP_CRASHES,
  CRASH_LOOP_WINDOW_MS,
  createKafka,
  KafkaDelivery,
  KafkaRelay,
} from "../../consumers/kafka/index.ts";
import type { QueueDepth } from "../../consumers/sqs/depth.ts";
import type { SqsOrigin, SqsRelay } from "../../consumers/sqs/index.ts";
import type { RelayConfig } from "../config.ts";
import { createDojoClient } from "../dojo/index.ts";
import { heapShortfall } from "../heap-limits.ts";
import { isPostgresUrl, openLedger } from "../ledger/index.ts";
import { ProgressLog } from "../log-progress.ts";
import type { Logger } from "../logger.ts";
import { type AttachedRelay, type Check, MessageWatch, RelayOps, timeLedger } from "../ops/index.ts";
import { FaultGate, type InboundMessage, RefundPipeline } from "../pipeline/index.ts";
import { checkDojoKeys } from "./key-check.ts";

export type TransportRelay = KafkaRelay | SqsRelay;

/**
 * `R` names the transport the configuration selects, for callers that read its stats (Kafka unless
 * told otherwise); it is not checked against `config.source`.
 */
export interface RunningRelay<R extends TransportRelay = KafkaRelay> {
  readonly relay: R;
  readonly pipeline: RefundPipeline;
  /** The operations endpoints, when HTTP_PORT is set: their port, metrics and readiness. */
  readonly ops: RelayOps | undefined;
  /** Drains within the configured deadline and closes everything; resolves when done. */
  stop(): Promise<{ abandoned: number }>;
}

export interface RelayHooks {
  /** The relay cannot go on (for example its transactional producer was fenced): stop it. */
  readonly onFatal?: (error: unknown) => void;
  /** Opens every Kafka connection (tests route them through a proxy they can stop). */
  readonly kafkaSocketFactory?: ISocketFactory;
  /**
   * Export prom-client's process and Node.js metrics too. The command does; tests that run several
   * relays in one process leave them out (they describe the process, not one relay).
   */
  readonly processMetrics?: boolean;
}

/** The selected transport, what names its input in the start-up log line, and what ops read of it. */
interface Transport {
  readonly relay: TransportRelay;
  readonly input: Record<string, string>;
  /** The input topic or queue name (spans are named `process <it>`). */
  readonly destination: string;
  /** Messaging attributes of a delivery's span. */
  readonly describe: (message: InboundMessage) => Attributes;
  /** Kafka: consumer lag over the owned partitions, for the progress line. */
  readonly lag?: () => { total: number; partitions: number } | undefined;
  /** What readiness and metrics read of the transport, once it runs. */
  readonly ops: () => Omit<AttachedRelay, "faults" | "watch">;
  /** Starts what the transport runs for ops only (SQS: the depth poll). */
  readonly startOps?: () => void;
  readonly stopOps?: () => Promise<void>;
}

const OK: Check = { ok: true };

/** Readiness of the Kafka consumer, from what it records (see consumers/kafka/health.ts). */
function kafkaProbe(
  relay: KafkaRelay,
  brokers: readonly string[],
  staleMs: number,
): AttachedRelay["transport"] {
  return {
    broker(now) {
      const h = relay.health;
      const at = h.brokerAnsweredAt?.getTime();
      const last = h.lastError === undefined ? "" : `; last error: ${h.lastError}`;
      if (at === undefined)
        return { ok: false, reason: `no Kafka broker (${brokers.join(",")}) has answered yet${last}` };
      if (now - at > staleMs) {
        return {
          ok: false,
          reason: `no Kafka broker (${brokers.join(",")}) answered for ${Math.round((now - at) / 1000)} s${last}`,
        };
      }
      return OK;
    },
    consumer() {
      const h = relay.health;
      if (h.gone) return { ok: false, reason: "the Kafka consumer stopped for good; the relay stops" };
      if (h.offsetsUntrusted)
        return { ok: false, reason: "the input topic's offsets went backwards; the relay stops" };
      if (h.topicMissing) return { ok: false, reason: "the input topic is missing" };
      if (h.restarting)
        return { ok: false, reason: `the Kafka consumer crashed and is restarting: ${h.lastError}` };
      if (!h.joined) return { ok: false, reason: "the Kafka consumer has not joined its group yet" };
      if (h.recentCrashes >= CRASH_LOOP_CRASHES) {
        return {
          ok: false,
          reason: `the Kafka consumer is crash looping: ${h.recentCrashes} crashes after joining within ${CRASH_LOOP_WINDOW_MS / 60_000} min (last: ${h.lastError})`,
        };
      }
      return OK;
    },
    // Lag is not work this relay is sure to be able to take (transaction markers count in it), so
    // progress is judged on the messages in hand; a consumer that stops fetching stops heartbeating.
    backlog: () => undefined,
  };
}

/**
 * How long receives from the input queue must have been failing before readiness says so. One failed
 * receive (a dropped connection, a throttled call) is retried within 200 ms and usually works; after
 * this long about four retries in a row have failed. Kafka's check waits longer (the session timeout).
 */
export const SQS_RECEIVE_FAILURE_GRACE_MS = 5_000;

/**
 * Readiness of the SQS side: whether SQS answers the relay's receives and the depth poll, and the
 * visible messages. Receives that keep failing count after SQS_RECEIVE_FAILURE_GRACE_MS; the depth
 * poll (every 15 s) also catches an endpoint that hangs, which a long poll would only notice at its
 * own timeout.
 */
export function sqsProbe(
  depth: Pick<QueueDepth, "queueUrl" | "error" | "depth">,
  receiving: { readonly receiveError: { readonly message: string; readonly since: Date } | undefined },
): AttachedRelay["transport"] {
  return {
    broker(now) {
      const failing = receiving.receiveError;
      if (failing !== undefined && now - failing.since.getTime() >= SQS_RECEIVE_FAILURE_GRACE_MS) {
        const seconds = Math.round((now - failing.since.getTime()) / 1000);
        return {
          ok: false,
          reason: `receiving from ${depth.queueUrl} has failed for ${seconds} s: ${failing.message}`,
        };
      }
      const error = depth.error;
      if (error !== undefined) {
        return {
          ok: false,
          reason: `SQS did not answer GetQueueAttributes on ${depth.queueUrl}: ${error.message}`,
        };
      }
      if (depth.depth === undefined)
        return { ok: false, reason: `SQS has not answered yet (${depth.queueUrl})` };
      return OK;
    },
    consumer: () => OK,
    backlog: () => depth.depth?.visible,
  };
}

function queueName(url: string): string {
  return (
    new URL(url).pathname
      .split("/")
      .filter((part) => part !== "")
      .at(-1) ?? url
  );
}

async function createTransport(
  config: RelayConfig,
  gate: FaultGate,
  logger: Logger,
  hooks: RelayHooks,
): Promise<Transport> {
  if (config.source === "sqs") {
    const sqs = config.sqs;
    if (sqs === undefined) throw new Error("RELAY_SOURCE=sqs needs the SQS_* settings");
    if (!isPostgresUrl(config.ledger.url)) {
      logger.warn(
        { ledger: config.ledger.url, alert: true },
        "RELAY_SOURCE=sqs with an SQLite ledger: every consumer of an SQS queue may receive any of its messages, so several relays on one queue must share one ledger (PostgreSQL, or one SQLite file on one host); with separate ledgers a redelivered event is answered only through Dojo's idempotency key",
      );
    }
    const heap = heapShortfall(
      config.pipeline.maxInFlight + sqs.receiveConcurrency * 10,
      `MAX_IN_FLIGHT ${config.pipeline.maxInFlight} plus SQS_RECEIVE_CONCURRENCY ${sqs.receiveConcurrency} x 10 received at a time`,
      "lower MAX_IN_FLIGHT",
    );
    if (heap !== undefined) logger.warn(heap.fields, heap.message);
    // Loaded only when selected: a Kafka relay does not load the AWS SDK.
    const { createSqsClient, SqsRelay } = await import("../../consumers/sqs/index.ts");
    const { QueueDepth } = await import("../../consumers/sqs/depth.ts");
    const client = createSqsClient(sqs);
    const relay = new SqsRelay({
      client,
      inputQueueUrl: sqs.inputQueueUrl,
      queues: { succeeded: sqs.succeededQueueUrl, failed: sqs.failedQueueUrl, deadLetter: sqs.dlqUrl },
      outcomeMode: config.outcomeMode,
      maxPending: config.pipeline.maxInFlight,
      receiveConcurrency: sqs.receiveConcurrency,
      waitTimeSeconds: sqs.waitTimeSeconds,
      visibilityTimeoutS: sqs.visibilityTimeoutS,
      heartbeat: sqs.heartbeat,
      maxProcessingS: sqs.maxProcessingS,
      createQueues: sqs.createQueues,
      gate,
      logger,
    });
    // The relay's client: the poll is stopped before the relay stops, which destroys the client.
    const depth = new QueueDepth({ client, queueUrl: sqs.inputQueueUrl });
    const destination = queueName(sqs.inputQueueUrl);
    return {
      relay,
      input: { queueUrl: sqs.inputQueueUrl, region: sqs.region },
      destination,
      describe: (message) => {
        const origin = (message as { origin?: SqsOrigin }).origin;
        return {
          "messaging.system": "aws_sqs",
          "messaging.operation.type": "process",
          "messaging.operation.name": "process",
          "messaging.destination.name": destination,
          ...(origin === undefined ? {} : { "messaging.message.id": origin.messageId }),
          ...(origin?.messageGroupId === undefined
            ? {}
            : { "messaging.message.conversation_id": origin.messageGroupId }),
        };
      },
      ops: () => ({
        transport: sqsProbe(depth, relay),
        sqsDepth: () => {
          const known = depth.depth;
          return known === undefined ? undefined : { queue: destination, ...known };
        },
      }),
      startOps: () => depth.start(),
      stopOps: () => depth.stop(),
    };
  }
  const kafkaSettings = config.kafka;
  if (kafkaSettings === undefined) throw new Error("RELAY_SOURCE=kafka needs the KAFKA_* settings");
  const relay = new KafkaRelay({
    kafka: createKafka(
      kafkaSettings,
      logger,
      hooks.kafkaSocketFactory === undefined ? {} : { socketFactory: hooks.kafkaSocketFactory },
    ),
    groupId: kafkaSettings.groupId,
    inputTopic: kafkaSettings.inputTopic,
    topics: {
      succeeded: kafkaSettings.succeededTopic,
      failed: kafkaSettings.failedTopic,
      deadLetter: kafkaSettings.dlqTopic,
    },
    outcomeMode: config.outcomeMode,
    maxInFlightPerPartition: kafkaSettings.maxInFlightPerPartition,
    sessionTimeoutMs: kafkaSettings.sessionTimeoutMs,
    fetchMaxWaitMs: kafkaSettings.fetchMaxWaitMs,
    topicCheckIntervalMs: kafkaSettings.topicCheckIntervalMs,
    createTopics: kafkaSettings.createTopics,
    ...(hooks.onFatal === undefined ? {} : { onFatal: hooks.onFatal }),
    fromBeginning: kafkaSettings.fromBeginning,
    ...(kafkaSettings.transactional ? { transactionalId: kafkaSettings.transactionalId } : {}),
    gate,
    logger,
  });
  const { inputTopic: topic, groupId } = kafkaSettings;
  return {
    relay,
    input: { topic, groupId },
    destination: topic,
    describe: (message) => {
      const origin = message instanceof KafkaDelivery ? message.origin : undefined;
      return {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": groupId,
        ...(origin === undefined
          ? {}
          : {
              "messaging.destination.partition.id": String(origin.partition),
              "messaging.kafka.offset": Number(origin.offset),
              ...(origin.key === null ? {} : { "messaging.kafka.message.key": origin.key.toString("utf8") }),
            }),
      };
    },
    lag: () => {
      const lag = relay.lag();
      if (lag.size === 0) return undefined;
      let total = 0;
      for (const messages of lag.values()) total += messages;
      return { total, partitions: lag.size };
    },
    ops: () => ({
      // The group coordinator gives a member this long without a heartbeat before it drops it.
      transport: kafkaProbe(relay, kafkaSettings.brokers, kafkaSettings.sessionTimeoutMs),
      kafkaLag: () => ({ topic, lag: relay.lag() }),
      kafkaCrashes: () => relay.health.crashes,
    }),
  };
}

export async function startRelay<R extends TransportRelay = KafkaRelay>(
  config: RelayConfig,
  logger: Logger,
  hooks: RelayHooks = {},
): Promise<RunningRelay<R>> {
  // Served from the start: liveness while the relay connects, readiness saying it is starting.
  const ops =
    config.httpPort > 0
      ? await RelayOps.start({
          port: config.httpPort,
          host: config.httpHost,
          stallMs: config.readyStallMs,
          transport: config.source,
          logger,
          processMetrics: hooks.processMetrics ?? false,
        })
      : undefined;
  try {
    return await runRelay<R>(config, logger, hooks, ops);
  } catch (error) {
    await ops?.close();
    throw error;
  }
}

async function runRelay<R extends TransportRelay>(
  config: RelayConfig,
  logger: Logger,
  hooks: RelayHooks,
  ops: RelayOps | undefined,
): Promise<RunningRelay<R>> {
  const metrics = ops?.metrics;
  const opened = await openLedger(config.ledger.url, {
    synchronous: config.ledger.synchronous,
    postgres: config.ledger.postgres,
    logger,
  });
  const ledger =
    metrics === undefined
      ? opened
      : timeLedger(opened, (operation, seconds, ok) => metrics.ledgerOperation(operation, seconds, ok));
  const dojo = createDojoClient({
    baseUrl: config.dojo.baseUrl,
    apiVersion: config.dojo.apiVersion,
    accounts: config.dojo.accounts,
    connections: config.dojo.connections,
    timeouts: { connectMs: config.dojo.connectTimeoutMs, totalMs: config.dojo.timeoutMs },
    logger,
    ...(metrics === undefined ? {} : { observer: metrics }),
  });
  try {
    await checkDojoKeys(dojo, config.dojo.accounts, logger);
  } catch (error) {
    await Promise.allSettled([ledger.close(), dojo.close()]);
    throw error;
  }
  const gate = new FaultGate({ logger });
  let transport: Transport;
  try {
    transport = await createTransport(config, gate, logger, hooks);
  } catch (error) {
    await Promise.allSettled([ledger.close(), dojo.close()]);
    throw error;
  }
  const relay = transport.relay;
  const pipeline = new RefundPipeline(
    {
      eventSource: config.eventSource,
      idempotencyNamespace: config.idempotencyNamespace,
      maxMessageBytes: config.maxMessageBytes,
      ...config.pipeline,
    },
    { ledger, dojo, sink: relay.sink, logger, gate, ...(metrics === undefined ? {} : { observer: metrics }) },
  );
  // What the transports call: the pipeline, with each message's span, progress and outcome noted.
  const watch = new MessageWatch(pipeline, {
    destination: transport.destination,
    describe: transport.describe,
    metrics,
  });
  // A ledger that stays away this long is not coming back by itself: stop, so the orchestrator
  // restarts the process (which then opens the ledger afresh, or fails to start and says why).
  const watchdog =
    config.ledger.outageExitMs > 0
      ? setInterval(
          () => {
            const down = gate.active.find((f) => f.kind === "ledger");
            if (down !== undefined && Date.now() - down.since.getTime() >= config.ledger.outageExitMs) {
              clearInterval(watchdog);
              hooks.onFatal?.(
                new Error(
                  `the ledger has been unavailable since ${down.since.toISOString()}: ${down.message}`,
                ),
              );
            }
          },
          Math.min(1_000, config.ledger.outageExitMs),
        ).unref()
      : undefined;
  try {
    await relay.start(watch);
  } catch (error) {
    clearInterval(watchdog);
    await Promise.allSettled([ledger.close(), dojo.close()]);
    throw error;
  }
  if (ops !== undefined) {
    transport.startOps?.();
    ops.attach({ faults: () => gate.active, watch, ...transport.ops() });
  }
  const progress = new ProgressLog(
    logger,
    {
      settled: () => watch.settled,
      inFlight: () => watch.inFlight,
      parked: () => watch.parked,
      ...(transport.lag === undefined ? {} : { lag: transport.lag }),
    },
    { intervalMs: config.logProgressIntervalMs },
  );
  progress.start();
  logger.info(
    {
      source: config.source,
      ...transport.input,
      dojo: config.dojo.baseUrl,
      ledger: config.ledger.url,
    },
    "refund-relay started",
  );
  let stopping: Promise<{ abandoned: number }> | undefined;
  return {
    relay: relay as R,
    pipeline,
    ops,
    stop: () => {
      stopping ??= (async () => {
        clearInterval(watchdog);
        progress.stop();
        ops?.stopping();
        await transport.stopOps?.();
        const result = await relay.stop(config.shutdownTimeoutMs);
        // Other instances sharing the ledger need not wait for these leases to expire.
        await pipeline.releaseLeases().catch(() => undefined);
        await dojo.close();
        await ledger.close();
        // Last: health and metrics stay readable while the relay drains.
        await ops?.close();
        logger.info(result, "refund-relay stopped");
        return result;
      })();
      return stopping;
    },
  };
}
