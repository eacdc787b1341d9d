import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqsDeadLetterEnvelope, SqsRelay } from "../../../consumers/sqs/index.ts";
import type { RunningRelay } from "../../../src/cli/relay-app.ts";
import { returnApproved } from "../../support/events.ts";
import { sqsServers } from "../../support/fauxqs.ts";
import { SqsHarness, sourceEventIdOf, structuredMessage } from "../../support/sqs-harness.ts";

const servers = await sqsServers();

describe.each(servers)("relay over SQS ($name)", ({ endpoint }) => {
  let h: SqsHarness;
  let relay: RunningRelay<SqsRelay>;

  beforeAll(async () => {
    h = await new SqsHarness({ endpoint }).setUp();
    relay = await h.startRelay();
  });
  afterAll(async () => {
    await h?.tearDown();
  });

  describe("happy path", () => {
    it("refunds several partial returns of one payment, publishes refund.succeeded for each and deletes the messages", async () => {
      const pi = await h.dojo.createIntent({ amount: 10_000, status: "Captured" });
      const events = [3000, 2500, 4500].map((amount, i) =>
        returnApproved({
          paymentIntentId: pi,
          amount,
          returnId: `RMA-partial-${i}`,
          metadata: { n: String(i) },
        }),
      );
      await h.send(events.map((e) => structuredMessage(e)));

      await h.waitFor(() => h.outcomes("refund.succeeded").length === 3, "three refund.succeeded");
      const outcomes = h.outcomes("refund.succeeded");
      // A standard queue does not keep order: compare as a set.
      expect(outcomes.map((o) => sourceEventIdOf(o)).sort()).toEqual(events.map((e) => e.id).sort());
      for (const o of outcomes) {
        const event = events.find((e) => e.id === sourceEventIdOf(o));
        expect(o.attributes["content-type"]).toBe("application/cloudevents+json");
        expect(o.json).toMatchObject({
          type: "refund.succeeded",
          subject: pi,
          data: { paymentIntentId: pi, amount: event?.data.amount, method: "refund", attempts: 1 },
        });
        expect(o.json?.data.refundId).toMatch(/^rfnd_/);
      }
      const refunds = await h.dojo.refundsOf(pi);
      expect(refunds.refundedAmount).toBe(10_000);
      expect(refunds.refunds).toHaveLength(3);
      // Every message was deleted once its outcome was out.
      await expect.poll(() => h.depth(), { timeout: 10_000 }).toEqual({ visible: 0, inFlight: 0 });
      // The relay counts a delete when SQS's answer arrives, which can be just after the queue shows it.
      await expect
        .poll(() => relay.relay.stats, { timeout: 5_000 })
        .toMatchObject({ received: 3, deleted: 3, released: 0, leasesLost: 0 });
    });

    it("answers a duplicate delivery of one event once at Dojo, re-publishing the same outcome", async () => {
      const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
      const event = returnApproved({ paymentIntentId: pi, amount: 1200 });
      await h.send([structuredMessage(event), structuredMessage(event)]);

      await h.waitFor(() => h.outcomesOf(event.id).length === 2, "two outcomes for the duplicated event");
      const [first, second] = h.outcomesOf(event.id);
      expect(first?.json?.type).toBe("refund.succeeded");
      expect(second?.json?.id).toBe(first?.json?.id);
      expect(second?.json?.data.refundId).toBe(first?.json?.data.refundId);
      expect((await h.dojo.refundsOf(pi)).refunds).toHaveLength(1);
    });

    it("answers an invalid event with refund.failed invalid_event, without calling Dojo", async () => {
      const pi = await h.dojo.createIntent({ amount: 5000, status: "Captured" });
      const event = returnApproved({ paymentIntentId: pi, amount: 1000 });
      const invalid = { ...event, data: { ...event.data, amount: { value: -5, currencyCode: "GBP" } } };
      await h.send([{ body: JSON.stringify(invalid) }]);

      await h.waitFor(() => h.outcomesOf(event.id).length === 1, "refund.failed for the invalid event");
      const failed = h.outcomesOf(event.id)[0];
      expect(failed?.queue).toBe("failed");
      expect(failed?.json).toMatchObject({ type: "refund.failed", data: { code: "invalid_event" } });
      expect((await h.dojo.refundsOf(pi)).refunds).toHaveLength(0);
    });

    it("dead-letters an unparseable message with its original body and attributes in an envelope", async () => {
      await h.send([{ body: "this is not json {", attributes: { origin: "shop-7" } }]);

      await h.waitFor(() => h.deadLetters().length === 1, "a dead letter");
      const letter = h.deadLetters()[0];
      expect(letter?.attributes).toMatchObject({
        "rr-error-code": "unparseable",
        "content-type": "application/json",
      });
      const envelope = JSON.parse(letter?.body ?? "") as SqsDeadLetterEnvelope;
      expect(envelope.deadLetter).toMatchObject({ code: "unparseable", attempts: 0 });
      expect(envelope.original).toEqual({ body: "this is not json {", attributes: { origin: "shop-7" } });
      expect(envelope.origin).toMatchObject({ queueUrl: h.urls.input, receiveCount: 1 });
      expect(envelope.origin?.messageId).toMatch(/.+/);
      await expect.poll(() => h.depth(), { timeout: 10_000 }).toEqual({ visible: 0, inFlight: 0 });
    });

    it("accepts a binary-mode event (ce_* message attributes) and an SNS-wrapped one", async () => {
      const pi = await h.dojo.createIntent({ amount: 3000, status: "Captured" });
      const binary = returnApproved({ paymentIntentId: pi, amount: 1000 });
      const wrapped = returnApproved({ paymentIntentId: pi, amount: 500 });
      await h.send([
        {
          body: JSON.stringify(binary.data),
          attributes: {
            ce_specversion: "1.0",
            ce_id: binary.id,
            ce_source: binary.source,
            ce_type: "return.approved",
            "content-type": "application/json",
          },
        },
        {
          body: JSON.stringify({
            Type: "Notification",
            MessageId: "sns-1",
            TopicArn: "arn:aws:sns:us-east-1:000000000000:returns",
            Message: JSON.stringify(wrapped),
          }),
        },
      ]);
      await h.waitFor(
        () => h.outcomesOf(binary.id).length === 1 && h.outcomesOf(wrapped.id).length === 1,
        "outcomes of the binary and the SNS-wrapped event",
      );
      expect((await h.dojo.refundsOf(pi)).refundedAmount).toBe(1500);
    });
  });

  describe("start-up checks", () => {
    it("refuses to start when a queue is missing, naming it", async () => {
      const absent = `${h.urls.dlq}-absent`;
      await expect(h.startRelay({ SQS_DLQ_URL: absent })).rejects.toThrow(`SQS queues missing: ${absent}.`);
    });
  });
});
