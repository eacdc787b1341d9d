// Reads a return.approved CloudEvent from a Kafka record or an SQS message, whichever content mode the producer
// used, and validates it. Never throws on bad input: every failure becomes a DecodeResult the relay can act on.
import { Buffer } from "node:buffer";
import { formatPath, fromZodIssues, type Issue, MAX_ISSUES, PARSE_OPTIONS, summarize } from "./issues.ts";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  FORBIDDEN_JSON_KEYS,
  MAX_HEADER_BYTES,
  MAX_JSON_DEPTH,
} from "./limits.ts";
import { EventId, EventSource, PaymentIntentId } from "./primitives.ts";
import { type ReturnApprovedEvent, ReturnApprovedEventV1 } from "./return-approved.v1.ts";

export interface InboundMessage {
  readonly body: Uint8Array | string | null;
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly transport: "kafka" | "sqs";
}

export interface DecodeOptions {
  /** Largest body accepted, in bytes; DEFAULT_MAX_MESSAGE_BYTES when absent. */
  readonly maxBytes?: number;
}

export type DecodeStage = "unparseable" | "envelope" | "data";

export type DecodeFailure = {
  readonly ok: false;
  readonly stage: DecodeStage;
  readonly eventId?: string;
  readonly source?: string;
  readonly subject?: string;
  readonly message: string;
  readonly issues: ReadonlyArray<Issue>;
};

export type DecodeResult = { readonly ok: true; readonly event: ReturnApprovedEvent } | DecodeFailure;

/** Envelope attributes carried as `ce_<name>` headers in binary mode (`datacontenttype` is `content-type`). */
const BINARY_ATTRIBUTES = ["specversion", "id", "source", "type", "time", "subject", "dataschema"] as const;

const STRUCTURED_CONTENT_TYPE = /^application\/cloudevents\+json\s*(?:;|$)/i;
const BATCH_CONTENT_TYPE = /^application\/cloudevents-batch\+json\s*(?:;|$)/i;

type Headers = ReadonlyMap<string, string>;

interface Known {
  eventId?: string;
  source?: string;
  subject?: string;
}

function normalizeHeaders(headers: InboundMessage["headers"]): Headers {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value === "string") out.set(name.toLowerCase(), value);
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The envelope's id, source and the payment intent id, each only if it is valid on its own. */
function known(envelope: Record<string, unknown>): Known {
  const out: Known = {};
  const id = EventId.safeParse(envelope.id);
  if (id.success) out.eventId = id.data;
  const source = EventSource.safeParse(envelope.source);
  if (source.success) out.source = source.data;
  const data = envelope.data;
  const pi = PaymentIntentId.safeParse(isRecord(data) ? data.paymentIntentId : undefined);
  const subject = PaymentIntentId.safeParse(envelope.subject);
  if (pi.success) out.subject = pi.data;
  else if (subject.success) out.subject = subject.data;
  return out;
}

function failure(stage: DecodeStage, issues: Issue[], k: Known = {}): DecodeFailure {
  const what =
    stage === "unparseable" ? "unreadable return.approved message" : `invalid return.approved ${stage}`;
  return { ok: false, stage, ...k, message: summarize(what, issues), issues };
}

function binaryEnvelope(headers: Headers): Record<string, unknown> {
  const envelope: Record<string, unknown> = {};
  for (const name of BINARY_ATTRIBUTES) {
    const value = headers.get(`ce_${name}`);
    if (value !== undefined) envelope[name] = value;
  }
  const contentType = headers.get("content-type");
  if (contentType !== undefined) envelope.datacontenttype = contentType;
  return envelope;
}

function bodyText(body: Uint8Array | string): string | undefined {
  if (typeof body === "string") return body;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return {
      ok: false,
      message: `body is not valid JSON (${error instanceof Error ? error.message : "parse error"})`,
    };
  }
}

/** The total size of a message's headers: names and (string) values, in UTF-8 bytes. */
function headerBytes(headers: InboundMessage["headers"]): number {
  let size = 0;
  for (const [name, value] of Object.entries(headers ?? {})) {
    size += Buffer.byteLength(name, "utf8");
    if (typeof value === "string") size += Buffer.byteLength(value, "utf8");
  }
  return size;
}

/** A container of the parsed body, with how it was reached (the path is only built for a problem). */
interface Node {
  readonly value: object;
  readonly key: string | number | undefined;
  readonly parent: Node | undefined;
  /** 1 for the body itself. */
  readonly depth: number;
}

function pathOf(node: Node, key: string | number | undefined, prefix: readonly string[]): string {
  const keys: Array<string | number> = key === undefined ? [] : [key];
  for (let n: Node | undefined = node; n?.key !== undefined; n = n.parent) keys.push(n.key);
  return formatPath([...prefix, ...keys.reverse()]);
}

/**
 * What no valid event has and what could hurt code that walks or copies a parsed body: nesting deeper than
 * MAX_JSON_DEPTH, and FORBIDDEN_JSON_KEYS (`__proto__`, `constructor`, `prototype`) at any level, in fields
 * the schema reads or in ones it would drop. Walked with a stack of its own, not recursively, so no body can
 * exhaust the call stack.
 */
function structureIssues(body: unknown, prefix: readonly string[]): Issue[] {
  const issues: Issue[] = [];
  if (body === null || typeof body !== "object") return issues;
  const stack: Node[] = [{ value: body, key: undefined, parent: undefined, depth: 1 }];
  for (let node = stack.pop(); node !== undefined && issues.length < MAX_ISSUES; node = stack.pop()) {
    if (node.depth > MAX_JSON_DEPTH) {
      issues.push({
        path: pathOf(node, undefined, prefix),
        message: `nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`,
      });
      continue;
    }
    const entries: Array<[string | number, unknown]> = Array.isArray(node.value)
      ? node.value.map((v, i) => [i, v])
      : Object.entries(node.value);
    for (const [key, value] of entries) {
      if (typeof key === "string" && FORBIDDEN_JSON_KEYS.has(key)) {
        issues.push({
          path: pathOf(node, key, prefix),
          message: `"${key}" is not accepted as a key anywhere in an event`,
        });
      } else if (value !== null && typeof value === "object") {
        stack.push({ value, key, parent: node, depth: node.depth + 1 });
      }
    }
  }
  return issues.slice(0, MAX_ISSUES);
}

/** The failure for a body structureIssues found fault with; `envelope` gives the ids it may carry. */
function structureFailure(issues: Issue[], envelope: unknown): DecodeFailure {
  const inData = issues.every(
    (i) => i.path === "data" || i.path.startsWith("data.") || i.path.startsWith("data["),
  );
  return failure(inData ? "data" : "envelope", issues, isRecord(envelope) ? known(envelope) : {});
}

function validate(envelope: Record<string, unknown>): DecodeResult {
  const issues: Issue[] = [];
  if ("data_base64" in envelope) {
    issues.push({
      path: "data_base64",
      message: "binary data is not accepted; send the data as JSON in data",
    });
  }
  const parsed = ReturnApprovedEventV1.safeParse(envelope, PARSE_OPTIONS);
  if (parsed.success && issues.length === 0) return { ok: true, event: parsed.data };
  if (!parsed.success) issues.push(...fromZodIssues(parsed.error.issues));
  const envelopeProblem = issues.some(
    (i) => !(i.path === "data" || i.path.startsWith("data.") || i.path.startsWith("data[")),
  );
  return failure(envelopeProblem ? "envelope" : "data", issues, known(envelope));
}

/** SNS MessageAttributes (`{ name: { Type, Value } }`) as headers; binary values are ignored. */
function snsAttributes(attributes: unknown): Record<string, string> {
  // No prototype: an attribute's name is the producer's choice.
  const out: Record<string, string> = Object.create(null);
  if (!isRecord(attributes)) return out;
  for (const [name, attribute] of Object.entries(attributes)) {
    if (isRecord(attribute) && typeof attribute.Value === "string" && attribute.Type !== "Binary") {
      out[name] = attribute.Value;
    }
  }
  return out;
}

function decode(message: InboundMessage, maxBytes: number, unwrapSns: boolean): DecodeResult {
  const headers = normalizeHeaders(message.headers);
  const contentType = headers.get("content-type") ?? "";
  const binary = !STRUCTURED_CONTENT_TYPE.test(contentType) && headers.has("ce_specversion");
  const envelope = binary ? binaryEnvelope(headers) : undefined;
  const k = envelope === undefined ? {} : known(envelope);
  const unparseable = (text: string) => failure("unparseable", [{ path: "", message: text }], k);

  if (BATCH_CONTENT_TYPE.test(contentType)) return unparseable("batched CloudEvents are not accepted");
  const headerSize = headerBytes(message.headers);
  if (headerSize > MAX_HEADER_BYTES) {
    return unparseable(`headers are ${headerSize} bytes together; the limit is ${MAX_HEADER_BYTES}`);
  }
  const body = message.body;
  if (body === null || body.length === 0) {
    return envelope === undefined ? unparseable("message has no body") : validate(envelope);
  }
  const size = typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.byteLength;
  if (size > maxBytes) return unparseable(`message is ${size} bytes; the limit is ${maxBytes}`);
  const text = bodyText(body);
  if (text === undefined) return unparseable("body is not valid UTF-8");
  const json = parseJson(text);
  if (!json.ok) return unparseable(json.message);

  const value = json.value;
  const structure = structureIssues(value, envelope === undefined ? [] : ["data"]);
  if (structure.length > 0) {
    return structureFailure(structure, envelope === undefined ? value : { ...envelope, data: value });
  }
  if (envelope !== undefined) return validate({ ...envelope, data: value });

  if (unwrapSns && isRecord(value) && typeof value.Type === "string" && "TopicArn" in value) {
    if (value.Type !== "Notification") return unparseable(`SNS ${value.Type} message is not an event`);
    if (typeof value.Message !== "string") return unparseable("SNS notification has no Message string");
    return decode(
      { body: value.Message, headers: snsAttributes(value.MessageAttributes), transport: message.transport },
      maxBytes,
      false,
    );
  }
  if (!isRecord(value)) {
    return failure("envelope", [
      { path: "", message: "expected a JSON object (a structured-mode CloudEvent)" },
    ]);
  }
  return validate(value);
}

/**
 * Decodes one inbound message into a validated return.approved v1 event.
 *
 * - Structured mode: `content-type: application/cloudevents+json`, or no CloudEvents headers at all.
 * - Binary mode: a `ce_specversion` header; attributes from `ce_*` headers, the body is the data.
 * - SQS only: an SNS notification (`Type: "Notification"`, `TopicArn`, `Message`) wrapping either mode, with
 *   binary-mode attributes in its MessageAttributes.
 *
 * Hostile input is refused before validation: a body over `maxBytes` or headers over MAX_HEADER_BYTES
 * (unread), a body nested deeper than MAX_JSON_DEPTH or with a `__proto__`, `constructor` or `prototype` key
 * anywhere (each named by its path). Control characters are refused by the fields' own rules (ids are
 * printable ASCII, text has no control characters), so nothing that reaches a log, a URL or a header can
 * carry one.
 *
 * On failure, `eventId`, `source` and `subject` are set when those values were individually valid, so the
 * relay can publish refund.failed (invalid_event) instead of dead-lettering.
 */
export function decodeReturnApproved(message: InboundMessage, options: DecodeOptions = {}): DecodeResult {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new RangeError(`decodeReturnApproved: maxBytes must be a positive integer, got ${maxBytes}`);
  }
  try {
    return decode(message, maxBytes, message.transport === "sqs");
  } catch (error) {
    // Defensive: nothing above is expected to throw, but a poison message must never crash the consumer.
    const text = error instanceof Error ? error.message : String(error);
    return failure("unparseable", [{ path: "", message: `could not decode message (${text})` }]);
  }
}
