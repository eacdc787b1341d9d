import { createRequire } from "node:module";
import { Partitioners, type PartitionMetadata } from "kafkajs";
import { describe, expect, it } from "vitest";
import { KeyHashPartitioner, murmur2 } from "../../../consumers/kafka/partitioner.ts";

// kafkajs's own hash, the one its DefaultPartitioner uses: the relay's must give the same numbers.
const kafkajsMurmur2 = createRequire(import.meta.url)(
  "kafkajs/src/producer/partitioners/default/murmur2.js",
) as (key: Buffer | string) => number;

/** A deterministic stream of keys of every length from 0 to 80, in ASCII, UTF-8 and raw bytes. */
function* keys(): Generator<Buffer | string> {
  let seed = 12345;
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  for (let length = 0; length <= 80; length++) {
    for (let n = 0; n < 25; n++) {
      const bytes = Buffer.alloc(length);
      for (let i = 0; i < length; i++) bytes[i] = next() & 0xff;
      yield bytes;
      yield Array.from({ length }, () => String.fromCharCode(0x21 + (next() % 94))).join("");
    }
  }
  yield "pi_Üñíçødé_€_😀";
  yield `pi_${"x".repeat(1000)}`;
}

function metadata(count: number, withoutLeader: readonly number[] = []): PartitionMetadata[] {
  return Array.from({ length: count }, (_, partitionId) => ({
    partitionId,
    leader: withoutLeader.includes(partitionId) ? -1 : 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));
}

describe("murmur2", () => {
  it("equals kafkajs's murmur2 for keys of every length and byte value", () => {
    let compared = 0;
    const differing: string[] = [];
    for (const key of keys()) {
      compared++;
      if (murmur2(key) !== kafkajsMurmur2(key)) differing.push(Buffer.from(key).toString("hex"));
    }
    expect(differing).toEqual([]);
    expect(compared).toBeGreaterThan(4000);
  });

  it("gives Kafka's published value for a known key", () => {
    // The Java client's Utils.murmur2("21".getBytes()) is -973932308.
    expect(murmur2("21")).toBe(-973932308);
  });
});

describe("KeyHashPartitioner", () => {
  it("puts every keyed record on the partition kafkajs's DefaultPartitioner chooses", () => {
    const ours = KeyHashPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const differing: string[] = [];
    for (const count of [1, 3, 12, 50]) {
      const partitionMetadata = metadata(count, [1]);
      for (const key of keys()) {
        const args = { topic: "refund.succeeded", partitionMetadata, message: { key, value: "x" } };
        if (ours(args) !== theirs(args)) differing.push(`${count}:${Buffer.from(key).toString("hex")}`);
      }
    }
    expect(differing).toEqual([]);
  });

  it("keeps an explicit partition", () => {
    const partition = KeyHashPartitioner()({
      topic: "t",
      partitionMetadata: metadata(12),
      message: { key: "pi_1", value: "x", partition: 7 },
    });
    expect(partition).toBe(7);
  });

  it("spreads records without a key over the partitions that have a leader", () => {
    const choose = KeyHashPartitioner();
    const seen = new Map<number, number>();
    for (let i = 0; i < 400; i++) {
      const p = choose({
        topic: "dlq",
        partitionMetadata: metadata(4, [2]),
        message: { key: null, value: "x" },
      });
      seen.set(p, (seen.get(p) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual([0, 1, 3]);
    for (const n of seen.values()) expect(n).toBeGreaterThan(120);
  });
});
