// Baseline consumer for the SQS benchmark, written the way the sqs-consumer documentation shows:
// Consumer.create with handleMessage and batchSize 10 (one long poll at a time; the ten messages of a
// receive are handled at once, and the next receive waits for all of them), a visibility heartbeat,
// each message deleted after its handler returned. The handler calls the same Dojo client as the relay
// and sends one small outcome per event. No ledger, no preflight: a floor for comparison, not a safe
// relay.
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Consumer } from "sqs-consumer";
import { createDojoClient, loadDojoAccounts } from "../../src/dojo/index.ts";

const env = process.env;
const sqs = new SQSClient({ region: env.AWS_REGION ?? "us-east-1", endpoint: env.SQS_ENDPOINT ?? "" });
const dojo = createDojoClient({
  baseUrl: env.DOJO_BASE_URL ?? "",
  accounts: loadDojoAccounts({ apiKey: env.DOJO_API_KEY }),
});

const consumer = Consumer.create({
  queueUrl: env.SQS_INPUT_QUEUE_URL ?? "",
  batchSize: 10,
  visibilityTimeout: 30,
  heartbeatInterval: 10,
  sqs,
  handleMessage: async (message) => {
    const event = JSON.parse(message.Body ?? "{}");
    const result = await dojo.createRefund({
      paymentIntentId: event.data.paymentIntentId,
      amount: event.data.amount.value,
      refundReason: event.data.reason,
      idempotencyKey: event.id,
    });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: result.ok ? (env.SQS_SUCCEEDED_QUEUE_URL ?? "") : (env.SQS_FAILED_QUEUE_URL ?? ""),
        MessageBody: JSON.stringify({ data: { sourceEvent: { id: event.id }, ok: result.ok } }),
      }),
    );
    return message;
  },
});
let stopping = false;
const report = (error: Error) => {
  // Stopping aborts the long poll on its way: not worth a line.
  if (!stopping) console.error(`baseline: ${error.message}`);
};
consumer.on("error", report);
consumer.on("processing_error", report);
consumer.start();
// The benchmark starts timing on this line.
process.stdout.write("ready\n");

const shutdown = async () => {
  stopping = true;
  consumer.stop({ abort: true });
  await dojo.close();
  process.exit(0);
};
process.once("SIGTERM", () => void shutdown());
process.once("SIGINT", () => void shutdown());
