import type { Producer, ProducerBatch } from "kafkajs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BatchingProducer } from "../../../consumers/kafka/batching-producer.ts";

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A kafkajs producer whose sendBatch calls are recorded and finish only when the test says so. */
class FakeProducer {
  readonly batches: ProducerBatch[] = [];
  readonly pending: Deferred[] = [];
  inFlight = 0;
  peakInFlight = 0;
  /** When true, sendBatch resolves at once instead of waiting for the test. */
  auto = false;

  readonly sendBatch = async (batch: ProducerBatch): Promise<[]> => {
    this.batches.push(batch);
    this.inFlight += 1;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      if (!this.auto) {
        const gate = deferred();
        this.pending.push(gate);
        await gate.promise;
      }
      return [];
    } finally {
      this.inFlight -= 1;
    }
  };

  asProducer(): Producer {
    return this as unknown as Producer;
  }

  /** Topic -> message values of one recorded batch. */
  values(index: number): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const tm of this.batches[index]?.topicMessages ?? []) {
      out[tm.topic] = tm.messages.map((m) => String(m.value));
    }
    return out;
  }
}

function record(topic: string, value: string) {
  return { topic, message: { key: "k", value } };
}

/** Tracks how a promise settled without awaiting it. */
function watch(promise: Promise<void>) {
  const state: { settled: "pending" | "resolved" | "rejected"; error?: unknown } = { settled: "pending" };
  promise.then(
    () => {
      state.settled = "resolved";
    },
    (error: unknown) => {
      state.settled = "rejected";
      state.error = error;
    },
  );
  return state;
}

async function ticks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe("BatchingProducer", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends records queued within the linger window in one request, grouped by topic", async () => {
    const fake = new FakeProducer();
    fake.auto = true;
    const producer = new BatchingProducer(fake.asProducer(), { lingerMs: 5 });
    const sent = [
      producer.send(record("refund.succeeded", "s1")),
      producer.send(record("refund.failed", "f1")),
      producer.send(record("refund.succeeded", "s2")),
    ];
    await vi.advanceTimersByTimeAsync(4);
    expect(fake.batches).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all(sent);
    expect(fake.batches).toHaveLength(1);
    expect(fake.batches[0]?.acks).toBe(-1);
    expect(fake.values(0)).toEqual({ "refund.succeeded": ["s1", "s2"], "refund.failed": ["f1"] });
    expect(fake.batches[0]?.topicMessages?.map((t) => t.topic)).toEqual([
      "refund.succeeded",
      "refund.failed",
    ]);
  });

  it("does not resolve a send before the broker acknowledged its batch", async () => {
    const fake = new FakeProducer();
    const producer = new BatchingProducer(fake.asProducer(), { lingerMs: 1 });
    const state = watch(producer.send(record("t", "a")));
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.batches).toHaveLength(1);
    expect(state.settled).toBe("pending");
    fake.pending[0]?.resolve();
    await ticks();
    expect(state.settled).toBe("resolved");
  });

  it("sends at once when maxBatch records are queued and splits larger bursts", async () => {
    const fake = new FakeProducer();
    const producer = new BatchingProducer(fake.asProducer(), { lingerMs: 1_000, maxBatch: 2 });
    const states = ["a", "b", "c", "d", "e"].map((v) => watch(producer.send(record("t", v))));
    await ticks();
    // The first two went without waiting for the linger timer.
    expect(fake.batches).toHaveLength(1);
    expect(fake.values(0)).toEqual({ t: ["a", "b"] });

    fake.pending[0]?.resolve();
    await ticks();
    expect(fake.batches).toHaveLength(2);
    expect(fake.values(1)).toEqual({ t: ["c", "d"] });
    fake.pending[1]?.resolve();
    await ticks();
    expect(fake.batches).toHaveLength(3);
    expect(fake.values(2)).toEqual({ t: ["e"] });
    fake.pending[2]?.resolve();
    await ticks();
    expect(states.map((s) => s.settled)).toEqual(Array(5).fill("resolved"));
    expect(fake.batches.every((b) => (b.topicMessages ?? []).flatMap((t) => t.messages).length <= 2)).toBe(
      true,
    );
  });

  it("keeps only one sendBatch in flight and sends what queued meanwhile as the next batch", async () => {
    const fake = new FakeProducer();
    const producer = new BatchingProducer(fake.asProducer(), { lingerMs: 2 });
    const first = watch(producer.send(record("t", "1")));
    await vi.advanceTimersByTimeAsync(2);
    expect(fake.batches).toHaveLength(1);

    const later = ["2", "3", "4"].map((v) => watch(producer.send(record("t", v))));
    await vi.advanceTimersByTimeAsync(50);
    expect(fake.batches).toHaveLength(1);
    expect(fake.inFlight).toBe(1);

    fake.pending[0]?.resolve();
    await ticks();
    expect(first.settled).toBe("resolved");
    expect(fake.batches).toHaveLength(2);
    expect(fake.values(1)).toEqual({ t: ["2", "3", "4"] });
    fake.pending[1]?.resolve();
    await ticks();
    expect(later.map((s) => s.settled)).toEqual(["resolved", "resolved", "resolved"]);
    expect(fake.peakInFlight).toBe(1);
  });

  it("rejects exactly the sends of a failed batch", async () => {
    const fake = new FakeProducer();
    const producer = new BatchingProducer(fake.asProducer(), { lingerMs: 1_000, maxBatch: 2 });
    const states = ["a", "b", "c", "d"].map((v) => watch(producer.send(record("t", v))));
    await ticks();
    const failure = new Error("NOT_ENOUGH_REPLICAS");
    fake.pending[0]?.reject(failure);
    await ticks();
    fake.pending[1]?.resolve();
    await ticks();
    expect(states.map((s) => s.settled)).toEqual(["rejected", "rejected", "resolved", "resolved"]);
    expect(states[0]?.error).toBe(failure);
    expect(states[1]?.error).toBe(failure);
  });

  it("keeps working after a failed batch", async () => {
    const fake = new FakeProducer();
    const producer = new BatchingProducer(fake.asProducer(), { lingerMs: 1 });
    const failed = watch(producer.send(record("t", "x")));
    await vi.advanceTimersByTimeAsync(1);
    fake.pending[0]?.reject(new Error("down"));
    await ticks();
    expect(failed.settled).toBe("rejected");

    fake.auto = true;
    const retried = producer.send(record("t", "x"));
    await vi.advanceTimersByTimeAsync(1);
    await expect(retried).resolves.toBeUndefined();
    expect(fake.batches).toHaveLength(2);
  });

  it("flush sends without waiting for the linger timer and resolves after every batch finished", async () => {
    const fake = new FakeProducer();
    const producer = new BatchingProducer(fake.asProducer(), { lingerMs: 60_000, maxBatch: 3 });
    const states = ["a", "b", "c", "d"].map((v) => watch(producer.send(record("t", v))));
    const flushed = watch(producer.flush());
    await ticks();
    expect(fake.batches).toHaveLength(1);
    fake.pending[0]?.resolve();
    await ticks();
    expect(flushed.settled).toBe("pending");
    expect(fake.batches).toHaveLength(2);
    fake.pending[1]?.resolve();
    await ticks();
    expect(flushed.settled).toBe("resolved");
    expect(states.map((s) => s.settled)).toEqual(Array(4).fill("resolved"));
    expect(vi.getTimerCount()).toBe(0);
  });

  it("flush resolves even when a batch fails (the failure belongs to the sends)", async () => {
    const fake = new FakeProducer();
    const producer = new BatchingProducer(fake.asProducer(), { lingerMs: 60_000 });
    const sent = watch(producer.send(record("t", "a")));
    const flushed = producer.flush();
    await ticks();
    fake.pending[0]?.reject(new Error("down"));
    await expect(flushed).resolves.toBeUndefined();
    expect(sent.settled).toBe("rejected");
  });

  it("flush with nothing queued resolves at once without a request", async () => {
    const fake = new FakeProducer();
    const producer = new BatchingProducer(fake.asProducer());
    await producer.flush();
    expect(fake.batches).toHaveLength(0);
  });
});
