import type { IHeaders } from "kafkajs";
import { describe, expect, it } from "vitest";
import { headersToRecord } from "../../../consumers/kafka/headers.ts";

describe("headersToRecord", () => {
  it("returns an empty record for no headers", () => {
    expect(headersToRecord(undefined)).toEqual({});
    expect(headersToRecord({})).toEqual({});
  });

  it("decodes Buffer values as UTF-8 and keeps string values", () => {
    const headers: IHeaders = {
      "content-type": Buffer.from("application/cloudevents+json"),
      ce_id: "abc",
      ce_source: Buffer.from("urn:shop:£", "utf8"),
    };
    expect(headersToRecord(headers)).toEqual({
      "content-type": "application/cloudevents+json",
      ce_id: "abc",
      ce_source: "urn:shop:£",
    });
  });

  it("lowercases header names", () => {
    expect(headersToRecord({ "Content-Type": "text/plain", CE_ID: Buffer.from("1") })).toEqual({
      "content-type": "text/plain",
      ce_id: "1",
    });
  });

  it("keeps the last value of an array", () => {
    expect(headersToRecord({ ce_id: ["first", Buffer.from("second"), "third"] })).toEqual({ ce_id: "third" });
    expect(headersToRecord({ ce_id: [Buffer.from("a"), Buffer.from("b")] })).toEqual({ ce_id: "b" });
  });

  it("drops undefined values and empty arrays", () => {
    expect(headersToRecord({ a: undefined, b: [], c: "kept" })).toEqual({ c: "kept" });
  });

  it("keeps an empty string value", () => {
    expect(headersToRecord({ a: "", b: Buffer.alloc(0) })).toEqual({ a: "", b: "" });
  });
});

describe("headersToRecord with null values", () => {
  it("leaves out headers whose value is null instead of throwing", () => {
    const headers = { ce_id: Buffer.from("evt-1"), "x-empty": null } as unknown as Parameters<
      typeof headersToRecord
    >[0];
    expect(headersToRecord(headers)).toEqual({ ce_id: "evt-1" });
  });
});
