// The queues of one run, created fresh on ElasticMQ and deleted afterwards, and the benchmark's own SQS
// client, as lean as the relay's (its transport, no MD5 checks): its CPU is taken from the same cores.
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { UndiciHttpHandler } from "../../consumers/sqs/http-handler.ts";

export const REGION = "us-east-1";
export const CREDENTIALS = { accessKeyId: "bench", secretAccessKey: "bench" };

export function benchClient(endpoint: string): SQSClient {
  return new SQSClient({
    endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    md5: false,
    requestHandler: new UndiciHttpHandler({ connections: 64, connectTimeoutMs: 5_000 }),
  });
}

export interface RunQueues {
  readonly input: string;
  readonly succeeded: string;
  readonly failed: string;
  readonly dlq: string;
  /** The input queue's redrive queue (SQS's own dead-letter queue, after 5 receives). */
  readonly redrive: string;
}

/** Receives of one message after which SQS moves it to the input queue's redrive queue. */
export const MAX_RECEIVE_COUNT = 5;

export async function createRunQueues(sqs: SQSClient, id: string): Promise<RunQueues> {
  const create = async (name: string, attributes: Record<string, string> = {}) => {
    const out = await sqs.send(
      new CreateQueueCommand({ QueueName: `bench-${name}-${id}`, Attributes: attributes }),
    );
    if (out.QueueUrl === undefined)
      throw new Error(`ElasticMQ returned no URL for queue bench-${name}-${id}`);
    return out.QueueUrl;
  };
  // The input queue has a redrive policy, as the README asks for in production.
  const redrive = await create("rx");
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: redrive, AttributeNames: ["QueueArn"] }),
  );
  const redrivePolicy = JSON.stringify({
    deadLetterTargetArn: Attributes?.QueueArn,
    maxReceiveCount: MAX_RECEIVE_COUNT,
  });
  return {
    input: await create("in", { RedrivePolicy: redrivePolicy }),
    redrive,
    succeeded: await create("ok"),
    failed: await create("failed"),
    dlq: await create("dlq"),
  };
}

export async function deleteRunQueues(sqs: SQSClient, queues: RunQueues): Promise<void> {
  await Promise.allSettled(
    Object.values(queues).map((url) => sqs.send(new DeleteQueueCommand({ QueueUrl: url }))),
  );
}

/** Messages in the queue: visible, and received but neither deleted nor visible again. */
export async function queueDepth(
  sqs: SQSClient,
  url: string,
): Promise<{ visible: number; inFlight: number }> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? "0"),
    inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? "0"),
  };
}
