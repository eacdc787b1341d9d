// The Kafka consumer under faults of the relay's own world: a consumer that kafkajs will not restart
// must stop the relay (so the process exits and is restarted) instead of leaving it alive and idle,
// and a closed intake gate must hold new work back without losing or repeating any of it.
import { Kafka, type KafkaConfig, logLevel, type PartitionAssigner, PartitionAssigners } from "kafkajs";
import { afterEach, describe, expect, inject, it } from "vitest";
import { KafkaRelay, type KafkaRelayOptions, type MessageProcessor } from "../../../consumers/kafka/index.ts";
import { createLogger, silentLogger } from "../../../src/logger.ts";
import type { IntakeGate } from "../../../src/pipeline/fault-gate.ts";
import type { OutcomeEvent } from "../../../src/pipeline/index.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
const cleanup: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
});

async function harness(partitions: number): Promise<KafkaHarness> {
  const h = await new KafkaHarness({ brokers: kafkaBrokers, partitions }).setUp();
  cleanup.push(() => h.tearDown());
  return h;
}

class TestGate implements IntakeGate {
  #paused = false;
  readonly #listeners = new Set<(paused: boolean) => void>();
  get paused(): boolean {
    return this.#paused;
  }
  set(paused: boolean): void {
    if (paused === this.#paused) return;
    this.#paused = paused;
    for (const listener of this.#listeners) listener(paused);
  }
  subscribe(listener: (paused: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** A processor that answers every message at once and counts how often it saw each one. */
function countingProcessor(onMessage: (value: string) => void = () => {}) {
  const calls = new Map<string, number>();
  const processor: MessageProcessor = {
    async process(message) {
      const { body } = message;
      const value = typeof body === "string" ? body : Buffer.from(body ?? []).toString("utf8");
      calls.set(value, (calls.get(value) ?? 0) + 1);
      onMessage(value);
      return { status: "published", outcome: {} as OutcomeEvent, replayed: false };
    },
  };
  return { processor, calls };
}

function relayFor(
  h: KafkaHarness,
  options: Partial<KafkaRelayOptions> & { kafkaConfig?: Partial<KafkaConfig> } = {},
): KafkaRelay {
  const { kafkaConfig, ...rest } = options;
  const relay = new KafkaRelay({
    kafka: new Kafka({
      clientId: "crash-test",
      brokers: [...kafkaBrokers],
      logLevel: logLevel.NOTHING,
      ...kafkaConfig,
    }),
    groupId: h.groupId,
    inputTopic: h.topics.input,
    topics: { succeeded: h.topics.succeeded, failed: h.topics.failed, deadLetter: h.topics.dlq },
    outcomeMode: "structured",
    maxInFlightPerPartition: 64,
    sessionTimeoutMs: 6_000,
    logger: process.env.RELAY_TEST_LOGS === "1" ? createLogger({ level: "debug" }) : silentLogger,
    ...rest,
  });
  cleanup.push(() => relay.stop(1_000));
  return relay;
}

function fatalCatcher() {
  let onFatal: (error: unknown) => void = () => {};
  const fatal = new Promise<unknown>((resolve) => {
    onFatal = resolve;
  });
  return { onFatal: (error: unknown) => onFatal(error), fatal };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function errorTypes(error: unknown): string[] {
  const types: string[] = [];
  for (let e = error as { type?: string; name?: string; cause?: unknown } | undefined; e; ) {
    types.push(e.type ?? e.name ?? "?");
    e = e.cause as typeof e;
  }
  return types;
}

const records = (prefix: string, n: number, key?: string) =>
  Array.from({ length: n }, (_, i) => ({ key: key ?? `${prefix}-${i}`, value: `${prefix}-${i}` }));

describe("relay over Kafka: intake gate", () => {
  it("takes nothing while the gate is closed and every held-back message exactly once after", async () => {
    const h = await harness(2);
    const gate = new TestGate();
    const { processor, calls } = countingProcessor();
    const relay = relayFor(h, { gate });
    await relay.start(processor);

    await h.produce(records("before", 10));
    await expect.poll(() => calls.size, { timeout: 15_000 }).toBe(10);

    gate.set(true);
    await h.produce(records("held", 20));
    // Nothing to wait for but time: several fetch cycles (100 ms each) pass with the gate closed.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(calls.size).toBe(10);

    gate.set(false);
    await expect.poll(() => calls.size, { timeout: 15_000 }).toBe(30);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    await expect.poll(() => h.committedTotal(), { timeout: 10_000 }).toBe(30);
  });

  it("leaves the rest of a batch for a later fetch when the gate closes in its middle", async () => {
    const h = await harness(1);
    const gate = new TestGate();
    // The sixth message reports a fault while it is handed over, as the pipeline does.
    const { processor, calls } = countingProcessor((value) => {
      if (value === "m-5") gate.set(true);
    });
    // Produced before the relay starts, so its first fetch returns them all in one batch.
    await h.produce(records("m", 20, "one-key"));
    const relay = relayFor(h, { gate });
    await relay.start(processor);

    await expect.poll(() => calls.has("m-5"), { timeout: 15_000 }).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect([...calls.keys()]).toEqual(["m-0", "m-1", "m-2", "m-3", "m-4", "m-5"]);
    await expect.poll(() => h.committedTotal(), { timeout: 10_000 }).toBe(6);

    gate.set(false);
    await expect.poll(() => calls.size, { timeout: 15_000 }).toBe(20);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    await expect.poll(() => h.committedTotal(), { timeout: 10_000 }).toBe(20);
  });
});

describe("relay over Kafka: a consumer that will not restart stops the relay", () => {
  it("calls onFatal when joining the group fails for good (a member with an incompatible assignor)", async () => {
    const h = await harness(1);
    // A member already in the group speaks only a partition assignor the relay does not know: the
    // broker refuses the relay's join with INCONSISTENT_GROUP_PROTOCOL, which kafkajs never retries.
    const kafka = new Kafka({
      clientId: "other-member",
      brokers: [...kafkaBrokers],
      logLevel: logLevel.NOTHING,
    });
    const otherAssigner: PartitionAssigner = (config) => ({
      ...PartitionAssigners.roundRobin(config),
      name: "SomeOtherAssigner",
    });
    const other = kafka.consumer({ groupId: h.groupId, partitionAssigners: [otherAssigner] });
    cleanup.push(() => other.disconnect());
    const joined = new Promise((resolve) => other.on(other.events.GROUP_JOIN, resolve));
    await other.connect();
    await other.subscribe({ topic: h.topics.input, fromBeginning: true });
    await other.run({ eachMessage: async () => {} });
    await withTimeout(joined, 15_000, "the other member to join");

    const { onFatal, fatal } = fatalCatcher();
    const relay = relayFor(h, { onFatal });
    await relay.start(countingProcessor().processor);
    const error = await withTimeout(fatal, 15_000, "onFatal");
    expect(errorTypes(error)).toContain("INCONSISTENT_GROUP_PROTOCOL");
  });

  it("calls onFatal when kafkajs gives up on a crash while consuming (restartOnFailure says no)", async () => {
    const h = await harness(1);
    const { onFatal, fatal } = fatalCatcher();
    const { processor, calls } = countingProcessor();
    // An operator's restart policy that refuses restarts, and short retries: the crash comes quickly.
    const relay = relayFor(h, {
      onFatal,
      topicCheckIntervalMs: 60_000,
      kafkaConfig: {
        retry: { initialRetryTime: 50, maxRetryTime: 200, restartOnFailure: async () => false },
      },
    });
    await relay.start(processor);
    await h.produce(records("x", 3));
    await expect.poll(() => calls.size, { timeout: 15_000 }).toBe(3);

    // Deleting the input topic makes every fetch fail until kafkajs' retries run out.
    const admin = new Kafka({
      clientId: "deleter",
      brokers: [...kafkaBrokers],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [h.topics.input] });
    await admin.disconnect();

    const error = await withTimeout(fatal, 30_000, "onFatal");
    expect(errorTypes(error)).toContain("UNKNOWN_TOPIC_OR_PARTITION");
  });
});
