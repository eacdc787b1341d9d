import { describe, expect, it } from "vitest";
import { CRASH_LOOP_WINDOW_MS, KafkaHealth } from "../../../consumers/kafka/health.ts";
import type { Check, TransportProbe } from "../../../src/ops/index.ts";
import { Readiness } from "../../../src/ops/index.ts";
import { FaultGate } from "../../../src/pipeline/index.ts";

const OK: Check = { ok: true };

function setUp(options: { stallMs?: number } = {}) {
  let now = 1_000_000;
  const clock = () => now;
  const gate = new FaultGate({ now: () => new Date(now) });
  const transport: TransportProbe & {
    brokerCheck: Check;
    consumerCheck: Check;
    waiting: number | undefined;
  } = {
    brokerCheck: OK,
    consumerCheck: OK,
    waiting: undefined,
    broker() {
      return this.brokerCheck;
    },
    consumer() {
      return this.consumerCheck;
    },
    backlog() {
      return this.waiting;
    },
  };
  const work = {
    inFlight: 0,
    lastTakenAt: undefined as number | undefined,
    lastSettledAt: undefined as number | undefined,
  };
  const readiness = new Readiness({ stallMs: options.stallMs ?? 60_000, now: clock });
  return {
    readiness,
    gate,
    transport,
    work,
    attach: () => readiness.attach({ faults: () => gate.active, transport, work }),
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
}

describe("readiness", () => {
  it("is not ready while starting, ready once attached with every check passing, not ready once stopping", () => {
    const t = setUp();
    expect(t.readiness.evaluate()).toMatchObject({ ready: false, reasons: ["the relay is starting"] });
    t.attach();
    const report = t.readiness.evaluate();
    expect(report.ready).toBe(true);
    expect(Object.keys(report.checks)).toEqual([
      "running",
      "broker",
      "consumer",
      "dojo",
      "ledger",
      "publish",
      "progress",
    ]);
    t.readiness.stopping();
    expect(t.readiness.evaluate()).toMatchObject({ ready: false, reasons: ["the relay is stopping"] });
  });

  it("names each active fault of the relay's own world, and is ready again when it clears", () => {
    const t = setUp();
    t.attach();
    t.gate.report("ledger", "disk full");
    t.gate.report("dojo_credentials", "401");
    const report = t.readiness.evaluate();
    expect(report.ready).toBe(false);
    expect(report.checks.ledger).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/ledger cannot read or write .*disk full/),
    });
    expect(report.checks.dojo).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/Dojo rejects the API key/),
    });
    expect(report.checks.publish).toEqual(OK);
    t.gate.clear("ledger");
    t.gate.clear("dojo_credentials");
    expect(t.readiness.evaluate().ready).toBe(true);
  });

  it("passes the transport's broker and consumer verdicts on", () => {
    const t = setUp();
    t.attach();
    t.transport.brokerCheck = { ok: false, reason: "no Kafka broker answered for 31 s" };
    t.transport.consumerCheck = { ok: false, reason: "the Kafka consumer crashed and is restarting" };
    expect(t.readiness.evaluate().reasons).toEqual([
      "no Kafka broker answered for 31 s",
      "the Kafka consumer crashed and is restarting",
    ]);
  });

  it("turns unready when messages in the pipeline settle nothing for the stall window, and ready when one settles", () => {
    const t = setUp({ stallMs: 60_000 });
    t.attach();
    t.work.inFlight = 3;
    t.work.lastTakenAt = t.now();
    t.readiness.tick();
    t.advance(59_000);
    expect(t.readiness.evaluate().ready).toBe(true);
    t.advance(2_000);
    const report = t.readiness.evaluate();
    expect(report.ready).toBe(false);
    expect(report.checks.progress?.reason).toMatch(
      /stalled: 3 message\(s\) in the pipeline and nothing settled for 61 s/,
    );
    t.work.lastSettledAt = t.now();
    expect(t.readiness.evaluate().ready).toBe(true);
  });

  it("counts the stall window from when work appeared, not from the last progress before an idle spell", () => {
    const t = setUp({ stallMs: 60_000 });
    t.attach();
    t.work.lastSettledAt = t.now();
    t.advance(3_600_000);
    t.work.inFlight = 1;
    t.readiness.tick();
    t.advance(1_000);
    expect(t.readiness.evaluate().ready).toBe(true);
  });

  it("turns unready when messages wait at the broker and none is taken (SQS depth)", () => {
    const t = setUp({ stallMs: 60_000 });
    t.attach();
    t.transport.waiting = 40;
    t.readiness.tick();
    t.advance(30_000);
    t.work.lastTakenAt = t.now();
    t.advance(45_000);
    expect(t.readiness.evaluate().ready).toBe(true);
    t.advance(20_000);
    expect(t.readiness.evaluate().checks.progress?.reason).toMatch(
      /about 40 message\(s\) waiting at the broker and nothing taken/,
    );
    t.transport.waiting = 0;
    expect(t.readiness.evaluate().ready).toBe(true);
  });
});

describe("Kafka consumer health", () => {
  it("is joined after a join, restarting after a crash, and joined again after the next join", () => {
    let now = 0;
    const h = new KafkaHealth(() => now);
    expect(h.snapshot).toMatchObject({ joined: false, restarting: false, brokerAnsweredAt: undefined });
    h.joined();
    expect(h.snapshot).toMatchObject({ joined: true, restarting: false, brokerAnsweredAt: new Date(0) });
    now = 10;
    h.crashed(new Error("Connection error: ECONNREFUSED"));
    expect(h.snapshot).toMatchObject({
      joined: false,
      restarting: true,
      lastError: "Connection error: ECONNREFUSED",
    });
    now = 20;
    h.joined();
    expect(h.snapshot).toMatchObject({ joined: true, restarting: false, crashes: 1, recentCrashes: 1 });
  });

  it("counts a crash loop by crashes after joins, not by failed restarts during one outage", () => {
    let now = 0;
    const h = new KafkaHealth(() => now);
    h.joined();
    for (let i = 0; i < 5; i++) {
      now += 1_000;
      h.crashed(new Error("broker down"));
    }
    expect(h.snapshot).toMatchObject({ crashes: 5, recentCrashes: 1 });
    for (let i = 0; i < 2; i++) {
      now += 1_000;
      h.joined();
      now += 1_000;
      h.crashed(new Error("again"));
    }
    expect(h.snapshot.recentCrashes).toBe(3);
    now += CRASH_LOOP_WINDOW_MS + 1;
    expect(h.snapshot.recentCrashes).toBe(0);
  });

  it("computes lag from the group's committed offsets, or the partition start without one", () => {
    const h = new KafkaHealth();
    h.end(0, 100, 0);
    h.end(1, 50, 10);
    h.end(2, 70);
    h.committed(0, 60);
    h.committed(1, -1);
    h.end(0, 120);
    expect(h.lag([0, 1, 2, 3])).toEqual(
      new Map([
        [0, 60],
        [1, 40],
      ]),
    );
  });
});
