import { randomUUID } from "node:crypto";
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, describe, expect, inject, it } from "vitest";

const { sqsEndpoint } = inject("servers");
const sqs = new SQSClient({
  endpoint: sqsEndpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});

afterAll(() => sqs.destroy());

async function receiveOne(queueUrl: string) {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 1,
      WaitTimeSeconds: 1,
      MessageAttributeNames: ["All"],
      MessageSystemAttributeNames: ["ApproximateReceiveCount"],
    }),
  );
  return out.Messages?.[0];
}

describe("SQS smoke test (real ElasticMQ)", () => {
  it("keeps message attributes, honours a visibility change and redrives to a dead-letter queue", async () => {
    const name = `smoke-${randomUUID()}`;
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
    const dlqArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))
    ).Attributes?.QueueArn;
    expect(dlqArn).toMatch(/^arn:aws:sqs:/);
    const queue = await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: {
          VisibilityTimeout: "30",
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }),
        },
      }),
    );
    const queueUrl = queue.QueueUrl ?? "";

    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: '{"hello":"world"}',
        MessageAttributes: { ce_type: { DataType: "String", StringValue: "return.approved" } },
      }),
    );

    const first = await receiveOne(queueUrl);
    expect(first?.Body).toBe('{"hello":"world"}');
    expect(first?.MessageAttributes?.ce_type?.StringValue).toBe("return.approved");
    expect(first?.Attributes?.ApproximateReceiveCount).toBe("1");
    // Invisible for 30 s: a second receive finds nothing until the visibility is changed.
    expect(await receiveOne(queueUrl)).toBeUndefined();
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: first?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );

    const second = await receiveOne(queueUrl);
    expect(second?.Attributes?.ApproximateReceiveCount).toBe("2");
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: second?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );

    // maxReceiveCount (2) reached: the next receive moves it to the dead-letter queue.
    expect(await receiveOne(queueUrl)).toBeUndefined();
    const dead = await receiveOne(dlq.QueueUrl ?? "");
    expect(dead?.Body).toBe('{"hello":"world"}');
    expect(dead?.MessageAttributes?.ce_type?.StringValue).toBe("return.approved");
  });
});
