// A relay over SQS (ElasticMQ) with HTTP_PORT set: ready once SQS answers the depth poll, the input
// queue's approximate depth in /metrics, and a traceparent message attribute continued into the Dojo
// request and the outcome (body and message attribute).
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { idempotencyKeyFor } from "../../../schemas/index.ts";
import { returnApproved } from "../../support/events.ts";
import { SqsHarness, structuredMessage } from "../../support/sqs-harness.ts";
import { freePort } from "../../support/tcp-proxy.ts";

const { sqsEndpoint } = inject("servers");
let h: SqsHarness;
let base: string;

beforeAll(async () => {
  h = await new SqsHarness({ endpoint: sqsEndpoint }).setUp();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  await h.startRelay({ HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1" });
});
afterAll(async () => {
  await h?.tearDown();
});

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("operations endpoints over SQS", () => {
  it("is ready once SQS answers, and shows the input queue's depth and the outcomes in /metrics", async () => {
    await expect.poll(async () => (await fetch(`${base}/readyz`)).status, { timeout: 20_000 }).toBe(200);
    const queue = new URL(h.urls.input).pathname.split("/").at(-1);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(sample(metrics, `refund_relay_sqs_approximate_messages{queue="${queue}",state="visible"}`)).toBe(
      0,
    );
    expect(metrics).not.toContain("refund_relay_kafka_consumer_lag_messages{");

    const pi = await h.dojo.createIntent({ amount: 900, status: "Captured" });
    const event = returnApproved({ paymentIntentId: pi, amount: 900 });
    await h.send([structuredMessage(event)]);
    await h.waitFor(() => h.outcomesOf(event.id).length > 0, "the outcome");
    await expect
      .poll(async () =>
        sample(
          await (await fetch(`${base}/metrics`)).text(),
          'refund_relay_events_total{outcome="succeeded",code=""}',
        ),
      )
      .toBe(1);
  });

  it("continues a traceparent message attribute into the Dojo request and the outcome", async () => {
    const traceId = "a3ce929d0e0e47364bf92f3577b34da6";
    const parentId = "0102030405060708";
    const pi = await h.dojo.createIntent({ amount: 400, status: "Captured" });
    const event = returnApproved({ paymentIntentId: pi, amount: 400 });
    const message = structuredMessage(event);
    await h.send([
      { ...message, attributes: { ...message.attributes, traceparent: `00-${traceId}-${parentId}-01` } },
    ]);
    await h.waitFor(() => h.outcomesOf(event.id).length > 0, "the traced outcome");

    const outcome = h.outcomesOf(event.id)[0];
    const traceparent = String(outcome?.json?.traceparent);
    expect(traceparent.split("-")[1]).toBe(traceId);
    expect(traceparent.split("-")[2]).not.toBe(parentId);
    expect(outcome?.attributes.traceparent).toBe(traceparent);

    const [request] = await h.dojo.requests({
      idempotencyKey: idempotencyKeyFor(event, { namespace: "rr" }),
      route: "createRefund",
    });
    expect(request?.traceparent?.split("-")[1]).toBe(traceId);
    expect(request?.traceparent?.split("-")[2]).not.toBe(parentId);
  });
});
