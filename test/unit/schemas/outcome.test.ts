import { describe, expect, it } from "vitest";
import {
  buildRefundFailed,
  buildRefundSucceeded,
  decodeReturnApproved,
  encodeOutcome,
  FAILURE_CODES,
  idempotencyKeyFor,
  OutcomeValidationError,
  outcomeEventId,
  RefundFailedEventV1,
  RefundFailedEventV1Emit,
  RefundSucceededEventV1,
  RefundSucceededEventV1Emit,
  type RefundSucceededInput,
} from "../../../schemas/index.ts";

const sourceEvent = { id: "evt-0001", source: "urn:returns-platform:test" };

function succeededInput(overrides: Partial<RefundSucceededInput> = {}): RefundSucceededInput {
  return {
    source: "urn:refund-relay",
    sourceEvent,
    returnId: "RMA-1",
    orderId: "ORD-1",
    paymentIntentId: "pi_sandbox_abc123",
    refundId: "rfd_1",
    amount: { value: 1299, currencyCode: "GBP" },
    idempotencyKey: idempotencyKeyFor(sourceEvent),
    method: "refund",
    attempts: 2,
    processedAt: new Date("2026-03-02T14:05:10.127Z"),
    ...overrides,
  };
}

describe("buildRefundSucceeded", () => {
  it("builds a valid emit-view event with the derived id, time and subject", () => {
    const event = buildRefundSucceeded(succeededInput());
    expect(RefundSucceededEventV1Emit.safeParse(event).success).toBe(true);
    expect(event).toMatchObject({
      specversion: "1.0",
      id: outcomeEventId(sourceEvent.source, sourceEvent.id, "refund.succeeded"),
      source: "urn:refund-relay",
      type: "refund.succeeded",
      subject: "pi_sandbox_abc123",
      time: "2026-03-02T14:05:10.127Z",
      datacontenttype: "application/json",
      dataschema: "urn:refund-relay:schema:refund.succeeded:v1",
    });
    expect(event.data).toEqual({
      sourceEvent,
      returnId: "RMA-1",
      orderId: "ORD-1",
      paymentIntentId: "pi_sandbox_abc123",
      refundId: "rfd_1",
      amount: { value: 1299, currencyCode: "GBP" },
      idempotencyKey: "rr:01e72bc54f69:evt-0001",
      method: "refund",
      attempts: 2,
      processedAt: "2026-03-02T14:05:10.127Z",
    });
  });

  it("gives a re-published outcome the same id", () => {
    expect(buildRefundSucceeded(succeededInput()).id).toBe(
      buildRefundSucceeded(succeededInput({ attempts: 5 })).id,
    );
  });

  it("carries metadata and merchantId when present, and leaves out empty metadata", () => {
    const event = buildRefundSucceeded(
      succeededInput({ metadata: { channel: "web" }, merchantId: "shop-uk" }),
    );
    expect(event.data.metadata).toEqual({ channel: "web" });
    expect(event.data.merchantId).toBe("shop-uk");
    expect(buildRefundSucceeded(succeededInput({ metadata: {} })).data).not.toHaveProperty("metadata");
  });

  it("throws OutcomeValidationError naming the field when the input breaks the contract", () => {
    let error: unknown;
    try {
      buildRefundSucceeded(succeededInput({ amount: { value: 12.5, currencyCode: "GBP" } }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OutcomeValidationError);
    expect((error as OutcomeValidationError).issues.map((i) => i.path)).toEqual(["data.amount.value"]);
  });

  it("refuses zero attempts and an unsafe payment intent id", () => {
    expect(() => buildRefundSucceeded(succeededInput({ attempts: 0 }))).toThrow(OutcomeValidationError);
    expect(() => buildRefundSucceeded(succeededInput({ paymentIntentId: "pi/../1" }))).toThrow(/subject/);
  });

  it("is readable through the accept view, which defaults metadata to an empty map", () => {
    const parsed = RefundSucceededEventV1.parse(buildRefundSucceeded(succeededInput()));
    expect(parsed.data.metadata).toEqual({});
  });
});

describe("buildRefundFailed", () => {
  it("answers an invalid event knowing only its id and source", () => {
    const event = buildRefundFailed({
      source: "urn:refund-relay",
      sourceEvent,
      attempts: 0,
      processedAt: "2026-03-02T14:05:10Z",
      code: "invalid_event",
      message: "invalid return.approved data: data.amount.value: must be positive",
    });
    expect(RefundFailedEventV1Emit.safeParse(event).success).toBe(true);
    expect(event).not.toHaveProperty("subject");
    expect(event.id).toBe(outcomeEventId(sourceEvent.source, sourceEvent.id, "refund.failed"));
    expect(Object.keys(event.data).sort()).toEqual([
      "attempts",
      "code",
      "message",
      "processedAt",
      "sourceEvent",
    ]);
  });

  it("copies the known fields and Dojo's problem details, dropping what is not part of the contract", () => {
    const event = buildRefundFailed({
      source: "urn:refund-relay",
      sourceEvent,
      paymentIntentId: "pi_1",
      amount: { value: 100, currencyCode: "EUR" },
      method: "reversal",
      attempts: 1,
      processedAt: new Date(0),
      code: "dojo_rejected",
      message: "rejected",
      problem: {
        type: "https://docs.dojo.tech/errors/validation",
        status: 400,
        detail: "d".repeat(5000),
        traceId: "t-1",
        errors: { amount: ["too large"], reason: "required", bogus: [1, 2] },
        extra: "dropped",
      } as never,
    });
    expect(event.subject).toBe("pi_1");
    expect(event.data.problem).toMatchObject({
      type: "https://docs.dojo.tech/errors/validation",
      status: 400,
      traceId: "t-1",
      errors: { amount: ["too large"], reason: ["required"], bogus: [] },
    });
    expect(event.data.problem?.detail).toHaveLength(4096);
    expect(event.data.problem).not.toHaveProperty("extra");
  });

  it("cleans and bounds the human message", () => {
    const event = buildRefundFailed({
      source: "urn:refund-relay",
      sourceEvent,
      attempts: 1,
      processedAt: new Date(0),
      code: "dojo_rejected",
      message: `bad\u0000${"x".repeat(3000)}`,
    });
    expect(event.data.message.startsWith("bad?x")).toBe(true);
    expect(event.data.message).toHaveLength(2048);
  });

  it("emits only the documented codes, while the accept view tolerates new ones", () => {
    const event = buildRefundFailed({
      source: "urn:refund-relay",
      sourceEvent,
      attempts: 0,
      processedAt: new Date(0),
      code: "payment_not_found",
      message: "not found",
    });
    const future = { ...event, data: { ...event.data, code: "card_expired", newField: 1 } };
    expect(RefundFailedEventV1Emit.safeParse(future).success).toBe(false);
    expect(RefundFailedEventV1.parse(future).data.code).toBe("card_expired");
    expect(() =>
      buildRefundFailed({ ...event.data, source: "urn:x", code: "card_expired" as never }),
    ).toThrow(OutcomeValidationError);
  });

  it("lists every failure code the relay needs", () => {
    for (const code of [
      "invalid_event",
      "payment_not_found",
      "payment_not_captured",
      "payment_not_refundable",
      "currency_mismatch",
      "amount_exceeds_refundable",
      "unknown_merchant",
      "idempotency_conflict",
      "dojo_rejected",
      "unauthorized",
      "forbidden",
    ]) {
      expect(FAILURE_CODES).toContain(code);
    }
  });
});

describe("encodeOutcome", () => {
  const event = buildRefundSucceeded(succeededInput());

  it("structured mode: the whole event as JSON, keyed by payment intent id", () => {
    const encoded = encodeOutcome(event, "structured");
    expect(encoded.key).toBe("pi_sandbox_abc123");
    expect(encoded.headers).toEqual({ "content-type": "application/cloudevents+json" });
    expect(JSON.parse(encoded.value)).toEqual(event);
  });

  it("binary mode: ce_* headers and the data as the value", () => {
    const encoded = encodeOutcome(event, "binary");
    expect(encoded.key).toBe("pi_sandbox_abc123");
    expect(encoded.headers).toEqual({
      ce_specversion: "1.0",
      ce_id: event.id,
      ce_source: "urn:refund-relay",
      ce_type: "refund.succeeded",
      ce_time: event.time,
      ce_subject: "pi_sandbox_abc123",
      ce_dataschema: "urn:refund-relay:schema:refund.succeeded:v1",
      "content-type": "application/json",
    });
    expect(JSON.parse(encoded.value)).toEqual(event.data);
  });

  it("has no key for a failure whose payment intent is unknown", () => {
    const failedEvent = buildRefundFailed({
      source: "urn:refund-relay",
      sourceEvent,
      attempts: 0,
      processedAt: new Date(0),
      code: "invalid_event",
      message: "x",
    });
    expect(encodeOutcome(failedEvent, "binary").key).toBeNull();
    expect(encodeOutcome(failedEvent, "binary").headers).not.toHaveProperty("ce_subject");
  });

  it("binary mode decodes back through the same CloudEvents rules the relay reads with", () => {
    // The outcome is not a return.approved, so decoding must fail on type and data, not on the envelope mode.
    const encoded = encodeOutcome(event, "binary");
    const result = decodeReturnApproved({
      body: encoded.value,
      headers: encoded.headers,
      transport: "kafka",
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.eventId).toBe(event.id);
      expect(result.issues.map((i) => i.path)).toContain("type");
    }
  });
});
