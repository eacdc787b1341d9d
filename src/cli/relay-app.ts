// Wires a running relay from a validated configuration: ledger, Dojo client, pipeline and the transport
// RELAY_SOURCE selects (Kafka or SQS). With config.ts (which composes the transports' settings), the
// only place under src/ that knows about consumers/.
import { createKafka, KafkaRelay } from "../../consumers/kafka/index.ts";
import type { SqsRelay } from "../../consumers/sqs/index.ts";
import type { RelayConfig } from "../config.ts";
import { createDojoClient } from "../dojo/index.ts";
import { isPostgresUrl, openLedger } from "../ledger/index.ts";
import type { Logger } from "../logger.ts";
import { FaultGate, RefundPipeline } from "../pipeline/index.ts";
import { checkDojoKeys } from "./key-check.ts";

export type TransportRelay = KafkaRelay | SqsRelay;

/**
 * `R` names the transport the configuration selects, for callers that read its stats (Kafka unless
 * told otherwise); it is not checked against `config.source`.
 */
export interface RunningRelay<R extends TransportRelay = KafkaRelay> {
  readonly relay: R;
  readonly pipeline: RefundPipeline;
  /** Drains within the configured deadline and closes everything; resolves when done. */
  stop(): Promise<{ abandoned: number }>;
}

export interface RelayHooks {
  /** The relay cannot go on (for example its transactional producer was fenced): stop it. */
  readonly onFatal?: (error: unknown) => void;
}

/** The selected transport, and the fields naming its input in the start-up log line. */
async function createTransport(
  config: RelayConfig,
  gate: FaultGate,
  logger: Logger,
  hooks: RelayHooks,
): Promise<{ readonly relay: TransportRelay; readonly input: Record<string, string> }> {
  if (config.source === "sqs") {
    const sqs = config.sqs;
    if (sqs === undefined) throw new Error("RELAY_SOURCE=sqs needs the SQS_* settings");
    if (!isPostgresUrl(config.ledger.url)) {
      logger.warn(
        { ledger: config.ledger.url, alert: true },
        "RELAY_SOURCE=sqs with an SQLite ledger: every consumer of an SQS queue may receive any of its messages, so several relays on one queue must share one ledger (PostgreSQL, or one SQLite file on one host); with separate ledgers a redelivered event is answered only through Dojo's idempotency key",
      );
    }
    // Loaded only when selected: a Kafka relay does not load the AWS SDK.
    const { createSqsClient, SqsRelay } = await import("../../consumers/sqs/index.ts");
    const relay = new SqsRelay({
      client: createSqsClient(sqs),
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
    return { relay, input: { queueUrl: sqs.inputQueueUrl, region: sqs.region } };
  }
  const kafkaSettings = config.kafka;
  if (kafkaSettings === undefined) throw new Error("RELAY_SOURCE=kafka needs the KAFKA_* settings");
  const relay = new KafkaRelay({
    kafka: createKafka(kafkaSettings, logger),
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
  return { relay, input: { topic: kafkaSettings.inputTopic, groupId: kafkaSettings.groupId } };
}

export async function startRelay<R extends TransportRelay = KafkaRelay>(
  config: RelayConfig,
  logger: Logger,
  hooks: RelayHooks = {},
): Promise<RunningRelay<R>> {
  const ledger = await openLedger(config.ledger.url, {
    synchronous: config.ledger.synchronous,
    postgres: config.ledger.postgres,
    logger,
  });
  const dojo = createDojoClient({
    baseUrl: config.dojo.baseUrl,
    apiVersion: config.dojo.apiVersion,
    accounts: config.dojo.accounts,
    connections: config.dojo.connections,
    timeouts: { connectMs: config.dojo.connectTimeoutMs, totalMs: config.dojo.timeoutMs },
    logger,
  });
  try {
    await checkDojoKeys(dojo, config.dojo.accounts, logger);
  } catch (error) {
    await Promise.allSettled([ledger.close(), dojo.close()]);
    throw error;
  }
  const gate = new FaultGate({ logger });
  let transport: Awaited<ReturnType<typeof createTransport>>;
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
    { ledger, dojo, sink: relay.sink, logger, gate },
  );
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
    await relay.start(pipeline);
  } catch (error) {
    clearInterval(watchdog);
    await Promise.allSettled([ledger.close(), dojo.close()]);
    throw error;
  }
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
    stop: () => {
      stopping ??= (async () => {
        clearInterval(watchdog);
        const result = await relay.stop(config.shutdownTimeoutMs);
        // Other instances sharing the ledger need not wait for these leases to expire.
        await pipeline.releaseLeases().catch(() => undefined);
        await dojo.close();
        await ledger.close();
        logger.info(result, "refund-relay stopped");
        return result;
      })();
      return stopping;
    },
  };
}
