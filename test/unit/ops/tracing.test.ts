// Trace propagation without an OpenTelemetry SDK (none is registered in this file): the relay must
// still continue an incoming W3C trace, with span ids of its own.
import { describe, expect, it } from "vitest";
import { encodeOutcome, RefundSucceededEventV1Emit } from "../../../schemas/index.ts";
import {
  formatTraceparent,
  parseTraceparent,
  startClientSpan,
  startMessageSpan,
} from "../../../src/ops/tracing.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID = "00f067aa0ba902b7";
const INCOMING = `00-${TRACE_ID}-${PARENT_ID}-01`;
const noAttributes = () => ({});

describe("W3C traceparent", () => {
  it("parses version 00 and formats it back", () => {
    const sc = parseTraceparent(INCOMING);
    expect(sc).toMatchObject({ traceId: TRACE_ID, spanId: PARENT_ID, traceFlags: 1, isRemote: true });
    expect(formatTraceparent(sc as NonNullable<typeof sc>)).toBe(INCOMING);
  });

  it("reads a later version by its first four fields", () => {
    expect(parseTraceparent(`01-${TRACE_ID}-${PARENT_ID}-00-future`)).toMatchObject({
      traceId: TRACE_ID,
      traceFlags: 0,
    });
  });

  it.each([
    ["version ff", `ff-${TRACE_ID}-${PARENT_ID}-01`],
    ["a zero trace id", `00-${"0".repeat(32)}-${PARENT_ID}-01`],
    ["a zero span id", `00-${TRACE_ID}-${"0".repeat(16)}-01`],
    ["a short trace id", `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`],
    ["version 00 with a suffix", `${INCOMING}-x`],
    ["garbage", "hello"],
  ])("rejects %s", (_, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe("spans without an SDK", () => {
  it("continues an incoming trace with a fresh span id, passing flags and tracestate on", () => {
    const span = startMessageSpan(
      { traceparent: INCOMING, tracestate: "shop=a1" },
      "return.approved",
      noAttributes,
    );
    expect(span).toBeDefined();
    const [, traceId, spanId, flags] = (span?.traceparent ?? "").split("-");
    expect(traceId).toBe(TRACE_ID);
    expect(spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(spanId).not.toBe(PARENT_ID);
    expect(flags).toBe("01");
    expect(span?.tracestate).toBe("shop=a1");
  });

  it("reads ce_traceparent (CloudEvents binary mode) when there is no traceparent header", () => {
    const span = startMessageSpan({ ce_traceparent: INCOMING }, "return.approved", noAttributes);
    expect(span?.traceparent.split("-")[1]).toBe(TRACE_ID);
  });

  it("makes no trace for a message that has none, and asks for no attributes", () => {
    let asked = false;
    const span = startMessageSpan({ "content-type": "application/json" }, "return.approved", () => {
      asked = true;
      return {};
    });
    expect(span).toBeUndefined();
    expect(asked).toBe(false);
    expect(startMessageSpan({ traceparent: "00-garbage" }, "return.approved", noAttributes)).toBeUndefined();
  });

  it("gives each HTTP request a child span of the message's span, in traceparent and tracestate", () => {
    const message = startMessageSpan({ traceparent: INCOMING, tracestate: "shop=a1" }, "q", noAttributes);
    const messageSpanId = message?.traceparent.split("-")[2];
    const first = startClientSpan(message?.context, "POST /x", noAttributes);
    const second = startClientSpan(message?.context, "POST /x", noAttributes);
    const h1: Record<string, string> = {};
    const h2: Record<string, string> = {};
    first?.inject(h1);
    second?.inject(h2);
    for (const h of [h1, h2]) {
      const [version, traceId, spanId] = (h.traceparent ?? "").split("-");
      expect(version).toBe("00");
      expect(traceId).toBe(TRACE_ID);
      expect(spanId).not.toBe(messageSpanId);
      expect(spanId).not.toBe(PARENT_ID);
      expect(h.tracestate).toBe("shop=a1");
    }
    expect(h1.traceparent).not.toBe(h2.traceparent);
    expect(startClientSpan(undefined, "GET /x", noAttributes)).toBeUndefined();
  });
});

describe("outcomes with a trace", () => {
  const outcome = RefundSucceededEventV1Emit.parse({
    specversion: "1.0",
    id: "6f1f6b8e-4f5b-5d7b-9c1a-0a1b2c3d4e5f",
    source: "urn:refund-relay",
    type: "refund.succeeded",
    subject: "pi_1",
    time: "2026-11-26T10:00:00Z",
    datacontenttype: "application/json",
    dataschema: "urn:refund-relay:schema:refund.succeeded:v1",
    traceparent: INCOMING,
    tracestate: "shop=a1",
    data: {
      sourceEvent: { id: "e1", source: "urn:shop" },
      returnId: "R1",
      orderId: "O1",
      paymentIntentId: "pi_1",
      refundId: "rfnd_1",
      amount: { value: 100, currencyCode: "GBP" },
      idempotencyKey: "rr:k",
      method: "refund",
      attempts: 1,
      processedAt: "2026-11-26T10:00:00Z",
    },
  });

  it("are valid under the emit contract and carry the trace in both content modes", () => {
    const structured = encodeOutcome(outcome, "structured");
    expect(JSON.parse(structured.value).traceparent).toBe(INCOMING);
    expect(structured.headers).toMatchObject({ traceparent: INCOMING, tracestate: "shop=a1" });
    const binary = encodeOutcome(outcome, "binary");
    expect(binary.headers).toMatchObject({ ce_traceparent: INCOMING, ce_tracestate: "shop=a1" });
    // An SQS message takes ten attributes at most.
    expect(Object.keys(binary.headers).length).toBeLessThanOrEqual(10);
  });

  it("are refused by the emit contract when the traceparent is malformed", () => {
    expect(RefundSucceededEventV1Emit.safeParse({ ...outcome, traceparent: "00-nope" }).success).toBe(false);
  });
});
