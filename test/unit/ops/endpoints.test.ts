// /healthz, /readyz and /metrics over real HTTP, with the relay's parts faked.
import { afterEach, describe, expect, it } from "vitest";
import type { OutcomeEvent } from "../../../schemas/index.ts";
import { silentLogger } from "../../../src/logger.ts";
import {
  type Check,
  Liveness,
  MessageWatch,
  OpsServer,
  Readiness,
  RelayMetrics,
  RelayOps,
  WEDGED_AFTER_MS,
} from "../../../src/ops/index.ts";
import { FaultGate, type MessageResult } from "../../../src/pipeline/index.ts";
import { deferred } from "../pipeline/fakes.ts";

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close()));
});

async function startOps(transport: "kafka" | "sqs" = "kafka"): Promise<RelayOps> {
  const ops = await RelayOps.start({
    port: 0,
    host: "127.0.0.1",
    stallMs: 60_000,
    transport,
    logger: silentLogger,
  });
  opened.push(ops);
  return ops;
}

async function get(port: number, path: string, method = "GET") {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), text, json: () => JSON.parse(text) };
}

const OK: Check = { ok: true };

function succeeded(value: number, currencyCode: string): OutcomeEvent {
  return {
    type: "refund.succeeded",
    data: { amount: { value, currencyCode } },
  } as unknown as OutcomeEvent;
}

function failed(code: string): OutcomeEvent {
  return { type: "refund.failed", data: { code } } as unknown as OutcomeEvent;
}

/** A sample's value in Prometheus text, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("/healthz and /readyz", () => {
  it("answer over HTTP: alive from the start, ready only once the relay is attached and sound", async () => {
    const ops = await startOps();
    const health = await get(ops.port, "/healthz");
    expect(health.status).toBe(200);
    expect(health.type).toBe("application/json");
    expect(health.json()).toMatchObject({ status: "ok", alive: true });

    const starting = await get(ops.port, "/readyz");
    expect(starting.status).toBe(503);
    expect(starting.json()).toMatchObject({ ready: false, reasons: ["the relay is starting"] });

    const gate = new FaultGate();
    const watch = new MessageWatch(
      { process: () => new Promise(() => {}) },
      { destination: "t", describe: () => ({}) },
    );
    ops.attach({
      faults: () => gate.active,
      watch,
      transport: { broker: () => OK, consumer: () => OK, backlog: () => undefined },
    });
    const ready = await get(ops.port, "/readyz");
    expect(ready.status).toBe(200);
    expect(ready.json()).toMatchObject({
      ready: true,
      reasons: [],
      checks: { broker: { ok: true }, ledger: { ok: true } },
    });

    gate.report("publish", "broker unavailable");
    const unready = await get(ops.port, "/readyz");
    expect(unready.status).toBe(503);
    expect(unready.json().reasons).toEqual([
      expect.stringMatching(/^outcomes or dead letters cannot be published since .*: broker unavailable$/),
    ]);

    expect((await get(ops.port, "/readyz", "HEAD")).status).toBe(503);
    ops.stopping();
    expect((await get(ops.port, "/readyz")).json().reasons).toEqual(["the relay is stopping"]);
    expect((await get(ops.port, "/healthz")).status).toBe(200);
  });

  it("answers 404 for other paths and 405 for other methods", async () => {
    const ops = await startOps();
    expect((await get(ops.port, "/nope")).status).toBe(404);
    expect((await get(ops.port, "/metrics", "POST")).status).toBe(405);
  });

  it("reports a blocked event loop on /healthz with 503", async () => {
    let now = 0;
    const liveness = new Liveness({ now: () => now });
    const server = new OpsServer({
      liveness,
      readiness: new Readiness({ stallMs: 1_000 }),
      metrics: new RelayMetrics({
        inFlight: () => 0,
        oldestUnsettledSeconds: () => 0,
        faults: () => [],
        ready: () => false,
      }),
      logger: silentLogger,
    });
    opened.push(server);
    const port = await server.listen(0, "127.0.0.1");
    now = WEDGED_AFTER_MS + 1;
    const res = await get(port, "/healthz");
    expect(res.status).toBe(503);
    expect(res.json()).toMatchObject({
      status: "wedged",
      alive: false,
      reason: expect.stringMatching(/blocked/),
    });
  });
});

describe("/metrics", () => {
  it("serves Prometheus text counted per relay, not in a registry shared by the process", async () => {
    const a = await startOps("kafka");
    const b = await startOps("kafka");
    const m = a.metrics;
    const results: MessageResult[] = [
      { status: "published", outcome: succeeded(1_250, "GBP"), replayed: false },
      { status: "published", outcome: succeeded(300, "EUR"), replayed: false },
      { status: "published", outcome: succeeded(9_999, "GBP"), replayed: true },
      { status: "published", outcome: failed("amount_exceeds_refundable"), replayed: false },
      {
        status: "dead-lettered",
        reason: { code: "needs_reconciliation", message: "m", attempts: 1, firstSeenAt: new Date() },
      },
      {
        status: "dead-lettered",
        reason: { code: "unparseable", message: "m", attempts: 0, firstSeenAt: new Date() },
      },
      { status: "abandoned", reason: "stopping" },
    ];
    for (const r of results) m.result(r);
    m.retried("dojo");
    m.retried("ledger");
    m.requestEnded("createRefund", 201, 0.02, 1);
    m.requestEnded("createRefund", undefined, 5, 2);
    m.requestEnded("getPaymentIntent", 503, 0.3, 1);
    m.ledgerOperation("begin", 0.002, true);

    const res = await get(a.port, "/metrics");
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const t = res.text;
    expect(sample(t, 'refund_relay_events_total{outcome="succeeded",code=""}')).toBe(3);
    expect(sample(t, 'refund_relay_events_total{outcome="failed",code="amount_exceeds_refundable"}')).toBe(1);
    expect(sample(t, 'refund_relay_events_total{outcome="dead_lettered",code="needs_reconciliation"}')).toBe(
      1,
    );
    expect(sample(t, 'refund_relay_events_total{outcome="abandoned",code=""}')).toBe(1);
    expect(sample(t, "refund_relay_events_replayed_total")).toBe(1);
    // A replayed refund was counted when it was made, not again.
    expect(sample(t, 'refund_relay_refunded_minor_units_total{currency="GBP"}')).toBe(1_250);
    expect(sample(t, 'refund_relay_refunded_minor_units_total{currency="EUR"}')).toBe(300);
    expect(sample(t, 'refund_relay_dead_letters_total{code="unparseable"}')).toBe(1);
    expect(sample(t, 'refund_relay_parked_total{code="needs_reconciliation"}')).toBe(1);
    expect(sample(t, 'refund_relay_parked_total{code="unparseable"}')).toBeUndefined();
    expect(sample(t, 'refund_relay_retries_total{reason="dojo"}')).toBe(1);
    expect(sample(t, 'refund_relay_retries_total{reason="ledger"}')).toBe(1);
    expect(sample(t, 'refund_relay_retries_total{reason="dojo_request"}')).toBe(1);
    expect(
      sample(
        t,
        'refund_relay_dojo_request_duration_seconds_count{operation="createRefund",status_class="2xx"}',
      ),
    ).toBe(1);
    expect(
      sample(
        t,
        'refund_relay_dojo_request_duration_seconds_count{operation="createRefund",status_class="none"}',
      ),
    ).toBe(1);
    expect(
      sample(
        t,
        'refund_relay_dojo_request_duration_seconds_count{operation="getPaymentIntent",status_class="5xx"}',
      ),
    ).toBe(1);
    expect(
      sample(t, 'refund_relay_ledger_operation_duration_seconds_count{operation="begin",result="ok"}'),
    ).toBe(1);
    expect(sample(t, "refund_relay_in_flight_messages")).toBe(0);
    expect(sample(t, 'refund_relay_fault_active{kind="ledger"}')).toBe(0);
    expect(sample(t, "refund_relay_ready")).toBe(0);

    const other = (await get(b.port, "/metrics")).text;
    expect(sample(other, 'refund_relay_events_total{outcome="succeeded",code=""}')).toBeUndefined();
    expect(other).toContain("# TYPE refund_relay_events_total counter");
  });

  it("shows the messages in flight and the age of the oldest, and the transport's lag", async () => {
    const ops = await startOps("kafka");
    const gate = new FaultGate();
    const done = deferred<MessageResult>();
    const watch = new MessageWatch(
      { process: () => done.promise },
      { destination: "t", describe: () => ({}) },
    );
    ops.attach({
      faults: () => gate.active,
      watch,
      transport: { broker: () => OK, consumer: () => OK, backlog: () => undefined },
      kafkaLag: () => ({ topic: "return.approved", lag: new Map([[2, 17]]) }),
      kafkaCrashes: () => 4,
    });
    void watch.process({ body: "{}", transport: "kafka" }, {});
    void watch.process({ body: "{}", transport: "kafka" }, {});
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const t = (await get(ops.port, "/metrics")).text;
    expect(sample(t, "refund_relay_in_flight_messages")).toBe(2);
    expect(sample(t, "refund_relay_oldest_unsettled_message_age_seconds")).toBeGreaterThanOrEqual(1);
    expect(sample(t, 'refund_relay_kafka_consumer_lag_messages{topic="return.approved",partition="2"}')).toBe(
      17,
    );
    expect(sample(t, "refund_relay_kafka_consumer_crashes_total")).toBe(4);
    expect(sample(t, "refund_relay_ready")).toBe(1);
    done.resolve({ status: "abandoned", reason: "test" });
    await done.promise;
    await new Promise((resolve) => setImmediate(resolve));
    expect(sample((await get(ops.port, "/metrics")).text, "refund_relay_in_flight_messages")).toBe(0);
  });

  it("shows an SQS input queue's approximate depth", async () => {
    const ops = await startOps("sqs");
    ops.attach({
      faults: () => [],
      watch: new MessageWatch(
        { process: () => new Promise(() => {}) },
        { destination: "q", describe: () => ({}) },
      ),
      transport: { broker: () => OK, consumer: () => OK, backlog: () => 12 },
      sqsDepth: () => ({ queue: "return-approved", visible: 12, notVisible: 3, delayed: 0 }),
    });
    const t = (await get(ops.port, "/metrics")).text;
    expect(sample(t, 'refund_relay_sqs_approximate_messages{queue="return-approved",state="visible"}')).toBe(
      12,
    );
    expect(
      sample(t, 'refund_relay_sqs_approximate_messages{queue="return-approved",state="not_visible"}'),
    ).toBe(3);
    expect(t).not.toContain("refund_relay_kafka_consumer_lag_messages");
  });
});
