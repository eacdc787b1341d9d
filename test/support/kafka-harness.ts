// Test harness for the relay over real Kafka and the Dojo simulator: unique topics per test, an
// in-process or child-process relay, and a collector that waits for outcome events as they arrive.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Consumer, Kafka, logLevel, type Producer } from "kafkajs";
import { type RelayHooks, type RunningRelay, startRelay } from "../../src/cli/relay-app.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger, silentLogger } from "../../src/logger.ts";
import {
  createSimControl,
  type DojoSimulator,
  type SimControl,
  startDojoSimulator,
} from "../../src/sim/index.ts";
import { createTopicsAndWait } from "./kafka-topics.ts";

export const SIM_KEY = "sk_sandbox_relaytests";
const bin = fileURLToPath(new URL("../../bin/refund-relay.js", import.meta.url));

export interface CollectedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
  readonly json:
    | { id: string; type: string; data: Record<string, unknown>; [k: string]: unknown }
    | undefined;
}

/** The source event id an outcome record answers, if it is an outcome. */
export function sourceEventIdOf(record: CollectedRecord): string | undefined {
  return (record.json?.data.sourceEvent as { id?: string } | undefined)?.id;
}

export interface HarnessOptions {
  readonly brokers: readonly string[];
  readonly partitions?: number;
}

export class KafkaHarness {
  readonly topics: { input: string; succeeded: string; failed: string; dlq: string };
  readonly groupId: string;
  readonly records: CollectedRecord[] = [];
  readonly dataDir: string;
  sim!: DojoSimulator;
  dojo!: SimControl;
  readonly #kafka: Kafka;
  readonly #brokers: readonly string[];
  readonly #partitions: number;
  #producer!: Producer;
  #collector!: Consumer;
  #waiters = new Set<() => void>();
  #relays: RunningRelay[] = [];
  #children: ChildProcess[] = [];

  constructor(options: HarnessOptions) {
    const id = randomUUID().slice(0, 8);
    this.topics = { input: `ra-${id}`, succeeded: `rs-${id}`, failed: `rf-${id}`, dlq: `rd-${id}` };
    this.groupId = `relay-${id}`;
    this.#brokers = options.brokers;
    this.#partitions = options.partitions ?? 3;
    this.#kafka = new Kafka({
      clientId: `harness-${id}`,
      brokers: [...options.brokers],
      logLevel: logLevel.NOTHING,
    });
    this.dataDir = mkdtempSync(join(tmpdir(), "refund-relay-test-"));
  }

  async setUp(): Promise<this> {
    this.sim = await startDojoSimulator({ apiKeys: [SIM_KEY] });
    this.dojo = createSimControl(this.sim.url);
    const admin = this.#kafka.admin();
    await admin.connect();
    await createTopicsAndWait(admin, [
      { topic: this.topics.input, numPartitions: this.#partitions },
      { topic: this.topics.succeeded, numPartitions: 3 },
      { topic: this.topics.failed, numPartitions: 3 },
      { topic: this.topics.dlq, numPartitions: 1 },
    ]);
    await admin.disconnect();
    this.#producer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.#producer.connect();
    this.#collector = this.#kafka.consumer({ groupId: `${this.groupId}-collector`, maxWaitTimeInMs: 100 });
    await this.#collector.connect();
    await this.#collector.subscribe({
      topics: [this.topics.succeeded, this.topics.failed, this.topics.dlq],
      fromBeginning: true,
    });
    await this.#collector.run({
      eachMessage: async ({ topic, partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {}))
          if (v !== undefined) headers[k] = String(v);
        const value = message.value?.toString("utf8") ?? null;
        let json: CollectedRecord["json"];
        try {
          json = value === null ? undefined : JSON.parse(value);
        } catch {
          json = undefined;
        }
        this.records.push({ topic, partition, key: message.key?.toString() ?? null, value, headers, json });
        for (const wake of this.#waiters) wake();
      },
    });
    return this;
  }

  /** Environment for a relay reading this harness's topics and calling its simulator. */
  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      RELAY_SOURCE: "kafka",
      KAFKA_BROKERS: this.#brokers.join(","),
      KAFKA_GROUP_ID: this.groupId,
      KAFKA_INPUT_TOPIC: this.topics.input,
      KAFKA_SUCCEEDED_TOPIC: this.topics.succeeded,
      KAFKA_FAILED_TOPIC: this.topics.failed,
      KAFKA_DLQ_TOPIC: this.topics.dlq,
      DOJO_BASE_URL: this.sim.url,
      DOJO_API_KEY: SIM_KEY,
      LEDGER_URL: `sqlite:${join(this.dataDir, "ledger.db")}`,
      LEDGER_SYNC: "normal",
      RETRY_BASE_DELAY_MS: "20",
      RETRY_MAX_DELAY_MS: "200",
      SHUTDOWN_TIMEOUT_MS: "5000",
      KAFKA_SESSION_TIMEOUT_MS: "6000",
      LOG_LEVEL: "warn",
      ...overrides,
    };
  }

  async startRelay(overrides: Record<string, string> = {}, hooks: RelayHooks = {}): Promise<RunningRelay> {
    const config = loadConfig(this.env(overrides));
    const logger = process.env.RELAY_TEST_LOGS === "1" ? createLogger({ level: "debug" }) : silentLogger;
    const running = await startRelay(config, logger, hooks);
    this.#relays.push(running);
    return running;
  }

  /** Runs `refund-relay start` as a child process (for signal tests). */
  spawnRelay(overrides: Record<string, string> = {}): ChildProcess & { output: () => string } {
    const child = spawn(process.execPath, [bin, "start"], {
      env: { ...process.env, ...this.env(overrides) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
    this.#children.push(child);
    return Object.assign(child, { output: () => output });
  }

  async produce(
    records: ReadonlyArray<{
      key?: string | null;
      value: string | Buffer | null;
      headers?: Record<string, string>;
    }>,
  ) {
    await this.#producer.send({ topic: this.topics.input, messages: records.map((r) => ({ ...r })) });
  }

  /**
   * Deletes the input topic and creates it again (after `missingForMs`), empty, with the same
   * partitions. The harness's producer is replaced: an idempotent producer's sequence numbers belong
   * to the deleted partitions.
   */
  async recreateInputTopic({ missingForMs = 0, timeoutMs = 30_000 } = {}): Promise<void> {
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [this.topics.input], timeout: timeoutMs });
      if (missingForMs > 0) await new Promise((resolve) => setTimeout(resolve, missingForMs));
      // Deletion finishes in the background; a topic of that name cannot be created before.
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const exists = (await admin.listTopics()).includes(this.topics.input);
        if (!exists) {
          try {
            await createTopicsAndWait(admin, [{ topic: this.topics.input, numPartitions: this.#partitions }]);
            break;
          } catch (error) {
            if (Date.now() > deadline) throw error;
          }
        } else if (Date.now() > deadline) {
          throw new Error(`topic ${this.topics.input} still exists ${timeoutMs} ms after its deletion`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    } finally {
      await admin.disconnect();
    }
    await this.#producer.disconnect();
    this.#producer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.#producer.connect();
  }

  outcomes(type?: "refund.succeeded" | "refund.failed"): CollectedRecord[] {
    const topics =
      type === undefined
        ? [this.topics.succeeded, this.topics.failed]
        : [type === "refund.succeeded" ? this.topics.succeeded : this.topics.failed];
    return this.records.filter((r) => topics.includes(r.topic));
  }

  /** Outcomes about one payment intent (their Kafka key). */
  outcomesFor(paymentIntentId: string, type?: "refund.succeeded" | "refund.failed"): CollectedRecord[] {
    return this.outcomes(type).filter((r) => r.key === paymentIntentId);
  }

  /** Outcomes answering one source event id. */
  outcomesOf(eventId: string): CollectedRecord[] {
    return this.outcomes().filter(
      (r) => (r.json?.data.sourceEvent as { id?: string } | undefined)?.id === eventId,
    );
  }

  deadLetters(): CollectedRecord[] {
    return this.records.filter((r) => r.topic === this.topics.dlq);
  }

  /** Resolves when `predicate` holds over the records collected so far; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; collected ${this.records.length} records`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
    });
  }

  async committedOffsets(): Promise<Map<number, string>> {
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      const [result] = await admin.fetchOffsets({ groupId: this.groupId, topics: [this.topics.input] });
      return new Map((result?.partitions ?? []).map((p) => [p.partition, p.offset]));
    } finally {
      await admin.disconnect();
    }
  }

  /** Sum of the group's committed offsets over the input partitions (messages acknowledged so far). */
  async committedTotal(): Promise<number> {
    let total = 0;
    for (const offset of (await this.committedOffsets()).values()) total += Math.max(0, Number(offset));
    return total;
  }

  async tearDown(): Promise<void> {
    for (const child of this.#children) if (child.exitCode === null) child.kill("SIGKILL");
    await Promise.allSettled(this.#relays.map((r) => r.stop()));
    await Promise.allSettled([this.#collector?.disconnect(), this.#producer?.disconnect()]);
    await this.sim?.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
