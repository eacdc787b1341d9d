// A relay over real Kafka with HTTP_PORT set: health and readiness over HTTP, metrics after a run of
// events through the Dojo simulator, and a W3C trace followed from the input record into the Dojo
// request and the outcome (no OpenTelemetry SDK in this process: the relay propagates by hand).
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { idempotencyKeyFor } from "../../../schemas/index.ts";
import type { RunningRelay } from "../../../src/cli/relay-app.ts";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { KafkaHarness, sourceEventIdOf } from "../../support/kafka-harness.ts";
import { freePort } from "../../support/tcp-proxy.ts";

const { kafkaBrokers } = inject("servers");
let h: KafkaHarness;
let relay: RunningRelay;
let base: string;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers }).setUp();
  const port = await freePort();
  relay = await h.startRelay({ HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1" });
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await h?.tearDown();
});

async function get(path: string) {
  const res = await fetch(`${base}${path}`);
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
}

/** A sample's value in Prometheus text (0 when the series is absent). */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe("operations endpoints over Kafka", () => {
  it("answers /healthz, and /readyz once the consumer has joined its group", async () => {
    expect(relay.ops?.port).toBeGreaterThan(0);
    const health = await get("/healthz");
    expect(health.status).toBe(200);
    expect(health.json()).toMatchObject({ status: "ok" });
    await expect.poll(async () => (await get("/readyz")).status, { timeout: 30_000 }).toBe(200);
    expect((await get("/readyz")).json()).toMatchObject({
      ready: true,
      checks: { broker: { ok: true }, consumer: { ok: true }, ledger: { ok: true }, dojo: { ok: true } },
    });
  });

  it("counts a run of events in /metrics: outcomes by code, amounts, Dojo and ledger latency, dead letters", async () => {
    const before = (await get("/metrics")).text;
    const intents = await h.dojo.createIntents({ amount: 5_000, status: "Captured" }, 4);
    const events = [
      ...intents.slice(0, 3).map((pi, i) => returnApproved({ paymentIntentId: pi, amount: 1_000 + i })),
      returnApproved({ paymentIntentId: intents[3] as string, amount: 9_000 }),
    ];
    await h.produce([...events.map(structuredRecord), { key: "x", value: "not json" }]);
    await h.waitFor(
      () => h.outcomes().length >= 4 && h.deadLetters().length >= 1,
      "three refund.succeeded, one refund.failed and one dead letter",
    );

    const delta = (text: string, series: string) => sample(text, series) - sample(before, series);
    await expect
      .poll(async () =>
        delta((await get("/metrics")).text, 'refund_relay_events_total{outcome="succeeded",code=""}'),
      )
      .toBe(3);
    await expect
      .poll(async () =>
        delta(
          (await get("/metrics")).text,
          'refund_relay_events_total{outcome="dead_lettered",code="unparseable"}',
        ),
      )
      .toBe(1);
    const t = (await get("/metrics")).text;
    expect(delta(t, 'refund_relay_events_total{outcome="failed",code="amount_exceeds_refundable"}')).toBe(1);
    expect(delta(t, 'refund_relay_refunded_minor_units_total{currency="GBP"}')).toBe(1_000 + 1_001 + 1_002);
    expect(delta(t, 'refund_relay_dead_letters_total{code="unparseable"}')).toBe(1);
    expect(delta(t, 'refund_relay_parked_total{code="unparseable"}')).toBe(0);
    expect(
      delta(
        t,
        'refund_relay_dojo_request_duration_seconds_count{operation="createRefund",status_class="2xx"}',
      ),
    ).toBe(3);
    // Preflight reads each intent; the refused refund is explained by preflight, so it is never sent.
    expect(
      delta(
        t,
        'refund_relay_dojo_request_duration_seconds_count{operation="getPaymentIntent",status_class="2xx"}',
      ),
    ).toBeGreaterThanOrEqual(4);
    expect(
      delta(t, 'refund_relay_ledger_operation_duration_seconds_count{operation="begin",result="ok"}'),
    ).toBeGreaterThanOrEqual(4);
    expect(sample(t, "refund_relay_in_flight_messages")).toBe(0);
    expect(sample(t, "refund_relay_oldest_unsettled_message_age_seconds")).toBe(0);
    expect(sample(t, 'refund_relay_fault_active{kind="ledger"}')).toBe(0);
    // Every message settled: once the offsets are committed (and the topic check saw every partition's
    // end), the lag of each partition is 0.
    await expect
      .poll(
        async () => {
          const lines = (await get("/metrics")).text
            .split("\n")
            .filter((l) =>
              l.startsWith(`refund_relay_kafka_consumer_lag_messages{topic="${h.topics.input}"`),
            );
          return lines.length === 3 && lines.every((l) => l.endsWith(" 0"));
        },
        { timeout: 15_000 },
      )
      .toBe(true);
  });

  it("continues a traceparent from the input record into the Dojo refund request and the outcome", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    const pi = await h.dojo.createIntent({ amount: 2_000, status: "Captured" });
    const event = returnApproved({ paymentIntentId: pi, amount: 2_000 });
    const record = structuredRecord(event);
    await h.produce([
      {
        ...record,
        headers: { ...record.headers, traceparent: `00-${traceId}-${parentId}-01`, tracestate: "shop=7" },
      },
    ]);
    await h.waitFor(() => h.outcomes().some((o) => sourceEventIdOf(o) === event.id), "the traced outcome");

    const outcome = h.outcomesOf(event.id)[0];
    const [, outcomeTrace, outcomeSpan, flags] = String(outcome?.json?.traceparent).split("-");
    expect(outcomeTrace).toBe(traceId);
    expect(outcomeSpan).toMatch(/^[0-9a-f]{16}$/);
    expect(outcomeSpan).not.toBe(parentId);
    expect(flags).toBe("01");
    expect(outcome?.json?.tracestate).toBe("shop=7");
    expect(outcome?.headers.traceparent).toBe(outcome?.json?.traceparent);

    const key = idempotencyKeyFor(event, { namespace: "rr" });
    const requests = await h.dojo.requests({ idempotencyKey: key, route: "createRefund" });
    expect(requests).toHaveLength(1);
    const [version, requestTrace, requestSpan] = String(requests[0]?.traceparent).split("-");
    expect(version).toBe("00");
    expect(requestTrace).toBe(traceId);
    // The request is a span of its own, under the relay's processing span.
    expect(requestSpan).not.toBe(parentId);
    expect(requestSpan).not.toBe(outcomeSpan);

    // An event without a trace gets none, and its requests carry no traceparent.
    const plain = returnApproved({
      paymentIntentId: await h.dojo.createIntent({ amount: 100, status: "Captured" }),
      amount: 100,
    });
    await h.produce([structuredRecord(plain)]);
    await h.waitFor(() => h.outcomesOf(plain.id).length > 0, "the untraced outcome");
    expect(h.outcomesOf(plain.id)[0]?.json).not.toHaveProperty("traceparent");
    const plainRequests = await h.dojo.requests({
      idempotencyKey: idempotencyKeyFor(plain, { namespace: "rr" }),
    });
    expect(plainRequests[0]?.traceparent).toBeNull();
  });
});
