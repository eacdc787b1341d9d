import { describe, expect, it } from "vitest";
import { canonicalJson, requestHash } from "../../../src/pipeline/request-hash.ts";

const data = {
  returnId: "RMA-1",
  orderId: "ORD-1",
  paymentIntentId: "pi_1",
  amount: { value: 500, currencyCode: "GBP" },
  reason: "Item returned",
  metadata: { a: "1", b: "2" },
};

describe("requestHash", () => {
  it("is a sha-256 hex digest", () => {
    expect(requestHash(data)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("does not depend on key order at any level", () => {
    const reordered = {
      metadata: { b: "2", a: "1" },
      reason: "Item returned",
      amount: { currencyCode: "GBP", value: 500 },
      paymentIntentId: "pi_1",
      orderId: "ORD-1",
      returnId: "RMA-1",
    };
    expect(requestHash(reordered)).toBe(requestHash(data));
    expect(canonicalJson(reordered)).toBe(canonicalJson(data));
  });

  it.each([
    ["a top-level value", { ...data, returnId: "RMA-2" }],
    ["a nested value", { ...data, amount: { value: 501, currencyCode: "GBP" } }],
    ["a nested currency", { ...data, amount: { value: 500, currencyCode: "EUR" } }],
    ["a metadata value", { ...data, metadata: { a: "1", b: "3" } }],
    ["an added member", { ...data, notes: "x" }],
    ["a removed member", { ...data, metadata: { a: "1" } }],
    ["a value's type", { ...data, amount: { value: "500", currencyCode: "GBP" } }],
  ])("changes when %s changes", (_, changed) => {
    expect(requestHash(changed)).not.toBe(requestHash(data));
  });

  it("drops members whose value is undefined", () => {
    expect(requestHash({ ...data, notes: undefined })).toBe(requestHash(data));
    expect(canonicalJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });

  it("keeps null members (null is not undefined)", () => {
    expect(requestHash({ ...data, notes: null })).not.toBe(requestHash(data));
  });

  it("keeps array order", () => {
    expect(requestHash({ items: [1, 2, 3] })).not.toBe(requestHash({ items: [3, 2, 1] }));
    expect(canonicalJson({ items: [{ b: 1, a: 2 }, "x"] })).toBe('{"items":[{"a":2,"b":1},"x"]}');
  });

  it("does not confuse keys and values that contain JSON punctuation", () => {
    expect(requestHash({ 'a":"b': "c" })).not.toBe(requestHash({ a: 'b":"c' }));
    expect(canonicalJson({ 'a"': "b" })).toBe(JSON.stringify({ 'a"': "b" }));
  });
});
