// Baseline consumer for the Kafka benchmark, written the way the kafkajs documentation shows:
// eachMessage with partitionsConsumedConcurrently equal to the partition count, one message at a time
// per partition, auto-commit. It calls the same Dojo client as the relay and publishes one small
// outcome per event. No ledger, no preflight: it is a floor for comparison, not a safe relay.
import { Kafka, logLevel } from "kafkajs";
import { createDojoClient, loadDojoAccounts } from "../../src/dojo/index.ts";
import "../../test/support/quiet-warnings.ts";

const env = process.env;
const partitions = Number(env.BENCH_PARTITIONS ?? "12");
const kafka = new Kafka({
  clientId: "bench-baseline",
  brokers: (env.KAFKA_BROKERS ?? "").split(","),
  logLevel: logLevel.NOTHING,
});
const consumer = kafka.consumer({ groupId: env.KAFKA_GROUP_ID ?? "bench-baseline" });
const producer = kafka.producer();
const dojo = createDojoClient({
  baseUrl: env.DOJO_BASE_URL ?? "",
  accounts: loadDojoAccounts({ apiKey: env.DOJO_API_KEY }),
});

await producer.connect();
await consumer.connect();
await consumer.subscribe({ topic: env.KAFKA_INPUT_TOPIC ?? "", fromBeginning: true });
await consumer.run({
  partitionsConsumedConcurrently: partitions,
  eachMessage: async ({ message }) => {
    const event = JSON.parse(message.value?.toString() ?? "{}");
    const result = await dojo.createRefund({
      paymentIntentId: event.data.paymentIntentId,
      amount: event.data.amount.value,
      refundReason: event.data.reason,
      idempotencyKey: event.id,
    });
    await producer.send({
      topic: result.ok ? (env.KAFKA_SUCCEEDED_TOPIC ?? "") : (env.KAFKA_FAILED_TOPIC ?? ""),
      messages: [
        {
          key: event.data.paymentIntentId,
          value: JSON.stringify({ data: { sourceEvent: { id: event.id }, ok: result.ok } }),
        },
      ],
    });
  },
});

const shutdown = async () => {
  await consumer.disconnect();
  await producer.disconnect();
  await dojo.close();
  process.exit(0);
};
process.once("SIGTERM", () => void shutdown());
process.once("SIGINT", () => void shutdown());
