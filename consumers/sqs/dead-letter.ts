// The dead-letter message for SQS: a JSON envelope holding the original message (its body as it
// arrived, and its attributes) and why it was parked. An envelope rather than attributes, because SQS
// allows ten message attributes and the original may carry that many already. The code, event id and
// source are also set as attributes, so a consumer can filter without parsing the body.
import { createHash } from "node:crypto";
import type { MessageAttributeValue } from "@aws-sdk/client-sqs";
import type { InboundMessage } from "../../schemas/index.ts";
import type { DeadLetterReason } from "../../src/pipeline/index.ts";
import { SqsDelivery, type SqsOrigin } from "./delivery.ts";
import { fifoId } from "./fifo-ids.ts";

export const DEAD_LETTER_ATTRIBUTES = {
  code: "rr-error-code",
  eventId: "rr-event-id",
  eventSource: "rr-event-source",
} as const;

/** The body of a dead letter (JSON). */
export interface SqsDeadLetterEnvelope {
  readonly deadLetter: {
    readonly code: DeadLetterReason["code"];
    readonly message: string;
    readonly attempts: number;
    readonly firstSeenAt: string;
    readonly eventId?: string;
    readonly eventSource?: string;
  };
  /** Where the message was received; absent for a message that did not come from SQS. */
  readonly origin?: Omit<SqsOrigin, "receiptHandle">;
  readonly original: {
    /** The body as received (text); null when it had none. */
    readonly body: string | null;
    /** Set when the body had to be cut to fit SQS's message size with the envelope around it. */
    readonly bodyTruncated?: true;
    readonly attributes: Readonly<Record<string, string>>;
  };
}

export interface SqsDeadLetter {
  readonly body: string;
  readonly attributes: Record<string, MessageAttributeValue>;
  /** FIFO dead-letter queues: the original's group (or the event's), and an id for de-duplication. */
  readonly groupId: string;
  readonly deduplicationId: string;
  readonly truncated: boolean;
}

/** SQS's largest message (256 KiB), the envelope included. */
export const MAX_SQS_MESSAGE_BYTES = 262_144;

function bodyText(body: InboundMessage["body"]): string | null {
  if (body === null) return null;
  return typeof body === "string" ? body : Buffer.from(body).toString("utf8");
}

export function deadLetterOf(
  message: InboundMessage,
  reason: DeadLetterReason,
  maxBytes = MAX_SQS_MESSAGE_BYTES,
): SqsDeadLetter {
  // The pipeline hands back the message it was given: for a received message, the delivery itself.
  const origin = message instanceof SqsDelivery ? message.origin : undefined;
  const deadLetter = {
    code: reason.code,
    message: reason.message.slice(0, 4000),
    attempts: reason.attempts,
    firstSeenAt: reason.firstSeenAt.toISOString(),
    ...(reason.eventId === undefined ? {} : { eventId: reason.eventId }),
    ...(reason.source === undefined ? {} : { eventSource: reason.source }),
  };
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {}))
    if (value !== undefined) attributes[name] = value;
  const envelope = (body: string | null, bodyTruncated: boolean): SqsDeadLetterEnvelope => ({
    deadLetter,
    ...(origin === undefined
      ? {}
      : {
          origin: {
            queueUrl: origin.queueUrl,
            messageId: origin.messageId,
            receiveCount: origin.receiveCount,
            messageGroupId: origin.messageGroupId,
            sentTimestamp: origin.sentTimestamp,
          },
        }),
    original: { body, ...(bodyTruncated ? { bodyTruncated: true as const } : {}), attributes },
  });
  const original = bodyText(message.body);
  let body = JSON.stringify(envelope(original, false));
  let truncated = false;
  const size = Buffer.byteLength(body, "utf8");
  if (size > maxBytes && original !== null) {
    // Cut by what the whole is over, plus room for the escaping JSON adds to what is kept.
    const keep = Math.max(0, Buffer.byteLength(original, "utf8") - (size - maxBytes) - 1024);
    const cut = Buffer.from(original, "utf8")
      .subarray(0, keep)
      .toString("utf8")
      .replace(/\uFFFD$/, "");
    body = JSON.stringify(envelope(cut, true));
    truncated = true;
  }
  const sqsAttributes: Record<string, MessageAttributeValue> = {
    [DEAD_LETTER_ATTRIBUTES.code]: { DataType: "String", StringValue: reason.code },
  };
  if (reason.eventId !== undefined) {
    sqsAttributes[DEAD_LETTER_ATTRIBUTES.eventId] = { DataType: "String", StringValue: reason.eventId };
  }
  if (reason.source !== undefined) {
    sqsAttributes[DEAD_LETTER_ATTRIBUTES.eventSource] = { DataType: "String", StringValue: reason.source };
  }
  sqsAttributes["content-type"] = { DataType: "String", StringValue: "application/json" };
  // The same message dead-lettered twice (a crash between parking it and deleting it) is one dead
  // letter on a FIFO queue.
  const identity = origin === undefined ? body : `${origin.queueUrl}\n${origin.messageId}\n${reason.code}`;
  return {
    body,
    attributes: sqsAttributes,
    groupId: fifoId(origin?.messageGroupId ?? reason.eventId ?? "dead-letters"),
    deduplicationId: createHash("sha256").update(identity).digest("hex"),
    truncated,
  };
}
