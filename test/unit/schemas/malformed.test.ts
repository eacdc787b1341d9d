import { describe, expect, it } from "vitest";
import { type DecodeStage, decodeReturnApproved, type InboundMessage } from "../../../schemas/index.ts";
import { structured, validEvent } from "./fixtures.ts";

type Event = ReturnType<typeof validEvent>;

interface Case {
  readonly name: string;
  readonly message: InboundMessage;
  readonly stage: DecodeStage;
  readonly path: string;
}

function mutated(name: string, stage: DecodeStage, path: string, mutate: (e: Event) => void): Case {
  const event = validEvent();
  mutate(event);
  return { name, message: structured(event), stage, path };
}

const data = (e: Event) => e.data;
const amount = (e: Event) => e.data.amount as Record<string, unknown>;
const lines = (e: Event) => e.data.lines as Array<Record<string, unknown>>;
const metadata = (e: Event) => e.data.metadata as Record<string, unknown>;

const envelope: Case[] = [
  mutated("specversion 0.3", "envelope", "specversion", (e) => {
    e.specversion = "0.3";
  }),
  mutated("specversion as a number", "envelope", "specversion", (e) => {
    e.specversion = 1;
  }),
  mutated("missing id", "envelope", "id", (e) => {
    delete e.id;
  }),
  mutated("empty id", "envelope", "id", (e) => {
    e.id = "";
  }),
  mutated("id with a space", "envelope", "id", (e) => {
    e.id = "evt 1";
  }),
  mutated("id longer than 256", "envelope", "id", (e) => {
    e.id = "e".repeat(257);
  }),
  mutated("numeric id", "envelope", "id", (e) => {
    e.id = 42;
  }),
  mutated("missing source", "envelope", "source", (e) => {
    delete e.source;
  }),
  mutated("source with a control character", "envelope", "source", (e) => {
    e.source = "urn:returns\u0000";
  }),
  mutated("wrong type", "envelope", "type", (e) => {
    e.type = "return.created";
  }),
  mutated("type with a Cyrillic look-alike letter", "envelope", "type", (e) => {
    e.type = "return.\u0430pproved";
  }),
  mutated("type naming version 2", "envelope", "type", (e) => {
    e.type = "return.approved.v2";
  }),
  mutated("dataschema naming version 2", "envelope", "dataschema", (e) => {
    e.dataschema = "urn:refund-relay:schema:return.approved:v2";
  }),
  mutated("dataschema that is not an absolute URI", "envelope", "dataschema", (e) => {
    e.dataschema = "return-approved.json";
  }),
  mutated("time with a space instead of T", "envelope", "time", (e) => {
    e.time = "2026-03-02 14:05:09Z";
  }),
  mutated("time on 30 February", "envelope", "time", (e) => {
    e.time = "2026-02-30T10:00:00Z";
  }),
  mutated("datacontenttype that is not JSON", "envelope", "datacontenttype", (e) => {
    e.datacontenttype = "application/xml";
  }),
  mutated("data_base64 instead of data", "envelope", "data_base64", (e) => {
    delete (e as Partial<Event>).data;
    e.data_base64 = "e30=";
  }),
];

const dataCases: Case[] = [
  mutated("missing data", "data", "data", (e) => {
    delete (e as Partial<Event>).data;
  }),
  mutated("data as a JSON string", "data", "data", (e) => {
    (e as Record<string, unknown>).data = JSON.stringify(e.data);
  }),
  mutated("missing returnId", "data", "data.returnId", (e) => {
    delete data(e).returnId;
  }),
  mutated("empty returnId", "data", "data.returnId", (e) => {
    data(e).returnId = "";
  }),
  mutated("orderId longer than 128", "data", "data.orderId", (e) => {
    data(e).orderId = "o".repeat(129);
  }),
  mutated("paymentIntentId with ../", "data", "data.paymentIntentId", (e) => {
    data(e).paymentIntentId = "../pi_1";
  }),
  mutated("paymentIntentId with %2F", "data", "data.paymentIntentId", (e) => {
    data(e).paymentIntentId = "pi%2F..%2Fadmin";
  }),
  mutated("paymentIntentId with a slash", "data", "data.paymentIntentId", (e) => {
    data(e).paymentIntentId = "pi_1/refunds";
  }),
  mutated("paymentIntentId with whitespace", "data", "data.paymentIntentId", (e) => {
    data(e).paymentIntentId = "pi_1 ";
  }),
  mutated("paymentIntentId with a newline", "data", "data.paymentIntentId", (e) => {
    data(e).paymentIntentId = "pi_1\n";
  }),
  mutated("paymentIntentId with a Cyrillic look-alike letter", "data", "data.paymentIntentId", (e) => {
    data(e).paymentIntentId = "pi_\u0455andbox_1";
  }),
  mutated("paymentIntentId longer than 100", "data", "data.paymentIntentId", (e) => {
    data(e).paymentIntentId = `pi_${"a".repeat(98)}`;
  }),
  mutated("empty paymentIntentId", "data", "data.paymentIntentId", (e) => {
    data(e).paymentIntentId = "";
  }),
  mutated("float amount", "data", "data.amount.value", (e) => {
    amount(e).value = 12.5;
  }),
  mutated("amount as a string", "data", "data.amount.value", (e) => {
    amount(e).value = "1299";
  }),
  mutated("zero amount", "data", "data.amount.value", (e) => {
    amount(e).value = 0;
  }),
  mutated("negative amount", "data", "data.amount.value", (e) => {
    amount(e).value = -100;
  }),
  mutated("amount beyond the safe integer range", "data", "data.amount.value", (e) => {
    amount(e).value = 2 ** 53;
  }),
  mutated("lowercase currency", "data", "data.amount.currencyCode", (e) => {
    amount(e).currencyCode = "gbp";
  }),
  mutated("four-letter currency", "data", "data.amount.currencyCode", (e) => {
    amount(e).currencyCode = "GBPX";
  }),
  mutated("currency with a Cyrillic look-alike letter", "data", "data.amount.currencyCode", (e) => {
    amount(e).currencyCode = "GB\u0420";
  }),
  mutated("unknown field inside amount", "data", "data.amount.exponent", (e) => {
    amount(e).exponent = 2;
  }),
  mutated("missing amount", "data", "data.amount", (e) => {
    delete data(e).amount;
  }),
  mutated("missing reason", "data", "data.reason", (e) => {
    delete data(e).reason;
  }),
  mutated("empty reason", "data", "data.reason", (e) => {
    data(e).reason = "";
  }),
  mutated("reason longer than 1024", "data", "data.reason", (e) => {
    data(e).reason = "r".repeat(1025);
  }),
  mutated("reason with a control character", "data", "data.reason", (e) => {
    data(e).reason = "bell\u0007";
  }),
  mutated("reason with a lone surrogate", "data", "data.reason", (e) => {
    data(e).reason = "broken \ud800";
  }),
  mutated("notes longer than 4096", "data", "data.notes", (e) => {
    data(e).notes = "n".repeat(4097);
  }),
  mutated("merchantId with a slash", "data", "data.merchantId", (e) => {
    data(e).merchantId = "shop/uk";
  }),
  mutated("approvedAt in prose", "data", "data.approvedAt", (e) => {
    data(e).approvedAt = "yesterday";
  }),
  mutated("approvedAt without seconds", "data", "data.approvedAt", (e) => {
    data(e).approvedAt = "2026-03-02T14:05Z";
  }),
  mutated("approvedAt without an offset", "data", "data.approvedAt", (e) => {
    data(e).approvedAt = "2026-03-02T14:05:03";
  }),
  mutated("approvedAt at hour 24", "data", "data.approvedAt", (e) => {
    data(e).approvedAt = "2026-03-02T24:00:00Z";
  }),
  mutated("empty lines", "data", "data.lines", (e) => {
    data(e).lines = [];
  }),
  mutated("zero quantity", "data", "data.lines[0].quantity", (e) => {
    lines(e)[0]!.quantity = 0;
  }),
  mutated("line missing its sku", "data", "data.lines[0].sku", (e) => {
    delete lines(e)[0]!.sku;
  }),
  mutated("line in another currency", "data", "data.lines[1].amount.currencyCode", (e) => {
    (lines(e)[1]!.amount as Record<string, unknown>).currencyCode = "EUR";
  }),
  mutated("more than 500 lines", "data", "data.lines", (e) => {
    data(e).lines = Array.from({ length: 501 }, () => ({
      sku: "A",
      quantity: 1,
      amount: { value: 1, currencyCode: "GBP" },
    }));
  }),
  mutated("numeric metadata value", "data", "data.metadata.channel", (e) => {
    metadata(e).channel = 7;
  }),
  mutated("metadata key starting with an underscore", "data", "data.metadata._secret", (e) => {
    metadata(e)._secret = "x";
  }),
  mutated("more than 32 metadata entries", "data", "data.metadata", (e) => {
    data(e).metadata = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"]));
  }),
  mutated("metadata value longer than 512", "data", "data.metadata.channel", (e) => {
    metadata(e).channel = "v".repeat(513);
  }),
];

const kafka = (body: InboundMessage["body"]): InboundMessage => ({ body, transport: "kafka" });

const raw: Case[] = [
  { name: "invalid JSON", message: kafka('{"specversion":"1.0",'), stage: "unparseable", path: "" },
  { name: "empty body", message: kafka(""), stage: "unparseable", path: "" },
  { name: "null body", message: kafka(null), stage: "unparseable", path: "" },
  {
    name: "invalid UTF-8",
    message: kafka(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])),
    stage: "unparseable",
    path: "",
  },
  { name: "a JSON array", message: kafka("[]"), stage: "envelope", path: "" },
  { name: "a JSON number", message: kafka("1299"), stage: "envelope", path: "" },
  {
    name: "a payload over 256 KiB",
    message: structured({ ...validEvent(), padding: "x".repeat(262_144) }),
    stage: "unparseable",
    path: "",
  },
  {
    name: "a batch of events",
    message: {
      body: "[]",
      headers: { "content-type": "application/cloudevents-batch+json" },
      transport: "kafka",
    },
    stage: "unparseable",
    path: "",
  },
];

const cases = [...envelope, ...dataCases, ...raw];

describe("malformed return.approved events", () => {
  it("covers at least 40 distinct malformed inputs", () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)("rejects $name at $path ($stage)", ({ message, stage, path }) => {
    const result = decodeReturnApproved(message);
    if (result.ok) throw new Error("expected a rejection");
    expect(result.stage).toBe(stage);
    expect(result.issues.map((i) => i.path)).toContain(path);
    if (path !== "" && result.issues.length <= 3) expect(result.message).toContain(path);
  });
});
