// The one log line per settled message: its fields, its level, and that it is the only line about the
// settlement (no second per-event line at info or above saying the same).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildRefundSucceeded } from "../../../schemas/index.ts";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { settledLine, withoutInput } from "../../../src/log-summary.ts";
import { type PipelineSettings, RefundPipeline } from "../../../src/pipeline/index.ts";
import {
  capturedIntent,
  event,
  FakeDojo,
  FakeSink,
  fail,
  keyOf,
  message,
  ok,
  published,
  recordingLogger,
  SETTINGS,
} from "./fakes.ts";

let ledger: SqliteLedger;
let dojo: FakeDojo;
let sink: FakeSink;
let log: ReturnType<typeof recordingLogger>;
let clock: number;

beforeEach(() => {
  ledger = new SqliteLedger({ path: ":memory:" });
  dojo = new FakeDojo();
  sink = new FakeSink();
  log = recordingLogger();
  clock = Date.parse("2026-11-26T10:00:00Z");
});

afterEach(async () => {
  await ledger.close();
});

function pipeline(overrides: Partial<PipelineSettings> = {}): RefundPipeline {
  return new RefundPipeline(
    { ...SETTINGS, ...overrides },
    { ledger, dojo, sink, logger: log.logger, random: () => 0, now: () => new Date(clock) },
  );
}

const summaries = () =>
  log.lines.filter((l) => l.msg === "refund settled" || l.msg === "message dead-lettered");

/** Lines at info or above that name an event: the summary must be the only one per settlement. */
const eventLinesAtInfo = (eventId: string) =>
  log.lines.filter((l) => (l.level as number) >= 30 && l.eventId === eventId);

describe("the summary line of a settled refund", () => {
  it("names the event, return, payment intent, key, outcome, refund id, attempts and duration", async () => {
    const e = event({ paymentIntentId: "pi_sum_ok", amount: 500, returnId: "RMA-77" });
    dojo.onRefund = (input) => {
      clock += 42; // the refund takes 42 ms on the pipeline's clock
      return ok({ refundId: `rf_${input.paymentIntentId}`, raw: {} });
    };
    const outcome = published(await pipeline().process(message(e)));
    expect(summaries()).toEqual([
      expect.objectContaining({
        level: 30,
        msg: "refund settled",
        eventId: e.id,
        returnId: "RMA-77",
        paymentIntentId: "pi_sum_ok",
        idempotencyKey: keyOf(e),
        outcome: "succeeded",
        refundId: "rf_pi_sum_ok",
        attempts: 1,
        durationMs: 42,
        replayed: false,
      }),
    ]);
    expect(outcome.type).toBe("refund.succeeded");
    expect(summaries()[0]).not.toHaveProperty("code");
    expect(eventLinesAtInfo(e.id)).toHaveLength(1);
  });

  it("says replayed, with the stored attempts and refund id, when a redelivery is answered from the ledger", async () => {
    const e = event({ paymentIntentId: "pi_sum_replay", amount: 300 });
    const relay = pipeline();
    await relay.process(message(e));
    await relay.process(message(e));
    const lines = summaries();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({
      eventId: e.id,
      outcome: "succeeded",
      refundId: "rf_pi_sum_replay_300",
      attempts: 1,
      replayed: true,
      idempotencyKey: keyOf(e),
    });
    expect(dojo.refunds()).toHaveLength(1);
    expect(eventLinesAtInfo(e.id)).toHaveLength(2);
  });

  it("gives a refused refund its code and problem, and the ledger's key when Dojo was never asked", async () => {
    // Preflight sees less refundable than asked: refund.failed without a Dojo refund call.
    dojo.onIntent = (input) => ok(capturedIntent(input.paymentIntentId, 100));
    const e = event({ paymentIntentId: "pi_sum_over", amount: 500 });
    const outcome = published(await pipeline().process(message(e)));
    expect(outcome.type).toBe("refund.failed");
    expect(outcome.data).not.toHaveProperty("idempotencyKey");
    const [line] = summaries();
    expect(line).toMatchObject({
      level: 30,
      eventId: e.id,
      paymentIntentId: "pi_sum_over",
      idempotencyKey: keyOf(e),
      outcome: "failed",
      code: "amount_exceeds_refundable",
      attempts: 0,
      replayed: false,
    });
    expect(String(line?.problem)).toMatch(/refundable/);
    expect(line).not.toHaveProperty("refundId");
  });

  it("warns for an invalid event, which is the producer's problem, in the one line", async () => {
    const e = event({ paymentIntentId: "pi_sum_invalid", amount: -5 });
    const outcome = published(await pipeline().process(message(e)));
    expect(outcome.type === "refund.failed" && outcome.data.code).toBe("invalid_event");
    expect(summaries()).toEqual([
      expect.objectContaining({ level: 40, outcome: "failed", code: "invalid_event", eventId: e.id }),
    ]);
    expect(eventLinesAtInfo(e.id)).toHaveLength(1);
  });

  it("is the dead-letter line for unreadable input: a warning without alert", async () => {
    const result = await pipeline().process(message("{not json"));
    expect(result.status).toBe("dead-lettered");
    expect(summaries()).toEqual([
      expect.objectContaining({
        level: 40,
        msg: "message dead-lettered",
        outcome: "dead_lettered",
        code: "unparseable",
        attempts: 0,
        alert: false,
      }),
    ]);
  });

  it("does not quote the unreadable body (the producer's data) in the line; the dead letter keeps it", async () => {
    const body = '{"customer": Jane Doe, "email": "jane@example.com"}';
    await pipeline().process(message(body));
    const [line] = summaries();
    expect(line).toMatchObject({ code: "unparseable", problem: expect.stringMatching(/is not valid JSON/) });
    expect(JSON.stringify(log.lines)).not.toMatch(/Jane|jane@/);
    expect(sink.deadLetters[0]?.message.body).toBe(body);
    expect(sink.deadLetters[0]?.reason.message).toContain("Jane");
  });

  it("is an error with alert for a parked event, with the key a person needs to reconcile", async () => {
    dojo.onRefund = () => fail("server_error", "Dojo said 503", 503);
    const e = event({ paymentIntentId: "pi_sum_parked", amount: 400, returnId: "RMA-parked" });
    const result = await pipeline().process(message(e));
    expect(result.status).toBe("dead-lettered");
    const [line, ...more] = summaries();
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: 50,
      msg: "message dead-lettered",
      eventId: e.id,
      returnId: "RMA-parked",
      paymentIntentId: "pi_sum_parked",
      idempotencyKey: keyOf(e),
      outcome: "dead_lettered",
      code: "retry_budget_exhausted",
      attempts: 3,
      alert: true,
    });
    // The warnings about each retry are not summaries; the settlement is said once.
    expect(eventLinesAtInfo(e.id).filter((l) => l.msg === "message dead-lettered")).toHaveLength(1);
  });
});

describe("withoutInput", () => {
  it("drops the piece of input V8 quotes in a JSON parse error, quotes inside it included", () => {
    expect(
      withoutInput(`body is not valid JSON (Unexpected token 'J', "{"name": Jane "... is not valid JSON)`),
    ).toBe("body is not valid JSON (Unexpected token 'J' is not valid JSON)");
    expect(withoutInput(`body is not valid JSON (Unexpected token 'o', "no" is not valid JSON)`)).toBe(
      "body is not valid JSON (Unexpected token 'o' is not valid JSON)",
    );
    expect(withoutInput(`(Unexpected token 'J', ..."ustomer": Jane Doe, "... is not valid JSON)`)).toBe(
      "(Unexpected token 'J' is not valid JSON)",
    );
    expect(withoutInput("message has no body")).toBe("message has no body");
  });
});

describe("settledLine", () => {
  const succeeded = buildRefundSucceeded({
    source: "urn:refund-relay:test",
    sourceEvent: { id: "evt-1", source: "urn:shop:test" },
    returnId: "RMA-1",
    orderId: "ORD-1",
    paymentIntentId: "pi_1",
    amount: { value: 100, currencyCode: "GBP" },
    idempotencyKey: "rr-key-1",
    method: "refund",
    attempts: 2,
    processedAt: new Date("2026-11-26T10:00:00Z"),
    refundId: "rf_1",
  });

  it("has no line for an abandoned message (it is delivered again)", () => {
    expect(settledLine({ status: "abandoned", reason: "stopping" }, {}, 5)).toBeUndefined();
  });

  it("takes the outcome's fields over what the pipeline knew, and rounds the duration", () => {
    const line = settledLine(
      { status: "published", outcome: succeeded, replayed: false },
      { returnId: "other", paymentIntentId: "other", idempotencyKey: "other" },
      12.6,
    );
    expect(line).toEqual({
      level: "info",
      msg: "refund settled",
      fields: {
        eventId: "evt-1",
        returnId: "RMA-1",
        paymentIntentId: "pi_1",
        idempotencyKey: "rr-key-1",
        outcome: "succeeded",
        refundId: "rf_1",
        attempts: 2,
        durationMs: 13,
        replayed: false,
      },
    });
  });
});
