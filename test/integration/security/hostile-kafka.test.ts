// Hostile messages over real Kafka, to a relay started as `refund-relay start` would start it: deep
// nesting, a body over MAX_MESSAGE_BYTES, keys that reach prototypes, terminal escapes, CR/LF in a
// CloudEvents header and oversized headers. Each is answered with refund.failed invalid_event or
// dead-lettered with a reason naming the field; the Dojo simulator gets no refund for any of them;
// the relay stays healthy and then refunds an ordinary event.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MAX_HEADER_BYTES } from "../../../schemas/index.ts";
import type { RunningRelay } from "../../../src/cli/relay-app.ts";
import { returnApproved, structuredRecord } from "../../support/events.ts";
import { type CollectedRecord, KafkaHarness } from "../../support/kafka-harness.ts";
import { freePort } from "../../support/tcp-proxy.ts";

const { kafkaBrokers } = inject("servers");
const ESC = "\u001b";
const CRLF = "\r\nX-Injected: yes";
const STRUCTURED = { "content-type": "application/cloudevents+json" };

let h: KafkaHarness;
let relay: RunningRelay;
let base: string;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers, partitions: 1 }).setUp();
  const port = await freePort();
  relay = await h.startRelay({ HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1", MAX_MESSAGE_BYTES: "32768" });
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await h?.tearDown();
});

type Event = ReturnType<typeof returnApproved>;

interface Hostile {
  readonly name: string;
  readonly record: { key: string; value: string; headers: Record<string, string> };
  /** How it must end: answered (refund.failed invalid_event, by event id) or dead-lettered (by marker). */
  readonly expect:
    | { readonly answer: string; readonly naming: string }
    | { readonly deadLetter: string; readonly naming: string };
}

function binaryHeaders(e: Event): Record<string, string> {
  return {
    ce_specversion: "1.0",
    ce_id: e.id,
    ce_source: e.source,
    ce_type: "return.approved",
    "content-type": "application/json",
  };
}

function hostileMessages(pi: string): Hostile[] {
  const make = (id: string, returnId = `RMA-${id}`) =>
    returnApproved({ id, paymentIntentId: pi, amount: 500, returnId });
  const deep = make("evt-hostile-deep");
  const huge = make("evt-hostile-huge");
  const proto = make("evt-hostile-proto");
  const ctor = make("evt-hostile-ctor");
  const escReturnId = make("evt-hostile-esc-return", `RMA${ESC}[2J${ESC}[H`);
  const escId = make("evt-hostile-esc-id");
  const crlf = make("evt-hostile-crlf", "RMA-crlf-marker");
  const headers = make("evt-hostile-headers");
  return [
    {
      name: "10,000 levels of nesting",
      record: {
        key: pi,
        value: JSON.stringify({ ...deep, data: { ...deep.data, ext: "@@" } }).replace(
          '"@@"',
          `${"[".repeat(10_000)}${"]".repeat(10_000)}`,
        ),
        headers: STRUCTURED,
      },
      expect: { answer: deep.id, naming: "data.ext[0]" },
    },
    {
      name: "a body over MAX_MESSAGE_BYTES",
      record: {
        key: pi,
        value: JSON.stringify({
          ...huge,
          data: { ...huge.data, notes: `huge-marker ${"n".repeat(40_000)}` },
        }),
        headers: STRUCTURED,
      },
      expect: { deadLetter: "huge-marker", naming: "the limit is 32768" },
    },
    {
      name: "__proto__ in data",
      record: {
        key: pi,
        value: JSON.stringify(proto).replace('"data":{', '"data":{"__proto__":{"polluted":true},'),
        headers: STRUCTURED,
      },
      expect: { answer: proto.id, naming: "data.__proto__" },
    },
    {
      name: "constructor.prototype in amount",
      record: {
        key: pi,
        value: JSON.stringify(ctor).replace(
          '"amount":{',
          '"amount":{"constructor":{"prototype":{"value":1}},',
        ),
        headers: STRUCTURED,
      },
      expect: { answer: ctor.id, naming: "data.amount.constructor" },
    },
    {
      name: "terminal escapes in returnId",
      record: { key: pi, value: JSON.stringify(escReturnId), headers: STRUCTURED },
      expect: { answer: escReturnId.id, naming: "data.returnId" },
    },
    {
      name: "terminal escapes in id",
      record: {
        key: pi,
        value: JSON.stringify({ ...escId, id: `esc-id-marker${ESC}[31m` }),
        headers: STRUCTURED,
      },
      expect: { deadLetter: "esc-id-marker", naming: "id: must be printable ASCII" },
    },
    {
      name: "CR/LF in the ce_id header",
      record: {
        key: pi,
        value: JSON.stringify(crlf.data),
        headers: { ...binaryHeaders(crlf), ce_id: `${crlf.id}${CRLF}` },
      },
      expect: { deadLetter: "RMA-crlf-marker", naming: "id: must be printable ASCII" },
    },
    {
      name: "headers over MAX_HEADER_BYTES",
      record: {
        key: pi,
        value: JSON.stringify(headers.data),
        headers: { ...binaryHeaders(headers), "x-padding": "p".repeat(MAX_HEADER_BYTES) },
      },
      expect: { answer: headers.id, naming: "headers are" },
    },
  ];
}

function failedOutcomeOf(eventId: string): CollectedRecord | undefined {
  return h
    .outcomes("refund.failed")
    .find((r) => (r.json?.data.sourceEvent as { id?: string })?.id === eventId);
}

function deadLetterWith(marker: string): CollectedRecord | undefined {
  return h.deadLetters().find((r) => r.value?.includes(marker));
}

describe("hostile messages over Kafka", () => {
  it("are each answered or dead-lettered with a reason naming the field, nothing paid; the relay refunds after them", async () => {
    const pi = await h.dojo.createIntent({ amount: 50_000, status: "Captured" });
    const hostile = hostileMessages(pi);
    await h.produce(hostile.map((m) => m.record));

    const settled = (m: Hostile) =>
      "answer" in m.expect ? failedOutcomeOf(m.expect.answer) : deadLetterWith(m.expect.deadLetter);
    await h.waitFor(
      () => hostile.every((m) => settled(m) !== undefined),
      "every hostile message settled",
      60_000,
    );

    for (const m of hostile) {
      const record = settled(m) as CollectedRecord;
      if ("answer" in m.expect) {
        expect(record.json?.data, m.name).toMatchObject({ code: "invalid_event", attempts: 0 });
        expect(String(record.json?.data.message), m.name).toContain(m.expect.naming);
        expect(String(record.json?.data.message), m.name).not.toMatch(/\p{Cc}/u);
      } else {
        expect(record.headers["rr-error-code"], m.name).toMatch(/^(unparseable|invalid_envelope)$/);
        expect(record.headers["rr-error-message"], m.name).toContain(m.expect.naming);
        expect(record.headers["rr-attempts"], m.name).toBe("0");
      }
    }
    // Nothing succeeded and nothing was refunded: Dojo saw no refund request at all.
    expect(h.outcomes("refund.succeeded")).toEqual([]);
    expect(await h.dojo.requests({ route: "createRefund" })).toEqual([]);
    expect((await h.dojo.refundsOf(pi)).refundedAmount).toBe(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    // Still healthy, and an ordinary event is refunded.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const normal = returnApproved({ paymentIntentId: pi, amount: 1_234 });
    await h.produce([structuredRecord(normal)]);
    await h.waitFor(() => h.outcomesOf(normal.id).length === 1, "the ordinary event's outcome");
    expect(h.outcomesOf(normal.id)[0]?.json).toMatchObject({
      type: "refund.succeeded",
      data: { amount: { value: 1_234 }, attempts: 1 },
    });
    expect((await h.dojo.refundsOf(pi)).refundedAmount).toBe(1_234);
    expect(await h.dojo.requests({ route: "createRefund" })).toHaveLength(1);
    expect(relay.relay).toBeDefined();
  }, 90_000);
});
