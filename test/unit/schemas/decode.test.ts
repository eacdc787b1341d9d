import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  type DecodeResult,
  decodeReturnApproved,
} from "../../../schemas/index.ts";
import { structured, validEvent } from "./fixtures.ts";

function ok(result: DecodeResult) {
  if (!result.ok) throw new Error(`expected a valid event, got: ${result.message}`);
  return result.event;
}

function failed(result: DecodeResult) {
  if (result.ok) throw new Error("expected a rejection");
  return result;
}

function binaryHeaders(event: ReturnType<typeof validEvent>): Record<string, string> {
  return {
    ce_specversion: "1.0",
    ce_id: String(event.id),
    ce_source: String(event.source),
    ce_type: "return.approved",
    ce_time: String(event.time),
    "content-type": "application/json",
  };
}

function sns(message: string, attributes: Record<string, { Type: string; Value: string }> = {}) {
  return JSON.stringify({
    Type: "Notification",
    MessageId: "m-1",
    TopicArn: "arn:aws:sns:eu-west-2:123456789012:return-approved",
    Message: message,
    MessageAttributes: attributes,
  });
}

describe("decodeReturnApproved: content modes", () => {
  it("reads a structured-mode event with content-type application/cloudevents+json", () => {
    const event = ok(decodeReturnApproved(structured(validEvent())));
    expect(event.id).toBe("evt-0001");
    expect(event.data.amount).toEqual({ value: 1299, currencyCode: "GBP" });
  });

  it("reads a structured-mode event with no headers at all", () => {
    const event = ok(decodeReturnApproved({ body: JSON.stringify(validEvent()), transport: "kafka" }));
    expect(event.data.returnId).toBe("RMA-1");
  });

  it("reads a structured-mode event from bytes", () => {
    const body = new TextEncoder().encode(JSON.stringify(validEvent()));
    expect(ok(decodeReturnApproved({ body, transport: "kafka" })).source).toBe("urn:returns-platform:test");
  });

  it("reads Kafka binary mode: ce_* headers with the data as the value", () => {
    const source = validEvent();
    const event = ok(
      decodeReturnApproved({
        body: JSON.stringify(source.data),
        headers: binaryHeaders(source),
        transport: "kafka",
      }),
    );
    expect(event).toMatchObject({
      id: "evt-0001",
      type: "return.approved",
      datacontenttype: "application/json",
    });
    expect(event.data.paymentIntentId).toBe("pi_sandbox_abc123");
  });

  it("treats header names case-insensitively", () => {
    const source = validEvent();
    const headers = Object.fromEntries(
      Object.entries(binaryHeaders(source)).map(([k, v]) => [k.toUpperCase(), v]),
    );
    expect(
      ok(decodeReturnApproved({ body: JSON.stringify(source.data), headers, transport: "kafka" })).id,
    ).toBe("evt-0001");
  });

  it("prefers structured mode when content-type says so, even with stray ce_ headers", () => {
    const message = structured(validEvent());
    const event = ok(
      decodeReturnApproved({ ...message, headers: { ...message.headers, ce_specversion: "1.0" } }),
    );
    expect(event.id).toBe("evt-0001");
  });

  it("unwraps an SNS notification on SQS", () => {
    const event = ok(decodeReturnApproved({ body: sns(JSON.stringify(validEvent())), transport: "sqs" }));
    expect(event.data.orderId).toBe("ORD-1");
  });

  it("unwraps an SNS notification carrying binary mode in MessageAttributes", () => {
    const source = validEvent();
    const attributes = Object.fromEntries(
      Object.entries(binaryHeaders(source)).map(([k, v]) => [k, { Type: "String", Value: v }]),
    );
    const event = ok(
      decodeReturnApproved({ body: sns(JSON.stringify(source.data), attributes), transport: "sqs" }),
    );
    expect(event.id).toBe("evt-0001");
  });

  it("reads a structured event sent straight to SQS", () => {
    expect(ok(decodeReturnApproved({ body: JSON.stringify(validEvent()), transport: "sqs" })).id).toBe(
      "evt-0001",
    );
  });

  it("does not unwrap SNS on Kafka", () => {
    const result = failed(
      decodeReturnApproved({ body: sns(JSON.stringify(validEvent())), transport: "kafka" }),
    );
    expect(result.stage).toBe("envelope");
  });

  it("rejects an SNS subscription confirmation as unparseable", () => {
    const body = JSON.stringify({ Type: "SubscriptionConfirmation", TopicArn: "arn:x", Message: "confirm" });
    const result = failed(decodeReturnApproved({ body, transport: "sqs" }));
    expect(result.stage).toBe("unparseable");
    expect(result.message).toContain("SubscriptionConfirmation");
  });

  it("does not unwrap an SNS notification nested in another", () => {
    const inner = sns(JSON.stringify(validEvent()));
    expect(failed(decodeReturnApproved({ body: sns(inner), transport: "sqs" })).stage).toBe("envelope");
  });
});

describe("decodeReturnApproved: versions and unknown fields", () => {
  it("accepts return.approved.v1 as the type", () => {
    const e = validEvent();
    e.type = "return.approved.v1";
    expect(ok(decodeReturnApproved(structured(e))).type).toBe("return.approved.v1");
  });

  it("accepts the v1 dataschema URN and an opaque registry URL", () => {
    for (const dataschema of [
      "urn:refund-relay:schema:return.approved:v1",
      "https://registry.example/schemas/42",
    ]) {
      const e = validEvent();
      e.dataschema = dataschema;
      expect(ok(decodeReturnApproved(structured(e))).dataschema).toBe(dataschema);
    }
  });

  it("ignores and drops unknown data fields and extension attributes", () => {
    const e = validEvent();
    e.data.giftWrap = true;
    e.traceparent = "00-abc-def-01";
    const event = ok(decodeReturnApproved(structured(e)));
    expect(event.data).not.toHaveProperty("giftWrap");
    expect(event).not.toHaveProperty("traceparent");
  });

  it("accepts a currency Dojo may not support, leaving that decision to the relay", () => {
    const e = validEvent();
    e.data.amount = { value: 100, currencyCode: "JPY" };
    delete e.data.lines;
    expect(ok(decodeReturnApproved(structured(e))).data.amount.currencyCode).toBe("JPY");
  });

  it("accepts lowercase t and z, fractions and offsets in RFC 3339 times", () => {
    const e = validEvent();
    e.time = "2026-03-02t14:05:09.123456789z";
    e.data.approvedAt = "2024-02-29T23:59:60+05:30";
    expect(decodeReturnApproved(structured(e)).ok).toBe(true);
  });
});

describe("decodeReturnApproved: failures the relay can answer", () => {
  it("fills eventId, source and subject when the data is invalid", () => {
    const e = validEvent();
    e.data.amount = { value: -1, currencyCode: "GBP" };
    const result = failed(decodeReturnApproved(structured(e)));
    expect(result).toMatchObject({
      stage: "data",
      eventId: "evt-0001",
      source: "urn:returns-platform:test",
      subject: "pi_sandbox_abc123",
    });
    expect(result.message).toContain("data.amount.value");
  });

  it("takes the subject from the envelope when the payment intent id is unusable", () => {
    const e = validEvent();
    e.data.paymentIntentId = "../x";
    e.subject = "pi_from_subject";
    expect(failed(decodeReturnApproved(structured(e))).subject).toBe("pi_from_subject");
  });

  it("leaves out an eventId that is itself invalid", () => {
    const e = validEvent();
    e.id = "";
    const result = failed(decodeReturnApproved(structured(e)));
    expect(result.stage).toBe("envelope");
    expect(result).not.toHaveProperty("eventId");
    expect(result.source).toBe("urn:returns-platform:test");
  });

  it("reports envelope and data problems together, as stage envelope", () => {
    const e = validEvent();
    e.specversion = "0.3";
    e.data.reason = "";
    const result = failed(decodeReturnApproved(structured(e)));
    expect(result.stage).toBe("envelope");
    expect(result.issues.map((i) => i.path)).toEqual(["specversion", "data.reason"]);
  });

  it("keeps the binary-mode id and source when the value is not JSON", () => {
    const result = failed(
      decodeReturnApproved({ body: "{oops", headers: binaryHeaders(validEvent()), transport: "kafka" }),
    );
    expect(result).toMatchObject({
      stage: "unparseable",
      eventId: "evt-0001",
      source: "urn:returns-platform:test",
    });
  });

  it("reports missing data in binary mode with no value", () => {
    const result = failed(
      decodeReturnApproved({ body: null, headers: binaryHeaders(validEvent()), transport: "kafka" }),
    );
    expect(result.stage).toBe("data");
    expect(result.issues).toEqual([{ path: "data", message: "is required" }]);
  });

  it("names a missing field as required", () => {
    const e = validEvent();
    delete e.data.orderId;
    expect(failed(decodeReturnApproved(structured(e))).issues).toEqual([
      { path: "data.orderId", message: "is required" },
    ]);
  });

  it("bounds and cleans paths built from attacker-chosen keys", () => {
    const e = validEvent();
    e.data.amount = { value: 1, currencyCode: "GBP", [`x\u0000${"k".repeat(500)}`]: 1 };
    const [issue] = failed(decodeReturnApproved(structured(e))).issues;
    expect(issue?.path.length).toBeLessThan(100);
    expect(issue?.path).not.toMatch(/\p{Cc}/u);
  });
});

describe("decodeReturnApproved: size limit", () => {
  const body = (bytes: number) => {
    const text = JSON.stringify({ ...validEvent(), pad: "" });
    return text.replace('"pad":""', `"pad":"${"x".repeat(bytes - text.length)}"`);
  };

  it("accepts a message of exactly the limit and rejects one byte more", () => {
    expect(decodeReturnApproved({ body: body(2048), transport: "kafka" }, { maxBytes: 2048 }).ok).toBe(true);
    const result = failed(decodeReturnApproved({ body: body(2049), transport: "kafka" }, { maxBytes: 2048 }));
    expect(result.stage).toBe("unparseable");
    expect(result.message).toContain("2049 bytes; the limit is 2048");
  });

  it("counts UTF-8 bytes, not characters", () => {
    const e = validEvent();
    e.data.notes = "€".repeat(1000);
    const text = JSON.stringify(e);
    expect(decodeReturnApproved({ body: text, transport: "kafka" }, { maxBytes: text.length + 100 }).ok).toBe(
      false,
    );
  });

  it("defaults to 256 KiB", () => {
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBe(262_144);
    expect(decodeReturnApproved({ body: body(262_144), transport: "kafka" }).ok).toBe(true);
    expect(decodeReturnApproved({ body: body(262_145), transport: "kafka" }).ok).toBe(false);
  });

  it("refuses a maxBytes that is not a positive integer", () => {
    expect(() => decodeReturnApproved({ body: "{}", transport: "kafka" }, { maxBytes: 0 })).toThrow(
      RangeError,
    );
  });
});

describe("decodeReturnApproved: hostile input", () => {
  const headers = fc.dictionary(
    fc.constantFrom("ce_specversion", "ce_id", "ce_source", "ce_type", "content-type", "x"),
    fc.oneof(fc.string(), fc.constant("1.0"), fc.constant("application/cloudevents+json")),
  );
  const body = fc.oneof(
    fc.constant(null),
    fc.string({ unit: "binary" }),
    fc.uint8Array({ maxLength: 200 }),
    fc.jsonValue().map((v) => JSON.stringify(v)),
  );

  it("never throws, and always explains a rejection", () => {
    fc.assert(
      fc.property(body, headers, fc.constantFrom("kafka" as const, "sqs" as const), (b, h, transport) => {
        const result = decodeReturnApproved({ body: b, headers: h, transport });
        if (!result.ok) {
          expect(result.message.length).toBeGreaterThan(0);
          expect(result.issues.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("only ever accepts data whose amount is a positive safe integer", () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null)), (value) => {
        const e = validEvent();
        e.data.amount = { value, currencyCode: "GBP" };
        delete e.data.lines;
        const result = decodeReturnApproved(structured(e));
        expect(result.ok).toBe(Number.isSafeInteger(value) && (value as number) > 0);
      }),
    );
  });
});
