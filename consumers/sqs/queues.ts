// The queues the relay needs, checked at start-up: a missing one stops the start with its URL named,
// or, with SQS_CREATE_QUEUES=true, is created (FIFO when its name ends in .fifo). The input queue's
// redrive policy is read too: without one, a message the relay keeps failing on comes back forever.
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type QueueAttributeName,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { isFifoQueue } from "./fifo-ids.ts";

export class MissingQueuesError extends Error {
  override readonly name = "MissingQueuesError";
  readonly queues: readonly string[];
  constructor(queues: readonly string[]) {
    super(
      `SQS queues missing: ${queues.join(", ")}. Create them, or start with SQS_CREATE_QUEUES=true to have them created.`,
    );
    this.queues = queues;
  }
}

function isMissing(error: unknown): boolean {
  const name = (error as { name?: string }).name ?? "";
  return name === "QueueDoesNotExist" || name.endsWith("NonExistentQueue");
}

function queueName(url: string): string {
  return (
    new URL(url).pathname
      .split("/")
      .filter((s) => s !== "")
      .at(-1) ?? ""
  );
}

function maxReceiveCountOf(redrivePolicy: string | undefined): number | undefined {
  if (redrivePolicy === undefined) return undefined;
  try {
    const count = Number((JSON.parse(redrivePolicy) as { maxReceiveCount?: unknown }).maxReceiveCount);
    return Number.isFinite(count) ? count : undefined;
  } catch {
    return undefined;
  }
}

export interface QueuesFound {
  /** Queues created now. */
  readonly created: readonly string[];
  /** The input queue's maxReceiveCount, when it has a redrive policy. */
  readonly inputMaxReceiveCount: number | undefined;
}

export async function ensureQueues(
  client: SQSClient,
  input: string,
  outputs: readonly string[],
  create: boolean,
): Promise<QueuesFound> {
  const missing: string[] = [];
  let inputMaxReceiveCount: number | undefined;
  for (const url of [input, ...outputs]) {
    const names: QueueAttributeName[] = url === input ? ["QueueArn", "RedrivePolicy"] : ["QueueArn"];
    try {
      const out = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: names }));
      if (url === input) inputMaxReceiveCount = maxReceiveCountOf(out.Attributes?.RedrivePolicy);
    } catch (error) {
      if (!isMissing(error)) throw error;
      if (!missing.includes(url)) missing.push(url);
    }
  }
  if (missing.length > 0 && !create) throw new MissingQueuesError(missing);
  for (const url of missing) {
    await client.send(
      new CreateQueueCommand({
        QueueName: queueName(url),
        ...(isFifoQueue(url) ? { Attributes: { FifoQueue: "true" } } : {}),
      }),
    );
  }
  return { created: missing, inputMaxReceiveCount };
}
