// Test harness for the relay over a real SQS server (ElasticMQ or fauxqs) and the Dojo simulator:
// unique queues per harness (the input queue optionally FIFO and with a redrive policy), in-process or
// child-process relays, and collectors that receive (and delete) what the relays send, so tests can
// wait for it.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { SqsRelay } from "../../consumers/sqs/index.ts";
import { type RelayHooks, type RunningRelay, startRelay } from "../../src/cli/relay-app.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger, type Logger, silentLogger } from "../../src/logger.ts";
import {
  createSimControl,
  type DojoSimulator,
  type SimControl,
  startDojoSimulator,
} from "../../src/sim/index.ts";
import type { returnApproved } from "./events.ts";

export const SIM_KEY = "sk_sandbox_relaytests";
const bin = fileURLToPath(new URL("../../bin/refund-relay.js", import.meta.url));

export type CollectedQueue = "succeeded" | "failed" | "dlq" | "redrive";

export interface SqsRecord {
  readonly queue: CollectedQueue;
  readonly messageId: string;
  readonly body: string;
  readonly attributes: Record<string, string>;
  readonly groupId: string | undefined;
  readonly receiveCount: number;
  readonly json:
    | { id: string; type: string; data: Record<string, unknown>; [k: string]: unknown }
    | undefined;
}

export interface SqsHarnessOptions {
  readonly endpoint: string;
  /** A FIFO input queue (and FIFO outcome queues). */
  readonly fifo?: boolean;
  /** Gives the input queue a redrive policy to a dead-letter queue of its own after this many receives. */
  readonly maxReceiveCount?: number;
}

/** An SQS message to send to the input queue. */
export interface InputMessage {
  readonly body: string;
  readonly attributes?: Record<string, string>;
  /** FIFO: the message group (default: the event's payment intent, else "g"). */
  readonly groupId?: string;
}

/** A structured-mode event as an SQS message. */
export function structuredMessage(event: ReturnType<typeof returnApproved>, groupId?: string): InputMessage {
  return {
    body: JSON.stringify(event),
    attributes: { "content-type": "application/cloudevents+json" },
    groupId: groupId ?? event.data.paymentIntentId,
  };
}

export class SqsHarness {
  readonly id = randomUUID().slice(0, 8);
  readonly fifo: boolean;
  readonly urls: { input: string; succeeded: string; failed: string; dlq: string; redrive?: string } = {
    input: "",
    succeeded: "",
    failed: "",
    dlq: "",
  };
  readonly records: SqsRecord[] = [];
  readonly dataDir: string;
  readonly sqs: SQSClient;
  sim!: DojoSimulator;
  dojo!: SimControl;
  readonly #o: SqsHarnessOptions;
  readonly #collecting = new AbortController();
  readonly #collectors: Promise<void>[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #relays: RunningRelay<SqsRelay>[] = [];
  readonly #children: ChildProcess[] = [];

  constructor(options: SqsHarnessOptions) {
    this.#o = options;
    this.fifo = options.fifo ?? false;
    this.sqs = new SQSClient({
      endpoint: options.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    this.dataDir = mkdtempSync(join(tmpdir(), "refund-relay-sqs-test-"));
  }

  async setUp(): Promise<this> {
    this.sim = await startDojoSimulator({ apiKeys: [SIM_KEY] });
    this.dojo = createSimControl(this.sim.url);
    const suffix = this.fifo ? ".fifo" : "";
    const fifoAttributes: Record<string, string> = this.fifo ? { FifoQueue: "true" } : {};
    const create = async (name: string, attributes: Record<string, string> = {}) =>
      (
        await this.sqs.send(
          new CreateQueueCommand({ QueueName: `${name}-${this.id}${suffix}`, Attributes: attributes }),
        )
      ).QueueUrl ?? "";
    const inputAttributes: Record<string, string> = { ...fifoAttributes };
    if (this.#o.maxReceiveCount !== undefined) {
      const redrive = await create("rx", fifoAttributes);
      this.urls.redrive = redrive;
      const arn = (
        await this.sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: redrive, AttributeNames: ["QueueArn"] }),
        )
      ).Attributes?.QueueArn;
      inputAttributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: arn,
        maxReceiveCount: this.#o.maxReceiveCount,
      });
    }
    this.urls.input = await create("ra", inputAttributes);
    this.urls.succeeded = await create("rs", fifoAttributes);
    this.urls.failed = await create("rf", fifoAttributes);
    // The relay's own dead-letter queue stays a standard queue, also next to a FIFO input.
    this.urls.dlq = (await this.sqs.send(new CreateQueueCommand({ QueueName: `rd-${this.id}` })))
      .QueueUrl as string;
    const collected: Array<[CollectedQueue, string | undefined]> = [
      ["succeeded", this.urls.succeeded],
      ["failed", this.urls.failed],
      ["dlq", this.urls.dlq],
      ["redrive", this.urls.redrive],
    ];
    for (const [queue, url] of collected)
      if (url !== undefined) this.#collectors.push(this.#collect(queue, url));
    return this;
  }

  /** Environment for a relay reading this harness's queues and calling its simulator. */
  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      RELAY_SOURCE: "sqs",
      SQS_ENDPOINT: this.#o.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      SQS_INPUT_QUEUE_URL: this.urls.input,
      SQS_SUCCEEDED_QUEUE_URL: this.urls.succeeded,
      SQS_FAILED_QUEUE_URL: this.urls.failed,
      SQS_DLQ_URL: this.urls.dlq,
      DOJO_BASE_URL: this.sim.url,
      DOJO_API_KEY: SIM_KEY,
      LEDGER_URL: `sqlite:${join(this.dataDir, "ledger.db")}`,
      LEDGER_SYNC: "normal",
      RETRY_BASE_DELAY_MS: "20",
      RETRY_MAX_DELAY_MS: "200",
      SHUTDOWN_TIMEOUT_MS: "5000",
      LOG_LEVEL: "warn",
      ...overrides,
    };
  }

  /** Starts an in-process relay; `logger` (default: silent, or debug to stdout with RELAY_TEST_LOGS=1). */
  async startRelay(
    overrides: Record<string, string> = {},
    hooks: RelayHooks = {},
    logger: Logger = process.env.RELAY_TEST_LOGS === "1" ? createLogger({ level: "debug" }) : silentLogger,
  ): Promise<RunningRelay<SqsRelay>> {
    const config = loadConfig(this.env(overrides));
    const running = await startRelay<SqsRelay>(config, logger, hooks);
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

  /** Sends messages to the input queue (in batches of ten, in order). */
  async send(messages: readonly InputMessage[], queueUrl = this.urls.input): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const entries = messages.slice(i, i + 10).map((m, j) => {
        const attributes: Record<string, MessageAttributeValue> = {};
        for (const [name, value] of Object.entries(m.attributes ?? {}))
          attributes[name] = { DataType: "String", StringValue: value };
        return {
          Id: String(j),
          MessageBody: m.body,
          MessageAttributes: attributes,
          ...(this.fifo ? { MessageGroupId: m.groupId ?? "g", MessageDeduplicationId: randomUUID() } : {}),
        };
      });
      const out = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      if ((out.Failed?.length ?? 0) > 0) throw new Error(`sending failed: ${JSON.stringify(out.Failed)}`);
    }
  }

  outcomes(type?: "refund.succeeded" | "refund.failed"): SqsRecord[] {
    const queues: CollectedQueue[] =
      type === undefined ? ["succeeded", "failed"] : [type === "refund.succeeded" ? "succeeded" : "failed"];
    return this.records.filter((r) => queues.includes(r.queue));
  }

  /** Outcomes answering one source event id (structured mode). */
  outcomesOf(eventId: string): SqsRecord[] {
    return this.outcomes().filter((r) => sourceEventIdOf(r) === eventId);
  }

  deadLetters(): SqsRecord[] {
    return this.records.filter((r) => r.queue === "dlq");
  }

  /** Messages SQS moved to the input queue's redrive dead-letter queue. */
  redriven(): SqsRecord[] {
    return this.records.filter((r) => r.queue === "redrive");
  }

  /** Messages in a queue: visible, and in flight (received, not deleted). */
  async depth(url = this.urls.input): Promise<{ visible: number; inFlight: number }> {
    const out = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    return {
      visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
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

  async tearDown(): Promise<void> {
    for (const child of this.#children) if (child.exitCode === null) child.kill("SIGKILL");
    await Promise.allSettled(this.#relays.map((r) => r.stop()));
    this.#collecting.abort();
    await Promise.allSettled(this.#collectors);
    const urls = [this.urls.input, this.urls.succeeded, this.urls.failed, this.urls.dlq, this.urls.redrive];
    await Promise.allSettled(
      urls
        .filter((u) => u !== undefined && u !== "")
        .map((u) => this.sqs.send(new DeleteQueueCommand({ QueueUrl: u }))),
    );
    this.sqs.destroy();
    await this.sim?.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  async #collect(queue: CollectedQueue, url: string): Promise<void> {
    const signal = this.#collecting.signal;
    while (!signal.aborted) {
      let messages: Message[];
      try {
        const out = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageAttributeNames: ["All"],
            MessageSystemAttributeNames: ["All"],
          }),
          { abortSignal: signal },
        );
        messages = out.Messages ?? [];
      } catch {
        if (signal.aborted) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (messages.length === 0) continue;
      for (const m of messages) {
        const attributes: Record<string, string> = {};
        for (const [name, value] of Object.entries(m.MessageAttributes ?? {}))
          if (value.StringValue !== undefined) attributes[name] = value.StringValue;
        let json: SqsRecord["json"];
        try {
          json = JSON.parse(m.Body ?? "");
        } catch {
          json = undefined;
        }
        this.records.push({
          queue,
          messageId: m.MessageId ?? "",
          body: m.Body ?? "",
          attributes,
          groupId: m.Attributes?.MessageGroupId,
          receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 0),
          json,
        });
      }
      await this.sqs
        .send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        )
        .catch(() => undefined);
      for (const wake of this.#waiters) wake();
    }
  }
}

/** The source event id an outcome record answers, if it is a structured-mode outcome. */
export function sourceEventIdOf(record: SqsRecord): string | undefined {
  return (record.json?.data?.sourceEvent as { id?: string } | undefined)?.id;
}
