// `refund-relay send` and `refund-relay tail` over a real SQS server (ElasticMQ), with a relay in
// between; tail leaves messages in their queues unless --delete; FIFO groups and de-duplication ids.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startRelay } from "../../../src/cli/relay-app.ts";
import { runSend } from "../../../src/cli/send.ts";
import { runTail } from "../../../src/cli/tail.ts";
import { loadConfig } from "../../../src/config.ts";
import { silentLogger } from "../../../src/logger.ts";
import { createSimControl, type DojoSimulator, startDojoSimulator } from "../../../src/sim/index.ts";
import { returnApproved } from "../../support/events.ts";

const { sqsEndpoint } = inject("servers");
const bin = fileURLToPath(new URL("../../../bin/refund-relay.js", import.meta.url));
const KEY = "sk_sandbox_clitests";
const id = randomUUID().slice(0, 8);
const dir = mkdtempSync(join(tmpdir(), "refund-relay-cli-sqs-"));
const sqs = new SQSClient({
  endpoint: sqsEndpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const urls: string[] = [];
let sim: DojoSimulator;
let env: Record<string, string>;
let relay: Awaited<ReturnType<typeof startRelay>>;

async function queue(name: string, fifo = false): Promise<string> {
  const out = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${name}-${id}${fifo ? ".fifo" : ""}`,
      ...(fifo ? { Attributes: { FifoQueue: "true" } } : {}),
    }),
  );
  urls.push(out.QueueUrl as string);
  return out.QueueUrl as string;
}

beforeAll(async () => {
  sim = await startDojoSimulator({ apiKeys: [KEY] });
  env = {
    RELAY_SOURCE: "sqs",
    SQS_ENDPOINT: sqsEndpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    SQS_INPUT_QUEUE_URL: await queue("cli-ra"),
    SQS_SUCCEEDED_QUEUE_URL: await queue("cli-rs"),
    SQS_FAILED_QUEUE_URL: await queue("cli-rf"),
    SQS_DLQ_URL: await queue("cli-rd"),
  };
  const relayEnv = {
    ...env,
    DOJO_BASE_URL: sim.url,
    DOJO_API_KEY: KEY,
    LEDGER_URL: `sqlite:${join(dir, "ledger.db")}`,
    LEDGER_SYNC: "normal",
    SQS_WAIT_TIME_S: "1",
    SHUTDOWN_TIMEOUT_MS: "5000",
    LOG_LEVEL: "warn",
  };
  relay = await startRelay(loadConfig(relayEnv), silentLogger);
});
afterAll(async () => {
  await relay?.stop();
  await Promise.allSettled(urls.map((u) => sqs.send(new DeleteQueueCommand({ QueueUrl: u }))));
  sqs.destroy();
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: "", err: "" };
  stdout.on("data", (c: Buffer) => (text.out += c.toString()));
  stderr.on("data", (c: Buffer) => (text.err += c.toString()));
  return { io: { stdin: new PassThrough(), stdout, stderr }, text };
}

async function send(args: string[], overrides: Record<string, string> = {}) {
  const { io: streams, text } = io();
  const code = await runSend(args, streams, { ...env, ...overrides });
  return { code, ...text };
}

async function tail(args: string[], overrides: Record<string, string> = {}) {
  const { io: streams, text } = io();
  const code = await runTail(args, streams, { env: { ...env, ...overrides } });
  return {
    code,
    ...text,
    json: () =>
      text.out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
  };
}

function file(name: string, lines: readonly string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

async function depth(url: string): Promise<{ visible: number; inFlight: number }> {
  const out = await sqs.send(
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

describe("refund-relay send and tail over SQS (ElasticMQ)", () => {
  let pi: string;
  let valid: ReturnType<typeof returnApproved>;

  it("send then tail --count: the refund, the failure and the dead letter come back", async () => {
    pi = await createSimControl(sim.url).createIntent({ amount: 4598, status: "Captured" });
    valid = returnApproved({ paymentIntentId: pi, amount: 4598 });
    const invalid = returnApproved({ paymentIntentId: pi, amount: 100 });
    (invalid.data as { reason: unknown }).reason = 42;
    const sent = await send([file("valid.json", [JSON.stringify(valid, null, 2)])]);
    expect(sent).toMatchObject({
      code: 0,
      err: "",
      out: `sent 1 event to SQS queue ${env.SQS_INPUT_QUEUE_URL}\n`,
    });
    const raw = await send(["--raw", file("raw.jsonl", [JSON.stringify(invalid), "{not json"])]);
    expect(raw).toMatchObject({ code: 0, out: `sent 2 events to SQS queue ${env.SQS_INPUT_QUEUE_URL}\n` });

    const result = await tail(["--count", "3", "--timeout", "30", "--json"]);
    expect(result).toMatchObject({ code: 0, err: "" });
    const byType = Object.fromEntries(result.json().map((r) => [r.type, r]));
    expect(byType["refund.succeeded"]).toMatchObject({
      stream: "succeeded",
      eventId: valid.id,
      paymentIntentId: pi,
      amount: { value: 4598, currencyCode: "GBP" },
      queueUrl: env.SQS_SUCCEEDED_QUEUE_URL,
    });
    expect(byType["refund.succeeded"].refundId).toMatch(/^rfnd_/);
    expect(byType["refund.failed"]).toMatchObject({
      eventId: invalid.id,
      code: "invalid_event",
      paymentIntentId: pi,
    });
    expect(byType["dead-letter"]).toMatchObject({
      stream: "dlq",
      code: "unparseable",
      queueUrl: env.SQS_DLQ_URL,
    });
    expect(byType["dead-letter"].body.original.body).toBe("{not json");
  });

  it("tail deletes nothing without --delete: every message is back in its queue, and read again", async () => {
    for (const url of [env.SQS_SUCCEEDED_QUEUE_URL, env.SQS_FAILED_QUEUE_URL, env.SQS_DLQ_URL])
      expect(await depth(url as string)).toEqual({ visible: 1, inFlight: 0 });
    const again = await tail(["succeeded", "--count", "1", "--timeout", "10"]);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(
      new RegExp(
        `^\\S+Z  refund\\.succeeded  event=${valid.id}  intent=${pi}  amount=45\\.98 GBP  refund=rfnd_\\S+\\n$`,
      ),
    );
    expect(await depth(env.SQS_SUCCEEDED_QUEUE_URL as string)).toEqual({ visible: 1, inFlight: 0 });
  });

  it("tail --delete consumes what it prints, and only that", async () => {
    const deleted = await tail([
      "succeeded",
      "failed",
      "--delete",
      "--count",
      "1",
      "--timeout",
      "10",
      "--json",
    ]);
    expect(deleted.code).toBe(0);
    const [record] = deleted.json();
    const printedUrl = record.queueUrl as string;
    const otherUrl = [env.SQS_SUCCEEDED_QUEUE_URL, env.SQS_FAILED_QUEUE_URL].find((u) => u !== printedUrl);
    expect(await depth(printedUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect(await depth(otherUrl as string)).toEqual({ visible: 1, inFlight: 0 });
    const empty = await tail([record.stream, "--timeout", "1"]);
    expect(empty).toMatchObject({ code: 0, out: "", err: "" });
  });

  it("send to a FIFO queue: group = payment intent, de-duplication id = event id, in batches of ten", async () => {
    const fifo = await queue("cli-fifo", true);
    const events = Array.from({ length: 12 }, (_, i) =>
      returnApproved({ paymentIntentId: `pi_fifo_${i % 3}`, amount: 100 + i }),
    );
    const lines = events.map((e) => JSON.stringify(e));
    const sent = await send(["--queue-url", fifo, file("fifo.jsonl", lines)]);
    expect(sent).toMatchObject({ code: 0, out: `sent 12 events to SQS queue ${fifo}\n` });
    // The same events again: SQS drops them as duplicates of their event ids.
    expect((await send(["--queue-url", fifo, file("fifo.jsonl", lines)])).code).toBe(0);
    expect(await depth(fifo)).toEqual({ visible: 12, inFlight: 0 });
    const seen = new Map<string, { group: string | undefined; dedup: string | undefined }>();
    for (let i = 0; i < 10 && seen.size < 12; i++) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: fifo,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ["All"],
          VisibilityTimeout: 60,
        }),
      );
      for (const m of out.Messages ?? []) {
        seen.set(JSON.parse(m.Body ?? "{}").id, {
          group: m.Attributes?.MessageGroupId,
          dedup: m.Attributes?.MessageDeduplicationId,
        });
        // A group's next message comes once the one before it is deleted.
        await sqs.send(new DeleteMessageCommand({ QueueUrl: fifo, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    expect(seen.size).toBe(12);
    for (const e of events) expect(seen.get(e.id)).toEqual({ group: e.data.paymentIntentId, dedup: e.id });
  });

  it("exits 1 naming a queue that does not exist", async () => {
    const missing = `${sqsEndpoint}/000000000000/cli-missing-${id}`;
    const sent = await send(["--queue-url", missing, file("one.jsonl", [JSON.stringify(valid)])]);
    expect(sent.code).toBe(1);
    expect(sent.err).toBe(
      `refund-relay send: could not send: queue ${missing} does not exist; nothing sent\n`,
    );
    const tailed = await tail(["dlq", "--timeout", "5"], { SQS_DLQ_URL: missing });
    expect(tailed.code).toBe(1);
    expect(tailed.err).toBe(`refund-relay tail: queue ${missing} does not exist\n`);
  });

  it("the command: tail runs until SIGTERM, exits 0, and leaves the message in its queue", async () => {
    const child = spawn(process.execPath, [bin, "tail", "dlq"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await expect.poll(() => out, { timeout: 20_000 }).toContain("dead-letter unparseable");
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(err).toBe("");
    expect(await depth(env.SQS_DLQ_URL as string)).toEqual({ visible: 1, inFlight: 0 });
  });
});
