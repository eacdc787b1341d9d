// Hostile messages through the whole pipeline (in-memory Dojo and sink, an SQLite ledger in memory):
// each ends answered with refund.failed invalid_event or dead-lettered with a reason naming the field,
// nothing is paid for any of them, no prototype is polluted, no log line carries a control character
// to a terminal, and the pipeline refunds an ordinary event afterwards.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type InboundMessage, MAX_HEADER_BYTES, type OutcomeEvent } from "../../../schemas/index.ts";
import { SqliteLedger } from "../../../src/ledger/index.ts";
import { formatLogLine } from "../../../src/log-pretty.ts";
import { type MessageResult, RefundPipeline } from "../../../src/pipeline/index.ts";
import {
  capturedIntent,
  DojoSim,
  event,
  FakeSink,
  message,
  recordingLogger,
  SETTINGS,
} from "../pipeline/fakes.ts";

const ESC = "\u001b";
const CRLF = "\r\nX-Injected: yes";

let ledger: SqliteLedger;
let dojo: DojoSim;
let sink: FakeSink;
let log: ReturnType<typeof recordingLogger>;
let pipeline: RefundPipeline;

beforeEach(() => {
  ledger = new SqliteLedger({ path: ":memory:" });
  dojo = new DojoSim(capturedIntent("pi_hostile", 10_000), capturedIntent("pi_normal", 10_000));
  sink = new FakeSink();
  log = recordingLogger();
  pipeline = new RefundPipeline(
    { ...SETTINGS, maxMessageBytes: 4_096 },
    { ledger, dojo, sink, logger: log.logger, random: () => 0 },
  );
});

afterEach(async () => {
  await ledger.close();
});

type Spec = ReturnType<typeof event>;
const hostileEvent = (id: string): Spec => event({ id, paymentIntentId: "pi_hostile", amount: 500 });

/** The event as JSON, with `raw` (JSON text) put in place of the string "@@". */
const withRaw = (value: unknown, raw: string) => JSON.stringify(value).replace('"@@"', raw);

function binary(
  e: Spec,
  headers: Record<string, string> = {},
  body = JSON.stringify(e.data),
): InboundMessage {
  return {
    body,
    headers: {
      ce_specversion: "1.0",
      ce_id: e.id,
      ce_source: e.source,
      ce_type: "return.approved",
      "content-type": "application/json",
      ...headers,
    },
    transport: "kafka",
  };
}

/** A refund.failed invalid_event whose message names `field`. */
function expectInvalidEvent(result: MessageResult, field: string): OutcomeEvent {
  expect(result.status).toBe("published");
  const outcome = (result as Extract<MessageResult, { status: "published" }>).outcome;
  expect(outcome.type).toBe("refund.failed");
  const data = outcome.data as { code: string; message: string; attempts: number };
  expect(data.code).toBe("invalid_event");
  expect(data.attempts).toBe(0);
  expect(data.message).toContain(field);
  return outcome;
}

/** A dead letter whose reason names `field`. */
function expectDeadLetter(result: MessageResult, field: string): void {
  expect(result.status).toBe("dead-lettered");
  const reason = sink.deadLetters.at(-1)?.reason;
  expect(reason?.code).toMatch(/^(unparseable|invalid_envelope)$/);
  expect(reason?.attempts).toBe(0);
  expect(reason?.message).toContain(field);
}

function nothingPaid(): void {
  expect(dojo.calls).toEqual([]);
  expect(dojo.made).toEqual([]);
}

function noControlCharactersOnTheTerminal(): void {
  for (const line of log.lines) {
    const pretty = formatLogLine(JSON.stringify(line), { color: false, timeZone: "UTC" });
    expect(pretty.slice(0, -1)).not.toMatch(/\p{Cc}/u);
  }
}

async function afterwardsANormalEventIsRefunded(): Promise<void> {
  const normal = event({ paymentIntentId: "pi_normal", amount: 700 });
  const result = await pipeline.process(message(normal));
  expect(result.status).toBe("published");
  expect((result as Extract<MessageResult, { status: "published" }>).outcome.type).toBe("refund.succeeded");
  expect(dojo.made.map((r) => [r.paymentIntentId, r.amount])).toEqual([["pi_normal", 700]]);
}

describe("hostile input through the pipeline", () => {
  it("deep nesting: 10,000 levels are answered invalid_event, naming the field", async () => {
    const e = hostileEvent("evt-deep");
    const body = withRaw(
      { ...e, data: { ...e.data, extension: "@@" } },
      "[".repeat(10_000) + "]".repeat(10_000),
    );
    const result = await new RefundPipeline(SETTINGS, { ledger, dojo, sink, logger: log.logger }).process({
      body,
      headers: { "content-type": "application/cloudevents+json" },
      transport: "kafka",
    });
    const outcome = expectInvalidEvent(result, "data.extension[0]");
    expect((outcome.data as { message: string }).message).toContain("nests deeper than 32 levels");
    nothingPaid();
    // Nothing deep is stored: an invalid event never reaches the ledger.
    expect(await ledger.get({ source: e.source, eventId: e.id })).toBeUndefined();
    await afterwardsANormalEventIsRefunded();
  });

  it("deep nesting without an id to answer is dead-lettered with the reason", async () => {
    const result = await pipeline.process({
      body: "[".repeat(2_000) + "]".repeat(2_000),
      transport: "kafka",
    });
    expectDeadLetter(result, "nests deeper than 32 levels");
    nothingPaid();
    await afterwardsANormalEventIsRefunded();
  });

  it("a body over MAX_MESSAGE_BYTES is dead-lettered unread, even a valid event", async () => {
    const e = hostileEvent("evt-huge");
    const big = { ...e, data: { ...e.data, notes: "n".repeat(4_000) } };
    const result = await pipeline.process(message(big));
    expectDeadLetter(result, "the limit is 4096");
    nothingPaid();
    await afterwardsANormalEventIsRefunded();
  });

  it("headers over MAX_HEADER_BYTES are refused before the body is read", async () => {
    const e = hostileEvent("evt-headers");
    const result = await pipeline.process(binary(e, { "x-padding": "p".repeat(MAX_HEADER_BYTES) }));
    // The CloudEvents attributes are fine on their own, so the producer gets an answer.
    expectInvalidEvent(result, "headers are");
    nothingPaid();
    await afterwardsANormalEventIsRefunded();
  });

  it.each([
    [
      "__proto__ in the envelope",
      (e: Spec) => JSON.stringify(e).replace("{", '{"__proto__":{"polluted":true},'),
      "__proto__",
    ],
    [
      "__proto__ in data",
      (e: Spec) => JSON.stringify(e).replace('"data":{', '"data":{"__proto__":{"polluted":true},'),
      "data.__proto__",
    ],
    [
      "__proto__ in amount",
      (e: Spec) => JSON.stringify(e).replace('"amount":{', '"amount":{"__proto__":{"value":1000000},'),
      "data.amount.__proto__",
    ],
    [
      "constructor.prototype in data",
      (e: Spec) =>
        JSON.stringify(e).replace('"data":{', '"data":{"constructor":{"prototype":{"polluted":true}},'),
      "data.constructor",
    ],
    [
      "prototype deep in an unknown field",
      (e: Spec) => JSON.stringify(e).replace('"data":{', '"data":{"ext":[{"prototype":{"polluted":true}}],'),
      "data.ext[0].prototype",
    ],
    [
      "constructor as a metadata key",
      (e: Spec) => JSON.stringify({ ...e, data: { ...e.data, metadata: { constructor: "x" } } }),
      "data.metadata.constructor",
    ],
  ])("%s: answered invalid_event, nothing polluted or paid", async (_, body, field) => {
    const e = hostileEvent(`evt-proto-${field}`);
    const result = await pipeline.process({
      body: body(e),
      headers: { "content-type": "application/cloudevents+json" },
      transport: "kafka",
    });
    expectInvalidEvent(result, field);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, "polluted")).toBe(false);
    nothingPaid();
    await afterwardsANormalEventIsRefunded();
  });

  it.each([
    [
      "returnId",
      (e: Spec) => ({ ...e, data: { ...e.data, returnId: `RMA${ESC}[2J${ESC}[H` } }),
      "data.returnId",
    ],
    ["reason", (e: Spec) => ({ ...e, data: { ...e.data, reason: `ok${ESC}]0;pwned\u0007` } }), "data.reason"],
    ["reason (C1 CSI)", (e: Spec) => ({ ...e, data: { ...e.data, reason: "ok\u009b31m" } }), "data.reason"],
    ["subject", (e: Spec) => ({ ...e, subject: `pi_hostile${ESC}[31m` }), "subject"],
  ])("terminal escapes in %s: answered invalid_event, none in any log line", async (_, make, field) => {
    const result = await pipeline.process(message(make(hostileEvent(`evt-esc-${field}`))));
    expectInvalidEvent(result, field);
    nothingPaid();
    noControlCharactersOnTheTerminal();
    await afterwardsANormalEventIsRefunded();
  });

  it.each([
    ["id", (e: Spec) => ({ ...e, id: `evt${ESC}[2J` })],
    ["source", (e: Spec) => ({ ...e, source: `urn:shop${ESC}[2J` })],
  ])("terminal escapes in %s: dead-lettered (no id to answer), none in any log line", async (field, make) => {
    const result = await pipeline.process(message(make(hostileEvent("evt-esc"))));
    expectDeadLetter(result, `${field}: must be printable ASCII`);
    nothingPaid();
    noControlCharactersOnTheTerminal();
    const line = log.lines.find((l) => l.msg === "message dead-lettered");
    expect(line).toBeDefined();
    expect(JSON.stringify(line)).not.toContain("\\u001b");
    await afterwardsANormalEventIsRefunded();
  });

  it.each([
    ["ce_id", "id", "dead-letter"],
    ["ce_source", "source", "dead-letter"],
    ["ce_subject", "subject", "answer"],
    ["ce_time", "time", "answer"],
    ["content-type", "datacontenttype", "answer"],
  ] as const)("CR/LF in %s is refused, naming %s", async (header, attribute, how) => {
    const e = hostileEvent(`evt-crlf-${attribute}`);
    const original = {
      ce_id: e.id,
      ce_source: e.source,
      ce_subject: "pi_hostile",
      ce_time: e.time,
      "content-type": "application/json",
    }[header];
    const result = await pipeline.process(binary(e, { [header]: `${original}${CRLF}` }));
    if (how === "answer") expectInvalidEvent(result, attribute);
    else expectDeadLetter(result, `${attribute}:`);
    nothingPaid();
    await afterwardsANormalEventIsRefunded();
  });

  it("an id outside the readable key's characters gets a hashed, header-safe idempotency key", async () => {
    const odd = event({ id: 'evt"<{|}>\\1', paymentIntentId: "pi_normal", amount: 300 });
    const result = await pipeline.process(message(odd));
    expect(result.status).toBe("published");
    const key = dojo.refunds()[0]?.idempotencyKey ?? "";
    expect(key).toMatch(/^rr:h:[0-9a-f]{64}$/);
  });

  it("the stored event and the Dojo request carry nothing but the contract's fields", async () => {
    const e = event({ id: "evt-extra", paymentIntentId: "pi_normal", amount: 400 });
    const body = JSON.stringify({
      ...e,
      extension: { nested: { deeper: [1, 2, 3] } },
      data: { ...e.data, unknownField: { x: 1 }, notes: "n", metadata: { channel: "web" } },
    });
    const result = await pipeline.process({
      body,
      headers: { "content-type": "application/cloudevents+json" },
      transport: "kafka",
    });
    expect(result.status).toBe("published");
    const refund = dojo.refunds()[0];
    // What the Dojo client is asked to send: the refund's own fields, none of the message's extras.
    const allowed = ["amount", "idempotencyKey", "merchantId", "notes", "paymentIntentId", "refundReason"];
    const sent = Object.entries(refund ?? {}).filter(
      ([k, v]) => v !== undefined && k !== "signal" && k !== "trace",
    );
    for (const [k] of sent) expect(allowed).toContain(k);
    expect(refund).toMatchObject({ paymentIntentId: "pi_normal", amount: 400, notes: "n" });
    const outcome = (result as Extract<MessageResult, { status: "published" }>).outcome;
    expect(JSON.stringify(outcome)).not.toMatch(/unknownField|extension|nested/);
    expect(outcome.data).toMatchObject({ metadata: { channel: "web" } });
  });
});
