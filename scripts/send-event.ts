// Sends return.approved events to Kafka for trying the relay out by hand:
//   node scripts/send-event.ts <file.json|-> [topic]
// The file holds one structured-mode CloudEvent, or one per line. KAFKA_BROKERS names the brokers
// (default 127.0.0.1:9092); the topic defaults to KAFKA_INPUT_TOPIC or return.approved. Each event is
// keyed by its payment intent id, as platforms are asked to do.
import { readFileSync } from "node:fs";
import { Kafka, logLevel } from "kafkajs";

const [file, topicArg] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write("usage: node scripts/send-event.ts <file.json|-> [topic]\n");
  process.exit(2);
}
const text = readFileSync(file === "-" ? 0 : file, "utf8").trim();
const documents =
  text.startsWith("{") && !text.includes("\n{") ? [text] : text.split("\n").filter((l) => l.trim());
const topic = topicArg ?? process.env.KAFKA_INPUT_TOPIC ?? "return.approved";
const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
const kafka = new Kafka({ clientId: "send-event", brokers, logLevel: logLevel.NOTHING });
const producer = kafka.producer();
await producer.connect();
await producer.send({
  topic,
  messages: documents.map((value) => {
    const key = (JSON.parse(value) as { data?: { paymentIntentId?: string } }).data?.paymentIntentId ?? null;
    return { key, value, headers: { "content-type": "application/cloudevents+json" } };
  }),
});
await producer.disconnect();
process.stdout.write(`sent ${documents.length} event(s) to ${topic}\n`);
