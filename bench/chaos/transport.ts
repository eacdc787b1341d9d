// Where a chaos scenario's messages travel: Kafka topics or ElasticMQ queues of the scenario's own.
// The shop's side sends the planned messages; the accounting side reads every outcome and dead letter
// back and decodes it into what the checker needs. Nothing here reads the relay's own state.
import { randomBytes } from "node:crypto";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { type Consumer, Kafka, logLevel } from "kafkajs";
import type { OutgoingMessage } from "../../src/demo/messages.ts";
import { createTopicsAndWait } from "../../test/support/kafka-topics.ts";

/** One message the relay published, decoded. */
export interface Answer {
  readonly destination: "succeeded" | "failed" | "dead-letter";
  /** The source event (for unparseable messages: the marker in their body). */
  readonly eventId: string | undefined;
  /** The outcome event's id; dead letters have none. */
  readonly outcomeId: string | undefined;
  /** refund.failed's code, or the dead letter's reason. */
  readonly code: string | undefined;
  readonly refundId: string | undefined;
  /** When the relay published it (ms since the epoch), as the broker recorded it. */
  readonly publishedAt: number;
}

export interface ChaosTransport {
  readonly name: "kafka" | "sqs";
  /** The relay's transport settings. */
  readonly relayEnv: Readonly<Record<string, string>>;
  /** Sends the messages, retrying while the broker is away (a retried send may duplicate: allowed). */
  send(messages: readonly OutgoingMessage[]): Promise<void>;
  /** Every answer read so far (the same record read twice counts once per read). */
  readonly answers: readonly Answer[];
  /** Reads what is left to read; after it, `answers` holds everything the relays published. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const UNPARSEABLE_MARKER = /\[(unparseable-[0-9a-f-]+)\]/;

function decodeOutcome(destination: "succeeded" | "failed", body: string, publishedAt: number): Answer {
  const outcome = JSON.parse(body) as {
    id?: string;
    data?: { sourceEvent?: { id?: string }; code?: string; refundId?: string };
  };
  return {
    destination,
    eventId: outcome.data?.sourceEvent?.id,
    outcomeId: outcome.id,
    code: outcome.data?.code,
    refundId: outcome.data?.refundId,
    publishedAt,
  };
}

function deadLetter(eventId: string | undefined, code: string | undefined, publishedAt: number): Answer {
  return {
    destination: "dead-letter",
    eventId,
    outcomeId: undefined,
    code,
    refundId: undefined,
    publishedAt,
  };
}

/** Kafka: topics named for the run on `brokers`; the input has `partitions` partitions. */
export async function openKafka(brokers: string, partitions: number): Promise<ChaosTransport> {
  const id = randomBytes(4).toString("hex");
  const topics = {
    input: `chaos-in-${id}`,
    succeeded: `chaos-ok-${id}`,
    failed: `chaos-failed-${id}`,
    dlq: `chaos-dlq-${id}`,
  };
  const kafka = new Kafka({
    clientId: `chaos-${id}`,
    brokers: brokers.split(","),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopicsAndWait(admin, [
      { topic: topics.input, numPartitions: partitions },
      { topic: topics.succeeded, numPartitions: 4 },
      { topic: topics.failed, numPartitions: 4 },
      { topic: topics.dlq, numPartitions: 1 },
    ]);
  } finally {
    await admin.disconnect();
  }
  const destinationOf = new Map<string, "succeeded" | "failed" | "dead-letter">([
    [topics.succeeded, "succeeded"],
    [topics.failed, "failed"],
    [topics.dlq, "dead-letter"],
  ]);
  const producer = kafka.producer({ retry: { retries: 3 } });
  await producer.connect();

  // Answers come from a reader group of our own; the live reader shows progress, and drain() reads
  // every topic again from the start with a fresh group, so a reader lost in a broker outage cannot
  // hide an answer.
  let answers: Answer[] = [];
  const decode = (
    topic: string,
    value: Buffer | null,
    headers: Record<string, unknown>,
    publishedAt: number,
  ): Answer => {
    const destination = destinationOf.get(topic) ?? "dead-letter";
    const body = value?.toString("utf8") ?? "";
    if (destination !== "dead-letter") return decodeOutcome(destination, body, publishedAt);
    const header = (name: string) => {
      const v = headers[name];
      return v === undefined ? undefined : String(v);
    };
    return deadLetter(
      header("rr-event-id") ?? UNPARSEABLE_MARKER.exec(body)?.[1],
      header("rr-error-code"),
      publishedAt,
    );
  };
  const reader = async (into: Answer[], group: string): Promise<Consumer> => {
    const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics: [...destinationOf.keys()], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        into.push(decode(topic, message.value, message.headers ?? {}, Number(message.timestamp)));
      },
    });
    return consumer;
  };
  const live = await reader(answers, `chaos-reader-${id}`);

  return {
    name: "kafka",
    relayEnv: {
      RELAY_SOURCE: "kafka",
      KAFKA_BROKERS: brokers,
      KAFKA_GROUP_ID: `chaos-relay-${id}`,
      KAFKA_INPUT_TOPIC: topics.input,
      KAFKA_SUCCEEDED_TOPIC: topics.succeeded,
      KAFKA_FAILED_TOPIC: topics.failed,
      KAFKA_DLQ_TOPIC: topics.dlq,
    },
    get answers() {
      return answers;
    },
    async send(messages) {
      const records = messages.map((m) => ({
        key: m.key ?? null,
        value: m.body,
        headers: { "content-type": "application/cloudevents+json" },
      }));
      const deadline = Date.now() + 120_000;
      for (;;) {
        try {
          await producer.send({ topic: topics.input, messages: records });
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await sleep(500);
        }
      }
    },
    async drain() {
      await live.disconnect().catch(() => {});
      const ends = new Map<string, number>();
      const admin = kafka.admin();
      await admin.connect();
      try {
        for (const topic of destinationOf.keys()) {
          const offsets = await admin.fetchTopicOffsets(topic);
          ends.set(
            topic,
            offsets.reduce((sum, p) => sum + Number(p.high), 0),
          );
        }
      } finally {
        await admin.disconnect();
      }
      const total = [...ends.values()].reduce((a, b) => a + b, 0);
      const all: Answer[] = [];
      const consumer = await reader(all, `chaos-final-${id}-${randomBytes(2).toString("hex")}`);
      const deadline = Date.now() + 120_000;
      while (all.length < total && Date.now() < deadline) await sleep(100);
      await consumer.disconnect();
      if (all.length < total) throw new Error(`read ${all.length} of ${total} answers back from Kafka`);
      answers = all;
    },
    async close() {
      await Promise.allSettled([live.disconnect(), producer.disconnect()]);
      const admin = kafka.admin();
      try {
        await admin.connect();
        await admin.deleteTopics({ topics: Object.values(topics) });
      } catch {
        // Left for the broker's next fresh start.
      } finally {
        await admin.disconnect().catch(() => {});
      }
    },
  };
}

/** SQS on `endpoint` (ElasticMQ): a standard input queue, outcome queues and a dead-letter queue. */
export async function openSqs(endpoint: string, visibilityTimeoutS: number): Promise<ChaosTransport> {
  const id = randomBytes(4).toString("hex");
  const region = "us-east-1";
  const credentials = { accessKeyId: "chaos", secretAccessKey: "chaos-aws-secret-do-not-log" };
  const client = new SQSClient({ endpoint, region, credentials });
  const queue = async (name: string) =>
    (
      await client.send(
        new CreateQueueCommand({
          QueueName: `chaos-${name}-${id}`,
          Attributes: { VisibilityTimeout: String(visibilityTimeoutS) },
        }),
      )
    ).QueueUrl as string;
  const urls = {
    input: await queue("in"),
    succeeded: await queue("ok"),
    failed: await queue("failed"),
    dlq: await queue("dlq"),
  };
  const answers: Answer[] = [];
  const stop = new AbortController();
  let lastRead = Date.now();
  const decode = (destination: Answer["destination"], body: string, publishedAt: number): Answer => {
    if (destination !== "dead-letter") return decodeOutcome(destination, body, publishedAt);
    try {
      const envelope = JSON.parse(body) as { deadLetter?: { code?: string; eventId?: string } };
      return deadLetter(
        envelope.deadLetter?.eventId ?? UNPARSEABLE_MARKER.exec(body)?.[1],
        envelope.deadLetter?.code,
        publishedAt,
      );
    } catch {
      return deadLetter(UNPARSEABLE_MARKER.exec(body)?.[1], undefined, publishedAt);
    }
  };
  const poll = async (url: string, destination: Answer["destination"]) => {
    while (!stop.signal.aborted) {
      let messages: Message[] = [];
      try {
        const out = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ["SentTimestamp"],
          }),
          { abortSignal: stop.signal },
        );
        messages = out.Messages ?? [];
        if (messages.length === 0) continue;
        lastRead = Date.now();
        for (const m of messages)
          answers.push(decode(destination, m.Body ?? "", Number(m.Attributes?.SentTimestamp ?? Date.now())));
        await client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
          }),
        );
      } catch {
        if (stop.signal.aborted) return;
        await sleep(200);
      }
    }
  };
  const loops = [
    poll(urls.succeeded, "succeeded"),
    poll(urls.succeeded, "succeeded"),
    poll(urls.failed, "failed"),
    poll(urls.dlq, "dead-letter"),
  ];
  return {
    name: "sqs",
    relayEnv: {
      RELAY_SOURCE: "sqs",
      SQS_ENDPOINT: endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      SQS_INPUT_QUEUE_URL: urls.input,
      SQS_SUCCEEDED_QUEUE_URL: urls.succeeded,
      SQS_FAILED_QUEUE_URL: urls.failed,
      SQS_DLQ_URL: urls.dlq,
      SQS_VISIBILITY_TIMEOUT_S: String(visibilityTimeoutS),
    },
    answers,
    async send(messages) {
      for (let i = 0; i < messages.length; i += 10) {
        const batch = messages.slice(i, i + 10);
        const out = await client.send(
          new SendMessageBatchCommand({
            QueueUrl: urls.input,
            Entries: batch.map((m, j) => ({
              Id: String(j),
              MessageBody: m.body,
              MessageAttributes: {
                "content-type": { DataType: "String", StringValue: "application/cloudevents+json" },
              },
            })),
          }),
        );
        if ((out.Failed ?? []).length > 0)
          throw new Error(`SQS refused ${out.Failed?.length} message(s): ${out.Failed?.[0]?.Message}`);
      }
    },
    async drain() {
      // The readers delete what they read: the queues are drained once nothing came for 3 s.
      const deadline = Date.now() + 60_000;
      while (Date.now() - lastRead < 3_000 && Date.now() < deadline) await sleep(200);
    },
    async close() {
      stop.abort();
      await Promise.allSettled(loops);
      for (const url of Object.values(urls))
        await client.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => {});
      client.destroy();
    },
  };
}
