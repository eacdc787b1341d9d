// KafkaRelay against a stand-in for kafkajs: what it pauses for the intake gate, when it calls
// onFatal (consumer crashes and stops, offsets that go backwards), and what it commits meanwhile. The
// stand-in keeps kafkajs' own pause bookkeeping (its SubscriptionState), so pause and resume behave as
// they do against a broker.
import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import type { Kafka } from "kafkajs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  InputOffsetsWentBackError,
  KafkaRelay,
  type MessageProcessor,
} from "../../../consumers/kafka/relay.ts";
import { fetchBytesPerPartition } from "../../../consumers/kafka/source.ts";
import { silentLogger } from "../../../src/logger.ts";
import type { IntakeGate } from "../../../src/pipeline/fault-gate.ts";
import type { MessageResult, OutcomeEvent } from "../../../src/pipeline/index.ts";

const require = createRequire(import.meta.url);
const SubscriptionState: new () => {
  pause(topicPartitions: Array<{ topic: string; partitions?: number[] }>): void;
  resume(topicPartitions: Array<{ topic: string; partitions?: number[] }>): void;
  isPaused(topic: string, partition: number): boolean;
} = require("kafkajs/src/consumer/subscriptionState");

const TOPIC = "in";
const EVENTS = {
  GROUP_JOIN: "consumer.group_join",
  REBALANCING: "consumer.rebalancing",
  CRASH: "consumer.crash",
  STOP: "consumer.stop",
  COMMIT_OFFSETS: "consumer.commit_offsets",
};

type EachBatch = (payload: unknown) => Promise<void>;

class FakeConsumer {
  readonly events = EVENTS;
  readonly #emitter = new EventEmitter();
  #state = new SubscriptionState();
  #eachBatch: EachBatch | undefined;
  readonly resolved = new Map<number, string>();
  readonly commits: Array<{ partition: number; offset: string }> = [];
  /** When false, commitOffsets resolves without committing (kafkajs does so while restarting). */
  acknowledgeCommits = true;
  running = false;

  on(name: string, listener: (event: unknown) => void): () => void {
    this.#emitter.on(name, listener);
    return () => this.#emitter.off(name, listener);
  }
  emit(name: string, payload: unknown): void {
    this.#emitter.emit(name, { id: 0, type: name, timestamp: Date.now(), payload });
  }
  async connect(): Promise<void> {}
  async subscribe(): Promise<void> {}
  async run({ eachBatch }: { eachBatch: EachBatch }): Promise<void> {
    this.#eachBatch = eachBatch;
    this.running = true;
    this.join([0, 1, 2]);
  }
  /** kafkajs' join: a fresh group state, then GROUP_JOIN. */
  join(partitions: number[], fresh = false): void {
    if (fresh) this.#state = new SubscriptionState();
    this.emit(EVENTS.GROUP_JOIN, { memberAssignment: { [TOPIC]: partitions } });
  }
  async disconnect(): Promise<void> {
    if (this.running) this.emit(EVENTS.STOP, undefined);
    this.running = false;
  }
  pause(tps: Array<{ topic: string; partitions?: number[] }>): void {
    if (!this.running) throw new Error("Consumer group was not initialized");
    this.#state.pause(tps);
  }
  resume(tps: Array<{ topic: string; partitions?: number[] }>): void {
    if (!this.running) throw new Error("Consumer group was not initialized");
    this.#state.resume(tps);
  }
  isPaused(partition: number): boolean {
    return this.#state.isPaused(TOPIC, partition);
  }
  async commitOffsets(offsets: Array<{ topic: string; partition: number; offset: string }>): Promise<void> {
    if (!this.acknowledgeCommits) return;
    this.commits.push(...offsets.map(({ partition, offset }) => ({ partition, offset })));
    this.emit(EVENTS.COMMIT_OFFSETS, { topics: [{ topic: TOPIC, partitions: offsets }] });
  }
  /** Hands a batch to the relay the way kafkajs' runner does; `first` .. `first + count - 1`. */
  async deliver(
    partition: number,
    first: number,
    count: number,
    highWatermark = first + count,
  ): Promise<void> {
    const messages = Array.from({ length: count }, (_, i) => ({
      offset: String(first + i),
      key: null,
      value: Buffer.from(`${partition}:${first + i}`),
      headers: {},
      timestamp: "0",
    }));
    await this.#eachBatch?.({
      batch: { topic: TOPIC, partition, highWatermark: String(highWatermark), messages },
      resolveOffset: (offset: string) => this.resolved.set(partition, offset),
    });
  }
}

class FakeAdmin {
  topics = [TOPIC, "ok", "failed", "dlq"];
  groupOffsets = new Map<number, number>();
  ends = new Map<number, { low: number; high: number }>();
  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async listTopics(): Promise<string[]> {
    return this.topics;
  }
  async fetchOffsets() {
    return [
      {
        topic: TOPIC,
        partitions: [0, 1, 2].map((p) => ({ partition: p, offset: String(this.groupOffsets.get(p) ?? -1) })),
      },
    ];
  }
  async fetchTopicOffsets() {
    return [0, 1, 2].map((p) => {
      const { low, high } = this.ends.get(p) ?? { low: 0, high: 1_000 };
      return { partition: p, offset: String(high), high: String(high), low: String(low) };
    });
  }
  async fetchTopicMetadata() {
    return { topics: [] };
  }
}

class FakeProducer {
  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async send(): Promise<void> {}
  async sendBatch(): Promise<void> {}
}

class TestGate implements IntakeGate {
  #paused = false;
  readonly #listeners = new Set<(paused: boolean) => void>();
  get paused(): boolean {
    return this.#paused;
  }
  set(paused: boolean): void {
    this.#paused = paused;
    for (const listener of this.#listeners) listener(paused);
  }
  subscribe(listener: (paused: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** A processor whose answers the test gives, per "partition:offset". */
function heldProcessor() {
  const waiting = new Map<string, (result: MessageResult) => void>();
  const seen: string[] = [];
  const processor: MessageProcessor = {
    process(message) {
      const id = Buffer.from(message.body as Uint8Array).toString("utf8");
      seen.push(id);
      return new Promise((resolve) => waiting.set(id, resolve));
    },
  };
  const settle = (...ids: string[]) => {
    for (const id of ids) {
      const resolve = waiting.get(id);
      if (resolve === undefined) throw new Error(`${id} is not in flight`);
      waiting.delete(id);
      resolve({ status: "published", outcome: {} as OutcomeEvent, replayed: false });
    }
  };
  const settleAll = () => settle(...waiting.keys());
  return { processor, seen, settle, settleAll };
}

let consumer: FakeConsumer;
let admin: FakeAdmin;
let fatal: unknown[];
let gate: TestGate;
let relay: KafkaRelay;
let held: ReturnType<typeof heldProcessor>;
let consumerConfig: Record<string, unknown> | undefined;

async function startRelay(maxInFlightPerPartition = 100): Promise<void> {
  const kafka = {
    consumer: (config: Record<string, unknown>) => {
      consumerConfig = config;
      return consumer;
    },
    producer: () => new FakeProducer(),
    admin: () => admin,
  } as unknown as Kafka;
  relay = new KafkaRelay({
    kafka,
    groupId: "g",
    inputTopic: TOPIC,
    topics: { succeeded: "ok", failed: "failed", deadLetter: "dlq" },
    outcomeMode: "structured",
    maxInFlightPerPartition,
    logger: silentLogger,
    gate,
    onFatal: (error) => fatal.push(error),
    topicCheckIntervalMs: 1_000,
  });
  await relay.start(held.processor);
}

/** Lets the commit timer fire and the commit (with its read of the group's offsets) finish. */
async function tick(ms = 100): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

beforeEach(() => {
  vi.useFakeTimers();
  consumer = new FakeConsumer();
  admin = new FakeAdmin();
  fatal = [];
  gate = new TestGate();
  held = heldProcessor();
});

afterEach(async () => {
  held.settleAll();
  vi.useRealTimers();
  await relay?.stop(10).catch(() => undefined);
});

describe("KafkaRelay: intake gate", () => {
  it("pauses every partition while closed and resumes all but those held back for backpressure", async () => {
    await startRelay(2);
    await consumer.deliver(1, 0, 2);
    expect(consumer.isPaused(1)).toBe(true);
    expect(consumer.isPaused(0)).toBe(false);

    gate.set(true);
    expect([0, 1, 2].map((p) => consumer.isPaused(p))).toEqual([true, true, true]);
    // Work in flight continues, and settling it resumes nothing while the gate is closed.
    held.settle("1:0", "1:1");
    await tick();
    expect(consumer.isPaused(1)).toBe(true);

    gate.set(false);
    expect([0, 1, 2].map((p) => consumer.isPaused(p))).toEqual([false, false, false]);
  });

  it("keeps a partition paused for backpressure paused when the gate opens", async () => {
    await startRelay(2);
    gate.set(true);
    gate.set(false);
    await consumer.deliver(2, 0, 2);
    gate.set(true);
    gate.set(false);
    expect([0, 1, 2].map((p) => consumer.isPaused(p))).toEqual([false, false, true]);
    held.settle("2:0", "2:1");
    await tick();
    expect(consumer.isPaused(2)).toBe(false);
  });

  it("neither hands over nor resolves a batch fetched while the gate is closed", async () => {
    await startRelay();
    gate.set(true);
    await consumer.deliver(0, 0, 5);
    expect(held.seen).toEqual([]);
    expect(consumer.resolved.has(0)).toBe(false);
    gate.set(false);
    await consumer.deliver(0, 0, 5);
    expect(held.seen).toEqual(["0:0", "0:1", "0:2", "0:3", "0:4"]);
    expect(consumer.resolved.get(0)).toBe("4");
  });

  it("stops in the middle of a batch when the gate closes, resolving only what it handed over", async () => {
    const inner = held.processor;
    const processor: MessageProcessor = {
      process(message) {
        const id = Buffer.from(message.body as Uint8Array).toString("utf8");
        if (id === "0:2") gate.set(true);
        return inner.process(message, {});
      },
    };
    held = { ...held, processor };
    await startRelay();
    await consumer.deliver(0, 0, 6);
    expect(held.seen).toEqual(["0:0", "0:1", "0:2"]);
    expect(consumer.resolved.get(0)).toBe("2");
    gate.set(false);
    // kafkajs fetches again from the first offset not resolved.
    await consumer.deliver(0, 3, 3);
    expect(held.seen).toEqual(["0:0", "0:1", "0:2", "0:3", "0:4", "0:5"]);
    expect(fatal).toEqual([]);
  });

  it("applies the gate again when kafkajs restarts the consumer and forgets its pauses", async () => {
    await startRelay();
    gate.set(true);
    consumer.join([0, 1, 2], true);
    expect([0, 1, 2].map((p) => consumer.isPaused(p))).toEqual([true, true, true]);
  });
});

describe("KafkaRelay: in-flight limit per partition", () => {
  /** Settles, lets the commit go out, and has the group hold what was committed (as Kafka would). */
  async function settleAndCommit(...ids: string[]): Promise<void> {
    held.settle(...ids);
    await tick();
    for (const { partition, offset } of consumer.commits) admin.groupOffsets.set(partition, Number(offset));
  }

  it("takes no more of a batch than the limit, resolves only what it took, and takes the rest once resumed", async () => {
    await startRelay(4);
    await consumer.deliver(0, 0, 10);
    // The rest of the batch stays in Kafka, not in memory: it is fetched again after the resume.
    expect(held.seen).toEqual(["0:0", "0:1", "0:2", "0:3"]);
    expect(consumer.resolved.get(0)).toBe("3");
    expect([0, 1, 2].map((p) => consumer.isPaused(p))).toEqual([true, false, false]);

    await settleAndCommit("0:0");
    expect(consumer.isPaused(0)).toBe(true);
    // Resumed at half the limit.
    await settleAndCommit("0:1");
    expect(consumer.isPaused(0)).toBe(false);
    await consumer.deliver(0, 4, 6);
    expect(held.seen).toEqual(["0:0", "0:1", "0:2", "0:3", "0:4", "0:5"]);
    expect(consumer.resolved.get(0)).toBe("5");
    expect(consumer.isPaused(0)).toBe(true);

    await settleAndCommit("0:2", "0:3", "0:4", "0:5");
    expect(consumer.commits.at(-1)).toEqual({ partition: 0, offset: "6" });
    await consumer.deliver(0, 6, 4);
    expect(held.seen.slice(6)).toEqual(["0:6", "0:7", "0:8", "0:9"]);
    expect(fatal).toEqual([]);
  });

  it("takes nothing from a batch of a partition already at the limit", async () => {
    await startRelay(2);
    await consumer.deliver(1, 0, 2);
    // A batch kafkajs had fetched before the pause.
    await consumer.deliver(1, 2, 3);
    expect(held.seen).toEqual(["1:0", "1:1"]);
    expect(consumer.resolved.get(1)).toBe("1");
  });

  it("sizes each partition's fetch to the limit", async () => {
    await startRelay(250);
    expect(consumerConfig?.maxBytesPerPartition).toBe(64_000);
    expect(fetchBytesPerPartition(1)).toBe(16_384);
    expect(fetchBytesPerPartition(1_000)).toBe(256_000);
    expect(fetchBytesPerPartition(100_000)).toBe(1_048_576);
  });
});

describe("KafkaRelay: a consumer that is gone for good", () => {
  it("calls onFatal once when kafkajs crashes and will not restart", async () => {
    await startRelay();
    const error = new Error("boom");
    consumer.emit(EVENTS.STOP, undefined);
    consumer.emit(EVENTS.CRASH, { error, restart: false });
    consumer.emit(EVENTS.CRASH, { error, restart: false });
    expect(fatal).toEqual([error]);
  });

  it("commits nothing more once the consumer is gone (it left the group)", async () => {
    await startRelay();
    await consumer.deliver(0, 0, 2);
    consumer.emit(EVENTS.STOP, undefined);
    consumer.emit(EVENTS.CRASH, { error: new Error("boom"), restart: false });
    held.settle("0:0", "0:1");
    await tick(1_000);
    expect(consumer.commits).toEqual([]);
  });

  it("does not stop the relay for a crash kafkajs restarts from", async () => {
    await startRelay();
    consumer.emit(EVENTS.STOP, undefined);
    consumer.emit(EVENTS.CRASH, { error: new Error("transient"), restart: true });
    await tick(60_000);
    expect(fatal).toEqual([]);
  });

  it("calls onFatal when the consumer stops on its own and no crash follows", async () => {
    await startRelay();
    consumer.emit(EVENTS.STOP, undefined);
    await tick(9_000);
    expect(fatal).toEqual([]);
    await tick(1_000);
    expect(fatal).toHaveLength(1);
    expect(String(fatal[0])).toMatch(/stopped without being asked/);
  });

  it("is not alarmed by the STOP of its own stop()", async () => {
    await startRelay();
    await relay.stop(10);
    await tick(60_000);
    expect(fatal).toEqual([]);
  });
});

describe("KafkaRelay: offsets that go backwards", () => {
  async function readAndCommit(partition: number, count: number): Promise<void> {
    await consumer.deliver(partition, 0, count);
    held.settle(...Array.from({ length: count }, (_, i) => `${partition}:${i}`));
    await tick();
    expect(consumer.commits.at(-1)).toEqual({ partition, offset: String(count) });
    admin.groupOffsets.set(partition, count);
  }

  it("stops and commits nothing more when a batch starts below the position read", async () => {
    await startRelay();
    await readAndCommit(0, 5);
    await consumer.deliver(1, 0, 3);
    // The topic was recreated: kafkajs reset to the earliest offset of the new log.
    await consumer.deliver(0, 0, 8);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toBeInstanceOf(InputOffsetsWentBackError);
    expect(String(fatal[0])).toMatch(/partition 0: fetched offset 0 lies below offset 5/);
    expect(held.seen.filter((id) => id.startsWith("0:"))).toHaveLength(5);
    expect(consumer.resolved.get(0)).toBe("4");
    // Work of other partitions settles, but nothing is committed any more, and nothing is fetched.
    held.settle("1:0", "1:1", "1:2");
    const commits = consumer.commits.length;
    await tick(1_000);
    expect(consumer.commits).toHaveLength(commits);
    expect([0, 1, 2].map((p) => consumer.isPaused(p))).toEqual([true, true, true]);
  });

  it("stops when a batch reports a high watermark below what was read", async () => {
    await startRelay();
    await readAndCommit(0, 10);
    admin.groupOffsets.clear();
    consumer.join([0, 1, 2]);
    // After a rejoin kafkajs reads from the committed offset; the log now ends at 4.
    await consumer.deliver(0, 0, 4, 4);
    expect(String(fatal[0])).toMatch(/partition 0/);
  });

  it("accepts the re-fetch from the committed offset after a rejoin that keeps the partition", async () => {
    await startRelay();
    await consumer.deliver(0, 0, 5);
    held.settle("0:0", "0:1");
    await tick();
    expect(consumer.commits).toEqual([{ partition: 0, offset: "2" }]);
    admin.groupOffsets.set(0, 2);
    consumer.join([0, 1]);
    await consumer.deliver(0, 2, 6);
    expect(fatal).toEqual([]);
    // Offsets 2-4 are still in flight from before; only 5-7 are new.
    expect(held.seen).toEqual(["0:0", "0:1", "0:2", "0:3", "0:4", "0:5", "0:6", "0:7"]);
    held.settle("0:2", "0:3", "0:4", "0:5", "0:6", "0:7");
    await tick();
    expect(consumer.commits.at(-1)).toEqual({ partition: 0, offset: "8" });
  });

  it("never writes an old position over the group's deleted offset (the topic recreated in place)", async () => {
    await startRelay();
    await readAndCommit(0, 5);
    // kafkajs reads on from offset 5 in the new log; Kafka deleted the group's offsets with the topic.
    admin.groupOffsets.delete(0);
    await consumer.deliver(0, 5, 10, 40);
    held.settle(...Array.from({ length: 10 }, (_, i) => `0:${5 + i}`));
    await tick();
    expect(consumer.commits).toEqual([{ partition: 0, offset: "5" }]);
    expect(String(fatal[0])).toMatch(/group's committed offset is -1, below offset 5/);
  });

  it("counts only commits the coordinator acknowledged", async () => {
    await startRelay();
    consumer.acknowledgeCommits = false;
    await consumer.deliver(0, 0, 3);
    held.settle("0:0", "0:1", "0:2");
    await tick();
    // The group still shows nothing: not a reset, since no commit was acknowledged; it is retried.
    consumer.acknowledgeCommits = true;
    await tick();
    expect(fatal).toEqual([]);
    expect(consumer.commits).toEqual([{ partition: 0, offset: "3" }]);
  });

  it("stops when the input topic, once seen missing, exists again", async () => {
    await startRelay();
    await readAndCommit(0, 3);
    admin.topics = admin.topics.filter((t) => t !== TOPIC);
    await tick(1_000);
    expect(fatal).toEqual([]);
    // Nothing is committed while the topic is missing.
    await consumer.deliver(1, 0, 2);
    held.settle("1:0", "1:1");
    await tick(500);
    expect(consumer.commits).toEqual([{ partition: 0, offset: "3" }]);
    admin.topics = [...admin.topics, TOPIC];
    await tick(1_000);
    expect(String(fatal[0])).toMatch(/was missing and exists again/);
  });

  it("treats a restarting crash that names an unknown topic as the topic gone", async () => {
    await startRelay();
    const error = Object.assign(new Error("retries exceeded"), {
      cause: Object.assign(new Error("This server does not host this topic-partition"), {
        type: "UNKNOWN_TOPIC_OR_PARTITION",
      }),
    });
    consumer.emit(EVENTS.CRASH, { error, restart: true });
    await tick(10);
    // The topic exists when checked: it came back, so its offsets started over.
    expect(String(fatal[0])).toMatch(/was missing and exists again/);
  });

  it("stops when the periodic check finds a partition ending below what was read", async () => {
    await startRelay();
    await readAndCommit(2, 6);
    admin.ends.set(2, { low: 0, high: 3 });
    await tick(1_000);
    expect(String(fatal[0])).toMatch(/partition 2: the log ends at offset 3, below offset 6/);
  });

  it("stops when the periodic check finds a log truncated under work in progress", async () => {
    await startRelay();
    await consumer.deliver(1, 10, 5);
    admin.ends.set(1, { low: 12, high: 15 });
    await tick(1_000);
    expect(String(fatal[0])).toMatch(/partition 1: the log now starts at offset 12, above offset 10/);
  });
});
