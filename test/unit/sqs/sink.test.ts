// The SQS outcome sink and dead letters, against an in-memory SQS: structured and binary outcomes,
// batching, FIFO group and de-duplication ids, per-entry failures, and the dead-letter envelope.
import { describe, expect, it } from "vitest";
import {
  deadLetterOf,
  type MessageLease,
  type SqsDeadLetterEnvelope,
  SqsDelivery,
  SqsOutcomeSink,
  SqsQueue,
} from "../../../consumers/sqs/index.ts";
import { MessageLeases } from "../../../consumers/sqs/leases.ts";
import { buildRefundSucceeded, type OutcomeEvent } from "../../../schemas/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import type { DeadLetterReason } from "../../../src/pipeline/index.ts";
import { FakeSqs } from "./fake-sqs.ts";

const OK = "http://fake/000000000000/ok";
const NO = "http://fake/000000000000/no";
const DLQ = "http://fake/000000000000/dlq";
const OK_FIFO = "http://fake/000000000000/ok.fifo";

function outcome(n: number, paymentIntentId = "pi_sandbox_1"): OutcomeEvent {
  return buildRefundSucceeded({
    source: "urn:refund-relay",
    sourceEvent: { id: `evt-${n}`, source: "urn:shop:test" },
    processedAt: new Date("2026-11-26T10:00:00Z"),
    returnId: `RMA-${n}`,
    orderId: "ORD-1",
    paymentIntentId,
    refundId: `rfnd_${n}`,
    amount: { value: 100, currencyCode: "GBP" },
    idempotencyKey: `rr:abc:evt-${n}`,
    method: "refund",
    attempts: 1,
  });
}

function sinkOn(fake: FakeSqs, mode: "structured" | "binary" = "structured", succeeded = OK) {
  return new SqsOutcomeSink({
    client: fake.client,
    queues: { succeeded, failed: NO, deadLetter: DLQ },
    outcomeMode: mode,
    logger: silentLogger,
  });
}

type Entry = {
  MessageBody: string;
  MessageAttributes: Record<string, { StringValue: string }>;
  MessageGroupId?: string;
  MessageDeduplicationId?: string;
};
const sentEntries = (fake: FakeSqs) =>
  fake.callsOf("SendMessageBatchCommand").flatMap((c) => c.input.Entries as Entry[]);

describe("SQS outcome sink", () => {
  it("sends structured outcomes in batches of at most ten", async () => {
    const fake = new FakeSqs(OK, NO, DLQ);
    const sink = sinkOn(fake);
    await Promise.all(Array.from({ length: 12 }, (_, i) => sink.publish(outcome(i))));
    const calls = fake.callsOf("SendMessageBatchCommand");
    expect(calls.map((c) => (c.input.Entries as unknown[]).length)).toEqual([10, 2]);
    const [first] = sentEntries(fake);
    expect(JSON.parse(first?.MessageBody ?? "")).toEqual(outcome(0));
    expect(first?.MessageAttributes).toEqual({
      "content-type": { DataType: "String", StringValue: "application/cloudevents+json" },
    });
    expect(first?.MessageGroupId).toBeUndefined();
    expect(fake.live(OK)).toHaveLength(12);
  });

  it("sends binary outcomes with the CloudEvents attributes as message attributes, at most ten", async () => {
    const fake = new FakeSqs(OK, NO, DLQ);
    const event = outcome(1);
    await sinkOn(fake, "binary").publish(event);
    const [entry] = sentEntries(fake);
    expect(JSON.parse(entry?.MessageBody ?? "")).toEqual(event.data);
    const attributes = Object.fromEntries(
      Object.entries(entry?.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]),
    );
    expect(attributes).toEqual({
      ce_specversion: "1.0",
      ce_id: event.id,
      ce_source: "urn:refund-relay",
      ce_type: "refund.succeeded",
      ce_time: event.time,
      ce_dataschema: event.dataschema,
      ce_subject: "pi_sandbox_1",
      "content-type": "application/json",
    });
    expect(Object.keys(attributes).length).toBeLessThanOrEqual(10);
  });

  it("groups outcomes by payment intent on a FIFO queue and de-duplicates by outcome id", async () => {
    const fake = new FakeSqs(OK_FIFO, NO, DLQ);
    const event = outcome(1, "pi_sandbox_fifo");
    await sinkOn(fake, "structured", OK_FIFO).publish(event);
    const [entry] = sentEntries(fake);
    expect(entry?.MessageGroupId).toBe("pi_sandbox_fifo");
    expect(entry?.MessageDeduplicationId).toBe(event.id);
  });

  it("rejects only the publication whose entry SQS refused", async () => {
    const fake = new FakeSqs(OK, NO, DLQ);
    fake.entryFaults.set("SendMessageBatchCommand", [{ code: "InternalError" }]);
    const sink = sinkOn(fake);
    const results = await Promise.allSettled([sink.publish(outcome(1)), sink.publish(outcome(2))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled"]);
    expect(String((results[0] as PromiseRejectedResult).reason)).toContain("InternalError");
  });
});

describe("SQS dead letters", () => {
  const reason: DeadLetterReason = {
    code: "unparseable",
    message: "body is not valid JSON",
    attempts: 0,
    firstSeenAt: new Date("2026-11-26T10:00:00Z"),
  };

  function delivery(body: string, headers: Record<string, string> = {}): SqsDelivery {
    const lane = new SqsQueue("http://fake/000000000000/in", { acked: () => {}, released: () => {} });
    const lease: MessageLease = new MessageLeases(30).received(
      { MessageId: "m-1", ReceiptHandle: "h-1" },
      2,
      Date.now(),
    );
    return new SqsDelivery(lane, lease, body, headers, {
      queueUrl: lane.url,
      messageId: "m-1",
      receiptHandle: "h-1",
      receiveCount: 2,
      messageGroupId: undefined,
      sentTimestamp: "1764151200000",
    });
  }

  it("wraps the original body and attributes with the reason and the origin", async () => {
    const fake = new FakeSqs(OK, NO, DLQ);
    await sinkOn(fake).deadLetter(delivery("not json {", { ce_id: "x" }), { ...reason, eventId: "e-1" });
    const call = fake.callsOf("SendMessageCommand")[0];
    expect(call?.input.QueueUrl).toBe(DLQ);
    const envelope = JSON.parse(String(call?.input.MessageBody)) as SqsDeadLetterEnvelope;
    expect(envelope).toEqual({
      deadLetter: {
        code: "unparseable",
        message: "body is not valid JSON",
        attempts: 0,
        firstSeenAt: "2026-11-26T10:00:00.000Z",
        eventId: "e-1",
      },
      origin: {
        queueUrl: "http://fake/000000000000/in",
        messageId: "m-1",
        receiveCount: 2,
        sentTimestamp: "1764151200000",
      },
      original: { body: "not json {", attributes: { ce_id: "x" } },
    });
    expect(call?.input.MessageAttributes).toMatchObject({
      "rr-error-code": { StringValue: "unparseable" },
      "rr-event-id": { StringValue: "e-1" },
    });
    expect(call?.input.MessageGroupId).toBeUndefined();
  });

  it("cuts an original body too large to fit SQS's message size with its envelope, and says so", () => {
    const letter = deadLetterOf(delivery("x".repeat(262_144)), reason);
    expect(letter.truncated).toBe(true);
    expect(Buffer.byteLength(letter.body)).toBeLessThanOrEqual(262_144);
    const envelope = JSON.parse(letter.body) as SqsDeadLetterEnvelope;
    expect(envelope.original.bodyTruncated).toBe(true);
    expect(envelope.original.body?.length).toBeGreaterThan(200_000);
  });

  it("gives FIFO dead letters a group and a de-duplication id that stays the same for the same message", () => {
    const a = deadLetterOf(delivery("{}"), reason);
    const b = deadLetterOf(delivery("{}"), { ...reason, firstSeenAt: new Date() });
    expect(a.deduplicationId).toBe(b.deduplicationId);
    expect(a.deduplicationId).toMatch(/^[0-9a-f]{64}$/);
    expect(a.groupId).toBe("dead-letters");
  });
});
