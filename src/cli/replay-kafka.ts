// `refund-relay replay` over Kafka: reads the dead-letter topic (KAFKA_DLQ_TOPIC) in a consumer group
// of its own, from that group's committed offsets up to the end the topic had when the run began, and
// sends each original record (value, key and headers, without the rr-* dead-letter headers) to the input
// topic (KAFKA_INPUT_TOPIC). The group's offset of a partition is committed after a record's send was
// acknowledged, and never past a record that was not replayed: whatever stays is read again next run.
import {
  type Admin,
  type Consumer,
  type IHeaders,
  type KafkaMessage,
  Partitioners,
  type Producer,
} from "kafkajs";
import { createKafka } from "../../consumers/kafka/client.ts";
import { headersToRecord } from "../../consumers/kafka/headers.ts";
import { DEAD_LETTER_HEADERS } from "../../consumers/kafka/sink.ts";
import type { RelayConfig } from "../config.ts";
import type { Logger } from "../logger.ts";
import { EXIT_FAILURE } from "./main.ts";
import { Stop } from "./reconcile-args.ts";
import type { DeadLetter, DeadLetterReader, Handler } from "./replay-decide.ts";

/** The run ends when no batch arrived for this long after joining the group (an end never reached). */
const IDLE_MS = 10_000;

const RELAY_HEADERS: ReadonlySet<string> = new Set(Object.values(DEAD_LETTER_HEADERS));

/** The original record's headers: what the dead letter carries, less what the relay added. */
export function originalHeaders(headers: IHeaders | undefined): IHeaders {
  const out: IHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!RELAY_HEADERS.has(name.toLowerCase()) && value !== undefined) out[name] = value;
  }
  return out;
}

function text(headers: IHeaders | undefined, name: string): string | undefined {
  return headersToRecord(headers)[name];
}

export function kafkaDeadLetter(partition: number, message: KafkaMessage): DeadLetter {
  return {
    at: `partition ${partition} offset ${message.offset}`,
    code: text(message.headers, DEAD_LETTER_HEADERS.code),
    eventId: text(message.headers, DEAD_LETTER_HEADERS.eventId),
    original: {
      body: message.value,
      headers: headersToRecord(originalHeaders(message.headers)),
      transport: "kafka",
    },
  };
}

export interface KafkaReaderOptions {
  readonly group: string;
  /** Without it nothing is sent and nothing committed. */
  readonly apply: boolean;
  readonly logger: Logger;
}

export async function openKafkaReader(config: RelayConfig, o: KafkaReaderOptions): Promise<DeadLetterReader> {
  const settings = config.kafka;
  if (settings === undefined) throw new Error("RELAY_SOURCE=kafka without Kafka settings");
  const { dlqTopic, inputTopic } = settings;
  const kafka = createKafka({ ...settings, clientId: `${settings.clientId}-replay` }, o.logger);
  const admin = kafka.admin();
  let ends: Map<number, number>;
  let starts: Map<number, number>;
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    for (const topic of [dlqTopic, inputTopic]) {
      if (!topics.includes(topic)) throw new Stop(EXIT_FAILURE, `Kafka topic ${topic} does not exist`);
    }
    ({ starts, ends } = await positions(admin, dlqTopic, o.group));
  } catch (error) {
    await admin.disconnect().catch(() => undefined);
    if (error instanceof Stop) throw error;
    throw new Stop(
      EXIT_FAILURE,
      `cannot read the dead-letter topic ${dlqTopic} on Kafka (${settings.brokers.join(",")}): ${(error as Error).message}`,
    );
  }
  await admin.disconnect().catch(() => undefined);
  let producer: Producer | undefined;
  if (o.apply) {
    // Never the relay's transactional id: that would fence the running relay's producer.
    producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    try {
      await producer.connect();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw new Stop(EXIT_FAILURE, `cannot connect to Kafka: ${(error as Error).message}`);
    }
  }
  const consumer = kafka.consumer({
    groupId: o.group,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 250,
    sessionTimeout: settings.sessionTimeoutMs,
    heartbeatInterval: Math.min(3_000, Math.floor(settings.sessionTimeoutMs / 3)),
  });
  const send = async (message: KafkaMessage) => {
    if (producer === undefined) throw new Error("nothing is sent in a dry run");
    await producer.send({
      topic: inputTopic,
      acks: -1,
      messages: [{ key: message.key, value: message.value, headers: originalHeaders(message.headers) }],
    });
  };
  return {
    run: (handle, stopped) =>
      readAll(consumer, dlqTopic, { starts, ends, apply: o.apply }, handle, stopped, send),
    async close() {
      await Promise.allSettled([consumer.disconnect(), producer?.disconnect()]);
    },
  };
}

/** Where the group stands on each partition, and where the topic ends now. */
async function positions(admin: Admin, topic: string, group: string) {
  const watermarks = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const byPartition = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  const starts = new Map<number, number>();
  const ends = new Map<number, number>();
  for (const w of watermarks) {
    const low = Number(w.low);
    const at = byPartition.get(w.partition) ?? -1;
    starts.set(w.partition, at < 0 ? low : Math.max(at, low));
    ends.set(w.partition, Number(w.high));
  }
  return { starts, ends };
}

async function readAll(
  consumer: Consumer,
  topic: string,
  range: { starts: Map<number, number>; ends: Map<number, number>; apply: boolean },
  handle: Handler,
  stopped: () => boolean,
  send: (message: KafkaMessage) => Promise<void>,
): Promise<void> {
  const open = new Set(
    [...range.ends].filter(([p, end]) => (range.starts.get(p) ?? 0) < end).map(([p]) => p),
  );
  if (open.size === 0) return;
  /** Partitions where every dead letter so far was replayed: their offset may move on. */
  const committable = new Set(open);
  let failure: unknown;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let idle: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(finish, IDLE_MS);
  };
  const reached = (partition: number, next: number) => {
    if (next >= (range.ends.get(partition) ?? 0)) open.delete(partition);
    if (open.size === 0) finish();
  };
  // A batch of control records only (transaction markers) never reaches eachBatch; this still moves on.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    touch();
    if (payload.topic === topic) reached(payload.partition, Number(payload.lastOffset) + 1);
  });
  consumer.on(consumer.events.GROUP_JOIN, touch);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
      const partition = batch.partition;
      for (const message of batch.messages) {
        if (failure !== undefined || !isRunning() || isStale() || !open.has(partition)) return;
        const offset = Number(message.offset);
        if (offset >= (range.ends.get(partition) ?? 0)) return reached(partition, offset);
        if (stopped()) return finish();
        touch();
        try {
          const verdict = await handle(kafkaDeadLetter(partition, message), () => send(message));
          if (verdict === "kept") committable.delete(partition);
          else if (range.apply && committable.has(partition)) {
            await consumer.commitOffsets([{ topic, partition, offset: String(offset + 1) }]);
          }
        } catch (error) {
          failure = error;
          return finish();
        }
        reached(partition, offset + 1);
        await heartbeat();
      }
    },
  });
  touch();
  await finished;
  clearTimeout(idle);
  await consumer.stop().catch(() => undefined);
  if (failure !== undefined) throw failure;
}
