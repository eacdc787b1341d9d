import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { returnApproved } from "../../support/events.ts";
import { sqsServers } from "../../support/fauxqs.ts";
import { SqsHarness, structuredMessage } from "../../support/sqs-harness.ts";

const servers = await sqsServers();

describe.each(servers)("relay over SQS ($name): CloudEvents binary mode", ({ endpoint }) => {
  let h: SqsHarness;

  beforeAll(async () => {
    h = await new SqsHarness({ endpoint }).setUp();
    await h.startRelay({ OUTCOME_MODE: "binary" });
  });
  afterAll(async () => {
    await h?.tearDown();
  });

  it("publishes the outcome's data as the body and its attributes as message attributes", async () => {
    const pi = await h.dojo.createIntent({ amount: 3000, status: "Captured" });
    const event = returnApproved({ paymentIntentId: pi, amount: 1500 });
    await h.send([structuredMessage(event)]);

    await h.waitFor(() => h.outcomes("refund.succeeded").length === 1, "the binary outcome");
    const outcome = h.outcomes("refund.succeeded")[0];
    expect(outcome?.attributes).toMatchObject({
      ce_specversion: "1.0",
      ce_type: "refund.succeeded",
      ce_source: "urn:refund-relay",
      ce_subject: pi,
      "content-type": "application/json",
    });
    expect(Object.keys(outcome?.attributes ?? {}).length).toBeLessThanOrEqual(10);
    expect(outcome?.attributes.ce_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(outcome?.json).toMatchObject({
      sourceEvent: { id: event.id, source: event.source },
      paymentIntentId: pi,
      amount: { value: 1500, currencyCode: "GBP" },
      method: "refund",
    });
  });
});
