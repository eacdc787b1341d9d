// `refund-relay replay` over SQS: receives the dead letters of SQS_DLQ_URL (JSON envelopes holding the
// original message, see consumers/sqs/dead-letter.ts), sends each original body with its attributes to
// SQS_INPUT_QUEUE_URL, and deletes the dead letter only once that send succeeded. Dead letters that stay
// are held invisible while the run lasts (so each is looked at once) and made visible again at its end.
import { createHash } from "node:crypto";
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { attributesOf } from "../../consumers/sqs/attributes.ts";
import { createSqsClient } from "../../consumers/sqs/client.ts";
import { DEAD_LETTER_ATTRIBUTES, type SqsDeadLetterEnvelope } from "../../consumers/sqs/dead-letter.ts";
import { fifoId, isFifoQueue } from "../../consumers/sqs/fifo-ids.ts";
import type { RelayConfig } from "../config.ts";
import { EXIT_FAILURE } from "./main.ts";
import { Stop } from "./reconcile-args.ts";
import type { DeadLetter, DeadLetterReader, Handler } from "./replay-decide.ts";

/** How long a received dead letter stays invisible to others while the run holds it. */
const HOLD_S = 300;
/** A receive waits this long for messages; one that returns none ends the run. */
const WAIT_S = 1;

interface Original {
  readonly body: string;
  readonly attributes: Record<string, string>;
  readonly groupId: string | undefined;
}

/** The envelope's original message, or why there is none to replay. */
export function sqsOriginal(body: string | undefined): Original | { broken: string } {
  let envelope: Partial<SqsDeadLetterEnvelope>;
  try {
    envelope = JSON.parse(body ?? "") as Partial<SqsDeadLetterEnvelope>;
  } catch {
    return { broken: "not a refund-relay dead letter (the body is not JSON)" };
  }
  const original = envelope?.original;
  if (
    typeof envelope !== "object" ||
    envelope === null ||
    typeof envelope.deadLetter?.code !== "string" ||
    typeof original !== "object" ||
    original === null ||
    !(typeof original.body === "string" || original.body === null) ||
    typeof original.attributes !== "object" ||
    original.attributes === null
  ) {
    return { broken: "not a refund-relay dead letter (no deadLetter and original in its JSON)" };
  }
  if (original.bodyTruncated === true) {
    return { broken: "the original body was cut to fit the dead letter; it cannot be sent as it was" };
  }
  if (original.body === null) return { broken: "the original message had no body" };
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(original.attributes)) {
    if (typeof value === "string") attributes[name] = value;
  }
  return { body: original.body, attributes, groupId: envelope.origin?.messageGroupId ?? undefined };
}

function attribute(message: Message, name: string): string | undefined {
  return message.MessageAttributes?.[name]?.StringValue;
}

export function sqsDeadLetter(message: Message): { letter: DeadLetter; original: Original | undefined } {
  const found = sqsOriginal(message.Body);
  let code = attribute(message, DEAD_LETTER_ATTRIBUTES.code);
  let eventId = attribute(message, DEAD_LETTER_ATTRIBUTES.eventId);
  try {
    const envelope = JSON.parse(message.Body ?? "") as Partial<SqsDeadLetterEnvelope>;
    code ??= typeof envelope?.deadLetter?.code === "string" ? envelope.deadLetter.code : undefined;
    eventId ??= typeof envelope?.deadLetter?.eventId === "string" ? envelope.deadLetter.eventId : undefined;
  } catch {
    // Said by `found`.
  }
  const at = `message ${message.MessageId ?? "(no id)"}`;
  if ("broken" in found) return { letter: { at, code, eventId, original: found }, original: undefined };
  return {
    letter: {
      at,
      code,
      eventId,
      original: { body: found.body, headers: found.attributes, transport: "sqs" },
    },
    original: found,
  };
}

export interface SqsReaderOptions {
  /** Without it nothing is sent and nothing deleted. */
  readonly apply: boolean;
}

export async function openSqsReader(config: RelayConfig, o: SqsReaderOptions): Promise<DeadLetterReader> {
  const settings = config.sqs;
  if (settings === undefined) throw new Error("RELAY_SOURCE=sqs without SQS settings");
  const client = createSqsClient(settings);
  const { dlqUrl, inputQueueUrl } = settings;
  for (const [variable, url] of [
    ["SQS_DLQ_URL", dlqUrl],
    ["SQS_INPUT_QUEUE_URL", inputQueueUrl],
  ] as const) {
    try {
      await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }));
    } catch (error) {
      client.destroy();
      throw new Stop(EXIT_FAILURE, `${variable}: cannot reach the queue ${url}: ${(error as Error).message}`);
    }
  }
  return {
    run: (handle, stopped) => readAll(client, { dlqUrl, inputQueueUrl, apply: o.apply }, handle, stopped),
    async close() {
      client.destroy();
    },
  };
}

async function readAll(
  client: SQSClient,
  o: { dlqUrl: string; inputQueueUrl: string; apply: boolean },
  handle: Handler,
  stopped: () => boolean,
): Promise<void> {
  const fifoInput = isFifoQueue(o.inputQueueUrl);
  /** Dead letters received and not deleted, by message id: the newest receipt handle of each. */
  const held = new Map<string, string>();
  const seen = new Set<string>();
  const send = async (dead: Message, original: Original, eventGroup: string | undefined) => {
    await client.send(
      new SendMessageCommand({
        QueueUrl: o.inputQueueUrl,
        MessageBody: original.body,
        MessageAttributes: attributesOf(original.attributes),
        ...(fifoInput
          ? {
              MessageGroupId: fifoId(original.groupId ?? eventGroup ?? "replay"),
              // The same dead letter sent twice (a run that stopped between sending and deleting) is
              // one message on a FIFO input within SQS's five-minute window.
              MessageDeduplicationId: createHash("sha256")
                .update(`replay\n${o.dlqUrl}\n${dead.MessageId ?? ""}`)
                .digest("hex"),
            }
          : {}),
      }),
    );
  };
  try {
    while (!stopped()) {
      const received = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: o.dlqUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: WAIT_S,
          VisibilityTimeout: HOLD_S,
          MessageAttributeNames: ["All"],
          MessageSystemAttributeNames: ["All"],
        }),
      );
      const messages = received.Messages ?? [];
      for (const m of messages) if (m.MessageId !== undefined) held.set(m.MessageId, m.ReceiptHandle ?? "");
      const fresh = messages.filter((m) => m.MessageId !== undefined && !seen.has(m.MessageId));
      // Nothing left, or only dead letters already looked at that came back after HOLD_S.
      if (fresh.length === 0) break;
      for (const m of fresh) {
        if (stopped()) break;
        const id = m.MessageId as string;
        seen.add(id);
        const { letter, original } = sqsDeadLetter(m);
        const verdict = await handle(letter, async () => {
          if (original === undefined) throw new Error("nothing to send");
          await send(m, original, letter.eventId);
        });
        if (verdict !== "replayed") continue;
        try {
          await client.send(new DeleteMessageCommand({ QueueUrl: o.dlqUrl, ReceiptHandle: held.get(id) }));
        } catch (error) {
          throw new Error(
            `${letter.at} was sent to the input, but deleting the dead letter failed: ${(error as Error).message}; it will be seen again (and found settled) on the next run`,
          );
        }
        held.delete(id);
      }
    }
  } finally {
    await release(client, o.dlqUrl, held);
  }
}

/** Makes the dead letters held back visible again at once, rather than after HOLD_S. */
async function release(client: SQSClient, queueUrl: string, held: Map<string, string>): Promise<void> {
  const entries = [...held.values()];
  for (let i = 0; i < entries.length; i += 10) {
    const chunk = entries.slice(i, i + 10).map((handle, j) => ({
      Id: String(j),
      ReceiptHandle: handle,
      VisibilityTimeout: 0,
    }));
    // Best effort: a dead letter not made visible now is visible again after HOLD_S anyway.
    await client
      .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: chunk }))
      .catch(() => undefined);
  }
}
