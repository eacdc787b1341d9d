import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { idempotencyKeyFor, OUTCOME_ID_NAMESPACE, outcomeEventId, uuidV5 } from "../../../schemas/index.ts";

const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const KEY_CHARS = /^[A-Za-z0-9._:-]+$/;
const anyText = fc.string({ unit: "binary", maxLength: 400 });
const outcomeType = fc.constantFrom("refund.succeeded" as const, "refund.failed" as const);

describe("uuidV5", () => {
  it("matches the RFC 9562 example (DNS namespace, www.example.com)", () => {
    expect(uuidV5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com")).toBe(
      "2ed6657d-e927-568b-95e1-2665a8aea6a2",
    );
  });

  it("refuses a namespace that is not a UUID", () => {
    expect(() => uuidV5("not-a-uuid", "x")).toThrow(TypeError);
  });
});

describe("outcomeEventId", () => {
  it("is the UUID v5 of the JSON array [source, id, type] in the fixed namespace", () => {
    expect(outcomeEventId("urn:returns", "evt-1", "refund.succeeded")).toBe(
      uuidV5(OUTCOME_ID_NAMESPACE, '["urn:returns","evt-1","refund.succeeded"]'),
    );
  });

  it("keeps a known value across releases", () => {
    expect(outcomeEventId("urn:returns", "evt-1", "refund.succeeded")).toBe(
      "701a3724-ad04-508d-9e4e-dbb56a9d91de",
    );
  });

  it("does not confuse parts that share a separator", () => {
    expect(outcomeEventId("a:b", "c", "refund.failed")).not.toBe(outcomeEventId("a", "b:c", "refund.failed"));
    expect(outcomeEventId('a","b', "c", "refund.failed")).not.toBe(
      outcomeEventId("a", 'b","c', "refund.failed"),
    );
  });

  it("is a deterministic version 5 UUID for any input", () => {
    fc.assert(
      fc.property(anyText, anyText, outcomeType, (source, id, type) => {
        const first = outcomeEventId(source, id, type);
        expect(first).toMatch(UUID_V5);
        expect(outcomeEventId(source, id, type)).toBe(first);
      }),
    );
  });

  it("differs whenever the source, the id or the outcome type differs", () => {
    fc.assert(
      fc.property(anyText, anyText, outcomeType, anyText, anyText, outcomeType, (s1, i1, t1, s2, i2, t2) => {
        fc.pre(s1 !== s2 || i1 !== i2 || t1 !== t2);
        expect(outcomeEventId(s1, i1, t1)).not.toBe(outcomeEventId(s2, i2, t2));
      }),
    );
  });
});

describe("idempotencyKeyFor", () => {
  it("is readable for a short, safe id: namespace, source tag, id", () => {
    expect(idempotencyKeyFor({ source: "urn:returns", id: "evt-1" })).toBe("rr:3489e2f90a27:evt-1");
  });

  it("uses the configured namespace", () => {
    expect(idempotencyKeyFor({ source: "urn:returns", id: "evt-1" }, { namespace: "prod-eu" })).toBe(
      "prod-eu:3489e2f90a27:evt-1",
    );
  });

  it("hashes source and id when the id has unsafe characters", () => {
    const key = idempotencyKeyFor({ source: "urn:returns", id: "evt 1/ä" });
    expect(key).toMatch(/^rr:h:[0-9a-f]{64}$/);
  });

  it("hashes when the readable key would exceed 100 characters", () => {
    const key = idempotencyKeyFor({ source: "urn:returns", id: "a".repeat(85) });
    expect(key).toMatch(/^rr:h:[0-9a-f]{64}$/);
    expect(idempotencyKeyFor({ source: "urn:returns", id: "a".repeat(84) })).toHaveLength(100);
  });

  it("gives two producers reusing an id different keys", () => {
    expect(idempotencyKeyFor({ source: "urn:a", id: "1" })).not.toBe(
      idempotencyKeyFor({ source: "urn:b", id: "1" }),
    );
  });

  it("rejects a namespace outside its character set or longer than 20", () => {
    expect(() => idempotencyKeyFor({ source: "s", id: "i" }, { namespace: "a:b" })).toThrow(TypeError);
    expect(() => idempotencyKeyFor({ source: "s", id: "i" }, { namespace: "" })).toThrow(TypeError);
    expect(() => idempotencyKeyFor({ source: "s", id: "i" }, { namespace: "n".repeat(21) })).toThrow(
      TypeError,
    );
  });

  const namespace = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$/);

  it("is deterministic, at most 100 characters and from the safe set, for any input", () => {
    fc.assert(
      fc.property(anyText, anyText, namespace, (source, id, ns) => {
        const key = idempotencyKeyFor({ source, id }, { namespace: ns });
        expect(key.length).toBeLessThanOrEqual(100);
        expect(key).toMatch(KEY_CHARS);
        expect(key.startsWith(`${ns}:`)).toBe(true);
        expect(idempotencyKeyFor({ source, id }, { namespace: ns })).toBe(key);
      }),
    );
  });

  it("keeps a short safe id visible at the end of the key", () => {
    fc.assert(
      fc.property(anyText, fc.stringMatching(/^[A-Za-z0-9._:-]{1,80}$/), (source, id) => {
        expect(idempotencyKeyFor({ source, id }).endsWith(`:${id}`)).toBe(true);
      }),
    );
  });

  it("never gives two different events the same key", () => {
    const idLike = fc.oneof(anyText, fc.stringMatching(/^[A-Za-z0-9._:-]{1,120}$/));
    const sourceLike = fc.oneof(anyText, fc.constantFrom("urn:a", "urn:b"));
    fc.assert(
      fc.property(sourceLike, idLike, sourceLike, idLike, (s1, i1, s2, i2) => {
        fc.pre(s1 !== s2 || i1 !== i2);
        expect(idempotencyKeyFor({ source: s1, id: i1 })).not.toBe(idempotencyKeyFor({ source: s2, id: i2 }));
      }),
    );
  });
});
