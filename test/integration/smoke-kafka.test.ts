import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createTopicsAndWait } from "../support/kafka-topics.ts";

const { kafkaBrokers } = inject("servers");
const kafka = new Kafka({ clientId: "smoke", brokers: [...kafkaBrokers], logLevel: logLevel.NOTHING });
const admin = kafka.admin();

afterAll(async () => {
  await admin.disconnect();
});

describe("Kafka smoke test (real broker)", () => {
  it("round-trips a message through a consumer group and commits its offset", async () => {
    const topic = `smoke-${randomUUID()}`;
    const groupId = `smoke-${randomUUID()}`;
    await admin.connect();
    await createTopicsAndWait(admin, [{ topic, numPartitions: 1 }]);

    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic,
      messages: [{ key: "pi_1", value: "hello", headers: { ce_id: "evt-1" } }],
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<{ key: string; value: string; header: string; offset: string }>(
      (resolve, reject) => {
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ message, partition }) => {
              await consumer.commitOffsets([
                { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
              ]);
              resolve({
                key: message.key?.toString() ?? "",
                value: message.value?.toString() ?? "",
                header: message.headers?.ce_id?.toString() ?? "",
                offset: message.offset,
              });
            },
          })
          .catch(reject);
      },
    );
    await consumer.disconnect();

    expect(received).toEqual({ key: "pi_1", value: "hello", header: "evt-1", offset: "0" });
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(committed[0]?.partitions).toEqual([expect.objectContaining({ partition: 0, offset: "1" })]);
  });
});
