import type { Producer, Transaction } from "kafkajs";
import { describe, expect, it } from "vitest";
import { TransactionalBatcher } from "../../../consumers/kafka/transactional-batcher.ts";

interface FakeProducer {
  producer: Producer;
  transactions: Array<{ sent: unknown[]; offsets: unknown[]; committed: boolean; aborted: boolean }>;
  disconnected: boolean;
}

/** A kafkajs producer stand-in whose transactions fail at the step named in `failAt`. */
function fakeProducer(failAt?: "transaction" | "commit"): FakeProducer {
  const fake: FakeProducer = {
    producer: undefined as unknown as Producer,
    transactions: [],
    disconnected: false,
  };
  fake.producer = {
    transaction: async () => {
      if (failAt === "transaction") throw new Error("coordinator not available");
      const t = { sent: [] as unknown[], offsets: [] as unknown[], committed: false, aborted: false };
      fake.transactions.push(t);
      return {
        sendBatch: async (batch: unknown) => void t.sent.push(batch),
        sendOffsets: async (offsets: unknown) => void t.offsets.push(offsets),
        commit: async () => {
          if (failAt === "commit") throw new Error("commit failed");
          t.committed = true;
        },
        abort: async () => {
          t.aborted = true;
        },
      } as unknown as Transaction;
    },
    disconnect: async () => {
      fake.disconnected = true;
    },
  } as unknown as Producer;
  return fake;
}

const record = (topic: string, value: string) => ({ topic, message: { key: "pi_1", value } });

describe("TransactionalBatcher", () => {
  it("commits queued records and offsets in one transaction and resolves the senders", async () => {
    const fake = fakeProducer();
    const batcher = new TransactionalBatcher(fake.producer, "group-1", async () => fakeProducer().producer);
    const sent = [batcher.send(record("out", "a")), batcher.send(record("out", "b"))];
    await batcher.commit([{ topic: "in", partition: 0, offset: 7 }]);
    await Promise.all(sent);
    expect(fake.transactions).toHaveLength(1);
    expect(fake.transactions[0]).toMatchObject({ committed: true, aborted: false });
    expect(fake.transactions[0]?.offsets).toEqual([
      { consumerGroupId: "group-1", topics: [{ topic: "in", partitions: [{ partition: 0, offset: "7" }] }] },
    ]);
    expect(batcher.queued).toBe(0);
  });

  it("rejects the batch and replaces the producer when a transaction cannot even start", async () => {
    const broken = fakeProducer("transaction");
    const healthy = fakeProducer();
    const batcher = new TransactionalBatcher(broken.producer, "group-1", async () => healthy.producer);
    const sent = batcher.send(record("out", "a"));
    await expect(batcher.commit([])).rejects.toThrow(/coordinator not available/);
    await expect(sent).rejects.toThrow(/coordinator not available/);
    expect(broken.disconnected).toBe(true);

    const again = batcher.send(record("out", "a"));
    await batcher.commit([{ topic: "in", partition: 0, offset: 1 }]);
    await again;
    expect(healthy.transactions).toHaveLength(1);
    expect(healthy.transactions[0]?.committed).toBe(true);
  });

  it("aborts, rejects and replaces the producer when the commit fails", async () => {
    const failing = fakeProducer("commit");
    const healthy = fakeProducer();
    const batcher = new TransactionalBatcher(failing.producer, "group-1", async () => healthy.producer);
    const sent = batcher.send(record("out", "a"));
    await expect(batcher.commit([{ topic: "in", partition: 0, offset: 3 }])).rejects.toThrow(/commit failed/);
    await expect(sent).rejects.toThrow(/commit failed/);
    expect(failing.transactions[0]).toMatchObject({ committed: false, aborted: true });
    await batcher.commit([{ topic: "in", partition: 0, offset: 3 }]);
    expect(healthy.transactions[0]?.committed).toBe(true);
  });

  it("does nothing when there is nothing to commit", async () => {
    const fake = fakeProducer();
    await new TransactionalBatcher(fake.producer, "g", async () => fake.producer).commit([]);
    expect(fake.transactions).toHaveLength(0);
  });
});

describe("TransactionalBatcher when fenced", () => {
  it("stops, without replacing its producer, once another producer with its id took over", async () => {
    const fenced = fakeProducer();
    let replaced = 0;
    const batcher = new TransactionalBatcher(fenced.producer, "group-1", async () => {
      replaced += 1;
      return fakeProducer().producer;
    });
    fenced.producer.transaction = async () => {
      throw Object.assign(new Error("producer fenced"), { type: "INVALID_PRODUCER_EPOCH" });
    };
    const sent = batcher.send(record("out", "a"));
    await expect(batcher.commit([])).rejects.toThrow(/fenced/);
    await expect(sent).rejects.toThrow(/fenced/);
    expect(batcher.fenced).toBe(true);
    expect(replaced).toBe(0);
    await expect(batcher.send(record("out", "b"))).rejects.toThrow(/fenced/);
  });

  it("refuses records after it is closed", async () => {
    const fake = fakeProducer();
    const batcher = new TransactionalBatcher(fake.producer, "group-1", async () => fake.producer);
    await batcher.close();
    await expect(batcher.send(record("out", "a"))).rejects.toThrow(/closed/);
    expect(fake.disconnected).toBe(true);
  });
});
