// Renders every generated artifact as text, keyed by path under schemas/generated/. generate.ts writes them;
// the staleness test renders them again and compares with the checked-in files.
import { z } from "zod";
import {
  REFUND_FAILED_EXAMPLE,
  REFUND_SUCCEEDED_EXAMPLE,
  RETURN_APPROVED_EXAMPLE,
  RETURN_APPROVED_SNS_EXAMPLE,
} from "./examples.ts";
import { FAILURE_CODE_DESCRIPTIONS, FAILURE_CODES } from "./failure-codes.ts";
import { DEFAULT_MAX_MESSAGE_BYTES, PAYMENT_INTENT_ID_PATTERN } from "./limits.ts";
import {
  REFUND_FAILED_V1_DATASCHEMA,
  RefundFailedDataV1,
  RefundFailedDataV1Emit,
  RefundFailedEventV1,
  RefundFailedEventV1Emit,
} from "./refund-failed.v1.ts";
import {
  REFUND_SUCCEEDED_V1_DATASCHEMA,
  RefundSucceededDataV1,
  RefundSucceededDataV1Emit,
  RefundSucceededEventV1,
  RefundSucceededEventV1Emit,
} from "./refund-succeeded.v1.ts";
import {
  RETURN_APPROVED_V1_DATASCHEMA,
  ReturnApprovedDataV1,
  ReturnApprovedDataV1Emit,
  ReturnApprovedEventV1,
  ReturnApprovedEventV1Emit,
} from "./return-approved.v1.ts";

type Json = Record<string, unknown>;
type View = "accept" | "emit";

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function draft202012(
  schema: z.ZodType,
  view: View,
  meta: { id: string; title: string; description: string },
): Json {
  // The accept view is described as input (what a reader tolerates, defaults not yet applied); the emit view
  // as output (exactly what is written).
  const generated = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io: view === "accept" ? "input" : "output",
  });
  const { $schema, ...rest } = generated as Json;
  return { $schema, $id: meta.id, title: meta.title, description: meta.description, ...rest };
}

/** Draft-07 (the AsyncAPI Schema format) without `$schema`, for embedding in the AsyncAPI document. */
function draft07(schema: z.ZodType, view: View, description: string): Json {
  const generated = z.toJSONSchema(schema, {
    target: "draft-07",
    io: view === "accept" ? "input" : "output",
  });
  const { $schema: _ignored, ...rest } = generated as Json;
  return { description, ...rest };
}

interface EventSpec {
  readonly name: string;
  readonly dataschema: string;
  readonly summary: string;
  readonly event: Record<View, z.ZodType>;
  readonly data: Record<View, z.ZodType>;
}

const EVENTS: readonly EventSpec[] = [
  {
    name: "return.approved",
    dataschema: RETURN_APPROVED_V1_DATASCHEMA,
    summary: "A return was approved; its payment is to be refunded. Consumed by refund-relay.",
    event: { accept: ReturnApprovedEventV1, emit: ReturnApprovedEventV1Emit },
    data: { accept: ReturnApprovedDataV1, emit: ReturnApprovedDataV1Emit },
  },
  {
    name: "refund.succeeded",
    dataschema: REFUND_SUCCEEDED_V1_DATASCHEMA,
    summary: "Dojo accepted the refund (or reversal) for a return.approved event. Published by refund-relay.",
    event: { accept: RefundSucceededEventV1, emit: RefundSucceededEventV1Emit },
    data: { accept: RefundSucceededDataV1, emit: RefundSucceededDataV1Emit },
  },
  {
    name: "refund.failed",
    dataschema: REFUND_FAILED_V1_DATASCHEMA,
    summary:
      "refund-relay gave up on a return.approved event without moving money. Published by refund-relay.",
    event: { accept: RefundFailedEventV1, emit: RefundFailedEventV1Emit },
    data: { accept: RefundFailedDataV1, emit: RefundFailedDataV1Emit },
  },
];

function jsonSchemas(): Map<string, string> {
  const out = new Map<string, string>();
  for (const spec of EVENTS) {
    out.set(
      `json-schema/${spec.name}.v1.data.schema.json`,
      json(
        draft202012(spec.data.emit, "emit", {
          id: spec.dataschema,
          title: `${spec.name} v1 data`,
          description: `${spec.summary} The data of the CloudEvent, as written by its producer.`,
        }),
      ),
    );
    for (const view of ["accept", "emit"] as const) {
      const who =
        view === "accept"
          ? "Accept view: what a consumer tolerates (unknown fields are ignored)."
          : "Emit view: what a producer must write (no unknown fields).";
      out.set(
        `json-schema/${spec.name}.v1.${view}.schema.json`,
        json(
          draft202012(spec.event[view], view, {
            id: `${spec.dataschema}:event:${view}`,
            title: `${spec.name} v1 CloudEvent (structured mode, ${view} view)`,
            description: `${spec.summary} ${who}`,
          }),
        ),
      );
    }
  }
  return out;
}

const ref = (path: string) => ({ $ref: path });

function binaryHeaders(type: string, typeValues: readonly string[], subjectRequired: boolean): Json {
  const attribute = (description: string) => ({ type: "string", description });
  const required = ["ce_specversion", "ce_id", "ce_source", "ce_type"];
  if (subjectRequired) required.push("ce_subject");
  return {
    type: "object",
    description: `CloudEvents binary mode: ${type} attributes as ce_* headers (SQS: message attributes); the body is the data.`,
    properties: {
      ce_specversion: { type: "string", const: "1.0" },
      ce_id: attribute("CloudEvents id."),
      ce_source: attribute("CloudEvents source."),
      ce_type: { type: "string", enum: [...typeValues] },
      ce_time: attribute("RFC 3339 time."),
      ce_subject: attribute("The payment intent id."),
      ce_dataschema: attribute("Absolute URI of the data schema; its trailing version must be v1."),
      ce_traceparent: attribute("W3C Trace Context traceparent (CloudEvents distributed tracing extension)."),
      ce_tracestate: attribute("W3C Trace Context tracestate."),
      "content-type": { type: "string", const: "application/json" },
    },
    required,
  };
}

const SNS_NOTIFICATION = {
  type: "object",
  description:
    "Amazon SNS notification delivered to SQS without raw message delivery. Message is a structured-mode CloudEvent, or the data of a binary-mode one whose ce_* attributes are in MessageAttributes.",
  properties: {
    Type: { type: "string", const: "Notification" },
    TopicArn: { type: "string" },
    MessageId: { type: "string" },
    Message: {
      type: "string",
      description: "The CloudEvent (structured mode) or its data (binary mode), as JSON text.",
    },
    MessageAttributes: {
      type: "object",
      additionalProperties: {
        type: "object",
        properties: { Type: { type: "string" }, Value: { type: "string" } },
        required: ["Type", "Value"],
      },
    },
  },
  required: ["Type", "TopicArn", "Message"],
};

const OUTCOME_KEY = {
  kafka: {
    key: { type: "string", pattern: PAYMENT_INTENT_ID_PATTERN.source, description: "The payment intent id." },
    bindingVersion: "0.5.0",
  },
};

function fifoQueue(name: string): Json {
  return { sqs: { queue: { name, fifoQueue: true }, bindingVersion: "0.2.0" } };
}

function asyncApi(): Json {
  const schemas: Json = {
    ReturnApprovedEvent: draft07(ReturnApprovedEventV1, "accept", "return.approved v1, structured mode."),
    ReturnApprovedData: draft07(ReturnApprovedDataV1, "accept", "return.approved v1 data."),
    ReturnApprovedBinaryHeaders: binaryHeaders(
      "return.approved",
      ["return.approved", "return.approved.v1"],
      false,
    ),
    SnsNotification: SNS_NOTIFICATION,
    RefundSucceededEvent: draft07(
      RefundSucceededEventV1Emit,
      "emit",
      "refund.succeeded v1, structured mode.",
    ),
    RefundSucceededData: draft07(RefundSucceededDataV1Emit, "emit", "refund.succeeded v1 data."),
    RefundSucceededBinaryHeaders: binaryHeaders("refund.succeeded", ["refund.succeeded"], true),
    RefundFailedEvent: draft07(RefundFailedEventV1Emit, "emit", "refund.failed v1, structured mode."),
    RefundFailedData: draft07(RefundFailedDataV1Emit, "emit", "refund.failed v1 data."),
    RefundFailedBinaryHeaders: binaryHeaders("refund.failed", ["refund.failed"], false),
  };
  const structured = (name: string, title: string, summary: string, outcome: boolean) => ({
    name,
    title,
    summary,
    contentType: "application/cloudevents+json",
    payload: ref(`#/components/schemas/${name}Event`),
    ...(outcome ? { bindings: OUTCOME_KEY } : {}),
  });
  const binary = (name: string, title: string, summary: string, outcome: boolean) => ({
    name: `${name}Binary`,
    title: `${title} (binary mode)`,
    summary,
    contentType: "application/json",
    headers: ref(`#/components/schemas/${name}BinaryHeaders`),
    payload: ref(`#/components/schemas/${name}Data`),
    ...(outcome ? { bindings: OUTCOME_KEY } : {}),
  });
  const messages = {
    ReturnApproved: structured("ReturnApproved", "return.approved v1", "A return was approved.", false),
    ReturnApprovedBinary: binary("ReturnApproved", "return.approved v1", "A return was approved.", false),
    ReturnApprovedSns: {
      name: "ReturnApprovedSns",
      title: "return.approved v1 (SNS notification)",
      summary: "A return.approved event fanned out through Amazon SNS.",
      contentType: "application/json",
      payload: ref("#/components/schemas/SnsNotification"),
    },
    RefundSucceeded: structured("RefundSucceeded", "refund.succeeded v1", "The refund was made.", true),
    RefundSucceededBinary: binary("RefundSucceeded", "refund.succeeded v1", "The refund was made.", true),
    RefundFailed: structured(
      "RefundFailed",
      "refund.failed v1",
      "The relay gave up without moving money.",
      true,
    ),
    RefundFailedBinary: binary(
      "RefundFailed",
      "refund.failed v1",
      "The relay gave up without moving money.",
      true,
    ),
  };
  const msg = (name: keyof typeof messages) => ref(`#/components/messages/${name}`);
  const channels = {
    returnApproved: {
      address: "return.approved",
      title: "return.approved (Kafka topic)",
      description: `Input topic. Structured or binary mode; at most ${DEFAULT_MAX_MESSAGE_BYTES} bytes by default.`,
      servers: [ref("#/servers/kafka")],
      messages: { returnApproved: msg("ReturnApproved"), returnApprovedBinary: msg("ReturnApprovedBinary") },
    },
    returnApprovedQueue: {
      address: "return-approved",
      title: "return-approved (SQS queue)",
      description:
        "Input queue. A structured-mode CloudEvent, binary mode with message attributes, or an SNS notification wrapping either.",
      servers: [ref("#/servers/sqs")],
      messages: {
        returnApproved: msg("ReturnApproved"),
        returnApprovedBinary: msg("ReturnApprovedBinary"),
        returnApprovedSns: msg("ReturnApprovedSns"),
      },
      bindings: { sqs: { queue: { name: "return-approved", fifoQueue: false }, bindingVersion: "0.2.0" } },
    },
    refundSucceeded: {
      address: "refund.succeeded",
      title: "refund.succeeded (Kafka topic)",
      description: "Outcome topic, keyed by payment intent id.",
      servers: [ref("#/servers/kafka")],
      messages: {
        refundSucceeded: msg("RefundSucceeded"),
        refundSucceededBinary: msg("RefundSucceededBinary"),
      },
    },
    refundFailed: {
      address: "refund.failed",
      title: "refund.failed (Kafka topic)",
      description: `Outcome topic, keyed by payment intent id when known. Codes: ${FAILURE_CODES.join(", ")}.`,
      servers: [ref("#/servers/kafka")],
      messages: { refundFailed: msg("RefundFailed"), refundFailedBinary: msg("RefundFailedBinary") },
    },
    refundSucceededQueue: {
      address: "refund-succeeded.fifo",
      title: "refund-succeeded.fifo (SQS FIFO queue)",
      description: "Outcome queue; message group id = payment intent id, deduplication id = CloudEvents id.",
      servers: [ref("#/servers/sqs")],
      messages: {
        refundSucceeded: msg("RefundSucceeded"),
        refundSucceededBinary: msg("RefundSucceededBinary"),
      },
      bindings: fifoQueue("refund-succeeded.fifo"),
    },
    refundFailedQueue: {
      address: "refund-failed.fifo",
      title: "refund-failed.fifo (SQS FIFO queue)",
      description:
        "Outcome queue; message group id = payment intent id when known, deduplication id = CloudEvents id.",
      servers: [ref("#/servers/sqs")],
      messages: { refundFailed: msg("RefundFailed"), refundFailedBinary: msg("RefundFailedBinary") },
      bindings: fifoQueue("refund-failed.fifo"),
    },
  };
  const operation = (action: "send" | "receive", channel: keyof typeof channels, summary: string) => ({
    action,
    summary,
    channel: ref(`#/channels/${channel}`),
    messages: Object.keys(channels[channel].messages).map((m) => ref(`#/channels/${channel}/messages/${m}`)),
  });
  return {
    asyncapi: "3.0.0",
    info: {
      title: "refund-relay events",
      version: "1.0.0",
      description: [
        "Events consumed and published by refund-relay. All events are CloudEvents 1.0; consumers de-duplicate on (source, id).",
        "Topic and queue names are the defaults; deployments may configure others.",
        `Failure codes: ${FAILURE_CODES.map((c) => `${c}: ${FAILURE_CODE_DESCRIPTIONS[c]}`).join(" ")}`,
      ].join("\n\n"),
      license: { name: "Apache-2.0" },
    },
    defaultContentType: "application/cloudevents+json",
    servers: {
      kafka: {
        host: "localhost:9092",
        protocol: "kafka",
        description: "Kafka cluster (address is deployment-specific).",
      },
      sqs: {
        host: "sqs.eu-west-2.amazonaws.com",
        protocol: "sqs",
        description: "Amazon SQS (region is deployment-specific).",
      },
    },
    channels,
    operations: {
      receiveReturnApproved: operation(
        "receive",
        "returnApproved",
        "refund-relay consumes approved returns.",
      ),
      receiveReturnApprovedFromQueue: operation(
        "receive",
        "returnApprovedQueue",
        "refund-relay consumes approved returns.",
      ),
      sendRefundSucceeded: operation("send", "refundSucceeded", "refund-relay reports a refund."),
      sendRefundFailed: operation("send", "refundFailed", "refund-relay reports a failure."),
      sendRefundSucceededToQueue: operation("send", "refundSucceededQueue", "refund-relay reports a refund."),
      sendRefundFailedToQueue: operation("send", "refundFailedQueue", "refund-relay reports a failure."),
    },
    components: { schemas, messages },
  };
}

function examples(): Map<string, string> {
  return new Map([
    ["examples/return.approved.v1.json", json(RETURN_APPROVED_EXAMPLE)],
    ["examples/return.approved.v1.sns.json", json(RETURN_APPROVED_SNS_EXAMPLE)],
    ["examples/refund.succeeded.v1.json", json(REFUND_SUCCEEDED_EXAMPLE)],
    ["examples/refund.failed.v1.json", json(REFUND_FAILED_EXAMPLE)],
  ]);
}

/** Every generated file: path relative to schemas/generated/ -> content. */
export function renderArtifacts(): Map<string, string> {
  return new Map([...jsonSchemas(), ["asyncapi.json", json(asyncApi())], ...examples()]);
}
