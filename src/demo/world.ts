// Where the demo's messages travel: an in-process SQS emulator (the default, nothing to install or
// start) or a Kafka cluster the user already runs. Either way the demo sends the shop's messages, reads
// every outcome and dead letter back, and gives the relay the environment that points it there.
import type { OutgoingMessage } from "./messages.ts";

/** One message the relay published, as the demo read it back. */
export interface Answer {
  readonly destination: "succeeded" | "failed" | "dead-letter";
  readonly body: string;
}

export interface DemoWorld {
  /** How the summary names it, e.g. "SQS (in-process emulator)". */
  readonly description: string;
  /** The relay's transport settings. */
  readonly relayEnv: Readonly<Record<string, string>>;
  send(messages: readonly OutgoingMessage[]): Promise<void>;
  /** Starts reading the outcome and dead-letter destinations; each answer is handed to `onAnswer`. */
  collect(onAnswer: (answer: Answer) => void): Promise<void>;
  close(): Promise<void>;
}

export async function openSqsWorld(runId: string): Promise<DemoWorld> {
  const [{ startFauxqs }, sqs] = await Promise.all([import("fauxqs"), import("@aws-sdk/client-sqs")]);
  const server = await startFauxqs({ port: 0, logger: false });
  const region = "us-east-1";
  const client = new sqs.SQSClient({
    endpoint: server.address,
    region,
    credentials: { accessKeyId: "demo", secretAccessKey: "demo" },
  });
  const queue = async (name: string) =>
    (await client.send(new sqs.CreateQueueCommand({ QueueName: `refund-relay-demo-${name}-${runId}` })))
      .QueueUrl as string;
  const urls = {
    input: await queue("returns"),
    succeeded: await queue("succeeded"),
    failed: await queue("failed"),
    deadLetter: await queue("dlq"),
  };
  const stop = new AbortController();
  const loops: Promise<void>[] = [];
  const poll = async (url: string, destination: Answer["destination"], onAnswer: (a: Answer) => void) => {
    while (!stop.signal.aborted) {
      let messages: import("@aws-sdk/client-sqs").Message[] = [];
      try {
        const out = await client.send(
          new sqs.ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
          { abortSignal: stop.signal },
        );
        messages = out.Messages ?? [];
      } catch (error) {
        if (stop.signal.aborted) return;
        throw error;
      }
      if (messages.length === 0) continue;
      for (const m of messages) onAnswer({ destination, body: m.Body ?? "" });
      await client.send(
        new sqs.DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
        }),
      );
    }
  };
  return {
    description: "SQS (in-process emulator)",
    relayEnv: {
      RELAY_SOURCE: "sqs",
      SQS_ENDPOINT: server.address,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: "demo",
      AWS_SECRET_ACCESS_KEY: "demo",
      SQS_INPUT_QUEUE_URL: urls.input,
      SQS_SUCCEEDED_QUEUE_URL: urls.succeeded,
      SQS_FAILED_QUEUE_URL: urls.failed,
      SQS_DLQ_URL: urls.deadLetter,
    },
    async send(messages) {
      for (let i = 0; i < messages.length; i += 10) {
        const batch = messages.slice(i, i + 10);
        const out = await client.send(
          new sqs.SendMessageBatchCommand({
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
        if ((out.Failed ?? []).length > 0) {
          throw new Error(
            `the emulator refused ${out.Failed?.length} message(s): ${out.Failed?.[0]?.Message}`,
          );
        }
      }
    },
    async collect(onAnswer) {
      loops.push(
        poll(urls.succeeded, "succeeded", onAnswer),
        poll(urls.failed, "failed", onAnswer),
        poll(urls.deadLetter, "dead-letter", onAnswer),
      );
    },
    async close() {
      stop.abort();
      await Promise.allSettled(loops);
      client.destroy();
      await server.stop();
    },
  };
}

/** Kafka: the brokers in KAFKA_BROKERS (local servers or Docker); topics of this run's own. */
export async function openKafkaWorld(runId: string, brokers: string): Promise<DemoWorld> {
  const { Kafka, logLevel } = await import("kafkajs");
  const kafka = new Kafka({
    clientId: "refund-relay-demo",
    brokers: brokers.split(","),
    logLevel: logLevel.NOTHING,
  });
  const topics = {
    input: `refund-relay-demo.returns.${runId}`,
    succeeded: `refund-relay-demo.succeeded.${runId}`,
    failed: `refund-relay-demo.failed.${runId}`,
    deadLetter: `refund-relay-demo.dlq.${runId}`,
  };
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 4, replicationFactor: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer();
  await producer.connect();
  const consumer = kafka.consumer({ groupId: `refund-relay-demo-reader-${runId}` });
  const destinationOf: Record<string, Answer["destination"]> = {
    [topics.succeeded]: "succeeded",
    [topics.failed]: "failed",
    [topics.deadLetter]: "dead-letter",
  };
  return {
    description: `Kafka (${brokers})`,
    relayEnv: {
      RELAY_SOURCE: "kafka",
      KAFKA_BROKERS: brokers,
      KAFKA_GROUP_ID: `refund-relay-demo-${runId}`,
      KAFKA_INPUT_TOPIC: topics.input,
      KAFKA_SUCCEEDED_TOPIC: topics.succeeded,
      KAFKA_FAILED_TOPIC: topics.failed,
      KAFKA_DLQ_TOPIC: topics.deadLetter,
    },
    async send(messages) {
      await producer.send({
        topic: topics.input,
        messages: messages.map((m) => ({
          key: m.key ?? null,
          value: m.body,
          headers: { "content-type": "application/cloudevents+json" },
        })),
      });
    },
    async collect(onAnswer) {
      await consumer.connect();
      await consumer.subscribe({ topics: Object.keys(destinationOf), fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic, message }) => {
          onAnswer({
            destination: destinationOf[topic] ?? "dead-letter",
            body: message.value?.toString("utf8") ?? "",
          });
        },
      });
    },
    async close() {
      await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
    },
  };
}
