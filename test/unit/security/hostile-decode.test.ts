// Hostile input at the decoder (schemas/decode.ts), the first thing every inbound message goes through:
// deep nesting, huge bodies and headers, keys that reach prototypes, control characters and terminal
// escapes, CR/LF in CloudEvents attributes. Each is refused with a reason naming the field (or the
// message as a whole), and nothing of it survives into a decoded event.
import { describe, expect, it } from "vitest";
import {
  type DecodeResult,
  decodeReturnApproved,
  FORBIDDEN_JSON_KEYS,
  type InboundMessage,
  idempotencyKeyFor,
  MAX_HEADER_BYTES,
  MAX_JSON_DEPTH,
  ReturnApprovedEventV1Emit,
} from "../../../schemas/index.ts";
import { structured, validEvent } from "../schemas/fixtures.ts";

type Event = ReturnType<typeof validEvent>;

function failed(result: DecodeResult) {
  if (result.ok) throw new Error("expected the message to be refused");
  return result;
}

function ok(result: DecodeResult) {
  if (!result.ok) throw new Error(`expected a valid event, got: ${result.message}`);
  return result.event;
}

/** `levels` nested arrays, as JSON text. */
const nestedArrays = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
/** `levels` nested objects `{"a":{"a":…}}`, as JSON text. */
const nestedObjects = (levels: number) => `${'{"a":'.repeat(levels - 1)}{}${"}".repeat(levels - 1)}`;

/** The event as JSON with `raw` (JSON text) put in place of the string "@@". */
function withRaw(event: Event, raw: string): string {
  return JSON.stringify(event).replace('"@@"', raw);
}

const binaryHeaders = (event: Event): Record<string, string> => ({
  ce_specversion: "1.0",
  ce_id: String(event.id),
  ce_source: String(event.source),
  ce_type: "return.approved",
  "content-type": "application/json",
});

const kafka = (body: string, headers?: Record<string, string>): InboundMessage => ({
  body,
  transport: "kafka",
  ...(headers === undefined ? {} : { headers }),
});

function prototypesUntouched(): void {
  for (const proto of [Object.prototype, Array.prototype, Function.prototype]) {
    expect(Object.hasOwn(proto, "polluted")).toBe(false);
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

describe("deep nesting", () => {
  it("refuses 10,000 levels in a field the schema would drop, naming where, with the ids kept for an answer", () => {
    const event = validEvent();
    event.data.extension = "@@";
    const result = failed(decodeReturnApproved(kafka(withRaw(event, nestedArrays(10_000)))));
    expect(result.stage).toBe("data");
    expect(result.eventId).toBe(event.id);
    expect(result.source).toBe(event.source);
    expect(result.issues).toHaveLength(1);
    expect(result.issues[0]?.path).toMatch(/^data\.extension(\[0\])+$/);
    expect(result.issues[0]?.message).toBe(
      `nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`,
    );
    expect(result.message).toContain("data.extension[0]");
  });

  it("refuses deep objects in the envelope, in metadata and in binary-mode data", () => {
    const envelope = validEvent();
    envelope.ext = "@@";
    expect(failed(decodeReturnApproved(kafka(withRaw(envelope, nestedObjects(10_000)))))).toMatchObject({
      stage: "envelope",
      issues: [{ path: expect.stringMatching(/^ext(\.a)+$/) }],
    });

    const meta = validEvent();
    meta.data.metadata = { channel: "@@" };
    expect(failed(decodeReturnApproved(kafka(withRaw(meta, nestedObjects(100)))))).toMatchObject({
      stage: "data",
      issues: [{ path: expect.stringMatching(/^data\.metadata\.channel(\.a)+$/) }],
    });

    const event = validEvent();
    const data = JSON.stringify({ ...event.data, deep: "@@" }).replace('"@@"', nestedArrays(5_000));
    const binary = failed(decodeReturnApproved(kafka(data, binaryHeaders(event))));
    expect(binary).toMatchObject({ stage: "data", eventId: event.id });
    expect(binary.issues[0]?.path).toMatch(/^data\.deep(\[0\])+$/);
  });

  it("refuses a body that is nothing but nesting, with no id to answer", () => {
    const result = failed(decodeReturnApproved(kafka(nestedArrays(100_000)), { maxBytes: 1_000_000 }));
    expect(result.stage).toBe("envelope");
    expect(result.eventId).toBeUndefined();
    expect(result.source).toBeUndefined();
    expect(result.message).toContain(`nests deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it("accepts the nesting the contract needs, and a little more", () => {
    const event = validEvent();
    // Level 1 is the envelope; MAX_JSON_DEPTH is the deepest container allowed.
    event.data.extension = "@@";
    const fits = nestedArrays(MAX_JSON_DEPTH - 2);
    expect(ok(decodeReturnApproved(kafka(withRaw(event, fits)))).data).not.toHaveProperty("extension");
    const over = nestedArrays(MAX_JSON_DEPTH - 1);
    expect(failed(decodeReturnApproved(kafka(withRaw(event, over)))).stage).toBe("data");
  });
});

describe("size", () => {
  it("refuses a body over the limit unread, whatever it holds", () => {
    const event = validEvent();
    event.data.notes = "x".repeat(2_000);
    const body = JSON.stringify(event);
    const result = failed(decodeReturnApproved(kafka(body), { maxBytes: 1_024 }));
    expect(result.stage).toBe("unparseable");
    expect(result.eventId).toBeUndefined();
    expect(result.message).toContain(`message is ${Buffer.byteLength(body)} bytes; the limit is 1024`);
    // A huge body that is not even JSON gets the same answer: it is never parsed.
    const junk = failed(decodeReturnApproved(kafka(`{${"[".repeat(300_000)}`)));
    expect(junk.message).toMatch(/message is 300001 bytes; the limit is 262144/);
  });

  it("refuses headers over MAX_HEADER_BYTES together, before the body is read", () => {
    const event = validEvent();
    const big = { "content-type": "application/cloudevents+json", "x-padding": "p".repeat(MAX_HEADER_BYTES) };
    const result = failed(decodeReturnApproved(kafka(JSON.stringify(event), big)));
    expect(result.stage).toBe("unparseable");
    expect(result.message).toMatch(/headers are \d+ bytes together; the limit is 65536/);
    // Many small headers count too.
    const many: Record<string, string> = { "content-type": "application/cloudevents+json" };
    for (let i = 0; i < 2_000; i++) many[`x-h${i}`] = "v".repeat(40);
    expect(failed(decodeReturnApproved(kafka(JSON.stringify(event), many))).message).toContain("headers are");
    // Ordinary headers are far below it.
    expect(ok(decodeReturnApproved(structured(event))).id).toBe(event.id);
  });

  it("refuses oversized CloudEvents attributes in headers by their own limits, naming them", () => {
    const event = validEvent();
    const headers = { ...binaryHeaders(event), ce_id: "e".repeat(10_000) };
    const result = failed(decodeReturnApproved(kafka(JSON.stringify(event.data), headers)));
    expect(result.stage).toBe("envelope");
    expect(result.eventId).toBeUndefined();
    expect(result.issues).toContainEqual({ path: "id", message: "must be at most 256 characters" });
    const subject = { ...binaryHeaders(event), ce_subject: "s".repeat(10_000) };
    expect(failed(decodeReturnApproved(kafka(JSON.stringify(event.data), subject))).issues).toContainEqual({
      path: "subject",
      message: "must be at most 256 characters",
    });
  });
});

describe("keys that reach prototypes", () => {
  const places: Array<[string, (e: Event, key: string) => string, RegExp]> = [
    [
      "the envelope",
      (e, key) => JSON.stringify(e).replace("{", `{"${key}":{"polluted":true},`),
      /^__proto__|^constructor|^prototype/,
    ],
    [
      "data",
      (e, key) => JSON.stringify(e).replace('"data":{', `"data":{"${key}":{"polluted":true},`),
      /^data\./,
    ],
    [
      "metadata",
      (e, key) => JSON.stringify(e).replace('"metadata":{', `"metadata":{"${key}":"x",`),
      /^data\.metadata\./,
    ],
    [
      "amount (a strict object)",
      (e, key) => JSON.stringify(e).replace('"amount":{', `"amount":{"${key}":{"value":1},`),
      /^data\.amount\./,
    ],
    [
      "a line",
      (e, key) => JSON.stringify(e).replace('"lines":[{', `"lines":[{"${key}":{"polluted":true},`),
      /^data\.lines\[0\]\./,
    ],
    [
      "a nested unknown field",
      (e, key) =>
        JSON.stringify(e).replace('"data":{', `"data":{"ext":{"a":[{"b":{"${key}":{"polluted":true}}}]},`),
      /^data\.ext\.a\[0\]\.b\./,
    ],
  ];

  for (const key of FORBIDDEN_JSON_KEYS) {
    it.each(places)(`refuses "${key}" in %s, naming it, and pollutes nothing`, (_, put, path) => {
      const event = validEvent();
      const body = put(event, key);
      expect(body).toContain(`"${key}"`);
      const result = failed(decodeReturnApproved(kafka(body)));
      expect(result.issues).toHaveLength(1);
      expect(result.issues[0]?.path).toMatch(path);
      expect(result.issues[0]?.path.endsWith(key)).toBe(true);
      expect(result.issues[0]?.message).toBe(`"${key}" is not accepted as a key anywhere in an event`);
      // The ids are kept, so the relay can answer with refund.failed invalid_event.
      expect(result).toMatchObject({ eventId: event.id, source: event.source });
      prototypesUntouched();
    });
  }

  it("refuses them in binary-mode data and in an SNS notification's attributes", () => {
    const event = validEvent();
    const data = JSON.stringify(event.data).replace("{", '{"__proto__":{"polluted":true},');
    expect(failed(decodeReturnApproved(kafka(data, binaryHeaders(event)))).issues[0]?.path).toBe(
      "data.__proto__",
    );
    const notification = JSON.stringify({
      Type: "Notification",
      TopicArn: "arn:aws:sns:eu-west-2:123456789012:returns",
      Message: JSON.stringify(event),
    }).replace("{", '{"MessageAttributes":{"__proto__":{"Type":"String","Value":"x"}},');
    const sns = failed(decodeReturnApproved({ body: notification, transport: "sqs" }));
    expect(sns.issues[0]?.path).toBe("MessageAttributes.__proto__");
    prototypesUntouched();
  });

  it("keeps the refusal of constructor and prototype as metadata keys in the schema producers validate with", () => {
    for (const key of ["constructor", "prototype"]) {
      const event = validEvent();
      event.data.metadata = { [key]: "x" };
      const parsed = ReturnApprovedEventV1Emit.safeParse(event);
      expect(parsed.success).toBe(false);
      expect(JSON.stringify(parsed.error?.issues)).toContain("must not be");
    }
  });

  it("builds the decoded event from known fields only: none of the input's objects or extra keys", () => {
    const event = validEvent();
    event.extension = { nested: true };
    event.data.unknownField = { x: 1 };
    const decoded = ok(decodeReturnApproved(structured(event)));
    expect(decoded).not.toHaveProperty("extension");
    expect(decoded.data).not.toHaveProperty("unknownField");
    for (const object of [decoded, decoded.data, decoded.data.amount, decoded.data.metadata]) {
      expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
    }
  });
});

describe("control characters and terminal escapes", () => {
  const ESC = "\u001b";
  const hostile = [
    `${ESC}[2J${ESC}[H`,
    `${ESC}]0;pwned\u0007`,
    "\u009b31m",
    "line\nbreak",
    "nul\u0000",
    "del\u007f",
  ];

  const fields: Array<[string, string, (e: Event, v: string) => void]> = [
    ["id", "id", (e, v) => (e.id = `evt${v}`)],
    ["source", "source", (e, v) => (e.source = `urn:shop${v}`)],
    ["returnId", "data.returnId", (e, v) => (e.data.returnId = `RMA${v}`)],
    ["reason", "data.reason", (e, v) => (e.data.reason = `Damaged${v}`)],
    ["subject", "subject", (e, v) => (e.subject = `pi_1${v}`)],
    ["orderId", "data.orderId", (e, v) => (e.data.orderId = `ORD${v}`)],
    ["metadata value", "data.metadata.channel", (e, v) => (e.data.metadata = { channel: `web${v}` })],
  ];

  it.each(fields)("refuses them in %s, naming the field and quoting none of it", (_, path, put) => {
    for (const value of hostile) {
      const event = validEvent();
      put(event, value);
      const result = failed(decodeReturnApproved(structured(event)));
      expect(result.issues.map((i) => i.path)).toContain(path);
      // The reason never carries a control character, whatever was sent.
      expect(result.message).not.toMatch(/\p{Cc}/u);
      for (const issue of result.issues) expect(`${issue.path}${issue.message}`).not.toMatch(/\p{Cc}/u);
      // An id or source that is refused is not handed on as one.
      if (path === "id") expect(result.eventId).toBeUndefined();
      if (path === "source") expect(result.source).toBeUndefined();
    }
  });

  it("cleans control characters out of keys it names in a reason", () => {
    const event = validEvent();
    event.data.metadata = { [`k${ESC}[31m`]: "v" };
    const result = failed(decodeReturnApproved(structured(event)));
    expect(result.issues[0]?.path).toBe('data.metadata["k?[31m"]');
    expect(result.message).not.toContain(ESC);
  });
});

describe("header injection through CloudEvents attributes", () => {
  const CRLF = "\r\nX-Injected: yes";

  it.each([
    ["ce_id", "id"],
    ["ce_source", "source"],
    ["ce_type", "type"],
    ["ce_time", "time"],
    ["ce_subject", "subject"],
    ["ce_dataschema", "dataschema"],
    ["content-type", "datacontenttype"],
  ])("refuses CR/LF in %s, naming the attribute", (header, attribute) => {
    const event = validEvent();
    const headers = binaryHeaders(event);
    const original = headers[header] ?? (header === "ce_subject" ? "pi_sandbox_abc123" : "urn:x:v1");
    headers[header] = `${original}${CRLF}`;
    if (header === "ce_time") headers.ce_time = `2026-03-02T14:05:09Z${CRLF}`;
    const result = failed(decodeReturnApproved(kafka(JSON.stringify(event.data), headers)));
    expect(result.issues.map((i) => i.path)).toContain(attribute);
    expect(result.message).not.toMatch(/[\r\n]/);
  });

  it("refuses CR/LF in structured-mode attributes too", () => {
    const event = validEvent();
    event.id = `evt-1${CRLF}`;
    const result = failed(decodeReturnApproved(structured(event)));
    expect(result.issues.map((i) => i.path)).toContain("id");
    expect(result.eventId).toBeUndefined();
  });

  it("derives a header-safe idempotency key from any id the contract accepts", () => {
    for (const id of ['evt"1', "evt{1}<>|`^", "evt\\1", `e${"x".repeat(255)}`]) {
      const event = validEvent();
      event.id = id;
      const decoded = ok(decodeReturnApproved(structured(event)));
      expect(idempotencyKeyFor(decoded)).toMatch(/^[A-Za-z0-9._:-]{1,100}$/);
    }
  });
});
