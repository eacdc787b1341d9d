// `refund-relay send` and `refund-relay tail` over a real Kafka, with a relay in between: events sent
// by the command come back as the relay's outcomes and dead letters, read by the command.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runSend } from "../../../src/cli/send.ts";
import { runTail } from "../../../src/cli/tail.ts";
import { returnApproved } from "../../support/events.ts";
import { KafkaHarness } from "../../support/kafka-harness.ts";

const { kafkaBrokers } = inject("servers");
const bin = fileURLToPath(new URL("../../../bin/refund-relay.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "refund-relay-cli-kafka-"));
let h: KafkaHarness;
let env: Record<string, string>;

beforeAll(async () => {
  h = await new KafkaHarness({ brokers: kafkaBrokers }).setUp();
  await h.startRelay();
  env = h.env();
});
afterAll(async () => {
  await h?.tearDown();
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

describe("refund-relay send and tail over Kafka", () => {
  let pi: string;
  let valid: ReturnType<typeof returnApproved>;
  let invalid: ReturnType<typeof returnApproved>;

  it("send publishes events the relay answers, keyed by payment intent; --raw sends what is not valid", async () => {
    pi = await h.dojo.createIntent({ amount: 4598, status: "Captured" });
    valid = returnApproved({ paymentIntentId: pi, amount: 4598 });
    const sent = await send([file("valid.jsonl", [JSON.stringify(valid)])]);
    expect(sent).toMatchObject({ code: 0, err: "" });
    expect(sent.out).toBe(`sent 1 event to Kafka topic ${h.topics.input} (${kafkaBrokers.join(",")})\n`);

    invalid = returnApproved({ paymentIntentId: pi, amount: 100 });
    (invalid.data.amount as { value: unknown }).value = "1.00";
    const lines = [JSON.stringify(invalid), "{not json"];
    const refused = await send([file("invalid.jsonl", lines)]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain("line 1: invalid return.approved data:");
    expect(refused.err).toContain("line 2: not valid JSON");
    const raw = await send(["--raw", file("raw.jsonl", lines)]);
    expect(raw).toMatchObject({
      code: 0,
      out: `sent 2 events to Kafka topic ${h.topics.input} (${kafkaBrokers.join(",")})\n`,
    });

    // The input topic read as tail reads a topic: key and content type as platforms are asked to send.
    const input = await tail(["succeeded", "--from-beginning", "--count", "3", "--timeout", "20", "--json"], {
      KAFKA_SUCCEEDED_TOPIC: h.topics.input,
    });
    expect(input.code).toBe(0);
    // Three partitions: the order across them is not kept.
    const records = input.json();
    const byId = (id: string) => records.find((r) => r.body?.id === id);
    expect(byId(valid.id)).toMatchObject({ key: pi, body: valid });
    expect(byId(invalid.id)).toMatchObject({ key: pi, body: invalid });
    expect(records.find((r) => r.body === "{not json")).toBeDefined();
    expect(records.find((r) => r.body === "{not json").key).toBeUndefined();
    for (const r of records) expect(r.headers["content-type"]).toBe("application/cloudevents+json");
  });

  it("tail --count prints the refund, the failure and the dead letter, then exits 0", async () => {
    const result = await tail(["all", "--from-beginning", "--count", "3", "--timeout", "30", "--json"]);
    expect(result).toMatchObject({ code: 0, err: "" });
    const byType = Object.fromEntries(result.json().map((r) => [r.type, r]));
    expect(byType["refund.succeeded"]).toMatchObject({
      stream: "succeeded",
      eventId: valid.id,
      paymentIntentId: pi,
      amount: { value: 4598, currencyCode: "GBP" },
      topic: h.topics.succeeded,
      key: pi,
    });
    expect(byType["refund.succeeded"].refundId).toMatch(/^rfnd_/);
    expect(byType["refund.failed"]).toMatchObject({
      stream: "failed",
      eventId: invalid.id,
      code: "invalid_event",
    });
    expect(byType["dead-letter"]).toMatchObject({ stream: "dlq", code: "unparseable", topic: h.topics.dlq });
    expect(byType["dead-letter"].headers["rr-error-code"]).toBe("unparseable");

    const readable = await tail(["succeeded", "--from-beginning", "--count", "1", "--timeout", "30"]);
    expect(readable.code).toBe(0);
    expect(readable.out).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  refund\\.succeeded  event=${valid.id}  intent=${pi}  amount=45\\.98 GBP  refund=rfnd_\\S+\\n$`,
      ),
    );
  });

  it("without --from-beginning only new messages count: --timeout ends an idle tail with 0, or 1 short of --count", async () => {
    const idle = await tail(["dlq", "--timeout", "1"]);
    expect(idle).toMatchObject({ code: 0, out: "", err: "" });
    const short = await tail(["dlq", "--timeout", "1", "--count", "2"]);
    expect(short.code).toBe(1);
    expect(short.err).toBe("refund-relay tail: 0 of 2 messages before 1 s without one (--timeout)\n");
  });

  it("exits 1 naming a topic that does not exist, and creates none", async () => {
    const missing = `cli-missing-${h.groupId}`;
    const sent = await send(["--topic", missing, file("one.jsonl", [JSON.stringify(valid)])]);
    expect(sent.code).toBe(1);
    expect(sent.err).toContain(`topic ${missing} does not exist`);
    expect(sent.err).toContain("nothing sent");
    const tailed = await tail(["dlq", "--timeout", "5"], { KAFKA_DLQ_TOPIC: missing });
    expect(tailed.code).toBe(1);
    expect(tailed.err).toContain(`no such topic at ${kafkaBrokers.join(",")}: ${missing}`);
    const admin = new Kafka({ brokers: [...kafkaBrokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).not.toContain(missing);
    } finally {
      await admin.disconnect();
    }
  });

  it("the command: tail runs until SIGINT and exits 0; no kafkajs warning on stderr", async () => {
    const child = spawn(process.execPath, [bin, "tail", "dlq", "--from-beginning"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    await expect.poll(() => out, { timeout: 20_000 }).toContain("dead-letter unparseable");
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(err).toBe("");
  });

  it("the command: send to brokers that do not answer exits 1 with one line and no stack", async () => {
    const event = JSON.stringify(returnApproved({ paymentIntentId: "pi_unsent", amount: 100 }));
    const child = spawn(process.execPath, [bin, "send", file("quick.jsonl", [event])], {
      env: { ...process.env, ...env, KAFKA_BROKERS: "127.0.0.1:1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(1);
    expect(err).toMatch(/^refund-relay send: cannot reach Kafka at 127\.0\.0\.1:1: .*ECONNREFUSED.*\n$/);
  });
});
